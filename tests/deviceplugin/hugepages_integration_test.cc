// The hugepages resources against the real kernel. Needs root. The tests change nr_hugepages, so
// they run one at a time (ctest RESOURCE_LOCK hugepages).
//
// ReservesMountsUsesAndReleasesRealPages: what it checks depends on the hardware, decided by
// /sys/kernel/mm/hugepages/hugepages-1048576kB:
//   - with 1G pages: 1G pages reserved through sysfs, hugetlbfs instances really mounted (in a
//     temporary directory) and their pages faulted in, directly and through the plugin's gRPC
//     socket (no cgroup: the fake host has none). Needs a kernel that can reserve three 1G pages
//     at run time; fails loudly otherwise. The previous reservation is restored at the end.
//   - without (a CPU without pdpe1gb): the resource lists no device, refuses an allocation, and
//     the kernel refuses a 1G hugetlbfs mount, directly and through the plugin's gRPC socket;
//     nothing is left mounted. A NOTE line on stderr says so.
//
// A2MiPodUnderAZeroHugetlbLimitRunsDpdkOnPrefaultedPages: the point of pre-faulting, with 2M pages
// (every x86 CPU has them) on the cgroup v2 hugetlb hierarchy (fails without one). The plugin
// runs in process, itself in a cgroup whose hugetlb.2MB.max is 0 as the kubelet sets it for pods;
// it allocates 2M pages of dpdk.aws/hugepages-2Mi, and dpdk-testpmd, started with exactly the EAL
// arguments of ENA_DPDK_HUGEPAGES_2MI_EAL in another limit-0 cgroup, forwards packets on them
// while nothing is charged to its cgroup: the allocation's charge cgroup holds the pages. Control
// runs: the same testpmd with a fresh --file-prefix on a plain 2M mount fails in a limit-0 cgroup
// (the limit refused it: hugetlb.2MB.events max > 0) and works in a cgroup without a limit. PROOF
// lines on stderr say what was seen. Everything (cgroups, mounts, processes, pages) is undone.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <iostream>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "common/atomic_file.h"
#include "common/logging.h"
#include "common/strings.h"
#include "deviceplugin/charge_cgroups.h"
#include "deviceplugin/hugepages_pool.h"
#include "deviceplugin/hugetlbfs.h"
#include "tests/deviceplugin/test_env.h"

extern char** environ;

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

// The number in a sysfs or cgroup file (0 when unreadable, with a test failure).
std::uint64_t readNumber(const fs::path& file) {
  absl::StatusOr<std::string> text = common::readFile(file);
  EXPECT_TRUE(text.ok()) << text.status();
  std::uint64_t value = 0;
  if (text.ok()) {
    std::string_view digits = common::toStd(absl::StripAsciiWhitespace(*text));
    std::from_chars(digits.data(), digits.data() + digits.size(), value);
  }
  return value;
}

