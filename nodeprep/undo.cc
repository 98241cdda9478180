#include "nodeprep/undo.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/strings.h"
#include "nodeprep/binding.h"
#include "nodeprep/hugepages.h"
#include "nodeprep/kernel_args.h"
#include "nodeprep/mounts.h"
#include "nodeprep/vfio.h"

namespace enadpdk::nodeprep {
namespace {

using common::strCat;
using common::toStd;

// One undo step: its name in the report, whether the state records anything for it, and the step.
struct UndoStep {
  std::string_view step;
  bool recorded;
  void (*run)(const Host&, bool, NodeState&, Report&);
};

}  // namespace

Report undoNodeprep(const Host& host, const UndoOptions& options) {
  Report report;
  auto finish = [&]() -> Report {
    report.ready = !report.failed();
    return report;
  };
  const std::string& file = options.state_file;
  if (!hostPathExists(host.root, file)) {
    report.add("state", file, "none: no state file, so nothing nodeprep did is left to undo",
               ActionStatus::Ok);
    return finish();
  }
  absl::StatusOr<NodeState> loaded = loadNodeState(host.root, file);
  if (!loaded.ok()) {
    report.fail("state", file, toStd(loaded.status().message()));
    return finish();
  }
  NodeState state = *std::move(loaded);
  if (state.version < kNodeStateVersion) {
    report.add("state", file,
               "none: written by a nodeprep that recorded nothing for --undo; hugepages, mounts, "
               "kernel arguments, vfio and bound devices are left as they are",
               ActionStatus::Warning);
  }
  // Refusals come before the first write, as in a forward run.
  if (!checkBoundDevicesIdle(host.root, state, report)) return finish();

  const UndoStep steps[] = {
      {"bind", !state.bound_devices.empty() || !state.interfaces.empty() || !state.macs.empty(),
       undoBinding},
      {"vfio", !state.modules_loaded.empty() || state.noiommu_before.has_value(), undoVfio},
      {"mounts", !state.mounts_made.empty(), undoMounts},
      {"hugepages", !state.hugepages_raised.empty(), undoHugepages},
      {"kernel-args", !state.kernel_args_added.empty(), undoKernelArgs},
  };
  for (const UndoStep& step : steps) {
    if (step.recorded) {
      step.run(host, options.dry_run, state, report);
    } else if (state.version >= kNodeStateVersion) {
      report.add(step.step, file, "none: nodeprep recorded no change here", ActionStatus::Ok);
    }
  }

  if (options.dry_run) {
    report.add("state", file, "remove once everything above is undone", ActionStatus::Planned);
    // Not removeCreatedDirectories(): until the file is gone its directory is not empty.
    for (auto dir = state.state_directories.rbegin(); dir != state.state_directories.rend();
         ++dir) {
      report.add("state", *dir, "rmdir (nodeprep created it) once empty", ActionStatus::Planned);
    }
    return finish();
  }
  if (state.recordsChanges()) {
    // What is left is what could not be reverted: the next --undo tries again.
    absl::Status saved = saveNodeState(host.root, file, state);
    if (!saved.ok()) {
      report.fail("state", file, toStd(saved.message()));
    } else {
      report.add("state", file, "kept: it records the changes not undone", ActionStatus::Changed);
    }
    if (!report.failed()) {
      report.fail("state", file, "some of nodeprep's changes could not be undone");
    }
    return finish();
  }
  if (std::remove(host.root.path(file).c_str()) != 0) {
    report.fail("state", file, strCat("remove: ", std::strerror(errno)));
    return finish();
  }
  report.add("state", file, "removed: everything it recorded is undone", ActionStatus::Changed);
  removeCreatedDirectories(host, state.state_directories, "state", /*dry_run=*/false, report);
  return finish();
}

}  // namespace enadpdk::nodeprep
