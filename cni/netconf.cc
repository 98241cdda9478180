#include "cni/netconf.h"

#include <algorithm>

#include "cni/errors.h"
#include "cni/skel.h"
#include "common/device_id.h"
#include "common/json_reader.h"
#include "common/logging.h"
#include "common/strings.h"
#include "common/unix_socket.h"

namespace enadpdk::cni {
namespace {

using common::JsonReader;
using common::strCat;
using common::StringRule;
using common::UnknownKeys;

bool isAbsolutePath(std::string_view text) { return text.starts_with('/'); }
bool isSocketPath(std::string_view text) { return common::checkSocketPath(text).ok(); }
bool isMac(std::string_view text) { return common::isMacAddress(text); }
bool isLogLevel(std::string_view text) { return common::parseLogLevel(text).ok(); }
bool isNonEmpty(std::string_view text) { return !text.empty(); }
// What parseOwner accepts, without resolving names (the dataplane resolves them).
bool isOwner(std::string_view text) {
  if (text.empty() || text.front() == ':' || text.back() == ':') return false;
  return std::count(text.begin(), text.end(), ':') <= 1 &&
         std::all_of(text.begin(), text.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
                  c == ':';
         });
}
bool isFileMode(std::string_view text) { return common::parseFileMode(text).ok(); }
// A plugin name found through CNI_PATH: a plain file name.
bool isPluginName(std::string_view text) {
  return !text.empty() && text != "." && text != ".." && text.find('/') == std::string_view::npos;
}

constexpr StringRule kAbsolutePath{isAbsolutePath, "an absolute path"};
constexpr StringRule kSocketPath{isSocketPath,
                                 "an absolute path of at most 107 bytes (a Unix socket path)"};
constexpr StringRule kMac{isMac, "a MAC address like 02:00:5e:00:53:01"};
constexpr StringRule kNetworkName{common::isNetworkName,
                                  "a dataplane network name of 1 to 15 characters from [a-z0-9-]"};
constexpr StringRule kLogLevel{isLogLevel, "one of trace, debug, info, warn, error, off"};
constexpr StringRule kNonEmpty{isNonEmpty, "a non-empty string"};
constexpr StringRule kOwner{isOwner, "an owner like \"1000:1000\" or \"user:group\""};
constexpr StringRule kFileMode{isFileMode, "an octal file mode like \"0660\""};
constexpr StringRule kPluginName{isPluginName, "a plugin name (a file name in CNI_PATH)"};

constexpr common::EnumName<AttachMode> kModes[] = {{"vhostuser", AttachMode::VhostUser},
                                                   {"pci", AttachMode::Pci}};

absl::Status configError(const absl::Status& s) {
  return cniError(CniError::kInvalidConfig, common::toStd(s.message()));
}

void readAttachments(JsonReader& r, std::string_view key, std::vector<AttachmentKey>& out) {
  r.readObjects(key, [&](JsonReader& a) {
    AttachmentKey k;
    a.require("containerID");
    a.read("containerID", k.containerId, kNonEmpty);
    a.require("ifname");
    a.read("ifname", k.ifname, kNonEmpty);
    out.push_back(std::move(k));
  });
}

}  // namespace

std::optional<std::string> networkOfDeviceId(std::string_view deviceId) {
  std::optional<common::DeviceId> id = common::parseDeviceId(deviceId);
  if (!id) return std::nullopt;
  return std::move(id->network);
}

absl::StatusOr<NetConf> parseNetConf(std::string_view text) {
  return parseNetConfJson(nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false));
}

