#include "nodeprep/binding.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_join.h"
#include "common/strings.h"

namespace enadpdk::nodeprep {
namespace {

using common::PciDevice;
using common::strCat;
using common::toStd;

constexpr char kDriversProbe[] = "/sys/bus/pci/drivers_probe";

std::string devicePath(std::string_view address, std::string_view file) {
  return strCat("/sys/bus/pci/devices/", address, "/", file);
}

std::string driverName(const std::string& driver) { return driver.empty() ? "no driver" : driver; }

bool contains(const std::vector<std::string>& list, std::string_view value) {
  return !value.empty() && std::find(list.begin(), list.end(), value) != list.end();
}

const PciDevice* findDevice(const std::vector<PciDevice>& devices, std::string_view address) {
  auto it = std::find_if(devices.begin(), devices.end(),
                         [&](const PciDevice& d) { return d.address == address; });
  return it == devices.end() ? nullptr : &*it;
}

absl::Status requireEna(const PciDevice& device, std::string_view key) {
  if (device.isEna()) return absl::OkStatus();
  return absl::InvalidArgumentError(strCat("bind.", key, ": ", device.address,
                                           " is not an ENA (vendor ", device.vendor, ", device ",
                                           device.device, "); nodeprep only binds ENAs"));
}

// The device "eth1" names: the live interface, else the device an earlier run bound under it.
absl::StatusOr<BindCandidate> resolveInterface(const common::HostRoot& root,
                                               const std::string& ifname, const NodeState& state,
                                               const std::vector<PciDevice>& devices) {
  absl::StatusOr<std::string> address = common::pciAddressOfNetdev(root, ifname);
  if (address.ok()) {
    const PciDevice* device = findDevice(devices, *address);
    if (device == nullptr) {
      return absl::NotFoundError(
          strCat("bind.interfaces: ", ifname, " is at ", *address, ", which is not a PCI device"));
    }
    if (absl::Status ena = requireEna(*device, "interfaces"); !ena.ok()) return ena;
    return BindCandidate{.device = *device, .ifname = ifname};
  }
  if (!absl::IsNotFound(address.status())) return address.status();
  auto remembered = state.interfaces.find(ifname);
  const PciDevice* device =
      remembered == state.interfaces.end() ? nullptr : findDevice(devices, remembered->second);
  if (device == nullptr || !device->netdevs.empty()) {
    return absl::NotFoundError(strCat("bind.interfaces: no interface ", ifname,
                                      " (and no device an earlier run bound under that name)"));
  }
  return BindCandidate{.device = *device, .ifname = ifname};
}

// The interface name to judge a device by: its live one, else the name it was bound under.
std::string knownInterface(const PciDevice& device, const NodeState& state) {
  if (!device.netdevs.empty()) return device.netdevs.front();
  for (const auto& [ifname, address] : state.interfaces) {
    if (address == device.address) return ifname;
  }
  return "";
}

bool forced(const BindConfig& config, const BindCandidate& candidate) {
  return contains(config.force, candidate.device.address) ||
         contains(config.force, candidate.ifname);
}

// Writes the steps of one bind; the first failure stops it.
absl::Status bindDevice(const BindCandidate& candidate, const std::string& driver,
                        const Host& host) {
  const std::string& address = candidate.device.address;
  if (absl::Status s = host.kernel.write(devicePath(address, "driver_override"), driver); !s.ok()) {
    return s;
  }
  if (!candidate.device.driver.empty()) {
    absl::Status s = host.kernel.write(
        strCat("/sys/bus/pci/drivers/", candidate.device.driver, "/unbind"), address);
    if (!s.ok()) return s;
  }
  return host.kernel.write(kDriversProbe, address);
}

// Hands a device whose bind failed back to the kernel: without an override, drivers_probe picks
// its native driver again. Returns what went wrong doing so, if anything.
std::string rollBack(const std::string& address, const Host& host) {
  absl::Status cleared = host.kernel.write(devicePath(address, "driver_override"), "\n");
  absl::Status probed = cleared.ok() ? host.kernel.write(kDriversProbe, address) : cleared;
  absl::StatusOr<PciDevice> after = common::readPciDevice(host.root, address);
  if (!probed.ok()) return strCat("; handing it back failed: ", toStd(probed.message()));
  if (!after.ok()) return strCat("; handing it back failed: ", toStd(after.status().message()));
  return strCat("; handed back to ", driverName(after->driver));
}

}  // namespace

std::string BindCandidate::label() const {
  return ifname.empty() ? device.address : strCat(device.address, " (", ifname, ")");
}

bool selectsDevices(const BindConfig& config) {
  return !config.pciAddresses.empty() || !config.interfaces.empty() || config.allExceptPrimary;
}

absl::StatusOr<BindPlan> planBinding(const common::HostRoot& root, const BindConfig& config,
                                     const std::string& driver, const NodeState& state,
                                     const PrimaryEniFacts& facts,
                                     const std::vector<PciDevice>& devices) {
  BindPlan plan;
  plan.driver = driver;
  std::vector<BindCandidate> explicit_candidates;
  for (const std::string& address : config.pciAddresses) {
    const PciDevice* device = findDevice(devices, address);
    if (device == nullptr) {
      return absl::NotFoundError(strCat("bind.pciAddresses: no PCI device ", address));
    }
    if (absl::Status ena = requireEna(*device, "pciAddresses"); !ena.ok()) return ena;
    explicit_candidates.push_back({.device = *device, .ifname = knownInterface(*device, state)});
  }
  for (const std::string& ifname : config.interfaces) {
    absl::StatusOr<BindCandidate> candidate = resolveInterface(root, ifname, state, devices);
    if (!candidate.ok()) return candidate.status();
    explicit_candidates.push_back(*std::move(candidate));
  }

  std::set<std::string> seen;
  auto accept = [&](BindCandidate candidate) {
    if (candidate.device.driver == driver) {
      plan.bound.push_back(std::move(candidate));
    } else {
      plan.bind.push_back(std::move(candidate));
    }
  };
  for (BindCandidate& candidate : explicit_candidates) {
    if (!seen.insert(candidate.device.address).second) continue;
    std::vector<std::string> reasons =
        primaryReasons(facts, candidate.device.address, candidate.ifname);
    // A device already on the DPDK driver loses nothing by being left there.
    if (!reasons.empty() && candidate.device.driver != driver && !forced(config, candidate)) {
      plan.refused.push_back(
          {.label = candidate.label(),
           .reason = strCat("refusing to bind ", candidate.label(),
                            ": it looks like the primary "
                            "ENI (",
                            absl::StrJoin(reasons, "; "),
                            "); name it in nodeprep.bind.force to bind it anyway")});
      continue;
    }
    accept(std::move(candidate));
  }
  if (config.allExceptPrimary) {
    for (const PciDevice& device : devices) {
      if (!device.isEna() || seen.contains(device.address)) continue;
      BindCandidate candidate{.device = device, .ifname = knownInterface(device, state)};
      std::vector<std::string> reasons = primaryReasons(facts, device.address, candidate.ifname);
      if (!reasons.empty() && device.driver != driver && !forced(config, candidate)) {
        plan.skipped.push_back(
            {.label = candidate.label(),
             .reason = strCat("none: primary ENI (", absl::StrJoin(reasons, "; "), ")")});
        continue;
      }
      if (device.isDpdkBound() && device.driver != driver) {
        plan.skipped.push_back(
            {.label = candidate.label(),
             .reason = strCat("none: already bound to ", device.driver, ", left alone")});
        continue;
      }
      accept(std::move(candidate));
    }
  }
  return plan;
}

void applyBinding(const BindPlan& plan, const Host& host, NodeState& state, Report& report) {
  for (const BindSkip& skip : plan.skipped)
    report.add("bind", skip.label, skip.reason, ActionStatus::Ok);
  for (const BindCandidate& candidate : plan.bound) {
    report.add("bind", candidate.label(), strCat("none: already bound to ", plan.driver),
               ActionStatus::Ok);
  }
  for (const BindCandidate& candidate : plan.bind) {
    const std::string& address = candidate.device.address;
    const std::string change = strCat(driverName(candidate.device.driver), " -> ", plan.driver);
    absl::Status status = bindDevice(candidate, plan.driver, host);
    if (status.ok()) {
      absl::StatusOr<PciDevice> after = common::readPciDevice(host.root, address);
      if (!after.ok()) {
        status = after.status();
      } else if (after->driver != plan.driver) {
        status = absl::InternalError(strCat(
            "bound to ", driverName(after->driver), " after drivers_probe, not ", plan.driver,
            plan.driver == common::kVfioPciDriver
                ? " (\"probe failed with error -22\" in dmesg means vfio needs no-IOMMU mode)"
                : ""));
      }
    }
    if (!status.ok()) {
      report.fail("bind", candidate.label(),
                  strCat(candidate.label(), ": ", change, " failed: ", toStd(status.message()),
                         rollBack(address, host)));
      return;
    }
    if (!candidate.ifname.empty()) state.interfaces[candidate.ifname] = address;
    report.add("bind", candidate.label(), change, ActionStatus::Changed);
  }
}

namespace {
// Reports a plan without carrying it out: its skipped and already-bound devices, and for each
// device to bind, `change(candidate)` with `status`.
template <typename Change>
void reportPlan(const BindPlan& plan, Report& report, Change change, ActionStatus status) {
  for (const BindSkip& skip : plan.skipped)
    report.add("bind", skip.label, skip.reason, ActionStatus::Ok);
  for (const BindCandidate& candidate : plan.bound) {
    report.add("bind", candidate.label(), strCat("none: already bound to ", plan.driver),
               ActionStatus::Ok);
  }
  for (const BindCandidate& candidate : plan.bind) {
    report.add("bind", candidate.label(), change(candidate), status);
  }
}
}  // namespace

void deferBinding(const BindPlan& plan, Report& report) {
  reportPlan(
      plan, report,
      [&](const BindCandidate& c) {
        return strCat("deferred: ", driverName(c.device.driver), " -> ", plan.driver,
                      " after the reboot that turns the IOMMU on");
      },
      ActionStatus::Warning);
}

void describeBinding(const BindPlan& plan, Report& report) {
  reportPlan(
      plan, report,
      [&](const BindCandidate& c) {
        return strCat(driverName(c.device.driver), " -> ", plan.driver);
      },
      ActionStatus::Planned);
}

}  // namespace enadpdk::nodeprep
