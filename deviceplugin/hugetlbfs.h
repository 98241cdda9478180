#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace enadpdk::deviceplugin {

// One file of a hugetlbfs instance whose pages HugetlbfsMounter::fault() allocates.
struct HugepageFileFault {
  // The file to create (under the root), in a hugetlbfs mount.
  std::filesystem::path path{};
  // Bytes to allocate from offset 0, a multiple of the instance's page size.
  std::uint64_t bytes = 0;
  // The NUMA node the pages must come from; none: any.
  std::optional<int> node{};

  friend bool operator==(const HugepageFileFault&, const HugepageFileFault&) = default;
};

// What HugetlbfsMounter::fault() does: which files to fill, charged to which cgroup.
struct HugepageFaultRequest {
  // The cgroup.procs file (under the root) of the cgroup the pages are charged to; empty: the
  // caller's own cgroup (a node without a hugetlb controller).
  std::filesystem::path cgroupProcs{};
  // The files, in order.
  std::vector<HugepageFileFault> files{};

  friend bool operator==(const HugepageFaultRequest&, const HugepageFaultRequest&) = default;
};

// The seam between the hugepages resources and the kernel's hugetlbfs (mount table, page
// allocation), so that tests on a fake host do not mount or allocate anything. Implementations
// must be thread-safe.
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
  // Creates each file of `request` (owned by the caller, mode 0666; failing when it exists) and
  // allocates its pages, so that they are charged to request.cgroupProcs's cgroup and not to
  // whoever maps them later. ResourceExhausted when the kernel has no free page (on the node);
  // FailedPrecondition when the cgroup cannot be joined. On error the files made so far stay:
  // unmounting the instance frees them.
  virtual absl::Status fault(const HugepageFaultRequest& request) = 0;
};

// The real kernel: mount(2), umount2(MNT_DETACH), statfs(2). fault() forks a child that joins the
// cgroup (writes to its cgroup.procs), binds its memory policy to the file's node
// (set_mempolicy(MPOL_BIND)) and fallocate()s each file, then exits; the parent waits for it.
// Needs CAP_SYS_ADMIN.
class SystemHugetlbfsMounter final : public HugetlbfsMounter {
 public:
  absl::Status mount(const std::filesystem::path& target, const std::string& options) override;
  absl::Status unmount(const std::filesystem::path& target) override;
  bool isMounted(const std::filesystem::path& target) override;
  absl::StatusOr<std::uint64_t> unusedPages(const std::filesystem::path& target) override;
  absl::Status fault(const HugepageFaultRequest& request) override;
};

}  // namespace enadpdk::deviceplugin
