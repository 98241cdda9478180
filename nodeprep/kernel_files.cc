#include "nodeprep/kernel_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/strings.h"

namespace enadpdk::nodeprep {

absl::Status HostKernelFiles::write(std::string_view host_path, std::string_view value) {
  const std::string path = root_.path(host_path).string();
  auto failure = [&](int error) {
    return absl::InternalError(
        common::strCat("cannot write \"", value, "\" to ", host_path, ": ", std::strerror(error)));
  };
  // No O_CREAT: a missing control file means the kernel lacks the feature, which must not turn
  // into a stray regular file. O_TRUNC is ignored by sysfs but keeps a fake tree's files exact.
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(
          common::strCat("cannot write \"", value, "\" to ", host_path, ": no such file"));
    }
    return failure(errno);
  }
  // sysfs takes a store as one write; a short write is an error, not something to resume.
  ssize_t n = ::write(fd, value.data(), value.size());
  const int write_errno = errno;
  const bool closed = ::close(fd) == 0;
  if (n < 0) return failure(write_errno);
  if (static_cast<size_t>(n) != value.size()) return failure(EIO);
  if (!closed) return failure(errno);
  return absl::OkStatus();
}

}  // namespace enadpdk::nodeprep
