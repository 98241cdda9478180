#pragma once

// What one invocation of ena-dpdk-cni is asked to do: the network configuration on stdin
// (NetConf) and the CNI_* environment (Invocation). Parsing is strict about the keys the plugin
// reads and ignores every other key, as the spec says. Every error is an absl::Status carrying
// its CNI error code (cni/errors.h): 1 for an unsupported cniVersion, 4 for the environment,
// 6 for JSON that cannot be decoded (stdin, prevResult), 7 for invalid values.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cni/path_policy.h"
#include "cni/records.h"
#include "cni/result.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/vhost.h"
#include "nlohmann/json.hpp"

namespace enadpdk::cni {

// Default deadline of every call to the dataplane's control API.
inline constexpr unsigned kDefaultDataplaneTimeoutMs = 2000;
inline constexpr unsigned kMaxDataplaneTimeoutMs = 60000;
// Largest vhost-user queue-pair count a port may ask for (the dataplane's limit).
inline constexpr unsigned kMaxVhostQueues = common::kMaxPortQueues;
// Name of the vhost-user socket inside a slot directory.
inline constexpr char kSocketFileName[] = "vhost.sock";
// Name of the file that tells the pod's app what it got, inside the slot directory.
inline constexpr char kAttachmentFileName[] = "ena-dpdk.json";

// How the pod is attached ("mode").
enum class AttachMode {
  // A vhost-user port on the shared dataplane (resource dpdk.aws/ena).
  VhostUser,
  // A whole DPDK-bound ENA (resource dpdk.aws/ena-dedicated); nothing moves.
  Pci,
};

// Which side creates the vhost-user socket, from the pod's side (NPWG device-info): Server = the
// pod app creates it and the dataplane connects (and reconnects); Client = the dataplane creates
// it and the pod app connects.
using common::VhostMode;

// The "vhost" object.
struct VhostConf {
  // Socket side ("mode": "server" | "client").
  VhostMode mode = VhostMode::Server;
  // Queue pairs, 1..kMaxVhostQueues.
  unsigned queues = 1;
  // Client mode only: owner of the socket the dataplane creates ("uid:gid", "user:group");
  // empty: the dataplane's default.
  std::string owner{};
  // Client mode only: octal mode of that socket ("0660"); empty: the dataplane's default.
  std::string perm{};
};

// The "runtimeConfig" object (capability arguments the runtime passes).
struct RuntimeConf {
  // "deviceID" (Multus, capability deviceID): the allocated dpdk.aws/ena attachment or PCI address.
  std::string deviceId{};
  // "CNIDeviceInfoFile" (Multus): absolute path the NPWG device-info is written to.
  std::string deviceInfoFile{};
  // "mac" (capability mac): the MAC the pod's interface should have.
  std::string mac{};
};

// One element of GC's valid attachments.
struct AttachmentKey {
  // CNI_CONTAINERID of the attachment.
  std::string containerId{};
  // CNI_IFNAME of the attachment.
  std::string ifname{};

  // Ordering and equality, for sets.
  auto operator<=>(const AttachmentKey&) const = default;
};

// The network configuration of ena-dpdk-cni (docs/cni.md lists every key).
struct NetConf {
  // "cniVersion": one of kSupportedVersions.
  std::string cniVersion{};
  // "name": the CNI network name.
  std::string name{};
  // "type": the plugin's name ("ena-dpdk-cni").
  std::string type{};
  // "mode".
  AttachMode mode = AttachMode::VhostUser;
  // "network": the dataplane network; empty: taken from the device ID.
  std::string network{};
  // "vhost".
  VhostConf vhost{};
  // "mtu", 68..9001; 0 (absent): the dataplane network's.
  unsigned mtu = 0;
  // "mac": MAC of the pod's interface; empty: the ENI's (vpc networks) or one derived from the
  // port id (l2 networks). runtimeConfig.mac wins over it.
  std::string mac{};
  // Top-level "deviceID" (Multus injects it; pci mode also accepts "pciBusID").
  std::string deviceId{};
  // "dataplaneSocket": the dataplane's control socket.
  std::string dataplaneSocket = common::kDefaultControlSocket;
  // "dataplaneTimeoutMs": deadline of each control API call, 1..kMaxDataplaneTimeoutMs.
  unsigned dataplaneTimeoutMs = kDefaultDataplaneTimeoutMs;
  // "slotDir": host directory holding one slot directory per attachment.
  std::string slotDir = common::kDefaultVhostDir;
  // "podSlotDir": where the device plugin mounts a slot directory in the pod
  // (`<podSlotDir>/<deviceID>`).
  std::string podSlotDir = common::kDefaultVhostContainerPath;
  // "slotGroup", 1..common::kMaxSlotGroup: group of the per-attachment directories the plugin
  // creates (root:<slotGroup> mode 02770, the device plugin's deviceplugin.ena.slotGroup); none:
  // root:root mode 0770.
  std::optional<unsigned> slotGroup{};
  // "stateDir": the CNI's records (attachments, pending port deletes).
  std::string stateDir = kDefaultCniStateDir;
  // "hostRoot": prefix of /sys for the pci-mode device check (tests point it at a fake host).
  std::string hostRoot = "/";
  // "logFile": absolute path logs are appended to (besides stderr); empty: stderr only.
  std::string logFile{};
  // "logLevel": one of common::kLogLevels.
  std::string logLevel = "info";
  // "logFormat": "logfmt" or "json" (common::kLogFormats), for stderr and logFile.
  common::LogFormat logFormat = common::LogFormat::Logfmt;
  // "logMaxBytes", 0..common::kMaxLogMaxBytes: logFile is rotated before a line would take it past
  // this size (common::SharedLogFile); 0: never rotated.
  uint64_t logMaxBytes = common::kDefaultLogMaxBytes;
  // "logMaxFiles", 1..common::kMaxLogFiles: rotated files kept, <logFile>.1 (newest) ...
  unsigned logMaxFiles = common::kDefaultLogMaxFiles;
  // "runtimeConfig".
  RuntimeConf runtime{};
  // "ipam.type": the IPAM plugin to run; empty when the config has no "ipam".
  std::string ipamType{};
  // "prevResult" (chaining, CHECK, DEL), read in cniVersion's shape when it names none.
  std::optional<Result> prevResult{};
  // GC only: "cni.dev/valid-attachments" (libcni) or "cni.dev/attachments" (SPEC.md).
  std::optional<std::vector<AttachmentKey>> validAttachments{};
  // The document as received, handed to the IPAM plugin.
  nlohmann::json raw{};

