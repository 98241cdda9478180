#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vhostuser/dataplane_config.h"

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
absl::Status validatePortSpec(PortSpec& spec, const DataplaneConfig& config);

// The state-file form of a port.
nlohmann::json portSpecToJson(const PortSpec& spec);
// InvalidArgument naming the key ("queues: expected an integer 0..4294967295, got string") when
// `j` is not an object or a key has the wrong type or value; values are not echoed.
absl::StatusOr<PortSpec> portSpecFromJson(const nlohmann::json& j);

}  // namespace enadpdk::vhostuser