unsigned readCount(const std::string& name, const char* sizeDir = kPages1G) {
  return static_cast<unsigned>(readNumber(fs::path(sizeDir) / name));
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
       {std::string("pagesize=1G"),
        dp::HugepagesPool::mountOptions(common::HugepageSize::Size1G, 1)}) {
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

  // Allocate: a real hugetlbfs instance limited to two pages, both faulted in at once into the
  // files the pod's EAL will use.
  absl::StatusOr<dp::ContainerAllocation> allocation = pool.allocate(two);
  ASSERT_TRUE(allocation.ok()) << allocation.status();
  ASSERT_THAT(pool.allocations(), SizeIs(1));
  const fs::path mountPoint = scratch.path(allocation->mounts[0].hostPath);
  EXPECT_TRUE(isHugetlbfs(mountPoint)) << mountPoint;
  EXPECT_THAT(mountinfoLine(mountPoint), HasSubstr("pagesize=1024M"));
  EXPECT_THAT(mountinfoLine(mountPoint), HasSubstr("size=2147483648"));
  EXPECT_EQ(readCount("resv_hugepages"), resvBefore);
  EXPECT_EQ(readCount("free_hugepages"), freeBefore + kReserved - 2);
  EXPECT_EQ(*mounter.unusedPages(mountPoint), 0u);
  std::uintmax_t faulted = 0;
  for (const fs::directory_entry& file : fs::directory_iterator(mountPoint)) {
    EXPECT_THAT(file.path().filename().string(), ::testing::StartsWith("ena"));
    faulted += file.file_size();
  }
  EXPECT_EQ(faulted, 2 * kGiB);

  // A container maps the first file: its page is there already, nothing more is taken, and the
  // device list does not move.
  {
    const fs::path file = *fs::directory_iterator(mountPoint);
    const int fd = ::open(file.c_str(), O_RDWR);
    ASSERT_GE(fd, 0) << file;
    void* page = ::mmap(nullptr, kGiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ASSERT_NE(page, MAP_FAILED);
    static_cast<char*>(page)[0] = 1;
    ::munmap(page, kGiB);
    ::close(fd);
  }
  EXPECT_EQ(readCount("free_hugepages"), freeBefore + kReserved - 2);
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
  EXPECT_EQ(*mounter.unusedPages(served), 0u);
  EXPECT_EQ(readCount("free_hugepages"), freeBefore + kReserved - 2);
  EXPECT_THAT(response->envs().at("ENA_DPDK_HUGEPAGES_1GI_EAL"),
              HasSubstr("--huge-unlink=never --single-file-segments --socket-mem 2048"));
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

// ---- 2M pages under the kubelet's hugetlb limit of 0

constexpr char kPages2M[] = "/sys/kernel/mm/hugepages/hugepages-2048kB";
constexpr std::uint64_t k2MiB = 2ull << 20;
// Pages of the allocation testpmd runs on, and the --socket-mem (MiB) of the control runs.
constexpr unsigned kAllocated2M = 64;
constexpr unsigned kControlMiB = 64;
// What the test adds to nr_hugepages: the allocation, one control run, slack.
constexpr unsigned kReserved2M = 128;
// testpmd on the null PMD; 2048 mbufs fit in the control runs' 64 MiB.
constexpr char kTestpmd[] = "dpdk-testpmd -l 0,1 --no-pci --vdev net_null0";
constexpr char kTestpmdApp[] = "-- --total-num-mbufs=2048 --stats-period 1";

// Adds pages to the 2M reservation and takes the same number away again at the end (relative,
// as other users of the machine may change it meanwhile).
class Reservation2MGuard {
 public:
  explicit Reservation2MGuard(unsigned pages) : pages_(pages) {
    makeRoomFor1GPages();  // drops caches and compacts: as good for 2M pages
    const unsigned before = readCount("nr_hugepages", kPages2M);
    added_ = writeText(std::string(kPages2M) + "/nr_hugepages", std::to_string(before + pages)) &&
             readCount("nr_hugepages", kPages2M) >= before + pages;
  }
  ~Reservation2MGuard() {
    if (!added_) return;
    const unsigned now = readCount("nr_hugepages", kPages2M);
    if (!writeText(std::string(kPages2M) + "/nr_hugepages",
                   std::to_string(now > pages_ ? now - pages_ : 0))) {
      ADD_FAILURE() << "cannot give back " << pages_ << " 2M pages";
    }
  }
  bool added() const { return added_; }

 private:
  unsigned pages_;
  bool added_ = false;
};

// The test's own cgroup v2 subtree <hierarchy>/ena-dpdk-test-<pid>, with hugetlb enabled for its
// children. The destructor moves this process back to its original cgroup and removes every
// cgroup of the subtree, deepest first.
class TestCgroups {
 public:
  explicit TestCgroups(fs::path hierarchy)
      : hierarchy_(std::move(hierarchy)),
        relative_(common::strCat("/ena-dpdk-test-", ::getpid())),
        root_(hierarchy_ / relative_.substr(1)) {
    absl::StatusOr<std::string> self = common::readFile("/proc/self/cgroup");
    if (self.ok()) {
      const std::size_t at = self->find("0::");
      if (at != std::string::npos) {
        const std::size_t end = self->find('\n', at);
        original_ = hierarchy_ / fs::path(self->substr(at + 3, end - at - 3)).relative_path();
      }
    }
    writeText((hierarchy_ / "cgroup.subtree_control").string(), "+hugetlb");
    created_ = ::mkdir(root_.c_str(), 0755) == 0;
    EXPECT_TRUE(created_) << root_ << ": " << std::strerror(errno);
    EXPECT_TRUE(writeText((root_ / "cgroup.subtree_control").string(), "+hugetlb")) << root_;
  }
  ~TestCgroups() {
    if (moved_ && !writeText((original_ / "cgroup.procs").string(), std::to_string(::getpid()))) {
      ADD_FAILURE() << "cannot move back to " << original_;
    }
    if (!created_) return;
    std::vector<fs::path> dirs;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) dirs.push_back(it->path());
    }
    std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
      return std::distance(a.begin(), a.end()) > std::distance(b.begin(), b.end());
    });
    dirs.push_back(root_);
    for (const fs::path& dir : dirs) {
      if (::rmdir(dir.c_str()) != 0) ADD_FAILURE() << "cannot remove cgroup " << dir;
    }
  }

  // The subtree relative to the hierarchy's root ("/ena-dpdk-test-123").
  const std::string& relative() const { return relative_; }
  // Creates child `name` with hugetlb.2MB.max (and .rsvd.max where the kernel has it) set to
  // `limit` ("0" or "max"); returns its path.
  fs::path makeChild(const std::string& name, const std::string& limit) {
    const fs::path dir = root_ / name;
    EXPECT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir << ": " << std::strerror(errno);
    EXPECT_TRUE(writeText((dir / "hugetlb.2MB.max").string(), limit)) << dir;
    if (fs::exists(dir / "hugetlb.2MB.rsvd.max")) {
      EXPECT_TRUE(writeText((dir / "hugetlb.2MB.rsvd.max").string(), limit)) << dir;
    }
    return dir;
  }
  // Moves this process (every thread) into `cgroup`.
  bool join(const fs::path& cgroup) {
    moved_ = writeText((cgroup / "cgroup.procs").string(), std::to_string(::getpid()));
    return moved_;
  }

 private:
  const fs::path hierarchy_;
  const std::string relative_;
  const fs::path root_;
  fs::path original_;
  bool created_ = false;
  bool moved_ = false;
};

