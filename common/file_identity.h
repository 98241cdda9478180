#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>

namespace enadpdk::common {

// Which file a path currently names. Two identities differ when the file was replaced, even when
// the file system reuses the inode number (the change time differs then).
struct FileIdentity {
  // Device of the file system.
  dev_t device = 0;
  // Inode number.
  ino_t inode = 0;
  // Status-change time in nanoseconds.
  std::int64_t ctimeNs = 0;
  // Modification time in nanoseconds.
  std::int64_t mtimeNs = 0;
  // Size in bytes.
  std::int64_t size = 0;

  friend bool operator==(const FileIdentity&, const FileIdentity&) = default;
};

// The identity of the file at `path` itself (lstat: a symlink is not followed); nullopt when
// nothing is there.
std::optional<FileIdentity> linkIdentity(const std::filesystem::path& path);

// The identity of the file `path` resolves to (stat: symlinks are followed, as for a ConfigMap
// volume whose files are symlinks swapped on update); nullopt when it does not resolve.
std::optional<FileIdentity> fileIdentity(const std::filesystem::path& path);

}  // namespace enadpdk::common