absl::StatusOr<NetConf> parseNetConfJson(nlohmann::json config) {
  NetConf conf;
  conf.raw = std::move(config);
  if (conf.raw.is_discarded() || !conf.raw.is_object()) {
    return cniError(CniError::kDecodeFailure,
                    "cannot decode the network configuration on stdin: not a JSON object");
  }
  const nlohmann::json& j = conf.raw;

  // The version comes first: its errors have their own code, and prevResult is read in it.
  if (auto v = j.find("cniVersion"); v == j.end() || !v->is_string()) {
    return cniError(CniError::kInvalidConfig, "cniVersion: missing or not a string");
  } else {
    conf.cniVersion = v->get<std::string>();
  }
  if (!isSupportedVersion(conf.cniVersion)) {
    std::string supported;
    for (const std::string& v : kSupportedVersions) {
      supported = supported.empty() ? v : strCat(supported, ", ", v);
    }
    return cniError(CniError::kIncompatibleVersion,
                    strCat("cniVersion \"", conf.cniVersion,
                           "\" is not supported (supported: ", supported, ")"));
  }

  JsonReader r(j, "", UnknownKeys::Ignore);
  r.read("cniVersion", conf.cniVersion);
  r.require("name");
  r.read("name", conf.name, kNonEmpty);
  r.read("type", conf.type);
  r.readEnum("mode", conf.mode, kModes);
  r.read("network", conf.network, kNetworkName);
  r.readObject("vhost", [&](JsonReader& v) {
    v.readEnum("mode", conf.vhost.mode, common::kVhostModeNames);
    v.read("queues", conf.vhost.queues, 1, kMaxVhostQueues);
    v.read("owner", conf.vhost.owner, kOwner);
    v.read("perm", conf.vhost.perm, kFileMode);
  });
  r.read("mtu", conf.mtu, common::kMinMtu, common::kMaxMtu);
  r.read("mac", conf.mac, kMac);
  r.read("deviceID", conf.deviceId);
  if (conf.deviceId.empty()) r.read("pciBusID", conf.deviceId);
  r.read("dataplaneSocket", conf.dataplaneSocket, kSocketPath);
  r.read("dataplaneTimeoutMs", conf.dataplaneTimeoutMs, 1, kMaxDataplaneTimeoutMs);
  r.read("slotDir", conf.slotDir, kAbsolutePath);
  r.read("podSlotDir", conf.podSlotDir, kAbsolutePath);
  if (r.has("slotGroup")) r.read("slotGroup", conf.slotGroup.emplace(), 1, common::kMaxSlotGroup);
  r.read("stateDir", conf.stateDir, kAbsolutePath);
  r.read("hostRoot", conf.hostRoot, kAbsolutePath);
  r.read("logFile", conf.logFile, kAbsolutePath);
  r.read("logLevel", conf.logLevel, kLogLevel);
  r.readEnum("logFormat", conf.logFormat, common::kLogFormatNames);
  r.read("logMaxBytes", conf.logMaxBytes, 0, common::kMaxLogMaxBytes);
  r.read("logMaxFiles", conf.logMaxFiles, 1, common::kMaxLogFiles);
  r.readObject("runtimeConfig", [&](JsonReader& rc) {
    rc.read("deviceID", conf.runtime.deviceId);
    rc.read("CNIDeviceInfoFile", conf.runtime.deviceInfoFile, kAbsolutePath);
    rc.read("mac", conf.runtime.mac, kMac);
  });
  r.readObject("ipam", [&](JsonReader& ipam) {
    ipam.require("type");
    ipam.read("type", conf.ipamType, kPluginName);
  });
  for (const char* key : {"cni.dev/valid-attachments", "cni.dev/attachments"}) {
    if (!r.has(key) || conf.validAttachments) continue;
    std::vector<AttachmentKey> keys;
    readAttachments(r, key, keys);
    conf.validAttachments = std::move(keys);
  }
  if (conf.vhost.mode == VhostMode::Server &&
      (!conf.vhost.owner.empty() || !conf.vhost.perm.empty())) {
    r.fail("vhost",
           "owner and perm only apply to mode \"client\" (the pod creates a server "
           "socket itself)");
  }
  if (absl::Status s = r.finish(); !s.ok()) return configError(s);

  if (auto prev = j.find("prevResult"); prev != j.end() && !prev->is_null()) {
    absl::StatusOr<Result> result = parseResult(*prev, "prevResult", conf.cniVersion);
    if (!result.ok()) {
      return cniError(CniError::kDecodeFailure, common::toStd(result.status().message()));
    }
    conf.prevResult = *std::move(result);
  }
  return conf;
}