// The "max" count of a hugetlb.<size>.events file (allocations the limit refused).
std::uint64_t limitHits(const fs::path& cgroup) {
  absl::StatusOr<std::string> text = common::readFile(cgroup / "hugetlb.2MB.events");
  EXPECT_TRUE(text.ok()) << text.status();
  std::uint64_t value = 0;
  if (text.ok() && text->starts_with("max ")) {
    std::from_chars(text->data() + 4, text->data() + text->size(), value);
  }
  return value;
}

std::uint64_t charged(const fs::path& cgroup) { return readNumber(cgroup / "hugetlb.2MB.current"); }

// A shell script run in the background, its output in a log file. The destructor kills
// (SIGKILL) and reaps it if it still runs.
class BackgroundShell {
 public:
  BackgroundShell(const std::string& script, fs::path log) : log_(std::move(log)) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const char* argv[] = {"/bin/sh", "-c", script.c_str(), nullptr};
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, const_cast<char* const*>(argv), environ) !=
        0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_GT(pid_, 0) << "cannot start: " << script;
  }
  ~BackgroundShell() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // The output so far.
  std::string log() const {
    absl::StatusOr<std::string> text = common::readFile(log_);
    return text.ok() ? *text : "";
  }
  // Waits up to `timeout` for the script to end; its wait status, or none while it runs.
  std::optional<int> waitExit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0 && !status_) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = status;
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(milliseconds(20));  // polling interval, not synchronisation
    }
    return status_;
  }
  // Waits up to `timeout` until the log has `count` lines containing `text` (or the script
  // ended); whether it has.
  bool waitForLog(const std::string& text, int count, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const std::string out = log();
      int seen = 0;
      for (std::size_t at = out.find(text); at != std::string::npos; at = out.find(text, at + 1)) {
        ++seen;
      }
      if (seen >= count) return true;
      if (waitExit(milliseconds(0)) || std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(50));  // polling interval, not synchronisation
    }
  }
  // Sends SIGINT (testpmd's "quit") and waits for the end; SIGKILL after 10 s.
  std::optional<int> interrupt() {
    if (pid_ > 0 && !status_) ::kill(pid_, SIGINT);
    if (!waitExit(milliseconds(10000)) && pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitExit(milliseconds(10000));
    }
    return status_;
  }

 private:
  fs::path log_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

