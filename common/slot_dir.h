#pragma once

// The slot directories (`<slotDir>/<deviceID>`, and ena-dpdk-cni's per-attachment ones) that
// hold a pod's vhost-user socket and ena-dpdk.json. The device plugin and the CNI create them;
// the pod sees one through a bind mount. Shared here so that both make them the same way.

#include <sys/types.h>

#include <filesystem>
#include <optional>

#include "absl/status/status.h"

namespace enadpdk::common {

// Mode of a slot directory without a slot group: only root (the dataplane, the CNI) enters it.
inline constexpr mode_t kSlotDirMode = 0770;
// Mode of a slot directory with a slot group: setgid, so that the socket a pod creates and the
// socket and files the dataplane and the CNI create inside belong to the group too.
inline constexpr mode_t kGroupSlotDirMode = 02770;

// Makes `dir` a slot directory; its parent must exist. Creates it when missing. A path that is a
// symbolic link or not a directory is refused (FailedPrecondition naming the path): the
// directory is opened with O_NOFOLLOW and changed through that descriptor, so a link swapped in
// is never followed. Without `group` a new directory gets kSlotDirMode and an existing one is
// left as it is; with `group` the directory, new or existing, is made <this process's user
// (root)>:<group> with kGroupSlotDirMode. Thread-safe for distinct paths.
absl::Status ensureSlotDirectory(const std::filesystem::path& dir, std::optional<gid_t> group);

}  // namespace enadpdk::common
