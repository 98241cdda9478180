#include "ipam/cli.h"

#include <unistd.h>

#include "cni/errors.h"
#include "cni/path_policy.h"
#include "cni/result.h"
#include "cni/skel.h"
#include "common/json_text.h"
#include "common/logging.h"
#include "common/strings.h"
#include "ipam/ipam.h"

extern char** environ;

namespace enadpdk::ipam {

using cni::cniCodeOf;
using cni::CniError;
using cni::cniError;
using cni::CniRequest;
using cni::CommandHandler;
using cni::isSupportedVersion;
using cni::kPolicyIpamConfigFile;
using cni::kPolicyIpamStateDir;
using cni::kPolicyLogFile;
using cni::PathPolicy;
using cni::PathUse;
using cni::renderResult;
using cni::Result;
using cni::runPlugin;
using cni::writeError;

namespace {

using common::strCat;

Environment processEnvironment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::size_t eq = entry.find('=');
    if (eq != std::string_view::npos) {
      env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    }
  }
  return env;
}

}  // namespace

int runCommand(const std::string& command, const nlohmann::json& json, const Environment& env,
               const WallClock& clock, std::ostream& out, std::ostream& err) {
  std::string version;
  std::shared_ptr<spdlog::logger> logger;
  // Every failure is answered on stdout (libcni reads it) and logged on stderr (the runtime's
  // log is where an operator looks).
  auto fail = [&](const absl::Status& status, CniError fallback) {
    const std::string message(common::toStd(status.message()));
    if (logger) {
      logger->error("{} failed error={}", command, common::logValue(common::logValue(message)));
    } else {
      err << "ena-dpdk-ipam: " << command << " failed: " << message << "\n";
    }
    return writeError(out, isSupportedVersion(version) ? version : "", cniCodeOf(status, fallback),
                      message);
  };

  if (!json.is_object()) {
    return fail(absl::InvalidArgumentError(
                    "cannot decode the network configuration on stdin: not a JSON object"),
                CniError::kDecodeFailure);
  }
  if (auto it = json.find("cniVersion"); it != json.end() && it->is_string()) {
    version = it->get<std::string>();
  }
  absl::StatusOr<CniRuntime> runtime = parseCniRuntime(command, env);
  if (!runtime.ok()) return fail(runtime.status(), CniError::kInvalidEnvironment);
  if (absl::Status status = checkVersion(json, command); !status.ok()) {
    return fail(status, CniError::kIncompatibleVersion);
  }
  // The node's path policy (cni/path_policy.h) over the paths a network configuration may name,
  // before any of them is read or created: under Multus another main plugin may delegate to us,
  // so the check ena-dpdk-cni makes is not enough.
  absl::StatusOr<PathPolicy> policy = PathPolicy::load(env);
  if (!policy.ok()) return fail(policy.status(), CniError::kInvalidConfig);
  std::vector<PathUse> uses;
  auto use = [&](const nlohmann::json& object, const char* key, const char* policyKey,
                 const std::string& field) {
    if (auto it = object.find(key); it != object.end() && it->is_string()) {
      uses.push_back({.key = policyKey, .field = field, .path = it->get<std::string>()});
    }
  };
  // Rotation creates <logFile>.1 ..: checked as well, with the numbers parseIpamNetconf() reads
  // (ipam.logMaxBytes, else logMaxBytes, else the default; a bad number fails there later).
  const auto ipamSection = json.find("ipam");
  const auto rotation = [&](const char* key, uint64_t fallback) {
    for (const nlohmann::json* section :
         {ipamSection != json.end() && ipamSection->is_object() ? &*ipamSection : nullptr, &json}) {
      if (section == nullptr) continue;
      if (auto it = section->find(key); it != section->end() && it->is_number_unsigned()) {
        return it->get<uint64_t>();
      }
    }
    return fallback;
  };
  const uint64_t maxBytes = rotation("logMaxBytes", common::kDefaultLogMaxBytes);
  const auto maxFiles = static_cast<unsigned>(std::min<uint64_t>(
      rotation("logMaxFiles", common::kDefaultLogMaxFiles), common::kMaxLogFiles));
  auto useLog = [&](const nlohmann::json& object, const std::string& field) {
    const size_t before = uses.size();
    use(object, "logFile", kPolicyLogFile, field);
    if (uses.size() == before) return;
    for (PathUse& rotated : cni::rotatedLogPaths(uses.back(), maxBytes, maxFiles)) {
      uses.push_back(std::move(rotated));
    }
  };
  useLog(json, "logFile");
  if (ipamSection != json.end() && ipamSection->is_object()) {
    useLog(*ipamSection, "ipam.logFile");
    use(*ipamSection, "stateDir", kPolicyIpamStateDir, "ipam.stateDir");
    use(*ipamSection, "configFile", kPolicyIpamConfigFile, "ipam.configFile");
  }
  if (absl::Status s = policy->check(uses); !s.ok()) return fail(s, CniError::kInvalidConfig);
  absl::StatusOr<IpamNetconf> netconf = parseIpamNetconf(json);
  if (!netconf.ok()) return fail(netconf.status(), CniError::kInvalidConfig);
  absl::StatusOr<std::shared_ptr<spdlog::logger>> made =
      common::makeLogger("ipam", netconf->logLevel,
                         {.format = netconf->logFormat,
                          .file = netconf->logFile,
                          .fileMaxBytes = netconf->logMaxBytes,
                          .fileMaxFiles = netconf->logMaxFiles});
  if (!made.ok()) {
    return fail(absl::InvalidArgumentError(strCat("logFile: ", made.status().message())),
                CniError::kInvalidConfig);
  }
  logger = *made;

  Ipam ipam(std::move(*netconf), logger, clock);
  const LeaseKey& key = runtime->key;
  absl::Status status;
  if (command == "ADD") {
    absl::StatusOr<Result> result = ipam.add(key);
    if (!result.ok()) return fail(result.status(), CniError::kInvalidConfig);
    absl::StatusOr<nlohmann::json> rendered = renderResult(*result, version);
    if (!rendered.ok()) return fail(rendered.status(), CniError::kIncompatibleVersion);
    out << common::dumpJson(*rendered) << "\n";
    out.flush();
    return 0;
  }
  if (command == "DEL") {
    status = ipam.del(key);
  } else if (command == "CHECK") {
    status = ipam.check(key);
  } else if (command == "GC") {
    status = ipam.gc();
  } else if (command == "STATUS") {
    status = ipam.status();
  } else {
    status =
        cniError(absl::StatusCode::kInvalidArgument,
                 strCat("unknown CNI_COMMAND \"", command, "\""), CniError::kInvalidEnvironment);
  }
  if (!status.ok()) return fail(status, CniError::kInvalidConfig);
  return 0;
}

int ipamMain(int argc, const char* const* argv, std::istream& in, std::ostream& out,
             std::ostream& err) {
  const Environment env = processEnvironment();
  const WallClock clock = [] { return std::chrono::system_clock::now(); };
  std::map<std::string, CommandHandler> handlers;
  for (const char* command : {"ADD", "DEL", "CHECK", "GC", "STATUS"}) {
    handlers[command] = [&env, &clock](const CniRequest& request, std::ostream& o,
                                       std::ostream& e) {
      return runCommand(request.command, request.config, env, clock, o, e);
    };
  }
  return runPlugin({"ena-dpdk-ipam",
                    "CNI IPAM plugin that hands out the secondary private IPs of the uplink ENI\n"
                    "(from the EC2 instance metadata service, IMDSv2) or addresses from a static\n"
                    "list, with leases under /var/lib/ena-dpdk/ipam/<network>/. See docs/ipam.md."},
                   argc, argv, handlers, in, out, err);
}

}  // namespace enadpdk::ipam
