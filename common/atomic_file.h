#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace enadpdk::common {

// Writes `contents` to `path` so that a reader (or a process restarted after a crash) sees either
// the old file or the complete new one, never a torn write: a temporary file in the same
// directory is written, fsync'ed, given `mode`, renamed over `path`, and the directory is
// fsync'ed. The parent directory must exist. On failure the temporary file is removed and `path`
// is left as it was. Thread-safe for distinct paths.
absl::Status writeFileAtomic(const std::filesystem::path& path, std::string_view contents,
                             mode_t mode = 0600);

// As writeFileAtomic, but without either fsync: readers see the old or the new file, never a
// torn one, and the caller does not wait for the disk. For files on tmpfs (/var/run) or that can
// be done without after a power loss (the CNI's device-info files and attachment records).
absl::Status replaceFileAtomic(const std::filesystem::path& path, std::string_view contents,
                               mode_t mode);

// Reads a whole file. NotFound when it does not exist; other failures name the path and errno.
absl::StatusOr<std::string> readFile(const std::filesystem::path& path);

// Creates `dir` and its missing parents with `mode` (applied to the directories it creates, not
// to existing ones).
absl::Status makeDirectories(const std::filesystem::path& dir, mode_t mode = 0755);

}  // namespace enadpdk::common
