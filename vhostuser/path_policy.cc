#include "vhostuser/path_policy.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "common/path_resolve.h"
#include "common/strings.h"

namespace enadpdk::vhostuser {
namespace {

namespace fs = std::filesystem;
using common::strCat;

// The deepest existing ancestor of `path` (resolved), which must be a directory, and the
// components below it that do not exist yet.
absl::StatusOr<common::ExistingPrefix> resolveExisting(const fs::path& path,
                                                       std::string_view field) {
  absl::StatusOr<common::ExistingPrefix> prefix = common::resolveExistingPrefix(path, field);
  if (!prefix.ok()) return prefix.status();
  struct stat st {};
  if (::stat(prefix->resolved.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        strCat(field, ": \"", prefix->resolved.string(), "\" is not a directory"));
  }
  return prefix;
}

// True when `path` is `root` or below it (both resolved and normalised).
bool isAtOrBelow(const fs::path& path, const fs::path& root) {
  const fs::path rel = path.lexically_relative(root);
  return !rel.empty() && *rel.begin() != "..";
}

bool isSymlink(const fs::path& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

absl::Status notAllowed(std::string_view field, std::string_view path, const fs::path& resolved,
                        const std::vector<std::string>& roots) {
  return absl::PermissionDeniedError(strCat(
      field, ": \"", path, "\" resolves to \"", resolved.string(),
      "\", outside the allowed directories (", fmt::format("{}", fmt::join(roots, ", ")), ")"));
}

}  // namespace

fs::path ResolvedSocketPath::parentDir() const {
  fs::path dir = existing_dir;
  for (const std::string& part : missing_dirs) dir /= part;
  return dir;
}

absl::StatusOr<ResolvedSocketPath> resolveSocketPath(std::string_view path,
                                                     const std::vector<std::string>& allowed_roots,
                                                     std::string_view field) {
  const fs::path requested(path);
  if (!requested.is_absolute()) {
    return absl::InvalidArgumentError(strCat(field, ": \"", path, "\" is not an absolute path"));
  }
  ResolvedSocketPath out;
  out.name = requested.filename().string();
  if (out.name.empty() || out.name == "." || out.name == "..") {
    return absl::InvalidArgumentError(strCat(field, ": \"", path, "\" does not name a socket"));
  }
  absl::StatusOr<common::ExistingPrefix> parent = resolveExisting(requested.parent_path(), field);
  if (!parent.ok()) return parent.status();
  out.existing_dir = std::move(parent->resolved);
  out.missing_dirs = std::move(parent->missing);
  for (const std::string& part : out.missing_dirs) {
    if (part == "." || part == "..") {
      return absl::InvalidArgumentError(strCat(field, ": \"", path, "\" has \"", part,
                                               "\" below a directory that does not exist"));
    }
  }
  // realpath() stops at a dangling link: it exists, so creating a directory there would follow it.
  if (!out.missing_dirs.empty() && isSymlink(out.existing_dir / out.missing_dirs.front())) {
    return absl::PermissionDeniedError(
        strCat(field, ": \"", (out.existing_dir / out.missing_dirs.front()).string(), "\" (in \"",
               path, "\") is a symbolic link"));
  }
  const fs::path resolved_parent = out.parentDir();
  bool allowed = false;
  for (const std::string& root : allowed_roots) {
    absl::StatusOr<common::ExistingPrefix> r =
        resolveExisting(fs::path(root).lexically_normal(), "allowedSocketDirs");
    if (!r.ok()) continue;  // a root we cannot resolve holds nothing we can check
    fs::path resolved_root = r->resolved;
    for (const std::string& part : r->missing) resolved_root /= part;
    if (isAtOrBelow(resolved_parent, resolved_root.lexically_normal())) {
      allowed = true;
      break;
    }
  }
  if (!allowed) return notAllowed(field, path, resolved_parent / out.name, allowed_roots);
  if (out.missing_dirs.empty() && isSymlink(resolved_parent / out.name)) {
    return absl::PermissionDeniedError(
        strCat(field, ": \"", path, "\" is a symbolic link; the socket itself must be named"));
  }
  return out;
}

absl::Status createSocketDirs(const ResolvedSocketPath& resolved, mode_t mode,
                              std::string_view field) {
  if (resolved.missing_dirs.empty()) return absl::OkStatus();
  int fd = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(strCat("open /: ", std::strerror(errno)));
  fs::path at = "/";
  // Opens `name` below `fd` without following a link, replacing `fd`.
  auto descend = [&](const std::string& name) -> absl::Status {
    at /= name;
    const int next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    const int err = errno;
    ::close(fd);
    fd = next;
    if (next >= 0) return absl::OkStatus();
    if (err == ELOOP || err == ENOTDIR) {
      return absl::PermissionDeniedError(
          strCat(field, ": \"", at.string(), "\" is a symbolic link or not a directory"));
    }
    return absl::InternalError(strCat(field, ": open ", at.string(), ": ", std::strerror(err)));
  };
  for (const fs::path& part : resolved.existing_dir.relative_path()) {
    if (part.empty()) continue;
    if (absl::Status s = descend(part.string()); !s.ok()) return s;
  }
  for (const std::string& name : resolved.missing_dirs) {
    const bool created = ::mkdirat(fd, name.c_str(), mode) == 0;
    if (!created && errno != EEXIST) {
      const int err = errno;
      ::close(fd);
      return absl::InternalError(
          strCat(field, ": mkdir ", (at / name).string(), ": ", std::strerror(err)));
    }
    if (absl::Status s = descend(name); !s.ok()) return s;
    // mkdirat applies the umask; the caller asked for exactly `mode`.
    if (created && ::fchmod(fd, mode) != 0) {
      const int err = errno;
      ::close(fd);
      return absl::InternalError(strCat(field, ": chmod ", at.string(), ": ", std::strerror(err)));
    }
  }
  ::close(fd);
  return absl::OkStatus();
}

}  // namespace enadpdk::vhostuser
