#include "cni/path_policy.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "common/json_reader.h"
#include "common/path_resolve.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace enadpdk::cni {
namespace {

namespace fs = std::filesystem;
using common::clipped;
using common::strCat;

// The largest policy file read.
constexpr size_t kMaxPolicyBytes = 1 << 20;
constexpr char kDefaultsSource[] = "built-in defaults";

absl::Status invalid(std::string_view message) {
  return absl::InvalidArgumentError(std::string(message));
}

// `text` in quotes, clipped to common::kMaxEchoBytes.
std::string quote(std::string_view text) { return strCat("\"", clipped(text), "\""); }

// The components of a path, without empty ones ("/a//b/" → a, b).
std::vector<std::string> components(std::string_view path) {
  std::vector<std::string> out;
  for (size_t start = 0; start < path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) out.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool isPolicyRoot(std::string_view text) {
  if (!text.starts_with('/') || text.find('\0') != std::string_view::npos ||
      text.size() >= PATH_MAX) {
    return false;
  }
  for (const std::string& part : components(text)) {
    if (part == "..") return false;
  }
  return true;
}
constexpr common::StringRule kPolicyRoot{isPolicyRoot,
                                         "an absolute path without \"..\" components"};

// True when the resolved `path` is the resolved `root` or below it; "/" only allows "/".
bool isAtOrBelow(const std::string& path, const std::string& root) {
  if (root == "/") return path == "/";
  return path == root ||
         (path.size() > root.size() && path.starts_with(root) && path[root.size()] == '/');
}

// True when the resolved `path` is a rotated copy of the log file `root`: "<root>.<digits>".
bool isRotatedLogOf(const std::string& path, const std::string& root) {
  if (root == "/" || path.size() <= root.size() + 1 || !path.starts_with(root) ||
      path[root.size()] != '.') {
    return false;
  }
  return std::all_of(path.begin() + static_cast<std::ptrdiff_t>(root.size()) + 1, path.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out = out.empty() ? item : strCat(out, ", ", item);
  return out;
}

// Closes a descriptor when it goes out of scope.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

absl::StatusOr<fs::path> resolvePolicyPath(std::string_view path, std::string_view field) {
  if (path.find('\0') != std::string_view::npos) {
    return invalid(strCat(field, ": ", quote(path), " contains a NUL byte"));
  }
  if (!path.starts_with('/')) {
    return invalid(strCat(field, ": ", quote(path), " is not an absolute path"));
  }
  if (path.size() >= PATH_MAX) {
    return invalid(strCat(field, ": ", path.size(), " bytes, longer than the ", PATH_MAX - 1,
                          " a path can have"));
  }
  absl::StatusOr<common::ExistingPrefix> prefix =
      common::resolveExistingPrefix(fs::path(std::string(path)), field);
  if (!prefix.ok()) return prefix.status();
  fs::path out = prefix->resolved;
  bool first = true;
  for (const std::string& part : prefix->missing) {
    if (part == ".") continue;
    if (part == "..") {
      return invalid(strCat(field, ": ", quote(path), " has \"..\" below ", quote(out.string()),
                            ", where nothing exists to resolve it against"));
    }
    if (first) {
      // realpath() fails on a dangling link as on a missing file, but creating the path would
      // follow the link wherever it points.
      struct stat st {};
      if (::lstat((out / part).c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
        return invalid(strCat(field, ": ", quote(path), ": ", quote((out / part).string()),
                              " is a symbolic link to nothing"));
      }
      first = false;
    }
    out /= part;
  }
  return out;
}

PathPolicy PathPolicy::defaults() {
  PathPolicy policy;
  policy.source_ = kDefaultsSource;
  policy.roots_ = {
      {kPolicyLogFile,
       {"/var/log/ena-dpdk-cni.log", "/var/log/ena-dpdk-ipam.log", "/var/log/ena-dpdk"}},
      {kPolicyStateDir, {"/var/lib/ena-dpdk"}},
      // The socket itself, not its directory: pods' slot directories (where they create their
      // own sockets) are below /var/run/ena-dpdk.
      {kPolicyDataplaneSocket,
       {"/run/ena-dpdk/dataplane.sock", "/var/run/ena-dpdk/dataplane.sock"}},
      {kPolicySlotDir, {"/run/ena-dpdk/vhost", "/var/run/ena-dpdk/vhost"}},
      {kPolicyDeviceInfoFile, {"/run/k8s.cni.cncf.io/devinfo", "/var/run/k8s.cni.cncf.io/devinfo"}},
      {kPolicyHostRoot, {"/"}},
      {kPolicyIpamStateDir, {"/var/lib/ena-dpdk"}},
      {kPolicyIpamConfigFile, {"/etc/ena-dpdk/config.json"}},
  };
  return policy;
}

const std::vector<std::string>& PathPolicy::keys() {
  static const std::vector<std::string> kKeys = {
      kPolicyLogFile,        kPolicyStateDir, kPolicyDataplaneSocket, kPolicySlotDir,
      kPolicyDeviceInfoFile, kPolicyHostRoot, kPolicyIpamStateDir,    kPolicyIpamConfigFile};
  return kKeys;
}

absl::StatusOr<PathPolicy> PathPolicy::parse(std::string_view text, std::string_view source) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return invalid(strCat(source, ": not a JSON object"));
  }
  PathPolicy policy = defaults();
  policy.source_ = std::string(source);
  common::JsonReader r(j, "", common::UnknownKeys::Reject);
  for (const std::string& key : keys()) {
    if (!r.has(key)) continue;
    std::vector<std::string> roots;
    r.readSet(key, roots, kPolicyRoot);
    policy.roots_[key] = std::move(roots);
  }
  if (absl::Status s = r.finish(); !s.ok()) {
    return invalid(strCat(source, ": ", common::toStd(s.message())));
  }
  return policy;
}

absl::StatusOr<PathPolicy> PathPolicy::readFile(const fs::path& file) {
  const std::string name = strCat("policy file ", file.string());
  // O_NONBLOCK: a FIFO put there must not hang the plugin.
  const FdCloser fd{::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
  if (fd.fd < 0) {
    const int err = errno;
    if (err == ENOENT) return absl::NotFoundError(strCat(name, " does not exist"));
    return invalid(strCat(name, ": cannot open it: ", std::strerror(err)));
  }
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) {
    return invalid(strCat(name, ": cannot stat it: ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) return invalid(strCat(name, " is not a regular file"));
  // Whoever may change the file may widen every root: only root (or the plugin's own user, who
  // gains nothing by it) may own it, and nobody else may write it.
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
    return invalid(strCat(name, " is owned by uid ", st.st_uid, ", not by root"));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return invalid(strCat(name, " is writable by group or others (mode ",
                          fmt::format("{:04o}", st.st_mode & 07777), ")"));
  }
  std::string text;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd.fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return invalid(strCat(name, ": cannot read it: ", std::strerror(errno)));
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxPolicyBytes) {
      return invalid(strCat(name, " is larger than ", kMaxPolicyBytes, " bytes"));
    }
  }
  return parse(text, name);
}

absl::StatusOr<PathPolicy> PathPolicy::load(const std::map<std::string, std::string>& env,
                                            const fs::path& defaultFile) {
  if (auto it = env.find(kPathPolicyEnv); it != env.end() && !it->second.empty()) {
    const std::string& file = it->second;
    if (!file.starts_with('/')) {
      return invalid(strCat(kPathPolicyEnv, ": ", quote(file), " is not an absolute path"));
    }
    absl::StatusOr<PathPolicy> policy = readFile(file);
    if (absl::IsNotFound(policy.status())) {
      return invalid(strCat(kPathPolicyEnv, " names ", quote(file), ", which does not exist"));
    }
    return policy;
  }
  absl::StatusOr<PathPolicy> policy = readFile(defaultFile);
  if (absl::IsNotFound(policy.status())) return defaults();
  return policy;
}

const std::vector<std::string>& PathPolicy::roots(std::string_view key) const {
  static const std::vector<std::string> kNone;
  auto it = roots_.find(key);
  return it == roots_.end() ? kNone : it->second;
}

absl::Status PathPolicy::check(std::string_view key, std::string_view field,
                               std::string_view path) const {
  auto it = roots_.find(key);
  if (it == roots_.end()) return invalid(strCat(field, ": no path policy key ", quote(key)));
  absl::StatusOr<fs::path> resolved = resolvePolicyPath(path, field);
  if (!resolved.ok()) return resolved.status();
  const std::string target = resolved->string();
  for (const std::string& root : it->second) {
    // A root that cannot be resolved (say, behind a directory the plugin may not search) holds
    // nothing that could be checked.
    absl::StatusOr<fs::path> resolvedRoot = resolvePolicyPath(root, key);
    if (!resolvedRoot.ok()) continue;
    if (isAtOrBelow(target, resolvedRoot->string()) ||
        (key == kPolicyLogFile && isRotatedLogOf(target, resolvedRoot->string()))) {
      return absl::OkStatus();
    }
  }
  const bool same = fs::path(path).lexically_normal() == fs::path(target).lexically_normal();
  return invalid(strCat(
      field, ": ", quote(path), same ? " is" : strCat(" resolves to ", quote(target), ","),
      " outside the directories the node's path policy allows for ", key, " (",
      it->second.empty() ? std::string("none") : clipped(joined(it->second)), "; ", source_, ")"));
}

absl::Status PathPolicy::check(const std::vector<PathUse>& uses) const {
  for (const PathUse& use : uses) {
    if (absl::Status s = check(use.key, use.field, use.path); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace enadpdk::cni
