#include "deviceplugin/plugin_config.h"

#include <algorithm>

#include "common/pci.h"
#include "common/strings.h"

namespace enadpdk::deviceplugin {
namespace {

namespace fs = std::filesystem;

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

absl::Status checkCrossSection(const PluginConfig& config) {
  const common::DevicepluginConfig& dp = config.deviceplugin;
  for (std::size_t i = 0; i < dp.enaDedicated.pciAddresses.size(); ++i) {
    const std::string& address = dp.enaDedicated.pciAddresses[i];
    for (const common::NetworkConfig& network : config.dataplane.networks) {
      if (network.uplink && network.uplink->device == address) {
        return absl::InvalidArgumentError(
            common::strCat("deviceplugin.enaDedicated.pciAddresses[", i, "]: \"", address,
                           "\" is the uplink of dataplane network \"", network.name,
                           "\"; a device can belong to one resource only"));
      }
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

absl::StatusOr<PluginConfig> parsePluginConfig(const nlohmann::json& root) {
  PluginConfig config;
  absl::StatusOr<common::DevicepluginConfig> deviceplugin = common::parseDevicepluginConfig(root);
  if (!deviceplugin.ok()) return deviceplugin.status();
  config.deviceplugin = std::move(*deviceplugin);
  absl::StatusOr<common::DataplaneConfig> dataplane = common::parseDataplaneConfig(root);
  if (!dataplane.ok()) return dataplane.status();
  config.dataplane = std::move(*dataplane);
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

std::string socketFileName(std::string_view resource) {
  return common::strCat("ena-dpdk-", resource, ".sock");
}

std::set<std::string> uplinkPciAddresses(const common::DataplaneConfig& dataplane) {
  std::set<std::string> addresses;
  for (const common::NetworkConfig& network : dataplane.networks) {
    if (network.uplink && common::isPciAddress(network.uplink->device)) {
      addresses.insert(network.uplink->device);
    }
  }
  return addresses;
}

std::vector<AttachmentNetwork> attachmentNetworks(const common::DataplaneConfig& dataplane) {
  std::vector<AttachmentNetwork> networks;
  for (const common::NetworkConfig& network : dataplane.networks) {
    if (network.uplink)
      networks.push_back({.name = network.name, .uplink = network.uplink->device});
  }
  return networks;
}

}  // namespace enadpdk::deviceplugin
