#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/host_root.h"
#include "deviceplugin/device.h"
#include "deviceplugin/plugin_config.h"

namespace enadpdk::deviceplugin {

// What allocatePciDevices() hands out, besides the devices themselves.
struct PciAllocationSpec {
  // The full resource name ("dpdk.aws/ena-dedicated"): names the environment variables, the
  // device-info files and the CDI kind.
  std::string resourceName{};
  // DPDK drivers a device must be bound to at allocation time.
  std::vector<std::string> drivers{};
  // CDI support.
  CdiConfig cdi{};
};

// Allocates whole DPDK-bound PCI devices (IDs = PCI addresses, already checked to belong to the
// resource) to one container, as the resources dpdk.aws/ena-dedicated and dpdk.aws/ena-uplink
// do: /dev/vfio/vfio and each device's IOMMU group node (in no-IOMMU mode host
// /dev/vfio/noiommu-<N> becomes /dev/vfio/<N> in the container, where DPDK looks for it) or its
// /dev/uio<N>, all "rw"; the environment variables PCIDEVICE_<RESOURCE> (comma-separated
// addresses, in request order) and PCIDEVICE_<RESOURCE>_INFO (JSON, as the SR-IOV network
// device plugin writes it); an NPWG "pci" device-info file per device; and with CDI enabled a
// CDI spec per device and the CDI device names. FailedPrecondition when a device is missing,
// not bound to one of `spec.drivers` or lacks a device node; nothing is left behind on failure.
// Thread-compatible: reads sysfs and writes files under `root`, holds no state.
absl::StatusOr<ContainerAllocation> allocatePciDevices(const common::HostRoot& root,
                                                       const PciAllocationSpec& spec,
                                                       const std::vector<std::string>& ids);

}  // namespace enadpdk::deviceplugin
