#include "deviceplugin/dedicated_pool.h"

#include <algorithm>

#include "deviceplugin/pci_allocation.h"
#include "deviceplugin/plugin_config.h"

namespace enadpdk::deviceplugin {
namespace {

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

DedicatedPool::DedicatedPool(const common::HostRoot& root, DedicatedPoolSpec spec)
    : ResourcePool(spec.prefix, kEnaDedicatedResource), root_(root), spec_(std::move(spec)) {}

bool DedicatedPool::usableDriver(const std::string& driver) const {
  return contains(spec_.config.drivers, driver);
}

bool DedicatedPool::selects(const common::PciDevice& device, const HostState& host) const {
  const EnaDedicatedResourceConfig& config = spec_.config;
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
  return allocatePciDevices(
      root_, {.resourceName = resourceName(), .drivers = spec_.config.drivers, .cdi = spec_.cdi},
      ids);
}

}  // namespace enadpdk::deviceplugin
