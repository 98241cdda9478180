#include "deviceplugin/hugepages_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/logging.h"
#include "nlohmann/json.hpp"
#include "tests/deviceplugin/test_env.h"

namespace enadpdk::deviceplugin {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
namespace fs = std::filesystem;

constexpr char kMountDir[] = "/var/run/ena-dpdk/hugepages";

class HugepagesPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_.addNumaNode(0, {.nr_1g = 2, .free_1g = 2}).addNumaNode(1, {.nr_1g = 1, .free_1g = 1});
    pool_ = makePool();
    ASSERT_NE(pool_, nullptr);
  }

  std::unique_ptr<HugepagesPool> makePool() {
    absl::StatusOr<std::unique_ptr<HugepagesPool>> pool =
        HugepagesPool::create(host_.hostRoot(), {.prefix = "dpdk.aws"}, mounter_, clock_, logger());
    EXPECT_TRUE(pool.ok()) << pool.status();
    return pool.ok() ? std::move(*pool) : nullptr;
  }

  static std::shared_ptr<spdlog::logger> logger() {
    return *common::makeLogger("hugepages-test", spdlog::level::off);
  }

  void refresh() {
    absl::StatusOr<HostState> state = scanHost(host_.hostRoot());
    ASSERT_TRUE(state.ok()) << state.status();
    pool_->refresh(*state);
  }

  std::vector<std::string> ids() {
    std::vector<std::string> out;
    for (const Device& d : pool_->snapshot().devices) out.push_back(d.id);
    return out;
  }

  fs::path mountPoint(const std::string& id) { return host_.path(kMountDir) / id; }

  testing::FakeHost host_;
  testing::FakeMounter mounter_;
  testing::FakeClock clock_;
  std::unique_ptr<HugepagesPool> pool_;
};

TEST_F(HugepagesPoolTest, OneDevicePerFreePagePerNode) {
  refresh();
  EXPECT_THAT(pool_->snapshot().devices, ElementsAre(Device{.id = "node0-0", .numaNode = 0},
                                                     Device{.id = "node0-1", .numaNode = 0},
                                                     Device{.id = "node1-0", .numaNode = 1}));
}

TEST(HugepagesPoolNoNumaTest, UsesTheNodeWideCountWithoutTopology) {
  testing::FakeHost host;
  host.writeFile("/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages", "2\n");
  testing::FakeMounter mounter;
  testing::FakeClock clock;
  auto pool = HugepagesPool::create(host.hostRoot(), {}, mounter, clock,
                                    *common::makeLogger("hugepages-test", spdlog::level::off));
  ASSERT_TRUE(pool.ok()) << pool.status();
  absl::StatusOr<HostState> state = scanHost(host.hostRoot());
  ASSERT_TRUE(state.ok()) << state.status();
  (*pool)->refresh(*state);
  EXPECT_THAT((*pool)->snapshot().devices,
              ElementsAre(Device{.id = "page-0"}, Device{.id = "page-1"}));
}

