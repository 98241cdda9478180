#pragma once

// The "dataplane" section of the node's configuration file (common/config.h): ena-dpdk-dataplane's
// settings and its networks. The device plugin parses it too (for the networks and the control
// socket), so this is a small library of its own (ena_dpdk_dataplane_config) without DPDK.
//
// The structs are plain values whose fields default to the named constants below, so that tests
// build them with designated initializers and a missing key means the default. Every field has an
// initializer (at least `{}`) so that designated initializers that leave fields out do not trip
// GCC 12's -Wmissing-field-initializers.

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cni/records.h"
#include "common/config.h"
#include "common/network_mode.h"
#include "nlohmann/json.hpp"

namespace enadpdk::vhostuser {

// Shared with other components (common/config.h): kDefaultControlSocket, kDefaultVhostDir,
// kMaxNetworkNameLength, kMinMtu, kMaxMtu.
using common::kDefaultControlSocket;
using common::kDefaultVhostDir;
using common::kMaxMtu;
using common::kMaxNetworkNameLength;
using common::kMinMtu;

inline constexpr char kDefaultStateFile[] = "/var/lib/ena-dpdk/dataplane-state.json";
inline constexpr char kDefaultDataplaneMetricsAddress[] = "127.0.0.1:9640";
inline constexpr unsigned kMaxLcore = 1023;
inline constexpr unsigned kDefaultSocketMode = 0660;
inline constexpr unsigned kDefaultMbufs = 16384;
inline constexpr unsigned kMinMbufs = 1024;
inline constexpr unsigned kMaxMbufs = 4194304;
inline constexpr unsigned kDefaultBurstSize = 32;
inline constexpr unsigned kMaxBurstSize = 64;
// How long a worker may hold a partly filled TX buffer for more packets to share its burst
// (vhostuser/tx_drain.h). 0 flushes at the end of every poll pass: the default, chosen from the
// figures in docs/performance.md ("TX drain interval").
inline constexpr unsigned kDefaultTxDrainMicroseconds = 0;
// Beyond a millisecond a held packet costs more latency than batching saves, and the interval
// also bounds how long an RCU grace period waits for a worker (DeletePort waits 5 ms).
inline constexpr unsigned kMaxTxDrainMicroseconds = 1000;
inline constexpr unsigned kDefaultMacAgingSeconds = 300;
inline constexpr unsigned kMaxMacAgingSeconds = 86400;
inline constexpr unsigned kDefaultMaxPorts = 128;
// The dataplane has 256 port slots, shared by pod ports and uplinks.
inline constexpr unsigned kMaxMaxPorts = 240;
inline constexpr unsigned kDefaultMtu = 1500;
inline constexpr unsigned kDefaultUplinkQueues = 1;
inline constexpr unsigned kMaxUplinkQueues = 32;
// Ring sizes asked of an uplink; the device's own limits clamp them further (vhostuser/uplink.h).
inline constexpr unsigned kDefaultUplinkDescriptors = 1024;
inline constexpr unsigned kMinUplinkDescriptors = 64;
inline constexpr unsigned kMaxUplinkDescriptors = 32768;

// A device argument of DPDK 22.11's ENA PMD (its PMD_INFO_STRING: "large_llq_hdr=<0|1>
// enable_llq=<0|1> miss_txc_to=<uint>"), with the values it accepts.
struct EnaDevarg {
  std::string_view name;
  unsigned min;
  unsigned max;
};
inline constexpr EnaDevarg kEnaDevargs[] = {
    // 256-byte LLQ entries for packet headers over 96 bytes (when the device supports them).
    {"large_llq_hdr", 0, 1},
    // 0 turns LLQ off: never on 6th-generation instances (a large performance loss).
    {"enable_llq", 0, 1},
    // Seconds before a TX packet without completion counts as missing (0 disables the check;
    // the PMD refuses more than 60).
    {"miss_txc_to", 0, 60},
};

// How a network forwards (common/network_mode.h: the control API's clients share it).
using common::kNetworkModeNames;
using common::NetworkMode;
using common::networkModeName;

// The DPDK ethdev a network sends to and receives from.
struct UplinkConfig {
  // A PCI address ("0000:00:06.0", the real ENA) or a DPDK vdev string
  // ("net_af_packet0,iface=veth0").
  std::string device{};
  // RX/TX queue pairs (RSS), 1..kMaxUplinkQueues.
  unsigned queues = kDefaultUplinkQueues;
  // Descriptors per RX and per TX queue, kMinUplinkDescriptors..kMaxUplinkDescriptors.
  unsigned rxDescriptors = kDefaultUplinkDescriptors;
  unsigned txDescriptors = kDefaultUplinkDescriptors;
  // Device arguments of a PCI uplink, key -> decimal value, passed to EAL with the device's allow
  // list entry ("-a 0000:00:06.0,large_llq_hdr=1"). Keys are those of DPDK 22.11's ENA PMD
  // (kEnaDevargs); always empty for a vdev, whose device string carries its own arguments.
  std::map<std::string, std::string> devargs{};

