#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace enadpdk::deviceplugin {

// The seam between the hugepages resource and the kernel's mount table, so that tests on a fake
// host do not mount anything. Implementations must be thread-safe.
class HugetlbfsMounter {
 public:
  virtual ~HugetlbfsMounter() = default;

  // Mounts a hugetlbfs instance with `options` ("pagesize=1G,size=2G,...") on the existing
  // directory `target`. ResourceExhausted when the kernel cannot reserve the pages.
  virtual absl::Status mount(const std::filesystem::path& target, const std::string& options) = 0;
  // Detaches the mount on `target` (lazily: pages are freed when the last user goes).
  virtual absl::Status unmount(const std::filesystem::path& target) = 0;
  // Whether a file system is mounted on `target`.
  virtual bool isMounted(const std::filesystem::path& target) = 0;
  // How many pages of the instance on `target` are not in use: its size limit minus the pages
  // its files hold (statfs f_bfree).
  virtual absl::StatusOr<std::uint64_t> unusedPages(const std::filesystem::path& target) = 0;
};

// The real kernel: mount(2), umount2(MNT_DETACH), statfs(2). Needs CAP_SYS_ADMIN.
class SystemHugetlbfsMounter final : public HugetlbfsMounter {
 public:
  absl::Status mount(const std::filesystem::path& target, const std::string& options) override;
  absl::Status unmount(const std::filesystem::path& target) override;
  bool isMounted(const std::filesystem::path& target) override;
  absl::StatusOr<std::uint64_t> unusedPages(const std::filesystem::path& target) override;
};

}  // namespace enadpdk::deviceplugin
