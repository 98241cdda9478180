#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/host_root.h"
#include "nodeprep/host.h"
#include "nodeprep/node_state.h"
#include "nodeprep/nodeprep_config.h"
#include "nodeprep/report.h"

namespace enadpdk::nodeprep {

// One nr_hugepages file and the count it should reach.
struct HugepageTarget {
  // Page size.
  common::HugepageSize size = common::HugepageSize::Size1G;
  // NUMA node of a per-node file; nullopt for the system-wide one.
  std::optional<int> numa_node{};
  // Host path of the nr_hugepages file.
  std::string file{};
  // Pages reserved when the plan was made.
  uint64_t current = 0;
  // Pages asked for. nodeprep only ever raises a count: a target with current >= wanted is
  // already satisfied (pages beyond the request may belong to someone else).
  uint64_t wanted = 0;

  // True when the count has to be raised.
  bool needsRaise() const { return current < wanted; }
};

// The reservation step's plan: the files to check or raise, in order (2M first, then 1G).
struct HugepagesPlan {
  // One target per size asked for (per NUMA node when perNumaNode).
  std::vector<HugepageTarget> targets{};
  // 1G pages asked for the whole node: the count a kernel command line has to reserve.
  uint64_t total1G = 0;

  // True when some count has to be raised.
  bool raises() const;
};

// Plans the reservation: sizes with a zero count are left alone; with perNumaNode every NUMA node
// under /sys/devices/system/node gets the count. Reads only. NotFound when the host has no NUMA
// node directories but perNumaNode is set, or a size's nr_hugepages file is missing.
absl::StatusOr<HugepagesPlan> planHugepages(const common::HostRoot& root,
                                            const HugepagesConfig& config);

// What the reservation got.
struct HugepagesOutcome {
  // A count was raised in this run (the kubelet, if already running, does not see it yet).
  bool raised = false;
  // Some 1G target got fewer pages than asked.
  bool short1G = false;
};

// Step 2 (runtime part): raises each count that is too low through the kernel's nr_hugepages
// files and reads back what the kernel granted. Adds one "hugepages" action per target. A 2M
// shortfall fails the run (a kernel argument cannot make 2M memory appear); a 1G shortfall fails
// it when `persist` is Never and is a warning otherwise (the kernel command line takes over).
// Records each raise (the count before the first one, and what the kernel granted) in
// `state.hugepages_raised`.
HugepagesOutcome reserveHugepages(const HugepagesPlan& plan, PersistMode persist, const Host& host,
                                  NodeState& state, Report& report);

// --undo: writes each count recorded in `state.hugepages_raised` back to what it was before
// nodeprep raised it, when it still reads what nodeprep raised it to (otherwise someone changed
// it since: a warning, and the record is dropped). A count the kernel cannot lower all the way
// (pages in use) fails and stays recorded. With `dry_run` only plans. Adds "hugepages" actions.
void undoHugepages(const Host& host, bool dry_run, NodeState& state, Report& report);

// --dry-run: adds the actions reserveHugepages() would take, as "planned" or "ok".
void describeHugepages(const HugepagesPlan& plan, Report& report);

}  // namespace enadpdk::nodeprep
