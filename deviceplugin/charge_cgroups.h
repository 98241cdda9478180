#pragma once

// The node-level cgroups that the pages of hugepage allocations are charged to, outside the
// kubelet's pod cgroups (whose hugetlb limit is 0 for sizes a pod did not request natively).

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"
#include "common/host_root.h"

namespace enadpdk::deviceplugin {

// Which kind of cgroup hierarchy holds the node's hugetlb controller.
enum class HugetlbHierarchyKind {
  // cgroup v2 (also the "unified" mount of a hybrid setup).
  V2,
  // cgroup v1, the hierarchy mounted at <cgroupFs>/hugetlb.
  V1,
  // No hugetlb controller: no hugetlb limit applies anywhere on the node.
  None,
};

// The node's hugetlb hierarchy.
struct HugetlbHierarchy {
  // Its kind.
  HugetlbHierarchyKind kind = HugetlbHierarchyKind::None;
  // Host path of its root ("/sys/fs/cgroup"); empty for None.
  std::string path{};

  friend bool operator==(const HugetlbHierarchy&, const HugetlbHierarchy&) = default;
};

// Finds the hugetlb hierarchy among the cgroup file systems mounted at host path `cgroupFs`
// (under `root`): <cgroupFs> when its cgroup.controllers lists hugetlb (v2), else
// <cgroupFs>/unified when that one's does (hybrid), else <cgroupFs>/hugetlb when it is a
// directory (v1), else none.
HugetlbHierarchy findHugetlbHierarchy(const common::HostRoot& root, const std::string& cgroupFs);

// The per-allocation charge cgroups of one hugepage resource: <hierarchy>/<chargeCgroup>/<ID>.
// Holds no state beyond its configuration: thread-safe.
class ChargeCgroups {
 public:
  // `chargeCgroup` is relative to the hierarchy's root ("/ena-dpdk/hugepages").
  ChargeCgroups(const common::HostRoot& root, HugetlbHierarchy hierarchy, std::string chargeCgroup);

  // The hierarchy the cgroups are made in.
  const HugetlbHierarchy& hierarchy() const { return hierarchy_; }

  // Creates the cgroup of allocation `id` and its missing ancestors; on v2 also enables the
  // hugetlb controller in cgroup.subtree_control from the hierarchy's root down to
  // chargeCgroup (failures to enable are ignored: the charges then go to the nearest ancestor
  // that has it). Returns the path (under the root) of its cgroup.procs, or an empty path
  // without a hugetlb hierarchy. FailedPrecondition when a directory cannot be made.
  absl::StatusOr<std::filesystem::path> create(const std::string& id) const;
  // Removes the cgroup of allocation `id` (a cgroup without processes can go while pages are
  // still charged to it; the kernel moves the charges to its parent). OK when it does not
  // exist or there is no hierarchy.
  absl::Status remove(const std::string& id) const;
  // The directory (under the root) of allocation `id`'s cgroup; empty without a hierarchy.
  std::filesystem::path path(const std::string& id) const;

 private:
  const common::HostRoot root_;
  const HugetlbHierarchy hierarchy_;
  const std::string chargeCgroup_;
};

}  // namespace enadpdk::deviceplugin
