#include "common/slot_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/strings.h"

namespace enadpdk::common {
namespace {

absl::Status errnoError(std::string_view what, const std::filesystem::path& dir, int error) {
  return absl::InternalError(
      strCat("cannot ", what, " slot directory ", dir.string(), ": ", std::strerror(error)));
}

}  // namespace

absl::Status ensureSlotDirectory(const std::filesystem::path& dir, std::optional<gid_t> group) {
  const mode_t mode = group ? kGroupSlotDirMode : kSlotDirMode;
  bool created = false;
  if (::mkdir(dir.c_str(), mode) == 0) {
    created = true;
  } else if (errno != EEXIST) {
    return errnoError("create", dir, errno);
  }
  // The slot is bind-mounted into a pod, and the container runtime follows links in a mount's
  // source: a link (planted by whoever could write the parent) must never be taken for the slot.
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    // A link fails with ENOTDIR (O_DIRECTORY) or ELOOP (O_NOFOLLOW); lstat() only tells which
    // to report.
    struct stat link {};
    if ((error == ENOTDIR || error == ELOOP) && ::lstat(dir.c_str(), &link) == 0 &&
        S_ISLNK(link.st_mode)) {
      return absl::FailedPreconditionError(
          strCat("slot directory ", dir.string(), " is a symbolic link; refusing to follow it"));
    }
    if (error == ENOTDIR) {
      return absl::FailedPreconditionError(
          strCat("slot directory ", dir.string(), " exists and is not a directory"));
    }
    return errnoError("open", dir, error);
  }
  struct stat st {};
  int error = ::fstat(fd, &st) == 0 ? 0 : errno;
  const char* step = "stat";
  if (error == 0 && group && (st.st_uid != ::geteuid() || st.st_gid != *group)) {
    step = "chown";
    if (::fchown(fd, ::geteuid(), *group) != 0) error = errno;
    st.st_mode &= ~static_cast<mode_t>(S_ISUID | S_ISGID);  // chown may clear them: set again
  }
  // mkdir() applies the umask and ignores S_ISGID; an existing directory is only changed when a
  // group is asked for.
  if (error == 0 && (group || created) && (st.st_mode & 07777) != mode) {
    step = "chmod";
    if (::fchmod(fd, mode) != 0) error = errno;
  }
  ::close(fd);
  if (error != 0) return errnoError(step, dir, error);
  return absl::OkStatus();
}

}  // namespace enadpdk::common
