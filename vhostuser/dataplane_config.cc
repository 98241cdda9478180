#include "vhostuser/dataplane_config.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "common/json_reader.h"
#include "common/strings.h"

namespace enadpdk::vhostuser {
namespace {

using common::clipped;
using common::EnumName;
using common::JsonReader;
using common::kAbsolutePath;
using common::kHostPort;
using common::kMacAddress;
using common::kNetworkName;
using common::strCat;
using common::StringRule;

// A DPDK vdev: a driver name with instance number, then optional comma-separated arguments
// ("net_af_packet0,iface=veth0"). PCI addresses never match because names start with a letter.
bool isVdev(std::string_view text) {
  std::vector<std::string_view> parts = common::splitText(text, ',');
  std::string_view name = parts.front();
  if (name.empty() || !absl::ascii_isalpha(name.front())) return false;
  if (!std::all_of(name.begin(), name.end(),
                   [](char c) { return absl::ascii_isalnum(c) || c == '_'; })) {
    return false;
  }
  return std::all_of(parts.begin() + 1, parts.end(), [](std::string_view arg) {
    return !arg.empty() && std::none_of(arg.begin(), arg.end(), absl::ascii_isspace);
  });
}

bool isUplinkDevice(std::string_view text) {
  return common::isPciAddressSyntax(text) || isVdev(text);
}

// The name DPDK knows a device by: two uplinks may not share it.
std::string_view dpdkDeviceName(std::string_view device) {
  return device.substr(0, device.find(','));
}

// Three or four octal digits that fit in 0777 ("0660").
bool isFileMode(std::string_view text) {
  unsigned mode = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), mode, 8);
  return (text.size() == 3 || text.size() == 4) && error == std::errc() &&
         end == text.data() + text.size() && mode <= 0777;
}

// "user", "user:group", "uid:gid".
bool isOwner(std::string_view text) {
  std::vector<std::string_view> parts = common::splitText(text, ':');
  return parts.size() <= 2 && std::all_of(parts.begin(), parts.end(), [](std::string_view part) {
           return !part.empty() && std::all_of(part.begin(), part.end(), [](char c) {
             return absl::ascii_isalnum(c) || c == '_' || c == '-' || c == '.';
           });
         });
}

constexpr StringRule kUplinkDevice{isUplinkDevice,
                                   "a PCI address like 0000:00:06.0 or a DPDK vdev string like "
                                   "net_af_packet0,iface=veth0"};
constexpr StringRule kFileMode{isFileMode, "an octal file mode like \"0660\""};
constexpr StringRule kOwner{isOwner, "\"user\", \"user:group\" or \"uid:gid\""};

// ---- dataplane

std::string enaDevargNames() {
  std::string names;
  for (const EnaDevarg& arg : kEnaDevargs) names += strCat(names.empty() ? "" : ", ", arg.name);
  return names;
}

void parseDevargs(JsonReader& r, std::map<std::string, std::string>& devargs) {
  for (const std::string& key : r.keys()) {
    const auto* arg = std::find_if(std::begin(kEnaDevargs), std::end(kEnaDevargs),
                                   [&](const EnaDevarg& a) { return a.name == key; });
    if (arg == std::end(kEnaDevargs)) {
      return r.fail(clipped(key), strCat("not a device argument of DPDK 22.11's ENA PMD (",
                                         enaDevargNames(), ")"));
    }
    r.readIntegerText(key, devargs[key], arg->min, arg->max);
  }
}

void parseUplink(JsonReader& r, UplinkConfig& uplink) {
  r.require("device");
  r.read("device", uplink.device, kUplinkDevice);
  r.read("queues", uplink.queues, 1, kMaxUplinkQueues);
  r.read("rxDescriptors", uplink.rxDescriptors, kMinUplinkDescriptors, kMaxUplinkDescriptors);
  r.read("txDescriptors", uplink.txDescriptors, kMinUplinkDescriptors, kMaxUplinkDescriptors);
  if (r.has("devargs") && r.ok() && !common::isPciAddressSyntax(uplink.device)) {
    return r.fail("devargs",
                  "only for a PCI uplink: a vdev's arguments belong in its device string "
                  "(\"net_af_packet0,iface=veth0\")");
  }
  r.readObject("devargs", [&](JsonReader& d) { parseDevargs(d, uplink.devargs); });
}

