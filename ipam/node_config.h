#pragma once

// Section "ipam" of the node's configuration file (/etc/ena-dpdk/config.json, common/config.h):
// ena-dpdk-ipam's defaults for what a network config leaves out (ipam/config.h). Parsed strictly,
// as every section is: unknown keys, wrong types and out-of-range values are errors that name
// their JSON path.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/json_reader.h"
#include "nlohmann/json.hpp"

namespace enadpdk::ipam {

inline constexpr char kDefaultIpamStateDir[] = "/var/lib/ena-dpdk/ipam";
inline constexpr char kDefaultImdsEndpoint[] = "http://169.254.169.254";
inline constexpr unsigned kDefaultImdsTtlSeconds = 60;
inline constexpr unsigned kMaxImdsTtlSeconds = 86400;
inline constexpr unsigned kDefaultImdsTimeoutMs = 1000;
inline constexpr unsigned kMaxImdsTimeoutMs = 60000;
inline constexpr unsigned kMaxEniDeviceNumber = 255;

// The EC2 instance metadata service.
struct ImdsConfig {
  // Base URL (http:// or https://).
  std::string endpoint = kDefaultImdsEndpoint;
  // Seconds a metadata answer is reused, 0..kMaxImdsTtlSeconds (0: never).
  unsigned ttlSeconds = kDefaultImdsTtlSeconds;
  // Timeout of one metadata request in milliseconds, 1..kMaxImdsTimeoutMs.
  unsigned timeoutMs = kDefaultImdsTimeoutMs;

  // Field-wise comparison.
  bool operator==(const ImdsConfig&) const = default;
};

// A route handed out with a network's addresses (an element of "routes").
struct IpamRoute {
  // Destination CIDR ("0.0.0.0/0").
  std::string dst{};
  // Next hop; none: the interface's gateway.
  std::optional<std::string> gw{};

  // Field-wise comparison.
  bool operator==(const IpamRoute&) const = default;
};

// The names of an ENI network's address sources ("sources").
inline constexpr char kSourceSecondaryIps[] = "secondary-ips";
inline constexpr char kSourceIpv4Prefixes[] = "ipv4-prefixes";
inline constexpr char kSourceIpv6Prefixes[] = "ipv6-prefixes";

// Where one network's addresses come from: a static list ("addresses"), or the secondary IPs of
// an ENI in the instance metadata, chosen by MAC ("eniMac") or by device index ("deviceNumber").
// Exactly one of the three is set.
struct IpamNetworkConfig {
  // Static pool: unique IPv4/IPv6 addresses or CIDRs. "10.0.0.5/24" is one address with the
  // prefix length the pod gets (default /32, /128); a CIDR whose address is its network address
  // ("10.0.0.0/24") stands for every host address of that subnet except the gateway (and, for
  // IPv4, the broadcast address).
  std::vector<std::string> addresses{};
  // Gateway handed out with the static pool's addresses of its family.
  std::optional<std::string> gateway{};
  // MAC address of the ENI in the metadata (network/interfaces/macs/<mac>/), either case.
  std::optional<std::string> eniMac{};
  // Device index of the ENI in the metadata (its device-number), 0..kMaxEniDeviceNumber.
  std::optional<unsigned> deviceNumber{};
  // What of the ENI's addresses to hand out (only with eniMac / deviceNumber), each at most once:
  // kSourceSecondaryIps (its secondary private IPv4s and its IPv6 addresses),
  // kSourceIpv4Prefixes (every address of its delegated IPv4 prefixes), kSourceIpv6Prefixes
  // (addresses of its delegated IPv6 prefixes). Empty means {kSourceSecondaryIps}.
  std::vector<std::string> sources{};
  // Routes added to every result of the network.
  std::vector<IpamRoute> routes{};

  // True when the network hands out `source` (one of the kSource* names).
  bool uses(std::string_view source) const;

  // Field-wise comparison.
  bool operator==(const IpamNetworkConfig&) const = default;
};

// The "ipam" section.
struct IpamConfig {
  // Absolute directory of the lease files.
  std::string stateDir = kDefaultIpamStateDir;
  // The metadata service.
  ImdsConfig imds{};
  // Address sources by network name.
  std::map<std::string, IpamNetworkConfig> networks{};

  // Field-wise comparison.
  bool operator==(const IpamConfig&) const = default;
};

// Parses the "ipam" section of a whole configuration document `root` (common::readSection():
// the top level must be an object of known sections; a missing section gives the defaults).
// Errors are InvalidArgument and name the JSON path ("ipam.imds.timeoutMs: ...").
absl::StatusOr<IpamConfig> parseIpamConfig(const nlohmann::json& root);

// common::readJsonFile() then parseIpamConfig(); parse errors are prefixed with the file path
// ("/etc/ena-dpdk/config.json: ipam.stateDir: ...").
absl::StatusOr<IpamConfig> loadIpamConfig(const std::filesystem::path& path);

// Reads one network's address source (the keys of an "ipam.networks" entry) with `reader`;
// errors are recorded in the reader. ena-dpdk-ipam also reads its inline network-config keys
// with it.
void readIpamNetwork(common::JsonReader& reader, IpamNetworkConfig& network);

}  // namespace enadpdk::ipam
