#include "deviceplugin/hugetlbfs.h"

#include <fcntl.h>
#include <linux/mempolicy.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>

#include "common/strings.h"

namespace enadpdk::deviceplugin {
namespace {

constexpr long kHugetlbfsMagic = 0x958458f6;

std::string errnoText(int error) { return std::strerror(error); }

// fault()'s NUMA node mask covers nodes 0..kMaxNode.
constexpr int kMaxNode = 1023;
constexpr std::size_t kWordBits = sizeof(unsigned long) * CHAR_BIT;
constexpr std::size_t kMaskWords = (kMaxNode + 1) / kWordBits;

// One file as the fault child uses it: everything computed before fork().
struct PreparedFile {
  const char* path = nullptr;
  off_t bytes = 0;
  bool bind = false;
  std::array<unsigned long, kMaskWords> nodeMask{};
};

// The step of the fault child that failed.
enum class FaultStep : int { JoinCgroup = 1, BindNode, Create, Allocate };

// What the fault child writes to its pipe when a step fails.
struct FaultFailure {
  FaultStep step = FaultStep::JoinCgroup;
  int index = -1;  // the file, -1 for JoinCgroup
  int error = 0;   // errno
};

// The child of fault(). It runs in a copy of a multithreaded process, where any lock (malloc's,
// the logger's) may be held by a thread that does not exist here: it only makes raw system calls
// on data prepared before fork(), and reports through `reportFd` and its exit status.
[[noreturn]] void runFaultChild(int procsFd, const std::vector<PreparedFile>& files, int reportFd) {
  auto fail = [reportFd](FaultStep step, int index) {
    const FaultFailure failure{.step = step, .index = index, .error = errno};
    [[maybe_unused]] const ssize_t written = ::write(reportFd, &failure, sizeof failure);
    ::_exit(1);
  };
  // "0" moves the writing process (cgroup v1 and v2); the pages it allocates from now on are
  // charged to that cgroup.
  if (procsFd >= 0 && ::write(procsFd, "0", 1) != 1) fail(FaultStep::JoinCgroup, -1);
  for (std::size_t i = 0; i < files.size(); ++i) {
    const PreparedFile& file = files[i];
    const int index = static_cast<int>(i);
    // hugetlbfs takes a file's pages by the allocating task's memory policy.
    if (file.bind && ::syscall(SYS_set_mempolicy, MPOL_BIND, file.nodeMask.data(),
                               kMaskWords * kWordBits + 1) != 0) {
      fail(FaultStep::BindNode, index);
    }
    const int fd = ::open(file.path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) fail(FaultStep::Create, index);
    // Whatever the umask: the pod may run as any user.
    if (::fchmod(fd, 0666) != 0) fail(FaultStep::Create, index);
    if (::fallocate(fd, 0, 0, file.bytes) != 0) fail(FaultStep::Allocate, index);
    ::close(fd);
  }
  ::_exit(0);
}

absl::Status faultError(const FaultFailure& failure, const HugepageFaultRequest& request) {
  const std::string error = errnoText(failure.error);
  if (failure.step == FaultStep::JoinCgroup) {
    return absl::FailedPreconditionError(
        common::strCat("cannot move the hugepage fault process into the cgroup of ",
                       request.cgroupProcs.string(), ": ", error));
  }
  if (failure.index < 0 || static_cast<std::size_t>(failure.index) >= request.files.size()) {
    return absl::InternalError(common::strCat("hugepage fault process failed: ", error));
  }
  const HugepageFileFault& file = request.files[static_cast<std::size_t>(failure.index)];
  const std::string node = file.node ? common::strCat(" on NUMA node ", *file.node) : "";
  switch (failure.step) {
    case FaultStep::JoinCgroup:
      break;
    case FaultStep::BindNode:
      return absl::FailedPreconditionError(common::strCat(
          "cannot bind hugepage allocation to NUMA node ", file.node.value_or(-1), ": ", error));
    case FaultStep::Create:
      return absl::InternalError(common::strCat("cannot create ", file.path.string(), ": ", error));
    case FaultStep::Allocate: {
      std::string message = common::strCat("cannot allocate ", file.bytes, " bytes of hugepages",
                                           node, " for ", file.path.string(), ": ", error);
      // ENOSPC: no free page (or the instance's or the cgroup's limit); ENOMEM: no memory.
      if (failure.error == ENOSPC || failure.error == ENOMEM) {
        return absl::ResourceExhaustedError(message);
      }
      return absl::InternalError(message);
    }
  }
  return absl::InternalError(common::strCat("hugepage fault process failed: ", error));
}

}  // namespace

absl::Status SystemHugetlbfsMounter::mount(const std::filesystem::path& target,
                                           const std::string& options) {
  if (::mount("hugetlbfs", target.c_str(), "hugetlbfs", MS_NOSUID | MS_NODEV, options.c_str()) ==
      0) {
    return absl::OkStatus();
  }
  const int error = errno;
  std::string message = common::strCat("cannot mount hugetlbfs (", options, ") on ",
                                       target.string(), ": ", errnoText(error));
  // min_size makes the kernel reserve the pages at mount time and fail with ENOMEM without them.
  if (error == ENOMEM) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

absl::Status SystemHugetlbfsMounter::unmount(const std::filesystem::path& target) {
  if (::umount2(target.c_str(), MNT_DETACH) == 0) return absl::OkStatus();
  return absl::InternalError(
      common::strCat("cannot unmount ", target.string(), ": ", errnoText(errno)));
}

bool SystemHugetlbfsMounter::isMounted(const std::filesystem::path& target) {
  struct stat self {};
  struct stat parent {};
  if (::stat(target.c_str(), &self) != 0) return false;
  if (::stat(target.parent_path().c_str(), &parent) != 0) return false;
  return self.st_dev != parent.st_dev;
}

absl::StatusOr<std::uint64_t> SystemHugetlbfsMounter::unusedPages(
    const std::filesystem::path& target) {
  struct statfs fs {};
  if (::statfs(target.c_str(), &fs) != 0) {
    return absl::InternalError(
        common::strCat("cannot statfs ", target.string(), ": ", errnoText(errno)));
  }
  if (static_cast<long>(fs.f_type) != kHugetlbfsMagic) {
    return absl::FailedPreconditionError(
        common::strCat(target.string(), " is not a hugetlbfs mount"));
  }
  return static_cast<std::uint64_t>(fs.f_bfree);
}

absl::Status SystemHugetlbfsMounter::fault(const HugepageFaultRequest& request) {
  std::vector<PreparedFile> files;
  for (const HugepageFileFault& file : request.files) {
    PreparedFile& prepared = files.emplace_back();
    prepared.path = file.path.c_str();
    prepared.bytes = static_cast<off_t>(file.bytes);
    if (!file.node) continue;
    if (*file.node < 0 || *file.node > kMaxNode) {
      return absl::InvalidArgumentError(common::strCat("NUMA node ", *file.node, " out of range"));
    }
    const auto node = static_cast<std::size_t>(*file.node);
    prepared.bind = true;
    prepared.nodeMask[node / kWordBits] |= 1ul << (node % kWordBits);
  }
  int procsFd = -1;
  if (!request.cgroupProcs.empty()) {
    procsFd = ::open(request.cgroupProcs.c_str(), O_WRONLY | O_CLOEXEC);
    if (procsFd < 0) {
      return absl::FailedPreconditionError(
          common::strCat("cannot open ", request.cgroupProcs.string(), ": ", errnoText(errno)));
    }
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    const int error = errno;
    if (procsFd >= 0) ::close(procsFd);
    return absl::InternalError(common::strCat("cannot create a pipe: ", errnoText(error)));
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(report[0]);
    runFaultChild(procsFd, files, report[1]);
  }
  const int forkError = errno;
  ::close(report[1]);
  if (procsFd >= 0) ::close(procsFd);
  if (pid < 0) {
    ::close(report[0]);
    return absl::InternalError(common::strCat("cannot fork: ", errnoText(forkError)));
  }
  FaultFailure failure;
  ssize_t got;
  do {
    got = ::read(report[0], &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  ::close(report[0]);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (got == static_cast<ssize_t>(sizeof failure)) return faultError(failure, request);
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return absl::InternalError(
        common::strCat("hugepage fault process ended abnormally (wait status ", wstatus, ")"));
  }
  return absl::OkStatus();
}

}  // namespace enadpdk::deviceplugin
