#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/network_mode.h"
#include "common/vhost.h"

namespace enadpdk::dataplane_client {

// The library types of the dataplane's control API (enadpdk.dataplane.v1): what the dataplane
// serves and what its clients (the CNI, ena-dpdk-ctl, the device plugin) read, as plain structs.
// dataplane_client/convert.h maps them to and from the proto messages; only this library and the
// dataplane's ControlService see the proto types.

using common::VhostMode;

// What a caller asks for when it adds a port: the request fields of AddPort. The dataplane also
// stores it in its state file and compares it as a whole to make AddPort idempotent.
struct PortSpec {
  std::string id{};           // caller-chosen; the CNI uses "<containerID>/<ifname>"
  std::string network{};      // a network of the dataplane config
  std::string socket_path{};  // absolute, within an allowed directory, at most 107 bytes
  VhostMode vhost_mode = VhostMode::Server;
  std::string mac{};               // lowercase; vpc ports always carry the ENI's MAC
  std::vector<std::string> ips{};  // CIDR, normalised ("10.0.1.23/24")
  uint32_t queues = 1;             // queue pairs (0 in a request: the dataplane's default)
  uint32_t mtu = 0;                // 0 = the network's MTU
  std::string owner{};             // client mode: socket owner "uid:gid" ("" = config default)
  std::string perm{};              // client mode: socket mode, octal ("" = config default)
  std::string uid{};               // caller's identity of this incarnation ([A-Za-z0-9-], ≤ 64)
  std::string pod_namespace{};     // the pod's Kubernetes namespace ("" = unknown)
  std::string pod_name{};          // the pod's name ("" = unknown)

  friend bool operator==(const PortSpec&, const PortSpec&) = default;
};

// Packet and byte counters of a port or an uplink, as seen from the switch.
struct Counters {
  uint64_t rx_packets = 0;  // received by the switch from the port
  uint64_t rx_bytes = 0;
  uint64_t tx_packets = 0;  // sent by the switch to the port
  uint64_t tx_bytes = 0;
  // Drops by reason.
  uint64_t drop_no_route = 0;
  uint64_t drop_spoofed = 0;
  uint64_t drop_tx_full = 0;
  uint64_t drop_not_connected = 0;
  uint64_t drop_mac_table_full = 0;
  uint64_t drop_other = 0;

  friend bool operator==(const Counters&, const Counters&) = default;
};

// A port as the dataplane reports it: the spec as stored (defaults filled in) and its live state.
struct PortInfo {
  PortSpec spec{};
  bool connected = false;     // the vhost-user connection is up
  uint32_t worker_lcore = 0;  // the worker polling its first queue
  Counters counters{};

  friend bool operator==(const PortInfo&, const PortInfo&) = default;
};

// A network's uplink (an ENA or a vdev).
struct UplinkInfo {
  std::string device{};  // PCI address or vdev string
  uint32_t port_id = 0;  // DPDK ethdev port id
  std::string mac{};
  bool link_up = false;
  uint32_t link_speed_mbps = 0;
  uint32_t queues = 0;          // RX queues
  uint32_t tx_queues = 0;       // TX queues
  int32_t numa_node = -1;       // -1 when unknown
  uint64_t resets = 0;          // device resets done
  uint64_t reset_failures = 0;  // reset attempts that failed (retried)
  uint64_t link_changes = 0;    // link up/down transitions seen
  Counters counters{};
  std::map<std::string, uint64_t> xstats{};  // ENA allowance counters and the like

  friend bool operator==(const UplinkInfo&, const UplinkInfo&) = default;
};

// A network of the dataplane.
struct NetworkInfo {
  std::string name{};
  common::NetworkMode mode = common::NetworkMode::L2;
  uint32_t mtu = 0;
  std::optional<UplinkInfo> uplink{};  // absent for a node-local network
  bool up = false;                     // false when the uplink is down or being reset
  uint32_t port_count = 0;

  friend bool operator==(const NetworkInfo&, const NetworkInfo&) = default;
};

// One worker lcore's load.
struct WorkerInfo {
  uint32_t lcore = 0;
  uint32_t port_count = 0;
  uint64_t busy_cycles = 0;
  uint64_t total_cycles = 0;
  uint64_t rx_packets = 0;
  uint64_t tx_packets = 0;

  friend bool operator==(const WorkerInfo&, const WorkerInfo&) = default;
};

// GetStats: everything at once.
struct Stats {
  std::vector<PortInfo> ports{};
  std::vector<NetworkInfo> networks{};
  std::vector<WorkerInfo> workers{};

  friend bool operator==(const Stats&, const Stats&) = default;
};

}  // namespace enadpdk::dataplane_client