void parseNetwork(JsonReader& r, NetworkConfig& network) {
  r.require("name");
  r.read("name", network.name, kNetworkName);
  r.readObject("uplink", [&](JsonReader& u) { parseUplink(u, network.uplink.emplace()); });
  network.mode = network.uplink ? NetworkMode::Vpc : NetworkMode::L2;
  r.readEnum("mode", network.mode, kNetworkModeNames);
  switch (network.mode) {
    case NetworkMode::Vpc:
      if (!network.uplink) r.fail("mode", "\"vpc\" needs an uplink");
      break;
    case NetworkMode::L2:
      break;
  }
  r.read("mtu", network.mtu, kMinMtu, kMaxMtu);
  if (r.has("mac")) {
    r.read("mac", network.mac.emplace(), kMacAddress);
    absl::AsciiStrToLower(&*network.mac);
  }
}

void parseSocket(JsonReader& r, SocketConfig& socket) {
  r.read("owner", socket.owner, kOwner);
  std::string mode;
  r.read("mode", mode, kFileMode);
  if (!mode.empty()) std::from_chars(mode.data(), mode.data() + mode.size(), socket.mode, 8);
}

void parseDataplane(JsonReader& r, DataplaneConfig& config) {
  r.read("eal", config.eal);
  r.read("workers", config.workers, 0, kMaxLcore);
  for (std::size_t i = 0; i < config.workers.size(); ++i) {
    if (std::count(config.workers.begin(), config.workers.begin() + i, config.workers[i]) > 0) {
      r.fail(strCat("workers[", i, "]"), strCat("duplicate lcore ", config.workers[i]));
    }
  }
  r.read("controlSocket", config.controlSocket, kAbsolutePath);
  r.read("stateFile", config.stateFile, kAbsolutePath);
  r.read("cniStateDir", config.cniStateDir, kAbsolutePath);
  r.read("metricsAddress", config.metricsAddress, kHostPort);
  r.readSet("allowedSocketDirs", config.allowedSocketDirs, kAbsolutePath);
  r.readObject("socket", [&](JsonReader& s) { parseSocket(s, config.socket); });
  r.read("mbufs", config.mbufs, kMinMbufs, kMaxMbufs);
  r.read("burstSize", config.burstSize, 1, kMaxBurstSize);
  r.read("txDrainMicroseconds", config.txDrainMicroseconds, 0, kMaxTxDrainMicroseconds);
  r.read("macAgingSeconds", config.macAgingSeconds, 1, kMaxMacAgingSeconds);
  r.read("maxPorts", config.maxPorts, 1, kMaxMaxPorts);

  std::set<std::string, std::less<>> names;
  std::map<std::string, std::string, std::less<>> networkByDevice;
  r.readObjects("networks", [&](JsonReader& n) {
    NetworkConfig& network = config.networks.emplace_back();
    parseNetwork(n, network);
    if (!n.ok()) return;
    if (!names.insert(network.name).second) {
      n.fail("name", strCat("duplicate network name \"", network.name, "\""));
    }
    if (!network.uplink) return;
    auto [it, inserted] =
        networkByDevice.emplace(dpdkDeviceName(network.uplink->device), network.name);
    if (!inserted) {
      n.fail("uplink.device", strCat("device \"", clipped(it->first),
                                     "\" is already the uplink of network \"", it->second, "\""));
    }
  });
}

}  // namespace

absl::StatusOr<DataplaneConfig> parseDataplaneConfig(const nlohmann::json& root) {
  return common::parseSection<DataplaneConfig>(root, "dataplane", parseDataplane);
}

absl::StatusOr<DataplaneConfig> loadDataplaneConfig(const std::filesystem::path& path) {
  return common::loadSection<DataplaneConfig>(path, parseDataplaneConfig);
}

}  // namespace enadpdk::vhostuser
