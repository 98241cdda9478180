#include "deviceplugin/dedicated_pool.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "common/strings.h"
#include "deviceplugin/cdi_spec.h"
#include "deviceplugin/device_info.h"
#include "deviceplugin/plugin_config.h"
#include "nlohmann/json.hpp"

namespace enadpdk::deviceplugin {
namespace {

constexpr char kVfioContainer[] = "/dev/vfio/vfio";
constexpr std::string_view kNoIommuPrefix = "/dev/vfio/noiommu-";

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// Where a host device node appears in the container: DPDK opens /dev/vfio/<group> also in
// no-IOMMU mode, so the noiommu- prefix is dropped.
std::string containerPathOf(const std::string& hostPath) {
  if (hostPath.starts_with(kNoIommuPrefix)) {
    return common::strCat("/dev/vfio/", hostPath.substr(kNoIommuPrefix.size()));
  }
  return hostPath;
}

}  // namespace

DedicatedPool::DedicatedPool(const common::HostRoot& root, DedicatedPoolSpec spec)
    : ResourcePool(spec.prefix, kEnaDedicatedResource), root_(root), spec_(std::move(spec)) {}

bool DedicatedPool::usableDriver(const std::string& driver) const {
  return contains(spec_.config.drivers, driver);
}

bool DedicatedPool::selects(const common::PciDevice& device, const HostState& host) const {
  const common::EnaDedicatedResourceConfig& config = spec_.config;
  return contains(config.vendors, device.vendor) && contains(config.devices, device.device) &&
         (config.pciAddresses.empty() || contains(config.pciAddresses, device.address)) &&
         !contains(config.exclude, device.address) &&
         !host.uplinkPciAddresses.contains(device.address);
}

void DedicatedPool::refresh(const HostState& host) {
  std::vector<Device> devices;
  std::set<std::string> offered;
  for (const common::PciDevice& device : host.pciDevices) {
    if (!selects(device, host)) continue;
    const bool healthy = usableDriver(device.driver);
    if (!healthy && !offered_.contains(device.address)) continue;
    offered.insert(device.address);
    devices.push_back({.id = device.address, .healthy = healthy, .numaNode = device.numa_node});
  }
  offered_ = std::move(offered);
  publish(std::move(devices));
}

absl::StatusOr<ContainerAllocation> DedicatedPool::allocate(const std::vector<std::string>& ids) {
  if (absl::Status status = checkDeviceIds(ids, snapshot().devices, resourceName()); !status.ok()) {
    return status;
  }
  ContainerAllocation allocation;
  nlohmann::json info = nlohmann::json::object();
  std::vector<std::pair<std::string, std::vector<DeviceNode>>> perDevice;
  std::string list;
  // Read everything first, so that a device that cannot be handed out fails the call before any
  // file is written.
  for (const std::string& id : ids) {
    absl::StatusOr<common::PciDevice> device = common::readPciDevice(root_, id);
    if (!device.ok()) {
      return absl::FailedPreconditionError(common::strCat(
          "device ", id, " of ", resourceName(), ": ", common::toStd(device.status().message())));
    }
    if (!usableDriver(device->driver)) {
      return absl::FailedPreconditionError(
          common::strCat("device ", id, " of ", resourceName(), " is bound to ",
                         device->driver.empty() ? "no driver" : device->driver,
                         ", not to one of the configured DPDK drivers"));
    }
    absl::StatusOr<std::vector<std::string>> hostNodes = common::dpdkDeviceNodes(root_, *device);
    if (!hostNodes.ok()) return hostNodes.status();
    std::vector<DeviceNode> nodes;
    nlohmann::json entry = {{"generic", {{"deviceID", id}}}};
    for (const std::string& hostPath : *hostNodes) {
      std::error_code ec;
      if (!std::filesystem::exists(root_.path(hostPath), ec)) {
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
  const std::string env = pciDeviceEnvName(resourceName());
  allocation.envs[env] = list;
  allocation.envs[env + "_INFO"] = info.dump();

  std::vector<std::filesystem::path> written;
  auto undo = [&](absl::Status status) {
    std::error_code ec;
    for (const std::filesystem::path& path : written) std::filesystem::remove(path, ec);
    return status;
  };
  for (const auto& [id, nodes] : perDevice) {
    if (absl::Status status = writePciDeviceInfo(root_, resourceName(), id); !status.ok()) {
      return undo(status);
    }
    written.push_back(root_.path(deviceInfoPath(resourceName(), id).string()));
    if (spec_.cdi.enabled) {
      absl::Status status = writeCdiSpec(root_, spec_.cdi.specDir, resourceName(), id, nodes);
      if (!status.ok()) return undo(status);
      written.push_back(root_.path(cdiSpecPath(spec_.cdi.specDir, resourceName(), id).string()));
      allocation.cdiDevices.push_back(cdiQualifiedName(resourceName(), id));
    }
  }
  return allocation;
}

}  // namespace enadpdk::deviceplugin
