#include "ipam/config.h"

#include "cni/errors.h"
#include "cni/result.h"
#include "cni/skel.h"
#include "common/config.h"
#include "common/json_reader.h"
#include "common/logging.h"
#include "common/strings.h"

namespace enadpdk::ipam {

using cni::CniError;
using cni::cniError;
using cni::isSupportedVersion;
using cni::kSupportedVersions;
using cni::parseCniArgs;
using cni::validateContainerId;
using cni::validateIfName;
using cni::versionAtLeast;
using cni::withCniCode;

namespace {

using common::JsonReader;
using common::strCat;
using common::StringRule;

constexpr StringRule kNetworkName{common::isNetworkName,
                                  "a name of 1 to 15 characters from [a-z0-9-]"};
constexpr StringRule kAbsolutePath{[](std::string_view p) { return p.starts_with('/'); },
                                   "an absolute path"};
constexpr StringRule kCidr{common::isCidr, "a CIDR like \"10.0.0.0/24\""};
constexpr StringRule kIpAddress{common::isIpAddress, "an IPv4 or IPv6 address"};
constexpr StringRule kHttpUrl{[](std::string_view u) {
                                return (u.starts_with("http://") && u.size() > 7) ||
                                       (u.starts_with("https://") && u.size() > 8);
                              },
                              "an http:// or https:// URL"};
constexpr StringRule kContainerId{[](std::string_view id) { return validateContainerId(id).ok(); },
                                  "a container ID"};
constexpr StringRule kIfName{[](std::string_view name) { return validateIfName(name).ok(); },
                             "an interface name"};

absl::Status configError(const absl::Status& status) {
  return withCniCode(absl::InvalidArgumentError(status.message()), CniError::kInvalidConfig);
}

std::string supportedList() {
  std::string list;
  for (const std::string& v : kSupportedVersions) list = list.empty() ? v : strCat(list, ", ", v);
  return list;
}

void readRoutes(JsonReader& r, std::vector<IpamRoute>& routes) {
  routes.clear();
  r.readObjects("routes", [&](JsonReader& route) {
    IpamRoute& out = routes.emplace_back();
    route.require("dst");
    route.read("dst", out.dst, kCidr);
    if (route.has("gw")) route.read("gw", out.gw.emplace(), kIpAddress);
  });
}

void readAttachments(JsonReader& r, std::string_view key, std::vector<LeaseKey>& out) {
  r.readObjects(key, [&](JsonReader& a) {
    LeaseKey& k = out.emplace_back();
    a.require("containerID");
    a.read("containerID", k.containerId, kContainerId);
    a.require("ifname");
    a.read("ifname", k.ifName, kIfName);
  });
}

// logFormat, logMaxBytes and logMaxFiles of the object `r` reads, over what `netconf` holds (the
// top level first, then the ipam section).
void readLogRotation(JsonReader& r, IpamNetconf& netconf) {
  r.readEnum("logFormat", netconf.logFormat, common::kLogFormatNames);
  r.read("logMaxBytes", netconf.logMaxBytes, 0, common::kMaxLogMaxBytes);
  r.read("logMaxFiles", netconf.logMaxFiles, 1, common::kMaxLogFiles);
}

}  // namespace

absl::StatusOr<CniRuntime> parseCniRuntime(const std::string& command, const Environment& env) {
  auto value = [&](const char* name) {
    auto it = env.find(name);
    return it == env.end() ? std::string() : it->second;
  };
  CniRuntime runtime{
      .command = command,
      .key = {.containerId = value("CNI_CONTAINERID"), .ifName = value("CNI_IFNAME")},
      .netns = value("CNI_NETNS")};
  const bool attach = command == "ADD" || command == "CHECK";
  const bool detach = command == "DEL";
  std::vector<std::string> missing;
  if ((attach || detach) && runtime.key.containerId.empty()) missing.push_back("CNI_CONTAINERID");
  if (attach && runtime.netns.empty()) missing.push_back("CNI_NETNS");
  if ((attach || detach) && runtime.key.ifName.empty()) missing.push_back("CNI_IFNAME");
  if (!missing.empty()) {
    std::string names;
    for (const std::string& m : missing) names = names.empty() ? m : strCat(names, ", ", m);
    return cniError(absl::StatusCode::kInvalidArgument,
                    strCat("required environment variables missing: ", names),
                    CniError::kInvalidEnvironment);
  }
  if (attach || detach) {
    for (absl::Status status :
         {validateContainerId(runtime.key.containerId), validateIfName(runtime.key.ifName)}) {
      if (!status.ok()) return withCniCode(status, CniError::kInvalidEnvironment);
    }
  }
  absl::StatusOr<std::map<std::string, std::string>> args = parseCniArgs(value("CNI_ARGS"));
  if (!args.ok()) return withCniCode(args.status(), CniError::kInvalidEnvironment);
  runtime.args = std::move(*args);
  return runtime;
}

absl::Status checkVersion(const nlohmann::json& config, const std::string& command) {
  std::string version;
  if (auto it = config.find("cniVersion"); it != config.end() && it->is_string()) {
    version = it->get<std::string>();
  }
  if (!isSupportedVersion(version)) {
    return cniError(absl::StatusCode::kInvalidArgument,
                    strCat("incompatible CNI versions: config is \"", version,
                           "\", plugin supports ", supportedList()),
                    CniError::kIncompatibleVersion);
  }
  const char* minimum = command == "CHECK"                       ? "0.4.0"
                        : command == "GC" || command == "STATUS" ? "1.1.0"
                                                                 : "0.3.0";
  if (!versionAtLeast(version, minimum)) {
    return cniError(
        absl::StatusCode::kInvalidArgument,
        strCat("config version \"", common::clipped(version), "\" does not allow ", command),
        CniError::kIncompatibleVersion);
  }
  return absl::OkStatus();
}

absl::StatusOr<IpamNetconf> parseIpamNetconf(const nlohmann::json& config,
                                             const std::filesystem::path& defaultConfigFile) {
  IpamNetconf netconf{.configFile = defaultConfigFile};
  std::string topNetwork, topLogFile, topLogLevel, ipamLogLevel;
  std::optional<std::string> inlineStateDir;
  std::optional<IpamNetworkConfig> inlineSource;
  std::optional<std::vector<IpamRoute>> inlineRoutes;
  // ipam.imds keys, each applied over the file's value.
  std::optional<std::string> imdsEndpoint;
  std::optional<unsigned> imdsTtl, imdsTimeout;
  bool explicitConfigFile = false;

  JsonReader r(config, "", common::UnknownKeys::Ignore);
  r.read("cniVersion", netconf.cniVersion);
  if (r.has("network")) r.read("network", topNetwork, kNetworkName);
  r.read("logFile", topLogFile, kAbsolutePath);
  r.read("logLevel", topLogLevel);
  readLogRotation(r, netconf);
  if (r.has("prevResult")) netconf.prevResult = config.at("prevResult");
  for (const char* key : {"cni.dev/valid-attachments", "cni.dev/attachments"}) {
    if (r.has(key) && !netconf.validAttachments) {
      readAttachments(r, key, netconf.validAttachments.emplace());
    }
  }
  r.require("ipam");
  r.readObject("ipam", [&](JsonReader& i) {
    if (i.has("network")) i.read("network", netconf.network, kNetworkName);
    if (i.has("configFile")) {
      explicitConfigFile = true;
      std::string file;
      i.read("configFile", file, kAbsolutePath);
      netconf.configFile = file;
    }
    if (i.has("stateDir")) i.read("stateDir", inlineStateDir.emplace(), kAbsolutePath);
    if (i.has("addresses") || i.has("eniMac") || i.has("deviceNumber")) {
      readIpamNetwork(i, inlineSource.emplace());
    } else if (i.has("gateway")) {
      i.fail("gateway", "needs \"addresses\" next to it");
    } else if (i.has("sources")) {
      i.fail("sources", "needs an ENI (\"eniMac\" or \"deviceNumber\") next to it");
    } else if (i.has("routes")) {
      readRoutes(i, inlineRoutes.emplace());
    }
    i.readObject("imds", [&](JsonReader& m) {
      if (m.has("endpoint")) m.read("endpoint", imdsEndpoint.emplace(), kHttpUrl);
      if (m.has("ttlSeconds")) {
        m.read("ttlSeconds", imdsTtl.emplace(), 0, kMaxImdsTtlSeconds);
      }
      if (m.has("timeoutMs")) m.read("timeoutMs", imdsTimeout.emplace(), 1, kMaxImdsTimeoutMs);
    });
    i.read("logFile", netconf.logFile, kAbsolutePath);
    i.read("logLevel", ipamLogLevel);
    readLogRotation(i, netconf);
  });
  if (r.ok() && netconf.network.empty()) {
    if (topNetwork.empty()) {
      r.fail("ipam.network", "missing: set ipam.network (or the top-level \"network\")");
    }
    netconf.network = topNetwork;
  }
  if (absl::Status status = r.finish(); !status.ok()) return configError(status);

  if (netconf.logFile.empty()) netconf.logFile = topLogFile;
  const std::string level = ipamLogLevel.empty() ? topLogLevel : ipamLogLevel;
  if (!level.empty()) {
    absl::StatusOr<spdlog::level::level_enum> parsed = common::parseLogLevel(level);
    if (!parsed.ok()) {
      return cniError(absl::StatusCode::kInvalidArgument,
                      strCat(ipamLogLevel.empty() ? "logLevel" : "ipam.logLevel",
                             ": expected one of ", common::kLogLevels, ", got \"", level, "\""),
                      CniError::kInvalidConfig);
    }
    netconf.logLevel = *parsed;
  }

  // The node config file: a missing default file just means defaults.
  IpamConfig file;
  absl::StatusOr<IpamConfig> loaded = loadIpamConfig(netconf.configFile);
  if (loaded.ok()) {
    file = std::move(*loaded);
  } else if (explicitConfigFile || !absl::IsNotFound(loaded.status())) {
    return configError(loaded.status());
  }

  netconf.stateDir = inlineStateDir ? *inlineStateDir : file.stateDir;
  netconf.imds = file.imds;
  if (imdsEndpoint) netconf.imds.endpoint = *imdsEndpoint;
  if (imdsTtl) netconf.imds.ttlSeconds = *imdsTtl;
  if (imdsTimeout) netconf.imds.timeoutMs = *imdsTimeout;

  if (inlineSource) {
    netconf.source = std::move(*inlineSource);
    netconf.sourceWhere = "ipam";
  } else if (auto it = file.networks.find(netconf.network); it != file.networks.end()) {
    netconf.source = it->second;
    netconf.sourceWhere = strCat(netconf.configFile.string(), ": ipam.networks.", netconf.network);
  }
  if (netconf.source && inlineRoutes) netconf.source->routes = std::move(*inlineRoutes);
  return netconf;
}

IpamNetconf nodeNetconf(const IpamConfig& file, const std::string& network,
                        const std::filesystem::path& configFile) {
  IpamNetconf netconf;
  netconf.network = network;
  netconf.configFile = configFile;
  netconf.stateDir = file.stateDir;
  netconf.imds = file.imds;
  if (auto it = file.networks.find(network); it != file.networks.end()) {
    netconf.source = it->second;
    netconf.sourceWhere = strCat(configFile.string(), ": ipam.networks.", network);
  }
  return netconf;
}

absl::Status missingSourceError(const IpamNetconf& netconf) {
  return cniError(absl::StatusCode::kInvalidArgument,
                  strCat("network \"", netconf.network,
                         "\" has no address source: set ipam.addresses, ipam.eniMac or "
                         "ipam.deviceNumber, or ipam.networks.",
                         netconf.network, " in ", netconf.configFile.string()),
                  CniError::kInvalidConfig);
}

}  // namespace enadpdk::ipam
