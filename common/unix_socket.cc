#include "common/unix_socket.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <vector>

#include "common/strings.h"

namespace enadpdk::common {
namespace {

std::optional<unsigned long> parseNumber(std::string_view s, int base) {
  unsigned long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// A uid or gid: below (uid_t)-1, which chown() takes as "leave unchanged".
std::optional<uint32_t> parseId(std::string_view s) {
  std::optional<unsigned long> v = parseNumber(s, 10);
  if (!v || *v >= 0xFFFFFFFFul) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

// A user or group name the system could know: no NUL (the C lookup would stop there), no ':'.
absl::Status checkName(std::string_view name, std::string_view what) {
  if (name.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(strCat(what, " name contains a NUL byte"));
  }
  if (std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return absl::InvalidArgumentError(
        strCat(what, " id \"", clipped(name), "\" is out of range (0..4294967294)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uid_t> resolveUser(std::string_view user, gid_t* primary_gid) {
  if (auto n = parseId(user)) {
    struct passwd* pw = ::getpwuid(static_cast<uid_t>(*n));
    if (primary_gid) *primary_gid = pw ? pw->pw_gid : static_cast<gid_t>(*n);
    return static_cast<uid_t>(*n);
  }
  if (absl::Status s = checkName(user, "user"); !s.ok()) return s;
  std::string name(user);
  struct passwd* pw = ::getpwnam(name.c_str());
  if (pw == nullptr) {
    return absl::InvalidArgumentError(strCat("unknown user \"", clipped(user), "\""));
  }
  if (primary_gid) *primary_gid = pw->pw_gid;
  return pw->pw_uid;
}

absl::StatusOr<gid_t> resolveGroup(std::string_view group) {
  if (auto n = parseId(group)) return static_cast<gid_t>(*n);
  if (absl::Status s = checkName(group, "group"); !s.ok()) return s;
  std::string name(group);
  struct group* gr = ::getgrnam(name.c_str());
  if (gr == nullptr) {
    return absl::InvalidArgumentError(strCat("unknown group \"", clipped(group), "\""));
  }
  return gr->gr_gid;
}

}  // namespace

absl::Status checkSocketPath(std::string_view path, std::string_view field) {
  if (path.empty()) return absl::InvalidArgumentError(strCat(field, ": must not be empty"));
  if (path.front() != '/') {
    return absl::InvalidArgumentError(strCat(field, ": \"", path, "\" is not an absolute path"));
  }
  if (path.size() > kMaxSocketPathLength) {
    return absl::InvalidArgumentError(strCat(field, ": ", path.size(), " bytes, longer than the ",
                                             kMaxSocketPathLength, " a Unix socket path can have"));
  }
  if (path.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(strCat(field, ": contains a NUL byte"));
  }
  return absl::OkStatus();
}

absl::StatusOr<FileOwner> parseOwner(std::string_view owner) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t colon = owner.find(':', start);
    parts.push_back(owner.substr(start, colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (owner.empty() || parts.size() > 2 || parts[0].empty() ||
      (parts.size() == 2 && parts[1].empty())) {
    return absl::InvalidArgumentError(
        strCat("owner \"", clipped(owner), "\": expected \"uid:gid\", \"user:group\" or \"user\""));
  }
  FileOwner out;
  gid_t primary = 0;
  absl::StatusOr<uid_t> uid = resolveUser(parts[0], &primary);
  if (!uid.ok()) return uid.status();
  out.uid = *uid;
  out.gid = primary;
  if (parts.size() == 2) {
    absl::StatusOr<gid_t> gid = resolveGroup(parts[1]);
    if (!gid.ok()) return gid.status();
    out.gid = *gid;
  }
  return out;
}

absl::StatusOr<mode_t> parseFileMode(std::string_view mode) {
  auto v = parseNumber(mode, 8);
  if (!v || *v > 07777) {
    return absl::InvalidArgumentError(
        strCat("mode \"", mode, "\": expected an octal permission such as \"0660\""));
  }
  return static_cast<mode_t>(*v);
}

absl::Status setFilePermissions(const std::filesystem::path& path, mode_t mode,
                                std::string_view owner) {
  if (!owner.empty()) {
    absl::StatusOr<FileOwner> o = parseOwner(owner);
    if (!o.ok()) return o.status();
    if (::chown(path.c_str(), o->uid, o->gid) != 0) {
      return absl::PermissionDeniedError(
          strCat("chown ", path.string(), ": ", std::strerror(errno)));
    }
  }
  if (::chmod(path.c_str(), mode) != 0) {
    return absl::PermissionDeniedError(strCat("chmod ", path.string(), ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status removeStaleSocket(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::InternalError(strCat("stat ", path.string(), ": ", std::strerror(errno)));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        strCat(path.string(), " exists and is not a socket; refusing to remove it"));
  }
  absl::Status path_ok = checkSocketPath(path.string());
  if (!path_ok.ok()) return path_ok;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(strCat("socket: ", std::strerror(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.string().size());
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  ::close(fd);
  if (rc == 0) {
    return absl::FailedPreconditionError(strCat(path.string(), " is in use by another process"));
  }
  if (err != ECONNREFUSED) {
    return absl::InternalError(strCat("connect ", path.string(), ": ", std::strerror(err)));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(strCat("unlink ", path.string(), ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

std::string grpcUnixTarget(const std::filesystem::path& path) {
  return strCat("unix:", path.string());
}

}  // namespace enadpdk::common
