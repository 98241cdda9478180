// The hugepages resource against the real kernel. Needs root. One test, so that nothing else in
// this binary changes nr_hugepages at the same time; what it checks depends on the hardware,
// decided by /sys/kernel/mm/hugepages/hugepages-1048576kB:
//   - with 1G pages: 1G pages reserved through sysfs and hugetlbfs instances really mounted (in a
//     temporary directory), directly and through the plugin's gRPC socket. Needs a kernel that
//     can reserve three 1G pages at run time; fails loudly otherwise. The previous reservation
//     is restored at the end.
//   - without (a CPU without pdpe1gb): the resource lists no device, refuses an allocation, and
//     the kernel refuses a 1G hugetlbfs mount, directly and through the plugin's gRPC socket;
//     nothing is left mounted. A NOTE line on stderr says so.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <charconv>
#include <iostream>
#include <thread>

#include "absl/strings/ascii.h"
#include "common/atomic_file.h"
#include "common/logging.h"
#include "common/strings.h"
#include "deviceplugin/hugepages_pool.h"
#include "deviceplugin/hugetlbfs.h"
#include "tests/deviceplugin/test_env.h"

namespace enadpdk::testing {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
namespace fs = std::filesystem;
namespace dp = deviceplugin;

constexpr char kPages1G[] = "/sys/kernel/mm/hugepages/hugepages-1048576kB";
constexpr long kHugetlbfsMagic = 0x958458f6;
constexpr std::size_t kGiB = 1ull << 30;
// Pages the test reserves: two for an allocation, one for a second one that the kernel refuses.
constexpr unsigned kReserved = 3;

// Whether this kernel offers 1G hugepages; which variant of the test runs depends on it.
bool has1GPages() { return fs::exists(kPages1G); }

unsigned readCount(const std::string& name) {
  absl::StatusOr<std::string> text = common::readFile(fs::path(kPages1G) / name);
  EXPECT_TRUE(text.ok()) << text.status();
  unsigned value = 0;
  if (text.ok()) {
    std::string_view digits = common::toStd(absl::StripAsciiWhitespace(*text));
    std::from_chars(digits.data(), digits.data() + digits.size(), value);
  }
  return value;
}

bool writeText(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

bool writeCount(unsigned pages) {
  return writeText(std::string(kPages1G) + "/nr_hugepages", std::to_string(pages));
}

// A 1G page needs a gigabyte of contiguous memory; on a machine that has been building for a
// while it is there only after the page cache is dropped and memory compacted.
void makeRoomFor1GPages() {
  ::sync();
  writeText("/proc/sys/vm/drop_caches", "3");
  writeText("/proc/sys/vm/compact_memory", "1");
}

bool isHugetlbfs(const fs::path& path) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && static_cast<long>(st.f_type) == kHugetlbfsMagic;
}

std::string mountinfoLine(const fs::path& mountPoint) {
  absl::StatusOr<std::string> mountinfo = common::readFile("/proc/self/mountinfo");
  if (!mountinfo.ok()) return "";
  std::size_t at = mountinfo->find(" " + mountPoint.string() + " ");
  if (at == std::string::npos) return "";
  std::size_t begin = mountinfo->rfind('\n', at);
  std::size_t end = mountinfo->find('\n', at);
  return mountinfo->substr(begin == std::string::npos ? 0 : begin + 1, end - begin - 1);
}

// Restores nr_hugepages of the 1G size when the test ends, however it ends.
class ReservationGuard {
 public:
  ReservationGuard() : previous_(readCount("nr_hugepages")) {}
  ~ReservationGuard() {
    if (!writeCount(previous_)) ADD_FAILURE() << "cannot restore nr_hugepages to " << previous_;
  }
  unsigned previous() const { return previous_; }

