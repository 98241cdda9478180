#pragma once

#include <string>

#include "nodeprep/host.h"
#include "nodeprep/node_state.h"
#include "nodeprep/report.h"

namespace enadpdk::nodeprep {

// How an undo run behaves.
struct UndoOptions {
  // Plan and report only: nothing is written and no command that changes the host runs.
  bool dry_run = false;
  // Host path of the state file.
  std::string state_file = kDefaultStateFile;
};

// ena-dpdk-nodeprep --undo: reverts what the state file records nodeprep did, and nothing else.
// First, before any write, each device nodeprep bound that a process still holds open is refused
// (the run changes nothing and fails). Then, in this order, each step going on when another
// failed: the devices back to the driver they had (undoBinding()), the no-IOMMU parameter and the
// modules nodeprep loaded (undoVfio()), the hugetlbfs mounts and their directories
// (undoMounts()), the runtime hugepage counts (undoHugepages()), the kernel arguments
// (undoKernelArgs()). When everything recorded is reverted, the state file and the directories
// nodeprep created for it are removed, so a second undo finds nothing to do; otherwise the file
// keeps the records not reverted and the report fails. A state file of a nodeprep that recorded
// nothing for undo (no "version") reverts nothing, says so, and is removed. Never throws.
Report undoNodeprep(const Host& host, const UndoOptions& options);

}  // namespace enadpdk::nodeprep
