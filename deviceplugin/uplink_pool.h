#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/host_root.h"
#include "deviceplugin/plugin_config.h"
#include "deviceplugin/resource_pool.h"

namespace enadpdk::deviceplugin {

// What the dpdk.aws/ena-uplink resource is built from; equal specs give identical resources.
struct UplinkPoolSpec {
  // Resource prefix ("dpdk.aws").
  std::string prefix = kDefaultResourcePrefix;
  // The PCI addresses the dataplane networks use as uplinks (uplinkPciAddresses()), sorted.
  std::vector<std::string> addresses{};
  // CDI support.
  CdiConfig cdi{};

  friend bool operator==(const UplinkPoolSpec&, const UplinkPoolSpec&) = default;
};

// dpdk.aws/ena-uplink: the dataplane's own ENAs, so that the dataplane pod asks the kubelet for
// them like any DPDK pod and the topology manager places its CPUs and hugepages on their NUMA
// node. One device per PCI uplink of the dataplane config (vdev uplinks have no device), device
// ID = PCI address, NUMA node from sysfs (none when -1). A device is listed whatever its state,
// so that capacity always equals the number of uplinks; it is healthy while it exists and is
// bound to a DPDK driver (vfio-pci, igb_uio, uio_pci_generic), so a dataplane pod is admitted
// only once node prep has bound every uplink. The health never depends on the dataplane, the
// resource's only consumer.
//
// Allocate hands out the devices as dpdk.aws/ena-dedicated does (allocatePciDevices(): device
// nodes, PCIDEVICE_DPDK_AWS_ENA_UPLINK and its _INFO, device-info files, CDI).
class UplinkPool final : public ResourcePool {
 public:
  UplinkPool(const common::HostRoot& root, UplinkPoolSpec spec);

  void refresh(const HostState& host) override;
  absl::StatusOr<ContainerAllocation> allocate(const std::vector<std::string>& ids) override;

 private:
  const common::HostRoot root_;
  const UplinkPoolSpec spec_;
};

}  // namespace enadpdk::deviceplugin
