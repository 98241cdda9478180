#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace enadpdk::vhostuser {

// Where a vhost-user socket lands once symbolic links are resolved (DESIGN.md, path policy):
// the text of a socket path says nothing about where a link inside an allowed directory leads.
struct ResolvedSocketPath {
  // The deepest existing directory above the socket, with every symbolic link resolved.
  std::filesystem::path existing_dir{};
  // The directories still to be created below `existing_dir`, outermost first (no "." or "..").
  std::vector<std::string> missing_dirs{};
  // The socket's own name (the last component of the requested path).
  std::string name{};

  // `existing_dir` joined with `missing_dirs`: where the socket's parent is or will be.
  std::filesystem::path parentDir() const;
};

// Resolves `path` (absolute) and checks it against `allowed_roots` (resolved the same way, so a
// root that is itself a link, like /var/run -> /run, still matches). Reads the filesystem but
// changes nothing. Errors name `field` and, when it is the reason, the allowed roots:
// - InvalidArgument: not absolute, no file name, "." or ".." below a directory that does not
//   exist yet, or a component of the parent that exists but is not a directory;
// - PermissionDenied: the resolved parent is outside every allowed root, or the last component
//   (or a missing directory's name) is a symbolic link.
// Thread-safe; the answer holds only as long as nobody changes the tree (callers create what is
// missing with createSocketDirs, which refuses links swapped in since).
absl::StatusOr<ResolvedSocketPath> resolveSocketPath(std::string_view path,
                                                     const std::vector<std::string>& allowed_roots,
                                                     std::string_view field);

// Creates `resolved.missing_dirs` one by one with mkdirat below a descriptor of
// `resolved.existing_dir` reached from "/" with O_NOFOLLOW at every step, so a symbolic link
// swapped in after resolveSocketPath is refused (PermissionDenied naming `field`) instead of
// followed. New directories get exactly `mode`; existing ones are left as they are.
absl::Status createSocketDirs(const ResolvedSocketPath& resolved, mode_t mode,
                              std::string_view field);

}  // namespace enadpdk::vhostuser