std::vector<PathUse> policedPaths(const NetConf& conf) {
  std::vector<PathUse> uses;
  auto add = [&](const char* key, std::string field, const std::string& path) {
    uses.push_back({.key = key, .field = std::move(field), .path = path});
  };
  if (!conf.logFile.empty()) {
    add(kPolicyLogFile, "logFile", conf.logFile);
    for (PathUse& rotated : rotatedLogPaths(uses.back(), conf.logMaxBytes, conf.logMaxFiles)) {
      uses.push_back(std::move(rotated));
    }
  }
  add(kPolicyStateDir, "stateDir", conf.stateDir);
  if (conf.mode == AttachMode::VhostUser) {
    add(kPolicyDataplaneSocket, "dataplaneSocket", conf.dataplaneSocket);
    add(kPolicySlotDir, "slotDir", conf.slotDir);
  } else {
    add(kPolicyHostRoot, "hostRoot", conf.hostRoot);
  }
  if (!conf.runtime.deviceInfoFile.empty()) {
    add(kPolicyDeviceInfoFile, "runtimeConfig.CNIDeviceInfoFile", conf.runtime.deviceInfoFile);
  }
  // ena-dpdk-ipam receives this document and uses these paths as root too (ipam/config.h).
  if (auto ipam = conf.raw.find("ipam");
      conf.ipamType == "ena-dpdk-ipam" && ipam != conf.raw.end() && ipam->is_object()) {
    for (const auto& [key, field] :
         {std::pair{kPolicyLogFile, "logFile"}, std::pair{kPolicyIpamStateDir, "stateDir"},
          std::pair{kPolicyIpamConfigFile, "configFile"}}) {
      if (auto it = ipam->find(field); it != ipam->end() && it->is_string()) {
        add(key, strCat("ipam.", field), it->get<std::string>());
        if (key != kPolicyLogFile) continue;
        // ena-dpdk-ipam rotates by its own keys, else by the top-level ones.
        const auto number = [&](const char* name, uint64_t fallback) {
          auto n = ipam->find(name);
          return n != ipam->end() && n->is_number_unsigned() ? n->get<uint64_t>() : fallback;
        };
        const uint64_t maxBytes = number("logMaxBytes", conf.logMaxBytes);
        const auto maxFiles = static_cast<unsigned>(
            std::min<uint64_t>(number("logMaxFiles", conf.logMaxFiles), common::kMaxLogFiles));
        for (PathUse& rotated : rotatedLogPaths(uses.back(), maxBytes, maxFiles)) {
          uses.push_back(std::move(rotated));
        }
      }
    }
  }
  return uses;
}

absl::StatusOr<Invocation> parseInvocation(const std::map<std::string, std::string>& env,
                                           bool needsPath) {
  auto get = [&](const char* key) -> std::string {
    auto it = env.find(key);
    return it == env.end() ? std::string() : it->second;
  };
  auto envError = [](std::string_view msg) { return cniError(CniError::kInvalidEnvironment, msg); };
  Invocation inv;
  inv.command = get("CNI_COMMAND");
  inv.containerId = get("CNI_CONTAINERID");
  inv.netns = get("CNI_NETNS");
  inv.ifname = get("CNI_IFNAME");
  const bool add_or_check = inv.command == "ADD" || inv.command == "CHECK";
  const bool attachment = add_or_check || inv.command == "DEL";
  if (attachment) {
    if (inv.containerId.empty()) return envError("CNI_CONTAINERID is not set");
    if (absl::Status s = validateContainerId(inv.containerId); !s.ok()) {
      return envError(common::toStd(s.message()));
    }
    if (inv.ifname.empty()) return envError("CNI_IFNAME is not set");
    if (absl::Status s = validateIfName(inv.ifname); !s.ok()) {
      return envError(common::toStd(s.message()));
    }
    if (add_or_check && inv.netns.empty()) return envError("CNI_NETNS is not set");
    if (!inv.netns.empty() && !inv.netns.starts_with('/')) {
      return envError(
          strCat("CNI_NETNS: \"", common::clipped(inv.netns), "\" is not an absolute path"));
    }
    // The path is written into the result and the attachment record (JSON).
    if (!common::isValidUtf8(inv.netns)) {
      return envError(strCat("CNI_NETNS: \"", common::clipped(inv.netns), "\" is not valid UTF-8"));
    }
  }
  absl::StatusOr<std::map<std::string, std::string>> args = parseCniArgs(get("CNI_ARGS"));
  if (!args.ok()) return envError(common::toStd(args.status().message()));
  inv.args = *std::move(args);
  const std::string path = get("CNI_PATH");
  for (size_t start = 0; start <= path.size();) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) inv.path.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  if (needsPath && inv.command != "STATUS" && inv.path.empty()) {
    return envError("CNI_PATH is not set (needed to find the IPAM plugin)");
  }
  return inv;
}

}  // namespace enadpdk::cni
