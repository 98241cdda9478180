#include "vhostuser/eal_args.h"

#include <algorithm>
#include <optional>
#include <set>

#include "common/pci.h"
#include "common/strings.h"

namespace enadpdk::vhostuser {

using common::strCat;

namespace {

// Where one device of the allow or block list is in the argument vector.
struct DeviceArg {
  size_t index = 0;   // the argument that holds the device text
  size_t offset = 0;  // where the device text starts in it ("-a" + X, "--allow=" + X)
  bool allow = true;  // -a/--allow, else -b/--block
};

// The device text of an option that takes one, or nullopt. `next` is the following argument.
std::optional<DeviceArg> deviceArg(const std::vector<std::string>& eal, size_t i) {
  const std::string& a = eal[i];
  for (const auto& [flag, allow] : {std::pair{"-a", true}, std::pair{"-b", false}}) {
    if (a == flag) {
      if (i + 1 < eal.size()) return DeviceArg{.index = i + 1, .offset = 0, .allow = allow};
      return std::nullopt;
    }
    if (a.starts_with(flag) && a.size() > 2 && a[1] != '-') {
      return DeviceArg{.index = i, .offset = 2, .allow = allow};
    }
  }
  for (const auto& [flag, allow] : {std::pair{"--allow", true}, std::pair{"--block", false}}) {
    const std::string_view f = flag;
    if (a == f) {
      if (i + 1 < eal.size()) return DeviceArg{.index = i + 1, .offset = 0, .allow = allow};
      return std::nullopt;
    }
    if (a.starts_with(strCat(f, "="))) {
      return DeviceArg{.index = i, .offset = f.size() + 1, .allow = allow};
    }
  }
  return std::nullopt;
}

// "k1=v1,k2=v2" as a set of "k=v" (order-insensitive comparison).
std::set<std::string> argSet(std::string_view args) {
  std::set<std::string> out;
  while (!args.empty()) {
    const size_t comma = args.find(',');
    if (comma != 0) out.emplace(args.substr(0, comma));
    if (comma == std::string_view::npos) break;
    args.remove_prefix(comma + 1);
  }
  return out;
}

std::string joinDevargs(const std::map<std::string, std::string>& devargs) {
  std::string out;
  for (const auto& [key, value] : devargs) out += strCat(out.empty() ? "" : ",", key, "=", value);
  return out;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ealArgsForUplinks(
    const std::vector<std::string>& eal, const std::vector<NetworkConfig>& networks) {
  std::vector<std::string> out = eal;
  bool has_allow_list = false;
  bool no_pci = false;
  // Canonical address -> the allow/block entries naming it.
  std::vector<std::pair<std::string, DeviceArg>> listed;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == "--no-pci") no_pci = true;
    std::optional<DeviceArg> d = deviceArg(out, i);
    if (!d) continue;
    if (d->allow) has_allow_list = true;
    const std::string text = out[d->index].substr(d->offset);
    absl::StatusOr<std::string> address =
        common::normalizePciAddress(std::string_view(text).substr(0, text.find(',')));
    if (address.ok()) listed.emplace_back(*address, *d);
    if (d->index != i) ++i;  // the value is not an option of its own
  }

  for (const NetworkConfig& net : networks) {
    if (!net.uplink || !common::isPciAddress(net.uplink->device)) continue;
    const std::string& address = net.uplink->device;
    const std::map<std::string, std::string>& devargs = net.uplink->devargs;
    const std::string field = strCat("dataplane.networks[", net.name, "].uplink.devargs");
    const std::string wanted = joinDevargs(devargs);
    if (no_pci && !devargs.empty()) {
      return absl::InvalidArgumentError(
          strCat(field, ": dataplane.eal has --no-pci, so EAL never probes ", address));
    }
    bool allowed = false;
    for (const auto& [listed_address, d] : listed) {
      if (listed_address != address) continue;
      if (!d.allow) {
        if (devargs.empty()) continue;  // the switch reports the failed probe itself
        return absl::InvalidArgumentError(
            strCat(field, ": ", address, " is blocked by the EAL arguments (-b/--block)"));
      }
      allowed = true;
      std::string& arg = out[d.index];
      const size_t comma = arg.find(',', d.offset);
      if (comma == std::string::npos) {
        if (!wanted.empty()) arg += strCat(",", wanted);
      } else if (argSet(std::string_view(arg).substr(comma + 1)) != argSet(wanted)) {
        return absl::InvalidArgumentError(
            strCat(field, ": dataplane.eal gives ", address, " device arguments of its own (\"",
                   common::clipped(std::string_view(arg).substr(d.offset)), "\"); set them in ",
                   field, " only"));
      }
    }
    if (allowed) continue;
    if (has_allow_list) {
      out.push_back("-a");
      out.push_back(wanted.empty() ? address : strCat(address, ",", wanted));
    } else if (!devargs.empty()) {
      return absl::InvalidArgumentError(
          strCat(field,
                 ": dataplane.eal has no allow list, so EAL probes every DPDK-bound device at "
                 "start without arguments; add \"-a\", \"",
                 address, "\" (and every other PCI uplink) to dataplane.eal"));
    }
  }
  return out;
}

}  // namespace enadpdk::vhostuser
