#pragma once

// The node-level path policy of the CNI plugins (DESIGN.md "Path policy", docs/cni.md "Node path
// policy"). Under Multus a NetworkAttachmentDefinition is written by namespace users, yet the
// plugins run as root and write, create, read or connect to the paths its config names. Every
// such path must therefore lie under roots fixed by the node: compiled-in defaults (what the chart
// installs), which only a root-owned policy file can replace:
//
//   /etc/ena-dpdk/cni-policy.json (or the file named by $ENA_DPDK_CNI_POLICY)
//   {"logFile": ["/var/log/ena-dpdk-cni.log", "/var/log/ena-dpdk"],
//    "stateDir": ["/var/lib/ena-dpdk"], "slotDir": ["/var/run/ena-dpdk/vhost"], ...}
//
// A key the file names replaces that key's defaults; the other keys keep theirs. The file must be
// a regular file owned by root (or by the user the plugin runs as, which gains nothing from it)
// and not writable by group or others; a file that breaks the rule, or cannot be read or parsed,
// is an error (nothing runs), never silently ignored. A missing default file means the defaults;
// a missing file named by the variable is an error. The runtime's environment is the node's, so a
// NetworkAttachmentDefinition cannot set the variable.
//
// Paths are compared once resolved, never as text: the longest prefix that exists is resolved
// with realpath(3) (symbolic links followed, ".." applied by the kernel), and the rest, which does
// not exist yet, must contain no ".." and must not start with a dangling symbolic link (creating
// it would follow the link). Roots are resolved the same way, so /var/run/x matches /run/x. A path
// is allowed when it is a root or lies below one, except that the root "/" allows only "/" itself
// (no entry opens the whole filesystem; "/" is hostRoot's default). For "logFile" a root also
// allows its rotated copies "<root>.<n>" (common::SharedLogFile), compared once resolved too.
//
// This unit depends on nothing but common/: both plugins can use it. Errors are
// absl::InvalidArgumentError (CNI code 7 where the caller maps it).

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/shared_log_file.h"

namespace enadpdk::cni {

// Where the node's policy file is installed.
inline constexpr char kPathPolicyFile[] = "/etc/ena-dpdk/cni-policy.json";
// The environment variable that names another policy file (tests, scripts).
inline constexpr char kPathPolicyEnv[] = "ENA_DPDK_CNI_POLICY";

// The policy keys: ena-dpdk-cni's path keys, and ena-dpdk-ipam's (ipam.*). "logFile" governs the
// log file of both plugins (ena-dpdk-ipam logs to ipam.logFile, else to the top-level logFile).
inline constexpr char kPolicyLogFile[] = "logFile";
inline constexpr char kPolicyStateDir[] = "stateDir";
inline constexpr char kPolicyDataplaneSocket[] = "dataplaneSocket";
inline constexpr char kPolicySlotDir[] = "slotDir";
inline constexpr char kPolicyDeviceInfoFile[] = "CNIDeviceInfoFile";
inline constexpr char kPolicyHostRoot[] = "hostRoot";
inline constexpr char kPolicyIpamStateDir[] = "ipam.stateDir";
inline constexpr char kPolicyIpamConfigFile[] = "ipam.configFile";

// One path a network configuration makes a plugin use.
struct PathUse {
  // The policy key that governs it (kPolicy*).
  std::string key{};
  // Where it is in the configuration, for messages ("runtimeConfig.CNIDeviceInfoFile").
  std::string field{};
  // The path as the configuration gives it.
  std::string path{};
};

// Resolves the absolute `path` as the kernel would reach it when creating it: realpath(3) of the
// longest prefix that exists (".." and symbolic links resolved; a component that is a file ends
// the prefix), then the components that do not exist yet. Fails (InvalidArgument, naming `field`)
// for a path that is not absolute, holds a NUL byte or is longer than PATH_MAX - 1 bytes, for a
// ".." among the missing components, for a missing part that starts with a dangling symbolic
// link, and when a prefix cannot be resolved for another reason than not existing. Reads the
// filesystem, changes nothing; the answer holds while nobody changes the tree.
absl::StatusOr<std::filesystem::path> resolvePolicyPath(std::string_view path,
                                                        std::string_view field);

// The rotated names of the log file `use` (key kPolicyLogFile) as uses of the same key:
// "<path>.1" .. "<path>.<maxFiles>" (field "<field> (rotated)"); none when maxBytes is 0 (the file
// is never rotated). Both plugins check them with the file itself, since rotation creates them.
inline std::vector<PathUse> rotatedLogPaths(const PathUse& use, uint64_t maxBytes,
                                            unsigned maxFiles) {
  std::vector<PathUse> out;
  if (maxBytes == 0) return out;
  for (unsigned n = 1; n <= maxFiles; ++n) {
    out.push_back({.key = use.key,
                   .field = use.field + " (rotated)",
                   .path = common::SharedLogFile::rotatedName(use.path, n).string()});
  }
  return out;
}

// The allowed roots of every key. Immutable once built; thread-safe.
class PathPolicy {
 public:
  // The compiled-in defaults, matching what the chart installs (docs/cni.md lists them).
  static PathPolicy defaults();
  // The policy in the JSON `text`: an object mapping keys to arrays of absolute paths (no ".."
  // component, each at most once); a key present replaces its defaults, an unknown key is an
  // error. `source` names the text in messages and in source().
  static absl::StatusOr<PathPolicy> parse(std::string_view text, std::string_view source);
  // Reads the policy file `file` (ownership rule above). NotFound when it does not exist;
  // InvalidArgument when it breaks the rule, cannot be read, or parse() fails.
  static absl::StatusOr<PathPolicy> readFile(const std::filesystem::path& file);
  // The node's policy: the file named by kPathPolicyEnv in `env` when that is set and not empty
  // (it must be an absolute path and exist), else `defaultFile` when it exists, else defaults().
  static absl::StatusOr<PathPolicy> load(
      const std::map<std::string, std::string>& env,
      const std::filesystem::path& defaultFile = kPathPolicyFile);

  // Every key, in the order the plugins check them.
  static const std::vector<std::string>& keys();

  // The roots allowed for `key` as configured (not resolved); empty for an unknown key.
  const std::vector<std::string>& roots(std::string_view key) const;
  // Where the policy came from: "built-in defaults" or "policy file <path>".
  const std::string& source() const { return source_; }

  // OK when `path` (the value of `field`) resolves to one of `key`'s roots or below one.
  // Otherwise InvalidArgument naming the field, the key, the path (and what it resolves to, when
  // that differs) and the allowed roots, each quoted at most common::kMaxEchoBytes long.
  absl::Status check(std::string_view key, std::string_view field, std::string_view path) const;
  // check() of each use, in order; the first failure.
  absl::Status check(const std::vector<PathUse>& uses) const;

 private:
  PathPolicy() = default;

  std::map<std::string, std::vector<std::string>, std::less<>> roots_;
  std::string source_;
};

}  // namespace enadpdk::cni
