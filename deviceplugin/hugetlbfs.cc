#include "deviceplugin/hugetlbfs.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cerrno>
#include <cstring>

#include "common/strings.h"

namespace enadpdk::deviceplugin {
namespace {

constexpr long kHugetlbfsMagic = 0x958458f6;

std::string errnoText(int error) { return std::strerror(error); }

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

}  // namespace enadpdk::deviceplugin
