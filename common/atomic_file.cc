#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/strings.h"

namespace enadpdk::common {
namespace {

absl::Status errnoStatus(std::string_view what, const std::filesystem::path& path, int err) {
  std::string msg = strCat(what, " ", path.string(), ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

absl::Status writeAll(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoStatus("write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status writeAtomically(const std::filesystem::path& path, std::string_view contents,
                             mode_t mode, bool durable) {
  const std::filesystem::path dir =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string tmpl = (dir / ("." + path.filename().string() + ".tmp.XXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return errnoStatus("create temporary file in", dir, errno);

  absl::Status status = writeAll(fd, contents, tmpl);
  if (status.ok() && ::fchmod(fd, mode) != 0) status = errnoStatus("chmod", tmpl, errno);
  if (status.ok() && durable && ::fsync(fd) != 0) status = errnoStatus("fsync", tmpl, errno);
  if (::close(fd) != 0 && status.ok()) status = errnoStatus("close", tmpl, errno);
  if (status.ok() && ::rename(tmpl.c_str(), path.c_str()) != 0) {
    status = errnoStatus("rename to", path, errno);
  }
  if (!status.ok()) {
    ::unlink(tmpl.c_str());
    return status;
  }
  if (!durable) return absl::OkStatus();
  // The rename is durable only once the directory entry is on disk.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return errnoStatus("open directory", dir, errno);
  int rc = ::fsync(dfd);
  int err = errno;
  ::close(dfd);
  if (rc != 0) return errnoStatus("fsync directory", dir, err);
  return absl::OkStatus();
}

}  // namespace

absl::Status writeFileAtomic(const std::filesystem::path& path, std::string_view contents,
                             mode_t mode) {
  return writeAtomically(path, contents, mode, /*durable=*/true);
}

absl::Status replaceFileAtomic(const std::filesystem::path& path, std::string_view contents,
                               mode_t mode) {
  return writeAtomically(path, contents, mode, /*durable=*/false);
}

absl::StatusOr<std::string> readFile(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errnoStatus("open", path, errno);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return errnoStatus("read", path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

absl::Status makeDirectories(const std::filesystem::path& dir, mode_t mode) {
  std::filesystem::path current;
  for (const auto& part : dir) {
    current /= part;
    if (::mkdir(current.c_str(), mode) == 0) {
      // mkdir applies the umask; the caller asked for exactly `mode`.
      if (::chmod(current.c_str(), mode) != 0) return errnoStatus("chmod", current, errno);
      continue;
    }
    if (errno != EEXIST) return errnoStatus("mkdir", current, errno);
    struct stat st {};
    if (::stat(current.c_str(), &st) != 0) return errnoStatus("stat", current, errno);
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          strCat("mkdir ", current.string(), ": exists and is not a directory"));
    }
  }
  return absl::OkStatus();
}

}  // namespace enadpdk::common
