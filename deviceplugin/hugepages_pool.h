#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/host_root.h"
#include "deviceplugin/charge_cgroups.h"
#include "deviceplugin/clock.h"
#include "deviceplugin/hugepage_layout.h"
#include "deviceplugin/hugetlbfs.h"
#include "deviceplugin/plugin_config.h"
#include "deviceplugin/resource_pool.h"

namespace enadpdk::deviceplugin {

// The file in mountDir that records the allocations (mode 0600, written atomically).
inline constexpr char kHugepagesStateFile[] = "allocations.json";

// What a hugepages resource (dpdk.aws/hugepages-1Gi, dpdk.aws/hugepages-2Mi) is built from;
// equal specs give identical resources.
struct HugepagesPoolSpec {
  // Resource prefix ("dpdk.aws").
  std::string prefix = kDefaultResourcePrefix;
  // The resource's config section.
  HugepagesResourceConfig config{};
  // The page size; it names the resource.
  common::HugepageSize pageSize = common::HugepageSize::Size1G;
  // Host path of the cgroup file systems (deviceplugin.cgroupFs).
  std::string cgroupFs = kDefaultCgroupFs;

  friend bool operator==(const HugepagesPoolSpec&, const HugepagesPoolSpec&) = default;
};

// One Allocate of the hugepages resource: a hugetlbfs instance mounted on <mountDir>/<id>.
struct HugepageAllocation {
  // Random hex ID, also the mount point's name.
  std::string id{};
  // The device IDs the kubelet allocated.
  std::vector<std::string> devices{};
  // When it was made (for the garbage collector's grace period).
  std::chrono::system_clock::time_point created{};

  friend bool operator==(const HugepageAllocation&, const HugepageAllocation&) = default;
};

// dpdk.aws/hugepages-1Gi (or -2Mi): one device per hugepage of the spec's size a container can
// still get on each NUMA node ("node<N>-<k>", or "page-<k>" on a kernel without NUMA nodes),
// following the node as pages are reserved and used. A node offers the devices of its live
// allocations plus its free pages not promised to an allocation yet (free_hugepages minus the
// allocations' unused pages), so that the IDs the kubelet handed out stay in the list while
// their pages are in use.
//
// Allocate mounts a hugetlbfs instance sized to the request (mountOptions()) on a new directory
// <mountDir>/<allocation ID>; the kernel reserves the pages at mount time (min_size). Then it
// creates the files the pod's DPDK EAL will use (ealHugepageFiles()) and allocates their pages
// from a process in the allocation's charge cgroup (ChargeCgroups, outside the pods' cgroups),
// so that the pod maps pages that are already there and charged elsewhere: it works under the
// kubelet's hugetlb limit of 0. It returns the instance as a mount at containerPath and the EAL
// arguments in ealEnvName(resource) (ealArguments()). A failed step undoes the earlier ones.
// Allocations are recorded in kHugepagesStateFile; collectGarbage() unmounts those whose devices
// no pod holds any more and removes their charge cgroups.
//
// Thread-safety: all methods may be called from any thread; the allocation table is guarded by
// an internal mutex (taken before the base class's).
class HugepagesPool final : public ResourcePool {
 public:
  // Creates mountDir (under `root`) when missing, finds the hugetlb cgroup hierarchy, loads the
  // recorded allocations, drops records whose mount is gone, and unmounts and removes mount
  // points without a record (left by a crash between mount and record), with the charge cgroups
  // of both. `mounter`, `clock` and `logger` must outlive the pool.
  static absl::StatusOr<std::unique_ptr<HugepagesPool>> create(
      const common::HostRoot& root, HugepagesPoolSpec spec, HugetlbfsMounter& mounter,
      const Clock& clock, std::shared_ptr<spdlog::logger> logger);

  void refresh(const HostState& host) override;
  absl::StatusOr<ContainerAllocation> allocate(const std::vector<std::string>& ids) override;

  // Unmounts, removes the charge cgroup of and forgets every allocation older than `grace` none
  // of whose devices is in `held` (the device IDs of this resource that pods hold, from the
  // kubelet's PodResources API). Returns the IDs of the allocations released. An allocation that
  // cannot be unmounted is kept for the next round.
  absl::StatusOr<std::vector<std::string>> collectGarbage(const std::set<std::string>& held,
                                                          std::chrono::seconds grace);

  // The live allocations, by ID.
  std::vector<HugepageAllocation> allocations() const;

  // The charge cgroups of the allocations.
  const ChargeCgroups& chargeCgroups() const { return cgroups_; }

  // The hugetlbfs mount options for `pages` pages of `size`:
  // "pagesize=1G,size=<n>G,min_size=<n>G,mode=1777", "pagesize=2M,size=<2n>M,min_size=<2n>M,..."
  // (mode 1777: any container user may create files).
  static std::string mountOptions(common::HugepageSize size, std::size_t pages);

 private:
  HugepagesPool(const common::HostRoot& root, HugepagesPoolSpec spec, HugetlbfsMounter& mounter,
                const Clock& clock, std::shared_ptr<spdlog::logger> logger);
  absl::Status load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status reconcile() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status save() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::filesystem::path mountPoint(const std::string& id) const;
  // Removes the mount point and the charge cgroup of an allocation whose mount is gone.
  void removeLeftovers(const std::string& id);

  const common::HostRoot root_;
  const HugepagesPoolSpec spec_;
  const HugepageKind& kind_;
  const ChargeCgroups cgroups_;
  HugetlbfsMounter& mounter_;
  const Clock& clock_;
  const std::shared_ptr<spdlog::logger> logger_;
  mutable absl::Mutex mu_;
  std::map<std::string, HugepageAllocation> allocations_ ABSL_GUARDED_BY(mu_);
};

}  // namespace enadpdk::deviceplugin
