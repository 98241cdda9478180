#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace enadpdk::common {

// A log file that many processes append whole lines to at once, rotated by size: the CNI and
// IPAM plugins run once per ADD/DEL, many in parallel, all logging to the same host file.
//
// Each append takes flock(LOCK_EX) on the file at the path, checks that the locked file is still
// the one at the path (another process may have rotated it while this one waited), rotates when
// the line would take the file past maxBytes, and writes the line with one O_APPEND write(2).
// Rotation happens under the lock of the file being rotated: <path>.<maxFiles-1> ->
// <path>.<maxFiles> .. <path> -> <path>.1; the next append creates <path> again. So no line is
// lost or torn, a file exceeds maxBytes only when one line alone is larger, and at most maxFiles
// rotated files are kept. Writers that do not take the lock are not excluded.
//
// Thread-safety: none; one instance per logger sink (spdlog's sink mutex serialises calls).
class SharedLogFile {
 public:
  // Opens (creating it, mode 0644 less the umask) `path` for appending. maxBytes 0: never rotate.
  // InvalidArgument naming the path when it cannot be opened.
  static absl::StatusOr<std::unique_ptr<SharedLogFile>> open(std::filesystem::path path,
                                                             uint64_t maxBytes, unsigned maxFiles);
  ~SharedLogFile();
  SharedLogFile(const SharedLogFile&) = delete;
  SharedLogFile& operator=(const SharedLogFile&) = delete;

  // Appends `lines` (whole lines, one write) under the lock, rotating first when needed.
  absl::Status append(std::string_view lines);

  // The name of the n-th rotated file: "<path>.<n>".
  static std::filesystem::path rotatedName(const std::filesystem::path& path, unsigned n);

 private:
  SharedLogFile(std::filesystem::path path, int fd, uint64_t maxBytes, unsigned maxFiles)
      : path_(std::move(path)), fd_(fd), maxBytes_(maxBytes), maxFiles_(maxFiles) {}
  absl::Status reopen();
  absl::Status rotate();

  std::filesystem::path path_;
  int fd_ = -1;
  uint64_t maxBytes_;
  unsigned maxFiles_;
};

}  // namespace enadpdk::common
