#pragma once

// ena-dpdk-ipam's inputs: the CNI_* environment and the network configuration on stdin (with the
// node's config file, /etc/ena-dpdk/config.json, section "ipam", for what the network config
// leaves out).
//
// Network configuration keys (all optional unless noted; unknown keys are ignored, as the spec
// says):
//   cniVersion                  required, one of kSupportedVersions
//   network                     the dataplane network, when "ipam.network" is absent
//   logFile, logLevel, logFormat, logMaxBytes, logMaxFiles
//                               used when the "ipam." key of the same name is absent
//   ipam.type                   "ena-dpdk-ipam"
//   ipam.network                the network whose pool and leases to use (a network name)
//   ipam.configFile             node config file (default /etc/ena-dpdk/config.json; a missing
//                               default file means defaults, a missing named file is an error)
//   ipam.stateDir               lease directory root (else the file's ipam.stateDir)
//   ipam.addresses, ipam.gateway  a static pool (see staticPool())
//   ipam.eniMac                 the ENI, by MAC, whose secondary IPs to hand out
//   ipam.deviceNumber           the ENI, by device index (device-number in the metadata)
//   ipam.routes                 [{"dst": CIDR, "gw": IP}] added to results
//   ipam.imds                   {"endpoint", "ttlSeconds", "timeoutMs"} (each overrides the
//                               file's ipam.imds; timeoutMs bounds each request, and
//                               imdsBudgetMs(timeoutMs) all requests of one command)
//   ipam.logFile, ipam.logLevel where to log besides stderr, and how much
//   ipam.logFormat              "logfmt" (default) or "json"
//   ipam.logMaxBytes, ipam.logMaxFiles  size rotation of the log file (as ena-dpdk-cni's keys:
//                               default 10 MiB and 3 files; logMaxBytes 0 never rotates)
// The address source is the inline one (addresses, eniMac or deviceNumber) when given, else the
// file's ipam.networks.<network>; inline routes replace the source's routes.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "absl/status/statusor.h"
#include "common/logging.h"
#include "ipam/leases.h"
#include "ipam/node_config.h"
#include "nlohmann/json.hpp"

namespace enadpdk::ipam {

// The process environment, as name → value.
using Environment = std::map<std::string, std::string>;

// The node config file read when the network config names none.
inline constexpr char kDefaultConfigFile[] = "/etc/ena-dpdk/config.json";

// What the CNI_* variables say about one invocation.
struct CniRuntime {
  // CNI_COMMAND.
  std::string command{};
  // The attachment (CNI_CONTAINERID, CNI_IFNAME); empty for GC and STATUS.
  LeaseKey key{};
  // CNI_NETNS; may be empty for DEL, GC and STATUS.
  std::string netns{};
  // CNI_ARGS, parsed.
  std::map<std::string, std::string> args{};
};

// Reads the CNI_* variables for `command`. ADD and CHECK need CNI_CONTAINERID, CNI_NETNS and
// CNI_IFNAME, DEL needs CNI_CONTAINERID and CNI_IFNAME. Errors carry CNI code 4:
// "required environment variables missing: CNI_NETNS, CNI_IFNAME", the messages of
// validateContainerId / validateIfName, or parseCniArgs's.
absl::StatusOr<CniRuntime> parseCniRuntime(const std::string& command, const Environment& env);

// Checks the config's cniVersion; CNI code 1 ("incompatible CNI versions: config is \"0.2.0\",
// plugin supports 0.3.0, ...") when it is missing or unsupported, or when `command` needs a later
// version (CHECK ≥ 0.4.0, GC and STATUS ≥ 1.1.0: "config version \"1.0.0\" does not allow GC").
absl::Status checkVersion(const nlohmann::json& config, const std::string& command);

// One invocation's settings, resolved from the network config and the node config file.
struct IpamNetconf {
  // cniVersion (checked by checkVersion()).
  std::string cniVersion{};
  // The network name (pool and lease directory).
  std::string network{};
  // The node config file that was read (or would have been).
  std::filesystem::path configFile = kDefaultConfigFile;
  // Lease directory root; the network's leases are in stateDir/network.
  std::filesystem::path stateDir = kDefaultIpamStateDir;
  // The metadata service settings.
  ImdsConfig imds{};
  // The address source and routes; none when neither the network config nor the file has one
  // (only ADD and STATUS need it: missingSourceError() then).
  std::optional<IpamNetworkConfig> source{};
  // Where the source was configured, for messages ("ipam" or
  // "/etc/ena-dpdk/config.json: ipam.networks.eni1").
  std::string sourceWhere{};
  // prevResult, when the config has one (CHECK).
  std::optional<nlohmann::json> prevResult{};
  // GC's valid attachments ("cni.dev/valid-attachments" or "cni.dev/attachments").
  std::optional<std::vector<LeaseKey>> validAttachments{};
  // Extra log file; empty: stderr only.
  std::string logFile{};
  // Log level.
  spdlog::level::level_enum logLevel = spdlog::level::info;
  // Log line format.
  common::LogFormat logFormat = common::LogFormat::Logfmt;
  // Size rotation of logFile (common::LogOutput).
  uint64_t logMaxBytes = common::kDefaultLogMaxBytes;
  unsigned logMaxFiles = common::kDefaultLogMaxFiles;
};

// Parses the network config `config` (a JSON object) and the node config file it names.
// Errors carry CNI code 7 and name the key ("ipam.network: expected a name of 1 to 15 characters
// from [a-z0-9-], got \"ENI1\"", "/etc/x.json: ipam.imds.timeoutMs: ...").
// `defaultConfigFile` is read when the config names no file (a seam for tests).
absl::StatusOr<IpamNetconf> parseIpamNetconf(
    const nlohmann::json& config,
    const std::filesystem::path& defaultConfigFile = kDefaultConfigFile);

// The settings ena-dpdk-ipam uses for `network` when a network config names it and nothing else:
// the node config `file` (read from `configFile`) alone. For readers of the IPAM's state outside
// a CNI invocation (the device plugin's address capacity).
IpamNetconf nodeNetconf(const IpamConfig& file, const std::string& network,
                        const std::filesystem::path& configFile);

// The error (CNI code 7) for a network without an address source.
absl::Status missingSourceError(const IpamNetconf& netconf);

}  // namespace enadpdk::ipam