TEST_F(HugepagesPoolTest, AllocateMountsAnInstanceSizedToTheRequest) {
  refresh();
  absl::StatusOr<ContainerAllocation> allocation = pool_->allocate({"node0-0", "node0-1"});
  ASSERT_TRUE(allocation.ok()) << allocation.status();
  ASSERT_THAT(pool_->allocations(), SizeIs(1));
  const HugepageAllocation recorded = pool_->allocations()[0];
  EXPECT_THAT(recorded.devices, ElementsAre("node0-0", "node0-1"));
  EXPECT_EQ(recorded.created, clock_.now());
  EXPECT_THAT(allocation->mounts,
              ElementsAre(Mount{.hostPath = std::string(kMountDir) + "/" + recorded.id,
                                .containerPath = "/dev/hugepages-1Gi"}));
  EXPECT_THAT(allocation->devices, IsEmpty());
  auto mounts = mounter_.mounts();
  ASSERT_EQ(mounts.count(mountPoint(recorded.id)), 1u);
  EXPECT_EQ(mounts[mountPoint(recorded.id)].options, "pagesize=1G,size=2G,min_size=2G,mode=1777");

  nlohmann::json state =
      nlohmann::json::parse(host_.readFile(std::string(kMountDir) + "/allocations.json"));
  EXPECT_EQ(state["allocations"][0]["id"], recorded.id);
  EXPECT_EQ(state["allocations"][0]["devices"], (nlohmann::json{"node0-0", "node0-1"}));
  struct stat st {};
  ASSERT_EQ(::stat(host_.path(std::string(kMountDir) + "/allocations.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(HugepagesPoolTest, AllocatedDevicesStayListedAndTheNodeIsTracked) {
  refresh();
  ASSERT_TRUE(pool_->allocate({"node0-1"}).ok());
  const fs::path mount = mountPoint(pool_->allocations()[0].id);
  refresh();  // the page is promised: node 0 offers node0-0 (free) and node0-1 (allocated)
  EXPECT_THAT(ids(), ElementsAre("node0-0", "node0-1", "node1-0"));
  // The container faults its page in: one page less free, none promised.
  host_.setHugepages(0, testing::HugepageSize::Size1G, 2, 1);
  mounter_.setUsed(mount, 1);
  refresh();
  EXPECT_THAT(ids(), ElementsAre("node0-0", "node0-1", "node1-0"));
  // Node preparation reserves two more pages on node 0.
  host_.setHugepages(0, testing::HugepageSize::Size1G, 4, 3);
  refresh();
  EXPECT_THAT(ids(), ElementsAre("node0-0", "node0-1", "node0-2", "node0-3", "node1-0"));
  // Someone else takes every free page of node 1.
  host_.setHugepages(1, testing::HugepageSize::Size1G, 1, 0);
  refresh();
  EXPECT_THAT(ids(), ElementsAre("node0-0", "node0-1", "node0-2", "node0-3"));
}

TEST_F(HugepagesPoolTest, AFailedMountLeavesNothingBehind) {
  refresh();
  mounter_.failMounts(absl::ResourceExhaustedError("cannot reserve"));
  absl::StatusOr<ContainerAllocation> allocation = pool_->allocate({"node0-0"});
  EXPECT_EQ(allocation.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(pool_->allocations(), IsEmpty());
  std::vector<std::string> entries;
  for (const auto& entry : fs::directory_iterator(host_.path(kMountDir))) {
    entries.push_back(entry.path().filename().string());
  }
  EXPECT_THAT(entries, IsEmpty());
}

TEST_F(HugepagesPoolTest, AllocateRejectsUnknownDevices) {
  refresh();
  EXPECT_EQ(pool_->allocate({"node0-7"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(mounter_.mounts().empty());
}

TEST_F(HugepagesPoolTest, GarbageCollectionReleasesOnlyAllocationsNoPodHolds) {
  refresh();
  ASSERT_TRUE(pool_->allocate({"node0-0"}).ok());
  ASSERT_TRUE(pool_->allocate({"node1-0"}).ok());
  std::string held;
  std::string released;
  for (const HugepageAllocation& a : pool_->allocations()) {
    (a.devices[0] == "node0-0" ? held : released) = a.id;
  }
  // Young allocations survive even when no pod holds them yet.
  absl::StatusOr<std::vector<std::string>> none =
      pool_->collectGarbage({"node0-0"}, std::chrono::seconds(60));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_THAT(*none, IsEmpty());
  clock_.advance(std::chrono::seconds(61));
  absl::StatusOr<std::vector<std::string>> gone =
      pool_->collectGarbage({"node0-0"}, std::chrono::seconds(60));
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_THAT(*gone, ElementsAre(released));
  EXPECT_FALSE(mounter_.isMounted(mountPoint(released)));
  EXPECT_FALSE(fs::exists(mountPoint(released)));
  EXPECT_TRUE(mounter_.isMounted(mountPoint(held)));
  ASSERT_THAT(pool_->allocations(), SizeIs(1));
  EXPECT_EQ(pool_->allocations()[0].id, held);
  nlohmann::json state =
      nlohmann::json::parse(host_.readFile(std::string(kMountDir) + "/allocations.json"));
  EXPECT_EQ(state["allocations"].size(), 1u);
}

TEST_F(HugepagesPoolTest, ARestartedPoolRecoversItsAllocationsAndCleansUp) {
  refresh();
  ASSERT_TRUE(pool_->allocate({"node0-0"}).ok());
  ASSERT_TRUE(pool_->allocate({"node0-1"}).ok());
  const std::string kept = pool_->allocations()[0].id;
  const std::string lost = pool_->allocations()[1].id;
  pool_.reset();
  // One mount vanished (e.g. unmounted by hand); a crash left a mounted point without a record.
  ASSERT_TRUE(mounter_.unmount(mountPoint(lost)).ok());
  fs::create_directory(mountPoint("deadbeef"));
  ASSERT_TRUE(mounter_.mount(mountPoint("deadbeef"), "pagesize=1G,size=1G").ok());

  pool_ = makePool();
  ASSERT_NE(pool_, nullptr);
  ASSERT_THAT(pool_->allocations(), SizeIs(1));
  EXPECT_EQ(pool_->allocations()[0].id, kept);
  EXPECT_FALSE(mounter_.isMounted(mountPoint("deadbeef")));
  EXPECT_FALSE(fs::exists(mountPoint("deadbeef")));
  EXPECT_FALSE(fs::exists(mountPoint(lost)));
  refresh();
  EXPECT_THAT(ids(), ElementsAre("node0-0", "node0-1", "node1-0"));
}

TEST_F(HugepagesPoolTest, AMalformedRecordIsAnError) {
  host_.writeFile(std::string(kMountDir) + "/allocations.json", "{\"allocations\": 3");
  absl::StatusOr<std::unique_ptr<HugepagesPool>> pool =
      HugepagesPool::create(host_.hostRoot(), {}, mounter_, clock_, logger());
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kDataLoss);
}

TEST(HugepagesMountOptionsTest, ReservesThePagesAtMountTime) {
  EXPECT_EQ(HugepagesPool::mountOptions(common::HugepageSize::Size1G, 3),
            "pagesize=1G,size=3G,min_size=3G,mode=1777");
  EXPECT_EQ(HugepagesPool::mountOptions(common::HugepageSize::Size2M, 3),
            "pagesize=2M,size=6M,min_size=6M,mode=1777");
}

TEST_F(HugepagesPoolTest, AllocateFaultsTheEalFilesAndTellsThePodItsArguments) {
  refresh();
  absl::StatusOr<ContainerAllocation> allocation = pool_->allocate({"node0-0", "node0-1"});
  ASSERT_TRUE(allocation.ok()) << allocation.status();
  const std::string id = pool_->allocations()[0].id;
  EXPECT_EQ(allocation->envs,
            (std::map<std::string, std::string>{
                {"ENA_DPDK_HUGEPAGES_1GI_EAL",
                 "--huge-dir /dev/hugepages-1Gi --file-prefix ena" + id +
                     " --huge-unlink=never --single-file-segments --socket-mem 2048"}}));
  // No hugetlb controller on the fake host: the pages are faulted without moving the child.
  EXPECT_THAT(
      mounter_.faults(),
      ElementsAre(HugepageFaultRequest{
          .files = {
              {.path = mountPoint(id) / ("ena" + id + "map_0"), .bytes = 2ull << 30, .node = 0}}}));
}

TEST_F(HugepagesPoolTest, AMultiNodeAllocationFillsOneFileListPerSocket) {
  refresh();
  absl::StatusOr<ContainerAllocation> allocation = pool_->allocate({"node1-0", "node0-1"});
  ASSERT_TRUE(allocation.ok()) << allocation.status();
  const std::string id = pool_->allocations()[0].id;
  EXPECT_EQ(allocation->envs.at("ENA_DPDK_HUGEPAGES_1GI_EAL"),
            "--huge-dir /dev/hugepages-1Gi --file-prefix ena" + id +
                " --huge-unlink=never --single-file-segments --socket-mem 1024");
  EXPECT_THAT(
      mounter_.faults(),
      ElementsAre(HugepageFaultRequest{
          .files = {
              {.path = mountPoint(id) / ("ena" + id + "map_0"), .bytes = 1ull << 30, .node = 0},
              {.path = mountPoint(id) / ("ena" + id + "map_2"), .bytes = 1ull << 30, .node = 1}}}));
}

// A host with cgroup v2 whose root offers the hugetlb controller.
void addCgroupV2(testing::FakeHost& host, const std::string& dir = "/sys/fs/cgroup") {
  host.writeFile(dir + "/cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
  host.writeFile(dir + "/cgroup.subtree_control", "");
}

TEST_F(HugepagesPoolTest, PagesAreChargedToAPerAllocationCgroupOutsideThePods) {
  addCgroupV2(host_);
  pool_ = makePool();
  ASSERT_NE(pool_, nullptr);
  EXPECT_EQ(pool_->chargeCgroups().hierarchy(),
            (HugetlbHierarchy{.kind = HugetlbHierarchyKind::V2, .path = "/sys/fs/cgroup"}));
  refresh();
  ASSERT_TRUE(pool_->allocate({"node0-0"}).ok());
  const std::string id = pool_->allocations()[0].id;
  const fs::path cgroup = host_.path("/sys/fs/cgroup/ena-dpdk/hugepages") / id;
  EXPECT_EQ(pool_->chargeCgroups().path(id), cgroup);
  EXPECT_TRUE(fs::is_directory(cgroup));
  ASSERT_THAT(mounter_.faults(), SizeIs(1));
  EXPECT_EQ(mounter_.faults()[0].cgroupProcs, cgroup / "cgroup.procs");
  // v2 charges a cgroup only when its ancestors enable hugetlb for their children.
  EXPECT_EQ(host_.readFile("/sys/fs/cgroup/cgroup.subtree_control"), "+hugetlb");
}

TEST_F(HugepagesPoolTest, AFailedFaultUndoesMountDirectoryAndCgroup) {
  addCgroupV2(host_);
  pool_ = makePool();
  ASSERT_NE(pool_, nullptr);
  refresh();
  mounter_.failFaults(absl::ResourceExhaustedError("cannot allocate: No space left on device"));
  absl::StatusOr<ContainerAllocation> allocation = pool_->allocate({"node0-0", "node0-1"});
  EXPECT_EQ(allocation.status().code(), absl::StatusCode::kResourceExhausted);
  ASSERT_THAT(mounter_.faults(), SizeIs(1));
  EXPECT_THAT(pool_->allocations(), IsEmpty());
  EXPECT_TRUE(mounter_.mounts().empty());
  EXPECT_TRUE(fs::is_empty(host_.path(kMountDir)));
  EXPECT_TRUE(fs::is_empty(host_.path("/sys/fs/cgroup/ena-dpdk/hugepages")));
}

TEST_F(HugepagesPoolTest, ACgroupThatCannotBeMadeFailsTheAllocationBeforeMounting) {
  addCgroupV2(host_);
  host_.writeFile("/sys/fs/cgroup/ena-dpdk", "not a directory");
  pool_ = makePool();
  ASSERT_NE(pool_, nullptr);
  refresh();
  absl::StatusOr<ContainerAllocation> allocation = pool_->allocate({"node0-0"});
  EXPECT_EQ(allocation.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(allocation.status().message()), HasSubstr("ena-dpdk/hugepages"));
  EXPECT_TRUE(mounter_.mounts().empty());
  EXPECT_THAT(mounter_.faults(), IsEmpty());
  EXPECT_TRUE(fs::is_empty(host_.path(kMountDir)));
}

TEST_F(HugepagesPoolTest, GarbageCollectionAndRestartRemoveTheChargeCgroups) {
  addCgroupV2(host_);
  pool_ = makePool();
  ASSERT_NE(pool_, nullptr);
  refresh();
  ASSERT_TRUE(pool_->allocate({"node0-0"}).ok());
  ASSERT_TRUE(pool_->allocate({"node1-0"}).ok());
  std::string held;
  std::string released;
  for (const HugepageAllocation& a : pool_->allocations()) {
    (a.devices[0] == "node0-0" ? held : released) = a.id;
  }
  clock_.advance(std::chrono::seconds(61));
  absl::StatusOr<std::vector<std::string>> gone =
      pool_->collectGarbage({"node0-0"}, std::chrono::seconds(60));
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_THAT(*gone, ElementsAre(released));
  EXPECT_FALSE(fs::exists(pool_->chargeCgroups().path(released)));
  EXPECT_TRUE(fs::is_directory(pool_->chargeCgroups().path(held)));

  // After a restart: the held allocation lost its mount, a crash left a mount point without a
  // record (and its cgroup), and the other hugepages resource has a cgroup of its own here.
  pool_.reset();
  ASSERT_TRUE(mounter_.unmount(mountPoint(held)).ok());
  fs::create_directory(mountPoint("deadbeef"));
  fs::create_directory(host_.path("/sys/fs/cgroup/ena-dpdk/hugepages/deadbeef"));
  fs::create_directory(host_.path("/sys/fs/cgroup/ena-dpdk/hugepages/0123456789abcdef"));
  pool_ = makePool();
  ASSERT_NE(pool_, nullptr);
  EXPECT_THAT(pool_->allocations(), IsEmpty());
  EXPECT_FALSE(fs::exists(pool_->chargeCgroups().path(held)));
  EXPECT_FALSE(fs::exists(pool_->chargeCgroups().path("deadbeef")));
  EXPECT_TRUE(fs::exists(pool_->chargeCgroups().path("0123456789abcdef")));
}

// Where the hugetlb controller is, by what the host's cgroup file systems look like.
struct HierarchyCase {
  const char* description;
  std::map<std::string, std::string> files;
  HugetlbHierarchy expected;
};

class HugetlbHierarchyTest : public ::testing::TestWithParam<HierarchyCase> {};

TEST_P(HugetlbHierarchyTest, IsFoundUnderTheCgroupFs) {
  testing::FakeHost host;
  for (const auto& [path, content] : GetParam().files) host.writeFile(path, content);
  EXPECT_EQ(findHugetlbHierarchy(host.hostRoot(), "/sys/fs/cgroup"), GetParam().expected)
      << GetParam().description;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HugetlbHierarchyTest,
    ::testing::Values(
        HierarchyCase{"cgroup v2",
                      {{"/sys/fs/cgroup/cgroup.controllers", "cpu memory hugetlb pids\n"}},
                      {.kind = HugetlbHierarchyKind::V2, .path = "/sys/fs/cgroup"}},
        HierarchyCase{"hybrid, hugetlb on the unified hierarchy",
                      {{"/sys/fs/cgroup/memory/tasks", ""},
                       {"/sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n"}},
                      {.kind = HugetlbHierarchyKind::V2, .path = "/sys/fs/cgroup/unified"}},
        HierarchyCase{"cgroup v1 (hybrid whose unified hierarchy has no hugetlb)",
                      {{"/sys/fs/cgroup/unified/cgroup.controllers", "\n"},
                       {"/sys/fs/cgroup/hugetlb/cgroup.procs", ""}},
                      {.kind = HugetlbHierarchyKind::V1, .path = "/sys/fs/cgroup/hugetlb"}},
        HierarchyCase{"cgroup v2 without the hugetlb controller",
                      {{"/sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n"}},
                      {}},
        HierarchyCase{"no cgroup file system", {}, {}}));

TEST(HugepagesPool2MiTest, OffersAndAllocates2MPages) {
  testing::FakeHost host;
  host.addNumaNode(0, {.nr_1g = 1, .free_1g = 1, .nr_2m = 3, .free_2m = 3});
  testing::FakeMounter mounter;
  testing::FakeClock clock;
  auto pool = HugepagesPool::create(host.hostRoot(),
                                    {.prefix = "dpdk.aws",
                                     .config = {.mountDir = "/var/run/ena-dpdk/hugepages-2Mi",
                                                .containerPath = "/dev/hugepages-2Mi"},
                                     .pageSize = common::HugepageSize::Size2M},
                                    mounter, clock,
                                    *common::makeLogger("hugepages-test", spdlog::level::off));
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ((*pool)->resourceName(), "dpdk.aws/hugepages-2Mi");
  absl::StatusOr<HostState> state = scanHost(host.hostRoot());
  ASSERT_TRUE(state.ok()) << state.status();
  (*pool)->refresh(*state);
  EXPECT_THAT((*pool)->snapshot().devices, ElementsAre(Device{.id = "node0-0", .numaNode = 0},
                                                       Device{.id = "node0-1", .numaNode = 0},
                                                       Device{.id = "node0-2", .numaNode = 0}));
  absl::StatusOr<ContainerAllocation> allocation = (*pool)->allocate({"node0-2", "node0-0"});
  ASSERT_TRUE(allocation.ok()) << allocation.status();
  const std::string id = (*pool)->allocations()[0].id;
  const fs::path mount = host.path("/var/run/ena-dpdk/hugepages-2Mi") / id;
  EXPECT_EQ(mounter.mounts()[mount].options, "pagesize=2M,size=4M,min_size=4M,mode=1777");
  EXPECT_EQ(mounter.mounts()[mount].pages, 2u);
  EXPECT_THAT(allocation->mounts,
              ElementsAre(Mount{.hostPath = "/var/run/ena-dpdk/hugepages-2Mi/" + id,
                                .containerPath = "/dev/hugepages-2Mi"}));
  EXPECT_EQ(allocation->envs.at("ENA_DPDK_HUGEPAGES_2MI_EAL"),
            "--huge-dir /dev/hugepages-2Mi --file-prefix ena" + id +
                " --huge-unlink=never --single-file-segments --socket-mem 4");
  EXPECT_THAT(
      mounter.faults(),
      ElementsAre(HugepageFaultRequest{
          .files = {{.path = mount / ("ena" + id + "map_0"), .bytes = 4ull << 20, .node = 0}}}));
}

}  // namespace
}  // namespace enadpdk::deviceplugin
