#include "common/shared_log_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/strings.h"

namespace enadpdk::common {
namespace {

// An append retries this often when other processes keep rotating the file under it.
constexpr int kMaxAttempts = 64;

absl::Status ioError(std::string_view what, const std::filesystem::path& path, int err) {
  return absl::InvalidArgumentError(
      strCat("log file ", path.string(), ": cannot ", what, ": ", std::strerror(err)));
}

int openForAppend(const std::filesystem::path& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
}

}  // namespace

std::filesystem::path SharedLogFile::rotatedName(const std::filesystem::path& path, unsigned n) {
  return std::filesystem::path(strCat(path.string(), ".", n));
}

absl::StatusOr<std::unique_ptr<SharedLogFile>> SharedLogFile::open(std::filesystem::path path,
                                                                   uint64_t maxBytes,
                                                                   unsigned maxFiles) {
  const int fd = openForAppend(path);
  if (fd < 0) return ioError("open it", path, errno);
  return std::unique_ptr<SharedLogFile>(new SharedLogFile(std::move(path), fd, maxBytes, maxFiles));
}

SharedLogFile::~SharedLogFile() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status SharedLogFile::reopen() {
  if (fd_ >= 0) ::close(fd_);  // also drops our lock, if we held one
  fd_ = openForAppend(path_);
  if (fd_ < 0) return ioError("open it", path_, errno);
  return absl::OkStatus();
}

absl::Status SharedLogFile::rotate() {
  if (maxFiles_ == 0) {
    if (::unlink(path_.c_str()) != 0) return ioError("remove it for rotation", path_, errno);
    return absl::OkStatus();
  }
  // Oldest first, so that every rename lands on a name already moved away (or the one dropped).
  for (unsigned n = maxFiles_ - 1; n >= 1; --n) {
    const std::filesystem::path from = rotatedName(path_, n);
    if (::rename(from.c_str(), rotatedName(path_, n + 1).c_str()) != 0 && errno != ENOENT) {
      return ioError(strCat("rotate ", from.string()), path_, errno);
    }
  }
  if (::rename(path_.c_str(), rotatedName(path_, 1).c_str()) != 0) {
    return ioError("rotate it", path_, errno);
  }
  return absl::OkStatus();
}

absl::Status SharedLogFile::append(std::string_view lines) {
  absl::Status rotation = absl::OkStatus();
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (fd_ < 0) {
      if (absl::Status s = reopen(); !s.ok()) return s;
    }
    int locked;
    do {
      locked = ::flock(fd_, LOCK_EX);
    } while (locked != 0 && errno == EINTR);
    if (locked != 0) return ioError("lock it", path_, errno);
    struct stat mine {};
    struct stat current {};
    if (::fstat(fd_, &mine) != 0) return ioError("stat it", path_, errno);
    // Rotated (or removed) while we waited for the lock: the lines belong in the file at the path.
    if (::stat(path_.c_str(), &current) != 0 || current.st_ino != mine.st_ino ||
        current.st_dev != mine.st_dev) {
      if (absl::Status s = reopen(); !s.ok()) return s;
      continue;
    }
    const uint64_t size = static_cast<uint64_t>(mine.st_size);
    if (rotation.ok() && maxBytes_ > 0 && size > 0 && size + lines.size() > maxBytes_) {
      rotation = rotate();
      // A file that cannot be rotated still takes the line: losing it would be worse.
      if (rotation.ok()) {
        ::close(fd_);  // unlocks; waiters find the path renamed and open the new file
        fd_ = -1;
        continue;
      }
    }
    absl::Status written = absl::OkStatus();
    for (std::string_view rest = lines; !rest.empty();) {
      const ssize_t n = ::write(fd_, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        written = ioError("write it", path_, n < 0 ? errno : EIO);
        break;
      }
      rest.remove_prefix(static_cast<size_t>(n));
    }
    ::flock(fd_, LOCK_UN);
    return written.ok() ? rotation : written;
  }
  return absl::InvalidArgumentError(strCat("log file ", path_.string(),
                                           ": rotated by other processes on every one of ",
                                           kMaxAttempts, " attempts; line dropped"));
}

}  // namespace enadpdk::common
