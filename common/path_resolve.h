#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace enadpdk::common {

// An absolute path split where the filesystem stops.
struct ExistingPrefix {
  // realpath(3) of the longest prefix that exists: links followed, and ".." applied by the
  // kernel's rules (after a link, against the link's target), never folded as text first.
  std::filesystem::path resolved{};
  // The components below it that do not exist (yet), as given ("." and ".." included).
  std::vector<std::string> missing{};
};

// Splits the absolute `path` as above. A prefix ends where a component does not exist (ENOENT)
// or where a file stands in for a directory (ENOTDIR); any other failure to resolve it is
// InvalidArgument naming `field` and the prefix. Reads the filesystem, changes nothing. Shared by
// the dataplane's socket paths (vhostuser/path_policy.h) and the CNI's node path policy
// (cni/path_policy.h).
absl::StatusOr<ExistingPrefix> resolveExistingPrefix(const std::filesystem::path& path,
                                                     std::string_view field);

// True when `path` lies strictly inside `dir` (not `dir` itself), compared as text after
// lexical normalisation of both: no filesystem access, links not followed (callers that must
// follow them resolve first, as with resolveExistingPrefix).
bool isWithin(const std::filesystem::path& path, const std::filesystem::path& dir);

}  // namespace enadpdk::common
