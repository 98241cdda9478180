#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/host_root.h"
#include "nodeprep/kernel_args.h"
#include "nodeprep/nodeprep_config.h"

namespace enadpdk::nodeprep {

// IOMMU hardware the firmware announces in its ACPI tables.
enum class IommuHardware {
  // Neither a DMAR nor an IVRS table: a virtualised instance (Nitro gives guests no IOMMU).
  None,
  // Intel VT-d: /sys/firmware/acpi/tables/DMAR.
  IntelVtd,
  // AMD-Vi: /sys/firmware/acpi/tables/IVRS.
  AmdVi,
};

// What the host says about its IOMMU.
struct IommuFacts {
  // The hardware, from the ACPI tables.
  IommuHardware hardware = IommuHardware::None;
  // Where the kernel shows an enabled IOMMU: a group in /sys/kernel/iommu_groups that is not a
  // vfio no-IOMMU group, or an entry of /sys/class/iommu; empty when it shows none.
  std::string enabled_by{};
  // The running kernel's command line (/proc/cmdline); empty when unreadable.
  std::string cmdline{};

  // True when the kernel has an IOMMU enabled.
  bool enabled() const { return !enabled_by.empty(); }
};

// Reads the facts under `root`. Reads only; never fails (what cannot be read counts as absent).
IommuFacts readIommuFacts(const common::HostRoot& root);

// True when /sys/kernel/iommu_groups holds a group that is not a vfio no-IOMMU group (vfio
// creates those itself, named "vfio-noiommu", so they say nothing about the hardware).
bool hostHasIommu(const common::HostRoot& root);

// How devices bound to vfio-pci do DMA once this run is done ("vfio.mode" of the report).
enum class VfioMode {
  // Through the IOMMU the kernel has enabled ("iommu").
  Iommu,
  // Without an IOMMU ("noiommu"): vfio's no-IOMMU mode, as vfio.noiommu says.
  NoIommu,
  // The IOMMU kernel arguments are on the command line of the next boot, the running kernel lacks
  // them; devices are bound after the reboot ("pending-reboot").
  PendingReboot,
};

// The report's spelling: "iommu", "noiommu", "pending-reboot".
std::string_view vfioModeName(VfioMode mode);

// The kernel arguments that turn Intel VT-d on: "intel_iommu=on iommu=1" (keys intel_iommu and
// iommu, whose earlier values they replace).
KernelArgSet intelIommuArgSet();

// The IOMMU part of the VFIO step's plan.
struct IommuPlan {
  // The mode after this run.
  VfioMode mode = VfioMode::NoIommu;
  // Why, for the report ("the instance has no IOMMU (no ACPI DMAR or IVRS table)").
  std::string reason{};
  // PendingReboot: the arguments to put on the kernel command line.
  std::optional<KernelArgSet> args{};
};

// Decides the mode from the facts and the vfio config:
// - an IOMMU the kernel enabled is used (vfio-pci cannot bypass it);
// - Intel VT-d the kernel has not enabled, with vfio.iommu "auto" (and vfio.noiommu not
//   "always", driver vfio-pci): PendingReboot with intelIommuArgSet(), unless the command line
//   turns the IOMMU off explicitly (intel_iommu=off, iommu=off: an operator's choice nodeprep does
//   not override) or already has intel_iommu=on (a reboot would not help);
// - AMD-Vi the kernel has not enabled: the kernel enables it by default, so no argument helps;
// - otherwise NoIommu.
// FailedPrecondition, saying what to do, when vfio.iommu is "required" and the kernel has no
// IOMMU enabled. Pure.
absl::StatusOr<IommuPlan> planIommu(const IommuFacts& facts, const VfioConfig& config);

}  // namespace enadpdk::nodeprep
