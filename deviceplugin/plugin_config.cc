#include "deviceplugin/plugin_config.h"

#include <algorithm>

#include "absl/strings/ascii.h"

#include "common/json_reader.h"
#include "common/pci.h"
#include "common/strings.h"

namespace enadpdk::deviceplugin {
namespace {

namespace fs = std::filesystem;

using common::clipped;
using common::JsonReader;
using common::kAbsolutePath;
using common::kDpdkDriver;
using common::kHostPort;
using common::kPciAddress;
using common::strCat;
using common::StringRule;

bool isHexDigit(char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); }

bool isPciId(std::string_view text) {
  return text.size() == 4 && std::all_of(text.begin(), text.end(), isHexDigit);
}

// A lowercase DNS subdomain (RFC 1123), as Kubernetes requires of a resource name's prefix.
bool isDnsSubdomain(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  for (std::string_view label : common::splitText(text, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    if (!std::all_of(label.begin(), label.end(), [](char c) {
          return absl::ascii_isdigit(c) || absl::ascii_islower(c) || c == '-';
        })) {
      return false;
    }
  }
  return true;
}

constexpr StringRule kPciId{isPciId, "4 lowercase hex digits like \"ec20\""};
constexpr StringRule kResourceName{
    isResourceName, "a resource name of 1 to 50 characters from [a-z0-9-] like \"ena-eni1\""};

// The resources the plugin itself names; a network resource may not take their names.
constexpr std::string_view kBuiltinResources[] = {kEnaResource, kEnaDedicatedResource,
                                                  kEnaUplinkResource, kHugepagesResource,
                                                  kHugepages2MiResource};
constexpr StringRule kDnsSubdomain{isDnsSubdomain, "a lowercase DNS subdomain like \"dpdk.aws\""};

// ---- deviceplugin

void parseEnaResource(JsonReader& r, EnaResourceConfig& ena) {
  r.read("slotsPerNetwork", ena.slotsPerNetwork, 1, kMaxSlotsPerNetwork);
  r.read("dir", ena.dir, kAbsolutePath);
  r.read("containerPath", ena.containerPath, kAbsolutePath);
  if (r.has("slotGroup")) r.read("slotGroup", ena.slotGroup.emplace(), 1, common::kMaxSlotGroup);
  r.readObject("networkResources", [&](JsonReader& m) {
    std::map<std::string, std::string> owner;  // resource → network
    for (const std::string& network : m.keys()) {
      if (!common::isNetworkName(network)) {
        return m.fail(network, strCat("expected a network name: ", common::kNetworkName.expected));
      }
      std::string& resource = ena.networkResources[network];
      m.read(network, resource, kResourceName);
      if (std::find(std::begin(kBuiltinResources), std::end(kBuiltinResources), resource) !=
          std::end(kBuiltinResources)) {
        return m.fail(network, strCat("\"", resource, "\" is a resource the plugin always offers"));
      }
      if (auto [it, added] = owner.emplace(resource, network); !added) {
        return m.fail(network, strCat("resource \"", resource, "\" is also network \"", it->second,
                                      "\"'s; each network needs its own"));
      }
    }
  });
}

void parseEnaDedicatedResource(JsonReader& r, EnaDedicatedResourceConfig& dedicated) {
  r.readSet("vendors", dedicated.vendors, kPciId);
  r.readSet("devices", dedicated.devices, kPciId);
  r.readSet("drivers", dedicated.drivers, kDpdkDriver);
  r.readSet("pciAddresses", dedicated.pciAddresses, kPciAddress);
  r.readSet("exclude", dedicated.exclude, kPciAddress);
  for (std::size_t i = 0; i < dedicated.exclude.size(); ++i) {
    const std::vector<std::string>& included = dedicated.pciAddresses;
    if (std::find(included.begin(), included.end(), dedicated.exclude[i]) != included.end()) {
      r.fail(strCat("exclude[", i, "]"),
             strCat("\"", dedicated.exclude[i], "\" is also in pciAddresses"));
    }
  }
}

// Why `text` cannot be a charge cgroup (a path below the hugetlb hierarchy's root, outside the
// kubelet's pod cgroups, where the pages of every hugepage allocation are charged); empty when
// it can.
std::string chargeCgroupProblem(std::string_view text) {
  if (!text.starts_with('/')) return "expected a cgroup path starting with '/'";
  std::vector<std::string_view> parts = common::splitText(text.substr(1), '/');
  if (text == "/") parts.clear();
  for (std::string_view part : parts) {
    if (part.empty() || part == "." || part == "..") {
      return "expected a cgroup path without empty, \".\" or \"..\" components";
    }
  }
  // The kubelet's pods live under /kubepods (cgroupfs driver) or /kubepods.slice (systemd),
  // whose hugetlb limits are what the charge cgroup must stay out of.
  if (!parts.empty() && parts.front().starts_with("kubepods")) {
    return "must not be under the kubelet's /kubepods* cgroups";
  }
  return "";
}

void parseHugepagesResource(JsonReader& r, HugepagesResourceConfig& hugepages) {
  r.read("enabled", hugepages.enabled);
  r.read("mountDir", hugepages.mountDir, kAbsolutePath);
  r.read("containerPath", hugepages.containerPath, kAbsolutePath);
  r.read("chargeCgroup", hugepages.chargeCgroup);
  if (std::string problem = chargeCgroupProblem(hugepages.chargeCgroup); !problem.empty()) {
    r.fail("chargeCgroup", strCat(problem, ", got \"", clipped(hugepages.chargeCgroup), "\""));
  }
}

void parseCdi(JsonReader& r, CdiConfig& cdi) {
  r.read("enabled", cdi.enabled);
  r.read("specDir", cdi.specDir, kAbsolutePath);
}

void parseDeviceplugin(JsonReader& r, DevicepluginConfig& config) {
  r.read("resourcePrefix", config.resourcePrefix, kDnsSubdomain);
  r.readObject("ena", [&](JsonReader& e) { parseEnaResource(e, config.ena); });
  r.readObject("enaDedicated",
               [&](JsonReader& d) { parseEnaDedicatedResource(d, config.enaDedicated); });
  r.readObject("hugepages", [&](JsonReader& h) { parseHugepagesResource(h, config.hugepages); });
  r.readObject("hugepages2Mi",
               [&](JsonReader& h) { parseHugepagesResource(h, config.hugepages2Mi); });
  r.read("cgroupFs", config.cgroupFs, kAbsolutePath);
  r.readObject("cdi", [&](JsonReader& c) { parseCdi(c, config.cdi); });
  r.read("metricsAddress", config.metricsAddress, kHostPort);
}

// A directory in one spelling, ending in '/' ("/var/run/x/").
std::string normalDir(const std::string& dir) {
  std::string text = fs::path(dir).lexically_normal().string();
  if (text.size() > 1 && text.back() == '/') text.pop_back();
  return text == "/" ? text : text + "/";
}

// True when one directory is the other or inside it.
bool overlaps(const std::string& a, const std::string& b) {
  const std::string na = normalDir(a);
  const std::string nb = normalDir(b);
  return na.starts_with(nb) || nb.starts_with(na);
}

// "eni1, eni2" or "none".
std::string attachmentNetworkNames(const vhostuser::DataplaneConfig& dataplane) {
  std::string names;
  for (const AttachmentNetwork& network : attachmentNetworks(dataplane)) {
    names += names.empty() ? network.name : strCat(", ", network.name);
  }
  return names.empty() ? "none" : names;
}

absl::Status checkCrossSection(const PluginConfig& config) {
  const DevicepluginConfig& dp = config.deviceplugin;
  for (std::size_t i = 0; i < dp.enaDedicated.pciAddresses.size(); ++i) {
    const std::string& address = dp.enaDedicated.pciAddresses[i];
    for (const vhostuser::NetworkConfig& network : config.dataplane.networks) {
      if (network.uplink && network.uplink->device == address) {
        return absl::InvalidArgumentError(
            common::strCat("deviceplugin.enaDedicated.pciAddresses[", i, "]: \"", address,
                           "\" is the uplink of dataplane network \"", network.name,
                           "\"; a device can belong to one resource only"));
      }
    }
  }
  for (const auto& [name, resource] : dp.ena.networkResources) {
    const auto& networks = config.dataplane.networks;
    auto network = std::find_if(networks.begin(), networks.end(),
                                [&](const vhostuser::NetworkConfig& n) { return n.name == name; });
    if (network == networks.end() || !network->uplink) {
      return absl::InvalidArgumentError(common::strCat(
          "deviceplugin.ena.networkResources.", name, ": ",
          network == networks.end() ? "no dataplane network of that name"
                                    : "the dataplane network has no uplink, so no attachments",
          " (networks with an uplink: ", attachmentNetworkNames(config.dataplane), ")"));
    }
  }
  struct Dir {
    std::string_view key;
    const std::string* path;
  };
  std::vector<Dir> dirs = {{"deviceplugin.ena.dir", &dp.ena.dir}};
  if (dp.hugepages.enabled)
    dirs.push_back({"deviceplugin.hugepages.mountDir", &dp.hugepages.mountDir});
  if (dp.hugepages2Mi.enabled)
    dirs.push_back({"deviceplugin.hugepages2Mi.mountDir", &dp.hugepages2Mi.mountDir});
  if (dp.cdi.enabled) dirs.push_back({"deviceplugin.cdi.specDir", &dp.cdi.specDir});
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (overlaps(*dirs[i].path, *dirs[j].path)) {
        return absl::InvalidArgumentError(
            common::strCat(dirs[i].key, ": \"", *dirs[i].path, "\" overlaps ", dirs[j].key, " \"",
                           *dirs[j].path, "\"; each resource needs its own directory"));
      }
    }
  }
  // A pod may ask for both hugepage resources; each needs its own place in the container.
  if (dp.hugepages.enabled && dp.hugepages2Mi.enabled &&
      normalDir(dp.hugepages.containerPath) == normalDir(dp.hugepages2Mi.containerPath)) {
    return absl::InvalidArgumentError(common::strCat(
        "deviceplugin.hugepages2Mi.containerPath: \"", dp.hugepages2Mi.containerPath,
        "\" is also deviceplugin.hugepages.containerPath; a container may hold both resources"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DevicepluginConfig> parseDevicepluginConfig(const nlohmann::json& root) {
  return common::parseSection<DevicepluginConfig>(root, "deviceplugin", parseDeviceplugin);
}

absl::StatusOr<DevicepluginConfig> loadDevicepluginConfig(const fs::path& path) {
  return common::loadSection<DevicepluginConfig>(path, parseDevicepluginConfig);
}

absl::StatusOr<PluginConfig> parsePluginConfig(const nlohmann::json& root) {
  PluginConfig config;
  absl::StatusOr<DevicepluginConfig> deviceplugin = parseDevicepluginConfig(root);
  if (!deviceplugin.ok()) return deviceplugin.status();
  config.deviceplugin = std::move(*deviceplugin);
  absl::StatusOr<vhostuser::DataplaneConfig> dataplane = vhostuser::parseDataplaneConfig(root);
  if (!dataplane.ok()) return dataplane.status();
  config.dataplane = std::move(*dataplane);
  absl::StatusOr<ipam::IpamConfig> ipamConfig = ipam::parseIpamConfig(root);
  if (!ipamConfig.ok()) return ipamConfig.status();
  config.ipam = std::move(*ipamConfig);
  if (absl::Status status = checkCrossSection(config); !status.ok()) return status;
  return config;
}

absl::StatusOr<PluginConfig> loadPluginConfig(const fs::path& path) {
  absl::StatusOr<nlohmann::json> root = common::readJsonFile(path);
  if (!root.ok()) return root.status();
  absl::StatusOr<PluginConfig> config = parsePluginConfig(*root);
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        common::strCat(path.string(), ": ", config.status().message()));
  }
  return config;
}

bool isResourceName(std::string_view text) {
  return !text.empty() && text.size() <= kMaxResourceNameLength && text.front() != '-' &&
         text.back() != '-' && std::all_of(text.begin(), text.end(), [](char c) {
           return absl::ascii_isdigit(c) || absl::ascii_islower(c) || c == '-';
         });
}

std::string socketFileName(std::string_view resource) {
  return common::strCat("ena-dpdk-", resource, ".sock");
}

std::set<std::string> uplinkPciAddresses(const vhostuser::DataplaneConfig& dataplane) {
  std::set<std::string> addresses;
  for (const vhostuser::NetworkConfig& network : dataplane.networks) {
    if (network.uplink && common::isPciAddress(network.uplink->device)) {
      addresses.insert(network.uplink->device);
    }
  }
  return addresses;
}

std::vector<AttachmentNetwork> attachmentNetworks(const vhostuser::DataplaneConfig& dataplane) {
  std::vector<AttachmentNetwork> networks;
  for (const vhostuser::NetworkConfig& network : dataplane.networks) {
    if (network.uplink)
      networks.push_back({.name = network.name, .uplink = network.uplink->device});
  }
  return networks;
}

std::map<std::string, std::vector<AttachmentNetwork>> attachmentResources(
    const PluginConfig& config) {
  const std::map<std::string, std::string>& own = config.deviceplugin.ena.networkResources;
  std::map<std::string, std::vector<AttachmentNetwork>> resources;
  resources[kEnaResource];
  for (AttachmentNetwork& network : attachmentNetworks(config.dataplane)) {
    auto it = own.find(network.name);
    resources[it == own.end() ? std::string(kEnaResource) : it->second].push_back(
        std::move(network));
  }
  return resources;
}

}  // namespace enadpdk::deviceplugin
