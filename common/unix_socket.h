#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace enadpdk::common {

// The longest Unix socket path that fits sockaddr_un.sun_path (108 bytes with its NUL).
inline constexpr size_t kMaxSocketPathLength = 107;

// OK when `path` is absolute and fits sun_path; otherwise InvalidArgument naming `field` (the
// config key or request field the path came from), e.g.
// "socket_path: 131 bytes, longer than the 107 a Unix socket path can have".
absl::Status checkSocketPath(std::string_view path, std::string_view field = "socket path");

// A file owner as "uid:gid", "user:group", "uid" or "user" (group then = the user's primary).
struct FileOwner {
  uid_t uid = 0;  // owner user id
  gid_t gid = 0;  // owner group id
};

// Parses an owner string, resolving names through the user database. InvalidArgument for a
// malformed string or an unknown name.
absl::StatusOr<FileOwner> parseOwner(std::string_view owner);

// Parses an octal permission string ("0660", "660"); InvalidArgument unless it is 0..07777.
absl::StatusOr<mode_t> parseFileMode(std::string_view mode);

// Applies `mode` and, when `owner` is non-empty, the owner to an existing file or socket.
absl::Status setFilePermissions(const std::filesystem::path& path, mode_t mode,
                                std::string_view owner);

// Removes `path` when it is a Unix socket that nobody accepts connections on (left behind by a
// process that died). OK when nothing is there. FailedPrecondition when something live listens
// on it or when it is not a socket (a file we must not delete).
absl::Status removeStaleSocket(const std::filesystem::path& path);

// The gRPC target string for a Unix socket path ("unix:/run/ena-dpdk/dataplane.sock").
std::string grpcUnixTarget(const std::filesystem::path& path);

}  // namespace enadpdk::common