  // The device ID Multus passed: runtimeConfig.deviceID, else the top-level deviceID.
  const std::string& effectiveDeviceId() const {
    return runtime.deviceId.empty() ? deviceId : runtime.deviceId;
  }
  // runtimeConfig.mac, else "mac".
  const std::string& effectiveMac() const { return runtime.mac.empty() ? mac : runtime.mac; }
};

// Parses the network configuration `text` (stdin). Errors carry CNI codes 6 (not a JSON object;
// a prevResult that cannot be read), 1 (cniVersion not supported) or 7 (anything else), and name
// the JSON path of the offending key.
absl::StatusOr<NetConf> parseNetConf(std::string_view text);
// The same for a configuration already parsed as JSON (the skeleton parses stdin once); anything
// but an object is code 6.
absl::StatusOr<NetConf> parseNetConfJson(nlohmann::json config);

// The host paths `conf` makes the plugin (and, for ena-dpdk-ipam, its IPAM plugin) open, create,
// write or connect to, each with the node path-policy key that governs it (cni/path_policy.h), in
// the order the plugin uses them: logFile first (it is opened first), then stateDir, and what the
// mode uses (vhostuser: dataplaneSocket, slotDir; pci: hostRoot), runtimeConfig.CNIDeviceInfoFile,
// and when ipam.type is "ena-dpdk-ipam" the paths of its section (ipam.logFile, else the top-level
// logFile, under "logFile"; ipam.stateDir; ipam.configFile) when they are strings. Each log file
// that is rotated (logMaxBytes > 0) is followed by its rotated names <logFile>.1 ..
// <logFile>.<logMaxFiles> (rotatedLogPaths()). Keys the mode does not use and empty optional paths
// are left out. podSlotDir is a path in the pod, not here.
std::vector<PathUse> policedPaths(const NetConf& conf);

// The runtime parameters from the CNI_* environment.
struct Invocation {
  // CNI_COMMAND: ADD, DEL, CHECK, GC or STATUS.
  std::string command{};
  // CNI_CONTAINERID (validated as a file-name-safe id).
  std::string containerId{};
  // CNI_NETNS: absolute path of the network namespace; may be empty for DEL.
  std::string netns{};
  // CNI_IFNAME (validated: ≤ 15 bytes, no '/', ':' or whitespace).
  std::string ifname{};
  // CNI_ARGS as key/value pairs.
  std::map<std::string, std::string> args{};
  // CNI_PATH split at ':' (empty elements dropped).
  std::vector<std::string> path{};

  // The dataplane port id of the attachment: "<containerID>/<ifname>".
  std::string portId() const { return containerId + "/" + ifname; }
};

// Reads the CNI_* variables of `env` for `command` and checks what that command needs
// (SPEC.md "Parameters": ADD and CHECK need CNI_CONTAINERID, CNI_NETNS and CNI_IFNAME; DEL needs
// CNI_CONTAINERID and CNI_IFNAME; GC and STATUS none). CNI_PATH is required only when
// `needsPath` (the config names an IPAM plugin). Every error carries CNI code 4.
absl::StatusOr<Invocation> parseInvocation(const std::map<std::string, std::string>& env,
                                           bool needsPath);

// Splits a vhostuser device ID "<network>-<NN>" (two digits; the network a valid dataplane
// network name) and returns the network; nullopt for anything else.
std::optional<std::string> networkOfDeviceId(std::string_view deviceId);

}  // namespace enadpdk::cni
