#include "common/file_identity.h"

#include <sys/stat.h>

namespace enadpdk::common {
namespace {

std::int64_t nanoseconds(const timespec& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

FileIdentity identityOf(const struct stat& st) {
  return {.device = st.st_dev,
          .inode = st.st_ino,
          .ctimeNs = nanoseconds(st.st_ctim),
          .mtimeNs = nanoseconds(st.st_mtim),
          .size = static_cast<std::int64_t>(st.st_size)};
}

}  // namespace

std::optional<FileIdentity> linkIdentity(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
  return identityOf(st);
}

std::optional<FileIdentity> fileIdentity(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return identityOf(st);
}

}  // namespace enadpdk::common
