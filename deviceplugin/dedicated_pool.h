#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/host_root.h"
#include "common/pci.h"
#include "deviceplugin/plugin_config.h"
#include "deviceplugin/resource_pool.h"

namespace enadpdk::deviceplugin {

// What the dpdk.aws/ena-dedicated resource is built from; equal specs give identical resources.
struct DedicatedPoolSpec {
  // Resource prefix ("dpdk.aws").
  std::string prefix = kDefaultResourcePrefix;
  // The resource's config section.
  EnaDedicatedResourceConfig config{};
  // CDI support.
  CdiConfig cdi{};

  friend bool operator==(const DedicatedPoolSpec&, const DedicatedPoolSpec&) = default;
};

// dpdk.aws/ena-dedicated: whole ENAs bound to a DPDK driver, device ID = PCI address, NUMA node
// from sysfs. A device is offered when its vendor, device ID and address pass the config's
// filters, it is not a dataplane uplink, and it is bound to one of the configured drivers. A
// device once offered stays in the list as Unhealthy while it exists under another driver; it
// leaves the list when it disappears or becomes a dataplane uplink.
//
// Allocate hands out the devices with allocatePciDevices() (pci_allocation.h): device nodes,
// PCIDEVICE_<RESOURCE> and PCIDEVICE_<RESOURCE>_INFO, device-info files, CDI.
class DedicatedPool final : public ResourcePool {
 public:
  DedicatedPool(const common::HostRoot& root, DedicatedPoolSpec spec);

  void refresh(const HostState& host) override;
  absl::StatusOr<ContainerAllocation> allocate(const std::vector<std::string>& ids) override;

 private:
  // Whether the config's filters and the uplink exclusion select `device` (driver aside).
  bool selects(const common::PciDevice& device, const HostState& host) const;
  // Whether `driver` is one of the configured drivers.
  bool usableDriver(const std::string& driver) const;

  const common::HostRoot root_;
  const DedicatedPoolSpec spec_;
  // Addresses offered so far and still selected; touched only by refresh(), which one thread
  // calls at a time.
  std::set<std::string> offered_;
};

}  // namespace enadpdk::deviceplugin