  // Field-wise comparison.
  bool operator==(const UplinkConfig&) const = default;
};

// One network that ports attach to (an element of "networks").
struct NetworkConfig {
  // Unique name, 1..kMaxNetworkNameLength characters of [a-z0-9-]; prefixes its device IDs.
  std::string name{};
  // Forwarding mode. When the key is absent the parser picks Vpc for a network with an uplink and
  // L2 for one without; Vpc needs an uplink.
  NetworkMode mode = NetworkMode::L2;
  // The uplink; none for a node-local network.
  std::optional<UplinkConfig> uplink{};
  // MTU of the network's ports and uplink, kMinMtu..kMaxMtu.
  unsigned mtu = kDefaultMtu;
  // A unicast MAC address (lowercase) that replaces the uplink's; none keeps the uplink's.
  std::optional<std::string> mac{};

  // Field-wise comparison.
  bool operator==(const NetworkConfig&) const = default;
};

// Ownership of the vhost-user sockets the dataplane creates (ports in vhostMode "client").
struct SocketConfig {
  // "user", "user:group" or "uid:gid"; empty keeps the dataplane's own user.
  std::string owner{};
  // Permission bits, written in JSON as an octal string ("0660").
  unsigned mode = kDefaultSocketMode;

  // Field-wise comparison.
  bool operator==(const SocketConfig&) const = default;
};

// The "dataplane" section.
struct DataplaneConfig {
  // DPDK EAL arguments, passed as given.
  std::vector<std::string> eal{};
  // Lcores that run one poll-mode worker each, 0..kMaxLcore, no duplicates; empty leaves the
  // choice to the dataplane.
  std::vector<unsigned> workers{};
  // Absolute path of the gRPC control socket.
  std::string controlSocket = kDefaultControlSocket;
  // Absolute path of the persisted port table.
  std::string stateFile = kDefaultStateFile;
  // Absolute state directory of ena-dpdk-cni (its "stateDir"): at start the dataplane finishes
  // the pending port deletes recorded there for its controlSocket (cni/records.h).
  std::string cniStateDir = cni::kDefaultCniStateDir;
  // host:port of the Prometheus endpoint.
  std::string metricsAddress = kDefaultDataplaneMetricsAddress;
  // Absolute directories that vhost-user socket paths must be inside.
  std::vector<std::string> allowedSocketDirs = {kDefaultVhostDir};
  // Ownership of the sockets the dataplane creates.
  SocketConfig socket{};
  // Packet buffers in the mbuf pool, kMinMbufs..kMaxMbufs.
  unsigned mbufs = kDefaultMbufs;
  // Packets per RX/TX burst, 1..kMaxBurstSize.
  unsigned burstSize = kDefaultBurstSize;
  // Microseconds a buffered packet may wait for others to share its TX burst while the worker
  // keeps receiving, 0..kMaxTxDrainMicroseconds; 0 flushes at the end of every poll pass. A pass
  // that receives nothing flushes everything (vhostuser/tx_drain.h).
  unsigned txDrainMicroseconds = kDefaultTxDrainMicroseconds;
  // Seconds before an idle learned MAC leaves an l2 network's table, 1..kMaxMacAgingSeconds.
  unsigned macAgingSeconds = kDefaultMacAgingSeconds;
  // Pod (vhost-user) ports the dataplane accepts, 1..kMaxMaxPorts; AddPort beyond it is refused.
  unsigned maxPorts = kDefaultMaxPorts;
  // The networks, with unique names and unique uplink devices.
  std::vector<NetworkConfig> networks{};

  // Field-wise comparison.
  bool operator==(const DataplaneConfig&) const = default;
};

// Parses the "dataplane" section of a whole configuration document `root` (the sections and
// errors as common::parseSection() says): InvalidArgument naming the JSON path
// ("dataplane.networks[1].mode: expected \"vpc\" or \"l2\", got \"x\"").
absl::StatusOr<DataplaneConfig> parseDataplaneConfig(const nlohmann::json& root);

// common::readJsonFile() then parseDataplaneConfig(); parse errors are prefixed with the file
// path ("/etc/ena-dpdk/config.json: dataplane.networks[1].mode: ...").
absl::StatusOr<DataplaneConfig> loadDataplaneConfig(const std::filesystem::path& path);

}  // namespace enadpdk::vhostuser
