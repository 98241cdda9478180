#include "deviceplugin/uplink_pool.h"

#include <optional>
#include <utility>

#include "common/pci.h"
#include "deviceplugin/pci_allocation.h"
#include "deviceplugin/plugin_config.h"

namespace enadpdk::deviceplugin {

UplinkPool::UplinkPool(const common::HostRoot& root, UplinkPoolSpec spec)
    : ResourcePool(spec.prefix, kEnaUplinkResource), root_(root), spec_(std::move(spec)) {}

void UplinkPool::refresh(const HostState& host) {
  std::vector<Device> devices;
  for (const std::string& address : spec_.addresses) {
    const common::PciDevice* device = host.findPciDevice(address);
    devices.push_back({.id = address,
                       .healthy = device != nullptr && device->isDpdkBound(),
                       .numaNode = device != nullptr ? device->numa_node : std::nullopt});
  }
  publish(std::move(devices));
}

absl::StatusOr<ContainerAllocation> UplinkPool::allocate(const std::vector<std::string>& ids) {
  if (absl::Status status = checkDeviceIds(ids, snapshot().devices, resourceName()); !status.ok()) {
    return status;
  }
  return allocatePciDevices(
      root_,
      {.resourceName = resourceName(),
       .drivers = {common::kVfioPciDriver, common::kIgbUioDriver, common::kUioPciGenericDriver},
       .cdi = spec_.cdi},
      ids);
}

}  // namespace enadpdk::deviceplugin
