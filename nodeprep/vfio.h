#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "common/host_root.h"
#include "nodeprep/host.h"
#include "nodeprep/report.h"

namespace enadpdk::nodeprep {

// The sysfs parameter that lets vfio-pci take devices without an IOMMU.
inline constexpr char kNoIommuParameter[] =
    "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode";

// The VFIO step's plan.
struct VfioPlan {
  // False when nothing is to be bound and no-IOMMU mode is not forced: the step does nothing.
  bool needed = false;
  // The DPDK driver the devices get (kVfioPciDriver, kIgbUioDriver, kUioPciGenericDriver).
  std::string driver{};
  // True when the driver is already registered (/sys/bus/pci/drivers/<driver> exists).
  bool loaded = false;
  // The command that loads the driver's module ("modprobe vfio-pci"; igb_uio with
  // wc_activate=1 so that ENA LLQ gets write combining).
  std::vector<std::string> modprobe{};
  // True when no-IOMMU mode is to be on (vfio-pci only): "always", or "auto" on a host whose
  // IOMMU groups are all vfio no-IOMMU groups (or that has none).
  bool noiommu = false;
  // True when the host has a real IOMMU group.
  bool host_has_iommu = false;
};

// True when /sys/kernel/iommu_groups holds a group that is not a vfio no-IOMMU group (vfio
// creates those itself, named "vfio-noiommu", so they say nothing about the hardware).
bool hostHasIommu(const common::HostRoot& root);

// Plans the step. `devices_selected` says whether the bind section selects anything. Reads only.
VfioPlan planVfio(const common::HostRoot& root, const common::VfioConfig& config,
                  bool devices_selected);

// Step 4: loads the driver's module when it is not registered, enables no-IOMMU mode when
// planned (and verifies it took), and reports whether ENA LLQ gets write combining with the
// driver (a warning with the way to get it when not; never a failure). Adds "vfio" actions.
void applyVfio(const VfioPlan& plan, const Host& host, Report& report);

// --dry-run: adds the actions applyVfio() would take.
void describeVfio(const VfioPlan& plan, const common::HostRoot& root, Report& report);

}  // namespace enadpdk::nodeprep