std::string describeStatus(std::optional<int> status) {
  if (!status) return "still running";
  if (WIFEXITED(*status)) return common::strCat("exit ", WEXITSTATUS(*status));
  if (WIFSIGNALED(*status)) return common::strCat("signal ", strsignal(WTERMSIG(*status)));
  return common::strCat("wait status ", *status);
}

bool diedOfSigbus(std::optional<int> status) {
  return status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGBUS;
}

// The first line of `log` containing `text`, or "".
std::string lineWith(const std::string& log, const std::string& text) {
  const std::size_t at = log.find(text);
  if (at == std::string::npos) return "";
  const std::size_t begin = log.rfind('\n', at);
  const std::size_t end = log.find('\n', at);
  return log.substr(begin == std::string::npos ? 0 : begin + 1,
                    end == std::string::npos ? std::string::npos : end - begin - 1);
}

// The testpmd command line for EAL arguments `eal`, run in `cgroup`.
std::string testpmdIn(const fs::path& cgroup, const std::string& eal) {
  return common::strCat("echo $$ > ", cgroup.string(), "/cgroup.procs && exec ", kTestpmd, " ", eal,
                        " ", kTestpmdApp);
}

TEST(HugepagesIntegrationTest, A2MiPodUnderAZeroHugetlbLimitRunsDpdkOnPrefaultedPages) {
  ASSERT_EQ(::geteuid(), 0u) << "this test reserves hugepages and makes cgroups: run as root";
  const dp::HugetlbHierarchy hierarchy =
      dp::findHugetlbHierarchy(common::HostRoot("/"), deviceplugin::kDefaultCgroupFs);
  // The kubelet's limit is what this test is about: without the controller it proves nothing.
  ASSERT_EQ(hierarchy.kind, dp::HugetlbHierarchyKind::V2)
      << "no cgroup v2 hierarchy with the hugetlb controller under /sys/fs/cgroup";
  Reservation2MGuard reservation(kReserved2M);
  ASSERT_TRUE(reservation.added()) << "cannot reserve " << kReserved2M << " more 2M pages";

  // The cgroups: the plugin (this process) and the pod run under the kubelet's limit of 0.
  TestCgroups cgroups(hierarchy.path);
  const fs::path pluginCgroup = cgroups.makeChild("plugin", "0");
  const fs::path podCgroup = cgroups.makeChild("pod", "0");
  const fs::path limitedCgroup = cgroups.makeChild("control-limited", "0");
  const fs::path freeCgroup = cgroups.makeChild("control-free", "max");
  ASSERT_TRUE(cgroups.join(pluginCgroup));

  // The plugin in process on a fake host whose cgroup file systems are the real ones.
  dp::SystemHugetlbfsMounter mounter;
  PluginTestEnv env;
  UnmountGuard envMounts(env.host().root());
  fs::create_directories(env.host().path("/sys/fs"));
  fs::create_directory_symlink(deviceplugin::kDefaultCgroupFs, env.host().path("/sys/fs/cgroup"));
  env.host().setHugepages(0, HugepageSize::Size2M, kAllocated2M, kAllocated2M);
  nlohmann::json config = standardConfig();
  config["deviceplugin"]["hugepages2Mi"] = {{"enabled", true},
                                            {"chargeCgroup", cgroups.relative() + "/charge"}};
  env.writeConfig(config);
  dp::PluginOptions options = env.options();
  options.mounter = &mounter;
  ASSERT_TRUE(env.startPlugin(options).ok());
  absl::StatusOr<std::unique_ptr<DevicePluginClient>> client = env.watch("hugepages-2Mi");
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<std::vector<v1beta1::Device>> listed = (*client)->waitForUpdate(0);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), kAllocated2M);
  std::vector<std::string> ids;
  for (const v1beta1::Device& device : *listed) ids.push_back(device.id());

  // Allocate: the pages are faulted in and charged to the allocation's own cgroup.
  absl::StatusOr<v1beta1::ContainerAllocateResponse> response = (*client)->allocate(ids);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->mounts_size(), 1);
  const fs::path mount = env.host().path(response->mounts(0).host_path());
  const std::string id = mount.filename().string();
  const fs::path chargeCgroup =
      fs::path(hierarchy.path) / cgroups.relative().substr(1) / "charge" / id;
  const std::uint64_t bytes = kAllocated2M * k2MiB;
  EXPECT_TRUE(isHugetlbfs(mount)) << mount;
  EXPECT_EQ(*mounter.unusedPages(mount), 0u);
  EXPECT_EQ(charged(chargeCgroup), bytes);
  EXPECT_EQ(charged(pluginCgroup), 0u);
  EXPECT_EQ(limitHits(pluginCgroup), 0u);
  const fs::path file = mount / ("ena" + id + "map_0");
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0) << file;
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), bytes);
  EXPECT_EQ(st.st_mode & 07777, 0666u);
  std::cerr << "PROOF: allocation " << id << ": " << kAllocated2M << " 2M pages faulted into "
            << file.string() << ", charged to " << chargeCgroup.string()
            << " (hugetlb.2MB.current=" << charged(chargeCgroup) << "), 0 to the plugin's "
            << "limit-0 cgroup\n";

  // The pod's DPDK app with exactly the EAL arguments of the variable (the host path for
  // --huge-dir), in a cgroup with a hugetlb limit of 0.
  const std::string variable = response->envs().at("ENA_DPDK_HUGEPAGES_2MI_EAL");
  std::cerr << "PROOF: ENA_DPDK_HUGEPAGES_2MI_EAL=" << variable << "\n";
  ASSERT_TRUE(variable.starts_with("--huge-dir /dev/hugepages-2Mi ")) << variable;
  const std::string eal = common::strCat("--huge-dir ", mount.string(),
                                         variable.substr(std::string_view("--huge-dir /dev/"
                                                                          "hugepages-2Mi")
                                                             .size()));
  const std::vector<std::string> prefixes = {"ena" + id, common::strCat("enactl", ::getpid(), "a"),
                                             common::strCat("enactl", ::getpid(), "b")};
  struct RuntimeDirs {
    std::vector<std::string> prefixes;
    ~RuntimeDirs() {
      std::error_code ec;
      for (const std::string& prefix : prefixes) fs::remove_all("/var/run/dpdk/" + prefix, ec);
    }
  } runtimeDirs{prefixes};
  {
    BackgroundShell pod(testpmdIn(podCgroup, eal), env.host().path("/testpmd-pod.log"));
    const bool forwarding = pod.waitForLog("Port statistics", 3, milliseconds(30000));
    const std::uint64_t podCharge = charged(podCgroup);
    const std::uint64_t allocationCharge = charged(chargeCgroup);
    const std::optional<int> status = pod.interrupt();
    const std::string log = pod.log();
    EXPECT_TRUE(forwarding) << describeStatus(status) << "\n" << log;
    EXPECT_THAT(log, HasSubstr("start packet forwarding"));
    EXPECT_FALSE(diedOfSigbus(status)) << log;
    EXPECT_EQ(podCharge, 0u);
    EXPECT_EQ(limitHits(podCgroup), 0u);
    EXPECT_EQ(allocationCharge, bytes);
    std::cerr << "PROOF: dpdk-testpmd in " << podCgroup.string() << " (hugetlb.2MB.max=0): \""
              << lineWith(log, "start packet forwarding") << "\", \"" << lineWith(log, "TX-packets")
              << "\"; pod hugetlb.2MB.current=" << podCharge
              << ", events max=" << limitHits(podCgroup)
              << "; allocation cgroup current=" << allocationCharge << "; ended with "
              << describeStatus(status) << "\n";
  }

  // Controls: the same app on pages nobody faulted in before, from a plain 2M mount.
  const fs::path controlMount = env.host().path("/control-2Mi");
  fs::create_directories(controlMount);
  ASSERT_TRUE(mounter.mount(controlMount, "pagesize=2M,mode=1777").ok());
  auto controlEal = [&](const std::string& prefix) {
    return common::strCat("--huge-dir ", controlMount.string(), " --file-prefix ", prefix,
                          " --huge-unlink=never --single-file-segments --socket-mem ", kControlMiB);
  };
  {
    BackgroundShell limited(testpmdIn(limitedCgroup, controlEal(prefixes[1])),
                            env.host().path("/testpmd-limited.log"));
    const std::optional<int> status = limited.waitExit(milliseconds(30000));
    const std::string log = limited.log();
    EXPECT_TRUE(status &&
                (diedOfSigbus(status) || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0))
        << describeStatus(status) << "\n"
        << log;
    EXPECT_THAT(log, ::testing::Not(HasSubstr("start packet forwarding")));
    EXPECT_GT(limitHits(limitedCgroup), 0u);
    EXPECT_EQ(charged(limitedCgroup), 0u);
    std::cerr << "PROOF: control, fresh --file-prefix in " << limitedCgroup.string()
              << " (hugetlb.2MB.max=0): " << describeStatus(status) << ", \""
              << lineWith(log, "Cannot init") << "\", events max=" << limitHits(limitedCgroup)
              << "\n";
  }
  {
    BackgroundShell unlimited(testpmdIn(freeCgroup, controlEal(prefixes[2])),
                              env.host().path("/testpmd-free.log"));
    const bool forwarding = unlimited.waitForLog("Port statistics", 1, milliseconds(30000));
    const std::uint64_t freeCharge = charged(freeCgroup);
    const std::optional<int> status = unlimited.interrupt();
    EXPECT_TRUE(forwarding) << describeStatus(status) << "\n" << unlimited.log();
    EXPECT_EQ(freeCharge, std::uint64_t{kControlMiB} << 20);
    std::cerr << "PROOF: control, the same in " << freeCgroup.string()
              << " (no limit): forwarding=" << forwarding << ", hugetlb.2MB.current=" << freeCharge
              << "\n";
  }
  ASSERT_TRUE(mounter.unmount(controlMount).ok());

  // A fault-in the kernel refuses (here: a limit above the charge cgroups at what they hold)
  // fails the Allocate with RESOURCE_EXHAUSTED and leaves no mount, mount point or cgroup.
  {
    const fs::path charges = chargeCgroup.parent_path();
    ASSERT_TRUE(
        writeText((charges / "hugetlb.2MB.max").string(), std::to_string(charged(charges))));
    // The fake host's sysfs still says 64 pages are free: the list offers more devices.
    std::string spare;
    absl::StatusOr<std::vector<v1beta1::Device>> now =
        (*client)->waitForDevices([&](const std::vector<v1beta1::Device>& devices) {
          for (const v1beta1::Device& device : devices) {
            if (std::find(ids.begin(), ids.end(), device.id()) == ids.end()) spare = device.id();
          }
          return !spare.empty();
        });
    ASSERT_TRUE(now.ok()) << now.status();
    absl::StatusOr<v1beta1::ContainerAllocateResponse> refused = (*client)->allocate({spare});
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
    std::vector<std::string> left;
    for (const fs::directory_entry& entry : fs::directory_iterator(mount.parent_path())) {
      left.push_back(entry.path().filename().string());
    }
    EXPECT_THAT(left, ::testing::UnorderedElementsAre(id, "allocations.json"));
    std::vector<std::string> cgroupsLeft;
    for (const fs::directory_entry& entry : fs::directory_iterator(charges)) {
      if (entry.is_directory()) cgroupsLeft.push_back(entry.path().filename().string());
    }
    EXPECT_THAT(cgroupsLeft, ::testing::ElementsAre(id));
    EXPECT_GT(limitHits(charges), 0u);
    std::cerr << "PROOF: a refused fault-in: " << refused.status()
              << "; left behind: " << left.size() - 2 << " mounts, " << cgroupsLeft.size() - 1
              << " cgroups\n";
    ASSERT_TRUE(writeText((charges / "hugetlb.2MB.max").string(), "max"));
  }

  // No pod holds the devices any more: the mount and the charge cgroup go.
  absl::StatusOr<std::unique_ptr<FakePodResources>> podResources =
      FakePodResources::start(env.host().path("/var/lib/kubelet/pod-resources/kubelet.sock"));
  ASSERT_TRUE(podResources.ok()) << podResources.status();
  env.clock().advance(std::chrono::hours(1));
  env.plugin().requestGarbageCollection();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((fs::exists(mount) || fs::exists(chargeCgroup)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));  // polling interval, not synchronisation
  }
  EXPECT_FALSE(fs::exists(mount));
  EXPECT_FALSE(fs::exists(chargeCgroup));
}

}  // namespace
}  // namespace enadpdk::testing
