#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/host_root.h"
#include "nodeprep/host.h"
#include "nodeprep/iommu.h"
#include "nodeprep/node_state.h"
#include "nodeprep/nodeprep_config.h"
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
  // True when no-IOMMU mode is to be on (vfio-pci only): noiommu "always", or "auto" when the
  // IOMMU plan's mode is NoIommu.
  bool noiommu = false;
  // Whether devices get the IOMMU, and why (meaningful when `needed`).
  IommuPlan iommu{};
};

// Plans the step. `devices_selected` says whether the bind section selects anything. Reads only.
// FailedPrecondition when the step is needed, vfio.iommu is "required" and the kernel has no
// IOMMU enabled (see planIommu()).
absl::StatusOr<VfioPlan> planVfio(const common::HostRoot& root, const VfioConfig& config,
                                  bool devices_selected);

// Step 4: records the IOMMU mode in the report (report.vfio). With VfioMode::PendingReboot, puts
// the IOMMU kernel arguments on the command line (persistKernelArgs(), "kernel-args" actions),
// sets rebootRequired and does nothing else: no module, no no-IOMMU mode, since the devices are
// bound after the reboot. Otherwise loads the driver's module when it is not registered, enables
// no-IOMMU mode when planned (and verifies it took), and reports whether ENA LLQ gets write
// combining with the driver (a warning with the way to get it when not; never a failure). Adds
// "vfio" actions. Records in `state` the modules its modprobe loaded (those new in
// /proc/modules), the no-IOMMU parameter's value before it changed it, and the IOMMU kernel
// arguments it added.
void applyVfio(const VfioPlan& plan, const Host& host, NodeState& state, Report& report);

// --undo, after the devices are unbound: puts the no-IOMMU parameter back to what
// `state.noiommu_before` says (when vfio is still loaded and the parameter is on), then unloads,
// with `rmmod`, the modules in `state.modules_loaded` that are still loaded, in that order. A
// module whose PCI driver still has a device bound is left loaded (a warning: unloading would
// take the device away from whoever uses it). With `dry_run` only plans. Adds "vfio" actions.
void undoVfio(const Host& host, bool dry_run, NodeState& state, Report& report);

// --dry-run: adds the actions applyVfio() would take (the IOMMU kernel arguments are only
// inspected, through `host`'s read-only commands) and records the mode it would leave.
void describeVfio(const VfioPlan& plan, const Host& host, Report& report);

}  // namespace enadpdk::nodeprep
