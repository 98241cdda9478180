#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/config.h"

namespace enadpdk::vhostuser {

// Which side creates the vhost-user socket, from the pod's side (NPWG device-info).
enum class VhostMode {
  Server,  // the pod app creates the socket; the dataplane connects and reconnects
  Client,  // the dataplane creates the socket; the pod app connects
};

// What a caller asks for when it adds a port: the request fields of the control API, and what
// the state file stores. Compared as a whole to make AddPort idempotent.
struct PortSpec {
  std::string id{};           // caller-chosen; the CNI uses "<containerID>/<ifname>"
  std::string network{};      // a network of the dataplane config
  std::string socket_path{};  // absolute, within an allowed directory, at most 107 bytes
  VhostMode vhost_mode = VhostMode::Server;
  std::string mac{};               // lowercase; vpc ports always carry the ENI's MAC
  std::vector<std::string> ips{};  // CIDR, normalised ("10.0.1.23/24")
  uint32_t queues = 1;             // queue pairs
  uint32_t mtu = 0;                // 0 = the network's MTU
  std::string owner{};             // client mode: socket owner "uid:gid" ("" = config default)
  std::string perm{};              // client mode: socket mode, octal ("" = config default)
  std::string uid{};               // caller's identity of this incarnation ([A-Za-z0-9-], ≤ 64)

  friend bool operator==(const PortSpec&, const PortSpec&) = default;
};

inline constexpr uint32_t kMaxPortQueues = 8;
inline constexpr size_t kMaxPortIdLength = 253;
inline constexpr size_t kMaxPortUidLength = 64;

// InvalidArgument ("uid: ...") unless `uid` is empty or [A-Za-z0-9-] of at most
// kMaxPortUidLength bytes.
absl::Status checkPortUid(std::string_view uid);

// Checks a request against the config and normalises it in place (MAC case, CIDR text, default
// queues, MTU and socket permissions). InvalidArgument naming the field ("socket_path: ...").
// What needs the running switch (ENI MAC, IP conflicts) is checked by the switch.
absl::Status validatePortSpec(PortSpec& spec, const common::DataplaneConfig& config);

// The state-file form of a port.
nlohmann::json portSpecToJson(const PortSpec& spec);
// InvalidArgument naming the key ("queues: expected an integer 0..4294967295, got string") when
// `j` is not an object or a key has the wrong type or value; values are not echoed.
absl::StatusOr<PortSpec> portSpecFromJson(const nlohmann::json& j);

// Saves the port table to `path` atomically (temp + fsync + rename, mode 0600).
absl::Status saveState(const std::string& path, const std::vector<PortSpec>& ports);

// What a state file held.
struct LoadedState {
  // The entries that could be read, in file order.
  std::vector<PortSpec> ports{};
  // One line per entry that was skipped ("ports[3]: queues: ..."), or one for the whole file
  // when it is not a state file; empty when everything was read.
  std::vector<std::string> problems{};
  // Where the file was kept because of `problems` ("" when it was not, see loadState).
  std::string kept_copy{};
  // Why it could not be kept (OK when it was, or did not need to be).
  absl::Status keep_status{};
  // The bytes read, for keepStateCopy when a port then fails to restore (the file itself is
  // rewritten by the first port that is restored).
  std::string text{};
};

// Parses the text of a state file; pure. A malformed entry is skipped and reported, the others
// are kept; text that is not a state file gives no ports and one problem. Sets only `ports` and
// `problems`.
LoadedState parseState(std::string_view text);

// Where loadState and keepStateCopy keep a state file they could not use whole:
// "<path>.corrupt-<UTC time as 20261205T101112Z>".
std::string corruptCopyPath(const std::string& path, std::chrono::system_clock::time_point now);

// Writes `contents` (the state file as it was read) to corruptCopyPath (mode 0600; a suffix "-N"
// when that name is taken) so that the next save, which drops what could not be restored, loses
// nothing. Returns the copy's path.
absl::StatusOr<std::string> keepStateCopy(const std::string& path, std::string_view contents,
                                          std::chrono::system_clock::time_point now);

// Loads the port table from `path`; an absent file is an empty table. When an entry is skipped
// the file is first copied as keepStateCopy does (contents identical); when the file cannot be
// read at all it is moved to that name instead, so that the next save does not replace it.
// An error only when the file can be neither read nor moved aside.
absl::StatusOr<LoadedState> loadState(const std::string& path,
                                      std::chrono::system_clock::time_point now);

}  // namespace enadpdk::vhostuser
