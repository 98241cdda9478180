#pragma once

#include <filesystem>
#include <string_view>

namespace enadpdk::common {

// The host-path prefix behind every daemon's `--root DIR` flag: code that reads or writes the
// host (/sys, /proc, /dev, /etc, /run, /var) maps each absolute host path through a HostRoot so
// that tests can point it at a fake host tree. Immutable and cheap to copy; thread-safe.
class HostRoot {
 public:
  // `root` is the directory that stands for "/" ("/" on a real host).
  explicit HostRoot(std::filesystem::path root = "/");

  // Maps an absolute host path ("/sys/bus/pci/devices") to its place under the root
  // ("<root>/sys/bus/pci/devices"). A relative path is taken as relative to "/".
  std::filesystem::path path(std::string_view host_path) const;

  // The inverse of path(): strips the root prefix from a path under the root, giving the host
  // path ("/sys/..."). Paths outside the root are returned unchanged.
  std::filesystem::path hostPath(const std::filesystem::path& path_under_root) const;

  // The root directory itself.
  const std::filesystem::path& root() const { return root_; }

  // True when the root is "/" (a real host).
  bool isRealHost() const { return root_ == "/"; }

 private:
  std::filesystem::path root_;
};

}  // namespace enadpdk::common
