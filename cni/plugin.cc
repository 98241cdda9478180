#include "cni/plugin.h"

#include <optional>
#include <utility>

#include "cni/errors.h"
#include "cni/path_policy.h"
#include "cni/pci_attachment.h"
#include "cni/vhost_user_attachment.h"
#include "common/json_text.h"
#include "common/logging.h"
#include "common/strings.h"

namespace enadpdk::cni {
namespace {

using common::toStd;

// What one command does on a ready plugin: the result to print (ADD), or none.
using PluginCommand = std::function<absl::StatusOr<std::optional<nlohmann::json>>(CniPlugin&)>;

// The edge of one command: from the request to a plugin, then the command's answer on `out`.
int runPluginCommand(const std::string& command, const PluginCommand& run,
                     const CniRequest& request, const PluginEnvironment& environment,
                     std::ostream& out) {
  absl::StatusOr<NetConf> conf = parseNetConfJson(request.config);
  std::string version;
  if (!conf.ok()) {
    // Answer in the version the caller spoke when it is one we know.
    const nlohmann::json& j = request.config;
    if (j.is_object() && j.contains("cniVersion") && j["cniVersion"].is_string() &&
        isSupportedVersion(j["cniVersion"].get<std::string>())) {
      version = j["cniVersion"].get<std::string>();
    }
    return writeError(out, version, cniCodeOf(conf.status()), std::string(conf.status().message()));
  }
  version = conf->cniVersion;

  // The node's path policy (cni/path_policy.h): every host path of the configuration must lie
  // under roots the node allows. It is checked before anything is opened (the log file is opened
  // only when the policy allows it); a refusal is code 7, after the environment's errors (code 4),
  // and nothing is done.
  absl::StatusOr<PathPolicy> policy = PathPolicy::load(environment.env);
  const absl::Status allowed = policy.ok() ? policy->check(policedPaths(*conf)) : policy.status();

  // The log file is a convenience: a plugin that cannot open it still does its job, on stderr.
  spdlog::level::level_enum level = *common::parseLogLevel(conf->logLevel);
  const common::LogOutput output{.format = conf->logFormat,
                                 .file = allowed.ok() ? conf->logFile : std::string(),
                                 .fileMaxBytes = conf->logMaxBytes,
                                 .fileMaxFiles = conf->logMaxFiles};
  absl::StatusOr<std::shared_ptr<spdlog::logger>> logger = common::makeLogger("cni", level, output);
  if (!logger.ok()) {
    const std::string why(logger.status().message());
    logger = common::makeLogger("cni", level, {.format = conf->logFormat});
    if (!logger.ok()) {
      return writeError(out, version, CniError::kIoFailure, std::string(logger.status().message()));
    }
    (*logger)->warn("cannot open log file error={}", common::logValue(common::logValue(why)));
  }
  std::shared_ptr<spdlog::logger> log = *logger;
  log->flush_on(spdlog::level::trace);

  absl::StatusOr<Invocation> inv = parseInvocation(environment.env, !conf->ipamType.empty());
  if (!inv.ok()) {
    log->error("invalid environment error={}",
               common::logValue(common::logValue(toStd(inv.status().message()))));
    return writeError(out, version, cniCodeOf(inv.status()), std::string(inv.status().message()));
  }
  if (!allowed.ok()) {
    log->error("refused by the node path policy error={}",
               common::logValue(common::logValue(toStd(allowed.message()))));
    return writeError(out, version, CniError::kInvalidConfig, std::string(allowed.message()));
  }
  std::unique_ptr<dataplane_client::DataplaneClient> dataplane;
  if (conf->mode == AttachMode::VhostUser) dataplane = environment.dataplane(*conf, log);
  DelegateRunner ipam(inv->path, environment.env, environment.delegateTimeout, log);
  CniPlugin plugin(*std::move(conf), *std::move(inv), std::move(dataplane), std::move(ipam), log);

  absl::StatusOr<std::optional<nlohmann::json>> result = run(plugin);
  if (result.ok()) {
    if (result->has_value()) {
      out << common::dumpJson(**result) << "\n";
      out.flush();
    }
    return 0;
  }
  const CniError code = cniCodeOf(result.status());
  log->error("{} failed code={} error={}", command, static_cast<int>(code),
             common::logValue(common::logValue(toStd(result.status().message()))));
  return writeError(out, version, code, std::string(result.status().message()));
}

// A command that prints nothing on success.
PluginCommand silent(absl::Status (CniPlugin::*method)()) {
  return [method](CniPlugin& plugin) -> absl::StatusOr<std::optional<nlohmann::json>> {
    if (absl::Status s = (plugin.*method)(); !s.ok()) return s;
    return std::nullopt;
  };
}

}  // namespace

std::unique_ptr<dataplane_client::DataplaneClient> grpcDataplaneFor(
    const NetConf& conf, std::shared_ptr<spdlog::logger> logger) {
  return std::make_unique<dataplane_client::DataplaneClient>(
      dataplane_client::DataplaneClient::forSocket(
          conf.dataplaneSocket, std::chrono::milliseconds(conf.dataplaneTimeoutMs),
          std::move(logger)));
}

std::unique_ptr<Attachment> makeAttachment(AttachmentContext context) {
  switch (context.conf.mode) {
    case AttachMode::VhostUser:
      return std::make_unique<VhostUserAttachment>(context);
    case AttachMode::Pci:
      return std::make_unique<PciAttachment>(context);
  }
  return nullptr;
}

CniPlugin::CniPlugin(NetConf conf, Invocation invocation,
                     std::unique_ptr<dataplane_client::DataplaneClient> dataplane,
                     DelegateRunner ipam, std::shared_ptr<spdlog::logger> logger)
    : conf_(std::move(conf)),
      inv_(std::move(invocation)),
      dataplane_(std::move(dataplane)),
      ipam_(std::move(ipam)),
      log_(std::move(logger)),
      store_(conf_.stateDir),
      attachment_(makeAttachment({.conf = conf_,
                                  .inv = inv_,
                                  .dataplane = dataplane_.get(),
                                  .store = store_,
                                  .log = *log_})) {}

CniPlugin::~CniPlugin() = default;

nlohmann::json CniPlugin::ipamConfig(const std::string& network) const {
  nlohmann::json config = conf_.raw;
  if (!network.empty() && config.contains("ipam") && config["ipam"].is_object() &&
      !config["ipam"].contains("network")) {
    config["ipam"]["network"] = network;
  }
  return config;
}

std::vector<std::string> CniPlugin::ipamNetworks(const std::set<std::string>& candidates) const {
  const bool named = conf_.raw.contains("ipam") && conf_.raw["ipam"].contains("network");
  if (named || !conf_.network.empty()) return {conf_.network};
  if (candidates.empty()) {
    log_->info("no dataplane network to ask the IPAM plugin about");
  }
  return {candidates.begin(), candidates.end()};
}

AttachmentRecord CniPlugin::newRecord() const {
  return AttachmentRecord{
      .containerId = inv_.containerId,
      .ifname = inv_.ifname,
      .cniNetwork = conf_.name,
      .mode = std::string(attachment_->mode()),
      .deviceId = conf_.effectiveDeviceId(),
      .dataplaneSocket = conf_.mode == AttachMode::Pci ? "" : conf_.dataplaneSocket,
      .deviceInfoFile = conf_.runtime.deviceInfoFile};
}

std::map<std::string, CommandHandler> commandHandlers(const PluginEnvironment& environment) {
  const std::map<std::string, PluginCommand> commands = {
      {"ADD",
       [](CniPlugin& plugin) -> absl::StatusOr<std::optional<nlohmann::json>> {
         absl::StatusOr<nlohmann::json> result = plugin.add();
         if (!result.ok()) return result.status();
         return std::optional<nlohmann::json>(*std::move(result));
       }},
      {"DEL", silent(&CniPlugin::del)},
      {"CHECK", silent(&CniPlugin::check)},
      {"GC", silent(&CniPlugin::gc)},
      {"STATUS", silent(&CniPlugin::status)},
  };
  std::map<std::string, CommandHandler> handlers;
  for (const auto& entry : commands) {
    handlers[entry.first] = [environment, command = entry.first, run = entry.second](
                                const CniRequest& request, std::ostream& out, std::ostream&) {
      return runPluginCommand(command, run, request, environment, out);
    };
  }
  return handlers;
}

}  // namespace enadpdk::cni
