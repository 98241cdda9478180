#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace enadpdk::nodeprep {

// What became of one action of a run.
enum class ActionStatus {
  // The host already was as desired (or a check passed); nothing was done.
  Ok,
  // --dry-run: the action would change the host.
  Planned,
  // The action changed the host.
  Changed,
  // Not as desired, but not an error: e.g. the kernel granted fewer 1G pages than asked (the
  // kernel command line takes over), write combining is not available.
  Warning,
  // The action failed; the run stops and exits 1.
  Failed,
  // A selected device is the primary ENI; nothing is written and the run exits 1.
  Refused,
};

// The JSON spelling of a status: "ok", "planned", "changed", "warning", "failed", "refused".
std::string_view statusName(ActionStatus status);

// One line of the report: what a step looked at and what it did about it.
struct Action {
  // The step: "cpu", "hugepages", "kernel-args", "mounts", "vfio", "bind", "kubelet", "state".
  std::string step{};
  // What the action is about: a host path, a PCI address ("0000:00:06.0 (eth1)"), a program.
  std::string target{};
  // The change, or why there is none ("0 -> 4", "ena -> vfio-pci", "none: already mounted").
  std::string change{};
  // What became of it.
  ActionStatus status = ActionStatus::Ok;

  // Field-wise comparison.
  bool operator==(const Action&) const = default;
};

// How devices bound to vfio-pci do DMA (the report's "vfio" object).
struct VfioStatus {
  // "iommu", "noiommu" or "pending-reboot" (nodeprep::vfioModeName()).
  std::string mode{};
  // Why ("the kernel has an IOMMU enabled (/sys/kernel/iommu_groups/5)").
  std::string reason{};

  // Field-wise comparison.
  bool operator==(const VfioStatus&) const = default;
};

// The result of a run, printed as one JSON document on stdout.
struct Report {
  // Every action, in the order the steps ran.
  std::vector<Action> actions{};
  // Kernel arguments were written that the running kernel does not have, and the node is not
  // ready without them.
  bool rebootRequired = false;
  // The kubelet started before hugepages it should offer were reserved; it sees them only after
  // a restart.
  bool kubeletRestartRequired = false;
  // The node is prepared: no failure, no reboot pending (and, for --dry-run, nothing to change).
  bool ready = false;
  // The VFIO step's mode, when the step ran (devices selected, or vfio.noiommu "always").
  std::optional<VfioStatus> vfio{};
  // The one-line reason of the first failure or refusal; empty when there was none.
  std::string error{};

  // Appends an action.
  void add(std::string_view step, std::string_view target, std::string_view change,
           ActionStatus status);
  // Appends a failed (or refused) action and records `reason` as the run's error when it is the
  // first one.
  void fail(std::string_view step, std::string_view target, std::string_view reason,
            ActionStatus status = ActionStatus::Failed);
  // True when an action failed or was refused.
  bool failed() const { return !error.empty(); }
  // True when an action changed or would change the host.
  bool changedAnything() const;
};

// The report as the JSON document of the command-line contract:
//   {"actions": [{"step", "target", "change", "status"}...], "rebootRequired": bool,
//    "kubeletRestartRequired": bool, "ready": bool, "vfio": {"mode", "reason"}}
// ("vfio" only when the VFIO step ran)
// pretty-printed, with a trailing newline.
std::string reportJson(const Report& report);

// The exit status for a report: 1 when it failed, 3 when a reboot is required, 0 otherwise.
int exitStatus(const Report& report);

}  // namespace enadpdk::nodeprep
