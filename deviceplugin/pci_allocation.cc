#include "deviceplugin/pci_allocation.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "common/pci.h"
#include "common/strings.h"
#include "deviceplugin/cdi_spec.h"
#include "deviceplugin/device_info.h"
#include "deviceplugin/resource_pool.h"
#include "nlohmann/json.hpp"

namespace enadpdk::deviceplugin {
namespace {

constexpr char kVfioContainer[] = "/dev/vfio/vfio";
constexpr std::string_view kNoIommuPrefix = "/dev/vfio/noiommu-";

// Where a host device node appears in the container: DPDK opens /dev/vfio/<group> also in
// no-IOMMU mode, so the noiommu- prefix is dropped.
std::string containerPathOf(const std::string& hostPath) {
  if (hostPath.starts_with(kNoIommuPrefix)) {
    return common::strCat("/dev/vfio/", hostPath.substr(kNoIommuPrefix.size()));
  }
  return hostPath;
}

}  // namespace

absl::StatusOr<ContainerAllocation> allocatePciDevices(const common::HostRoot& root,
                                                       const PciAllocationSpec& spec,
                                                       const std::vector<std::string>& ids) {
  const std::string& resourceName = spec.resourceName;
  ContainerAllocation allocation;
  nlohmann::json info = nlohmann::json::object();
  std::vector<std::pair<std::string, std::vector<DeviceNode>>> perDevice;
  std::string list;
  // Read everything first, so that a device that cannot be handed out fails the call before any
  // file is written.
  for (const std::string& id : ids) {
    absl::StatusOr<common::PciDevice> device = common::readPciDevice(root, id);
    if (!device.ok()) {
      return absl::FailedPreconditionError(common::strCat(
          "device ", id, " of ", resourceName, ": ", common::toStd(device.status().message())));
    }
    if (std::find(spec.drivers.begin(), spec.drivers.end(), device->driver) == spec.drivers.end()) {
      return absl::FailedPreconditionError(
          common::strCat("device ", id, " of ", resourceName, " is bound to ",
                         device->driver.empty() ? "no driver" : device->driver,
                         ", not to one of the configured DPDK drivers"));
    }
    absl::StatusOr<std::vector<std::string>> hostNodes = common::dpdkDeviceNodes(root, *device);
    if (!hostNodes.ok()) return hostNodes.status();
    std::vector<DeviceNode> nodes;
    nlohmann::json entry = {{"generic", {{"deviceID", id}}}};
    for (const std::string& hostPath : *hostNodes) {
      std::error_code ec;
      if (!std::filesystem::exists(root.path(hostPath), ec)) {
        return absl::FailedPreconditionError(
            common::strCat("device node ", hostPath, " of ", id, " does not exist"));
      }
      const std::string containerPath = containerPathOf(hostPath);
      nodes.push_back({.hostPath = hostPath, .containerPath = containerPath, .permissions = "rw"});
      if (device->driver == common::kVfioPciDriver) {
        if (containerPath == kVfioContainer) {
          entry["vfio"]["mount"] = kVfioContainer;
        } else {
          entry["vfio"]["dev-mount"] = containerPath;
        }
      } else {
        entry["uio"]["mount"] = containerPath;
      }
    }
    info[id] = std::move(entry);
    for (const DeviceNode& node : nodes) {
      if (std::none_of(allocation.devices.begin(), allocation.devices.end(),
                       [&](const DeviceNode& n) { return n.hostPath == node.hostPath; })) {
        allocation.devices.push_back(node);
      }
    }
    perDevice.emplace_back(id, std::move(nodes));
    list += list.empty() ? id : common::strCat(",", id);
  }
  const std::string env = pciDeviceEnvName(resourceName);
  allocation.envs[env] = list;
  allocation.envs[env + "_INFO"] = info.dump();

  std::vector<std::filesystem::path> written;
  auto undo = [&](absl::Status status) {
    std::error_code ec;
    for (const std::filesystem::path& path : written) std::filesystem::remove(path, ec);
    return status;
  };
  for (const auto& [id, nodes] : perDevice) {
    if (absl::Status status = writePciDeviceInfo(root, resourceName, id); !status.ok()) {
      return undo(status);
    }
    written.push_back(root.path(deviceInfoPath(resourceName, id).string()));
    if (spec.cdi.enabled) {
      absl::Status status = writeCdiSpec(root, spec.cdi.specDir, resourceName, id, nodes);
      if (!status.ok()) return undo(status);
      written.push_back(root.path(cdiSpecPath(spec.cdi.specDir, resourceName, id).string()));
      allocation.cdiDevices.push_back(cdiQualifiedName(resourceName, id));
    }
  }
  return allocation;
}

}  // namespace enadpdk::deviceplugin
