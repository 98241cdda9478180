#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/host_root.h"
#include "nodeprep/host.h"
#include "nodeprep/node_state.h"
#include "nodeprep/nodeprep_config.h"
#include "nodeprep/report.h"

namespace enadpdk::nodeprep {

// One line of a mount table (/proc/<pid>/mounts), with the kernel's octal escapes ("\040")
// decoded.
struct MountEntry {
  // Mount source ("nodev", "hugetlbfs").
  std::string source{};
  // Mount point.
  std::string target{};
  // File system type.
  std::string fstype{};
  // Comma-separated options ("rw,relatime,pagesize=1024M").
  std::string options{};
};

// Parses a mount table; malformed lines are skipped.
std::vector<MountEntry> parseMountTable(std::string_view table);

// The host's mount table: /proc/1/mounts (the mount namespace of the host's init process, which
// is where mounts made through nsenter into its mount namespace or propagated from a container
// land) when it can be
// read, else /proc/mounts. Both under the host root.
absl::StatusOr<std::vector<MountEntry>> readMountTable(const common::HostRoot& root);

// The page size in KiB of a hugetlbfs mount, from its pagesize= option ("2M", "1024M", "1G");
// the 2M default when the option is absent; nullopt when it cannot be parsed.
std::optional<uint64_t> hugetlbfsPageKib(const MountEntry& entry);

// One configured mount and whether it is already in place.
struct MountPlan {
  // The configured mount.
  HugetlbfsMount mount{};
  // True when hugetlbfs with the right page size is mounted at the path already.
  bool present = false;
};

// Plans the mounts. FailedPrecondition when something other than hugetlbfs, or hugetlbfs with
// another page size, is mounted at a configured path (nodeprep does not unmount what it did not
// mount). Reads only.
absl::StatusOr<std::vector<MountPlan>> planMounts(const common::HostRoot& root,
                                                  const std::vector<HugetlbfsMount>& mounts);

// Step 3: for each mount not present, creates the mount point (0755, under the host root) and
// runs `mount -t hugetlbfs -o pagesize=<1G|2M> nodev <path>`, then checks the mount table. Adds
// one "mounts" action per mount; stops at the first failure. Records each mount it made, with
// the directories it created for it, in `state.mounts_made`.
void applyMounts(const std::vector<MountPlan>& plans, const Host& host, NodeState& state,
                 Report& report);

// --undo: for each mount in `state.mounts_made`, `umount <path>` when hugetlbfs is still mounted
// there (checked in the mount table), then removes the directories nodeprep created for it,
// innermost first, as long as they are empty. A failure (a mount in use) is reported and the
// record kept; the other mounts go on. With `dry_run` only plans. Adds "mounts" actions.
void undoMounts(const Host& host, bool dry_run, NodeState& state, Report& report);

// Removes the directories `created` (host paths, outermost first) innermost first, each only when
// it is empty; with `dry_run` only says what it would remove. Adds one `step` action per
// directory. Used for the mount points and the state file's directory. False when an rmdir
// failed (a directory left because it is not empty is not a failure).
bool removeCreatedDirectories(const Host& host, const std::vector<std::string>& created,
                              std::string_view step, bool dry_run, Report& report);

// --dry-run: adds the actions applyMounts() would take.
void describeMounts(const std::vector<MountPlan>& plans, Report& report);

}  // namespace enadpdk::nodeprep