 private:
  unsigned previous_;
};

// Detaches every mount under `root` when the test ends, so that a failed test neither leaks
// reserved pages nor leaves a temporary root that cannot be removed.
class UnmountGuard {
 public:
  explicit UnmountGuard(fs::path root) : root_(std::move(root)) {}
  ~UnmountGuard() {
    absl::StatusOr<std::string> mountinfo = common::readFile("/proc/self/mountinfo");
    if (!mountinfo.ok()) return;
    std::size_t at = 0;
    const std::string needle = " " + root_.string() + "/";
    while ((at = mountinfo->find(needle, at)) != std::string::npos) {
      const std::size_t end = mountinfo->find(' ', at + 1);
      const std::string target = mountinfo->substr(at + 1, end - at - 1);
      ::umount2(target.c_str(), MNT_DETACH);
      at = end;
    }
  }

 private:
  fs::path root_;
};

// Whether anything is mounted below `root`.
bool mountedUnder(const fs::path& root) {
  absl::StatusOr<std::string> mountinfo = common::readFile("/proc/self/mountinfo");
  EXPECT_TRUE(mountinfo.ok()) << mountinfo.status();
  return mountinfo.ok() && mountinfo->find(" " + root.string() + "/") != std::string::npos;
}

std::shared_ptr<spdlog::logger> quietLogger() {
  return *common::makeLogger("hugepages-integration", spdlog::level::warn);
}

// The test on a kernel without 1G pages: what the resource really does there.
void expectNothingWithout1GPages() {
  // The real sysfs has no 1G pages to offer on any node.
  absl::StatusOr<dp::HostState> real = dp::scanHost(common::HostRoot("/"));
  ASSERT_TRUE(real.ok()) << real.status();
  ASSERT_THAT(real->hugepages, ::testing::Not(IsEmpty()));
  for (const dp::HugepageNode& node : real->hugepages) {
    EXPECT_EQ(node.freePages, 0u) << "node " << node.node.value_or(-1);
  }

  // So the pool lists no device and refuses an allocation without mounting anything.
  dp::SystemHugetlbfsMounter mounter;
  dp::SystemClock clock;
  FakeHost scratch;  // its temporary root holds the mount directory
  UnmountGuard scratchMounts(scratch.root());
  absl::StatusOr<std::unique_ptr<dp::HugepagesPool>> created = dp::HugepagesPool::create(
      scratch.hostRoot(), {.prefix = "dpdk.aws"}, mounter, clock, quietLogger());
  ASSERT_TRUE(created.ok()) << created.status();
  dp::HugepagesPool& pool = **created;
  pool.refresh(*real);
  EXPECT_THAT(pool.snapshot().devices, IsEmpty());
  absl::StatusOr<dp::ContainerAllocation> refused = pool.allocate({"node0-0"});
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(pool.allocations(), IsEmpty());
  EXPECT_FALSE(mountedUnder(scratch.root()));

  // The kernel itself refuses a hugetlbfs instance of 1G pages (an unsupported page size).
  const fs::path target = scratch.path("/hugepages-1Gi");
  fs::create_directories(target);
  for (const std::string& options :
       {std::string("pagesize=1G"), dp::HugepagesPool::mountOptions(1)}) {
    absl::Status mounted = mounter.mount(target, options);
    EXPECT_EQ(mounted.code(), absl::StatusCode::kInternal) << mounted;  // not a page shortage
    EXPECT_THAT(mounted.message(), HasSubstr("Invalid argument")) << mounted;
    EXPECT_FALSE(mounter.isMounted(target)) << options;
    EXPECT_FALSE(isHugetlbfs(target)) << options;
  }
  EXPECT_FALSE(mountedUnder(scratch.root()));

  // The same through the plugin's gRPC socket, with the real mounter on a fake host whose sysfs
  // is laid out like this kernel's: no 1G size anywhere.
  PluginTestEnv env;
  UnmountGuard envMounts(env.host().root());
  env.host().removePath(kPages1G);
  for (int node : {0, 1}) {
    env.host().removePath(
        common::strCat("/sys/devices/system/node/node", node, "/hugepages/hugepages-1048576kB"));
  }
  dp::PluginOptions options = env.options();
  options.mounter = &mounter;
  ASSERT_TRUE(env.startPlugin(options).ok());
  absl::StatusOr<std::unique_ptr<DevicePluginClient>> client = env.watch("hugepages-1Gi");
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<std::vector<v1beta1::Device>> listed = (*client)->waitForUpdate(0);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(*listed, IsEmpty());
  absl::StatusOr<v1beta1::ContainerAllocateResponse> response = (*client)->allocate({"node0-0"});
  EXPECT_FALSE(response.ok());
  EXPECT_FALSE(mountedUnder(env.host().root()));
}

TEST(HugepagesIntegrationTest, ReservesMountsUsesAndReleasesRealPages) {
  ASSERT_EQ(::geteuid(), 0u) << "this test reserves hugepages and mounts hugetlbfs: run as root";
  if (!has1GPages()) {
    std::cerr << "NOTE: this CPU has no 1G hugepages (no pdpe1gb): testing that the hugepages-1Gi "
                 "resource offers nothing and that the kernel refuses 1G hugetlbfs mounts "
                 "instead\n";
    expectNothingWithout1GPages();
    return;
  }
  ReservationGuard guard;
  const unsigned freeBefore = readCount("free_hugepages");
  const unsigned resvBefore = readCount("resv_hugepages");
  makeRoomFor1GPages();
  ASSERT_TRUE(writeCount(guard.previous() + kReserved)) << "cannot write nr_hugepages";
  ASSERT_EQ(readCount("nr_hugepages"), guard.previous() + kReserved)
      << "the kernel could not reserve " << kReserved << " more 1G pages (memory too fragmented?)";
  ASSERT_EQ(readCount("free_hugepages"), freeBefore + kReserved);

  dp::SystemHugetlbfsMounter mounter;
  dp::SystemClock clock;
  FakeHost scratch;  // its temporary root holds the mount directory
  UnmountGuard scratchMounts(scratch.root());
  absl::StatusOr<std::unique_ptr<dp::HugepagesPool>> created = dp::HugepagesPool::create(
      scratch.hostRoot(), {.prefix = "dpdk.aws"}, mounter, clock, quietLogger());
  ASSERT_TRUE(created.ok()) << created.status();
  dp::HugepagesPool& pool = **created;
  auto refresh = [&] {
    absl::StatusOr<dp::HostState> real = dp::scanHost(common::HostRoot("/"));
    ASSERT_TRUE(real.ok()) << real.status();
    pool.refresh(*real);
  };

  // The list follows the real free pages, one device per page per node.
  refresh();
  std::vector<dp::Device> devices = pool.snapshot().devices;
  ASSERT_EQ(devices.size(), freeBefore + kReserved);
  const std::vector<std::string> two = {devices[0].id, devices[1].id};

  // Allocate: a real hugetlbfs instance limited to two pages that reserves them at once.
  absl::StatusOr<dp::ContainerAllocation> allocation = pool.allocate(two);
  ASSERT_TRUE(allocation.ok()) << allocation.status();
  ASSERT_THAT(pool.allocations(), SizeIs(1));
  const fs::path mountPoint = scratch.path(allocation->mounts[0].hostPath);
  EXPECT_TRUE(isHugetlbfs(mountPoint)) << mountPoint;
  EXPECT_THAT(mountinfoLine(mountPoint), HasSubstr("pagesize=1024M"));
  EXPECT_THAT(mountinfoLine(mountPoint), HasSubstr("size=2147483648"));
  EXPECT_EQ(readCount("resv_hugepages"), resvBefore + 2);
  EXPECT_EQ(*mounter.unusedPages(mountPoint), 2u);

  // A container touches one page: one page less free, the device list does not move.
  {
    const fs::path file = mountPoint / "dpdk-memseg";
    const int fd = ::open(file.c_str(), O_CREAT | O_RDWR, 0600);
    ASSERT_GE(fd, 0);
    void* page = ::mmap(nullptr, kGiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ASSERT_NE(page, MAP_FAILED);
    static_cast<char*>(page)[0] = 1;
    ::munmap(page, kGiB);
    ::close(fd);
  }
  EXPECT_EQ(*mounter.unusedPages(mountPoint), 1u);
  EXPECT_EQ(readCount("free_hugepages"), freeBefore + kReserved - 1);
  refresh();
  std::vector<dp::Device> after = pool.snapshot().devices;
  EXPECT_EQ(after.size(), devices.size());
  for (const std::string& id : two) {
    EXPECT_TRUE(std::any_of(after.begin(), after.end(), [&](const dp::Device& d) {
      return d.id == id;
    })) << id;
  }

  // Pages promised elsewhere: the next allocation fails at mount time and leaves nothing.
  {
    const unsigned available = readCount("free_hugepages") - readCount("resv_hugepages");
    const fs::path hog = scratch.path("/hog");
    fs::create_directories(hog);
    ASSERT_TRUE(mounter
                    .mount(hog, common::strCat("pagesize=1G,size=", available,
                                               "G,min_size=", available, "G"))
                    .ok());
    std::vector<std::string> unallocated;
    for (const dp::Device& d : after) {
      if (std::find(two.begin(), two.end(), d.id) == two.end()) unallocated.push_back(d.id);
    }
    ASSERT_FALSE(unallocated.empty());
    absl::StatusOr<dp::ContainerAllocation> refused = pool.allocate({unallocated[0]});
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
    EXPECT_THAT(pool.allocations(), SizeIs(1));
    ASSERT_TRUE(mounter.unmount(hog).ok());
    fs::remove(hog);
  }

  // No pod holds the devices any more: the mount goes and every page comes back.
  absl::StatusOr<std::vector<std::string>> released =
      pool.collectGarbage({}, std::chrono::seconds(0));
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_THAT(*released, SizeIs(1));
  EXPECT_FALSE(fs::exists(mountPoint));
  EXPECT_EQ(readCount("free_hugepages"), freeBefore + kReserved);
  EXPECT_EQ(readCount("resv_hugepages"), resvBefore);

  // The same through the plugin's gRPC socket, with the real mounter on a fake host whose sysfs
  // offers the pages we reserved.
  PluginTestEnv env;
  UnmountGuard envMounts(env.host().root());
  dp::PluginOptions options = env.options();
  options.mounter = &mounter;
  ASSERT_TRUE(env.startPlugin(options).ok());
  absl::StatusOr<std::unique_ptr<DevicePluginClient>> client = env.watch("hugepages-1Gi");
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->waitForUpdate(0).ok());
  absl::StatusOr<v1beta1::ContainerAllocateResponse> response =
      (*client)->allocate({"node0-0", "node0-1"});
  ASSERT_TRUE(response.ok()) << response.status();
  const fs::path served = env.host().path(response->mounts(0).host_path());
  EXPECT_TRUE(isHugetlbfs(served));
  EXPECT_EQ(readCount("resv_hugepages"), resvBefore + 2);
  absl::StatusOr<std::unique_ptr<FakePodResources>> podResources =
      FakePodResources::start(env.host().path("/var/lib/kubelet/pod-resources/kubelet.sock"));
  ASSERT_TRUE(podResources.ok()) << podResources.status();
  env.clock().advance(std::chrono::hours(1));
  env.plugin().requestGarbageCollection();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (fs::exists(served) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));  // polling interval, not synchronisation
  }
  EXPECT_FALSE(fs::exists(served));
  EXPECT_EQ(readCount("resv_hugepages"), resvBefore);
  EXPECT_EQ(readCount("free_hugepages"), freeBefore + kReserved);
}

}  // namespace
}  // namespace enadpdk::testing
