#include "vhostuser/config_reload.h"

#include <algorithm>
#include <utility>

#include "common/atomic_file.h"
#include "common/config.h"
#include "common/fnv1a.h"
#include "common/logging.h"
#include "common/strings.h"

namespace enadpdk::vhostuser {
namespace {

using common::strCat;
using common::toStd;

std::string networkKey(std::string_view name) { return strCat("dataplane.networks[", name, "]"); }

// Compares the keys of one network that exists in both configs (by name). Every field is named
// in the structured binding, so a new field does not compile until it is classified here.
void planNetwork(const NetworkConfig& before, const NetworkConfig& after, ReloadPlan& plan) {
  const auto& [name, mode, uplink, mtu, mac] = after;
  const std::string prefix = networkKey(name);
  const auto restart = [&](std::string_view key, bool changed) {
    if (changed) plan.restart.push_back({.key = strCat(prefix, ".", key)});
  };
  // A network's forwarding, its uplink's queues and MTU are set up with it; its ports depend on
  // them (a vpc port's MAC is the uplink's).
  restart("mode", before.mode != mode);
  restart("mtu", before.mtu != mtu);
  restart("mac", before.mac != mac);
  if (before.uplink.has_value() != uplink.has_value()) {
    restart("uplink", true);
    return;
  }
  if (!uplink) return;
  const auto& [device, queues, rxDescriptors, txDescriptors, devargs] = *uplink;
  restart("uplink.device", before.uplink->device != device);
  restart("uplink.queues", before.uplink->queues != queues);
  restart("uplink.rxDescriptors", before.uplink->rxDescriptors != rxDescriptors);
  restart("uplink.txDescriptors", before.uplink->txDescriptors != txDescriptors);
  restart("uplink.devargs", before.uplink->devargs != devargs);
}

void planNetworks(const std::vector<NetworkConfig>& before, const std::vector<NetworkConfig>& after,
                  ReloadPlan& plan) {
  const auto named = [](const std::vector<NetworkConfig>& list, const std::string& name) {
    const auto it = std::find_if(list.begin(), list.end(),
                                 [&](const NetworkConfig& n) { return n.name == name; });
    return it == list.end() ? nullptr : &*it;
  };
  for (const NetworkConfig& old : before) {
    if (const NetworkConfig* now = named(after, old.name)) {
      planNetwork(old, *now, plan);
    } else {
      // Its ports, uplink and slot would have to go while pods use them.
      plan.restart.push_back({.key = networkKey(old.name), .what = "removed"});
    }
  }
  for (const NetworkConfig& added : after) {
    if (named(before, added.name) != nullptr) continue;
    if (added.uplink && common::isPciAddressSyntax(added.uplink->device)) {
      plan.restart.push_back(
          {.key = networkKey(added.name),
           .what = "added with a PCI uplink, which is attached only at start (the kubelet "
                   "allocates it to the dataplane's pod and EAL's allow list carries its "
                   "device arguments)"});
    } else {
      plan.live.push_back(networkKey(added.name));
    }
  }
}

// The port of "host:port".
std::string_view portOf(std::string_view address) { return address.substr(address.rfind(':') + 1); }

std::string_view triggerName(ReloadTrigger trigger) {
  switch (trigger) {
    case ReloadTrigger::Signal:
      return "SIGHUP";
    case ReloadTrigger::FileChange:
      return "file";
  }
  return "?";  // Not a ReloadTrigger value.
}

std::string joined(const std::vector<std::string>& keys) {
  std::string out;
  for (const std::string& key : keys) out += strCat(out.empty() ? "" : ",", key);
  return out;
}

}  // namespace

ReloadPlan planReload(const DataplaneConfig& running, const DataplaneConfig& next) {
  ReloadPlan plan;
  // Every field is named, so that a new one does not compile until it is classified here.
  const auto& [eal, workers, controlSocket, stateFile, cniStateDir, metricsAddress,
               allowedSocketDirs, socket, mbufs, burstSize, txDrainMicroseconds, macAgingSeconds,
               maxPorts, networks] = next;
  const auto& [owner, mode] = socket;
  const auto restart = [&](std::string_view key, bool changed) {
    if (changed) plan.restart.push_back({.key = strCat("dataplane.", key)});
  };
  const auto live = [&](std::string_view key, bool changed) {
    if (changed) plan.live.push_back(strCat("dataplane.", key));
  };
  // EAL runs once per process; the workers, their lcores, pools and bursts are set up with it.
  restart("eal", running.eal != eal);
  restart("workers", running.workers != workers);
  // The CNI and the device plugin find the dataplane by it.
  restart("controlSocket", running.controlSocket != controlSocket);
  // The ports restored at start came from it.
  restart("stateFile", running.stateFile != stateFile);
  live("cniStateDir", running.cniStateDir != cniStateDir);
  live("metricsAddress", running.metricsAddress != metricsAddress);
  // These four apply to the ports added from then on; existing ports keep what they got.
  live("allowedSocketDirs", running.allowedSocketDirs != allowedSocketDirs);
  live("socket.owner", running.socket.owner != owner);
  live("socket.mode", running.socket.mode != mode);
  live("maxPorts", running.maxPorts != maxPorts);
  restart("mbufs", running.mbufs != mbufs);
  restart("burstSize", running.burstSize != burstSize);
  restart("txDrainMicroseconds", running.txDrainMicroseconds != txDrainMicroseconds);
  live("macAgingSeconds", running.macAgingSeconds != macAgingSeconds);
  planNetworks(running.networks, networks, plan);
  return plan;
}

std::string refusalLine(const RestartChange& change) {
  return strCat("config reload: ", change.key, " ", change.what,
                "; restart the dataplane to apply it");
}

std::string_view reloadResultName(ReloadResult result) {
  switch (result) {
    case ReloadResult::Applied:
      return "applied";
    case ReloadResult::Refused:
      return "refused";
    case ReloadResult::Failed:
      return "failed";
  }
  return "?";  // Not a ReloadResult value.
}

// ---- ConfigWatcher

ConfigWatcher::ConfigWatcher(std::filesystem::path path)
    : path_(std::move(path)), seen_(common::fileIdentity(path_)) {}

bool ConfigWatcher::poll() {
  const std::optional<common::FileIdentity> now = common::fileIdentity(path_);
  if (now == seen_) {
    pending_.reset();
    return false;
  }
  if (pending_ && *pending_ == now) {
    seen_ = now;
    pending_.reset();
    return true;
  }
  pending_ = now;
  return false;
}

void ConfigWatcher::markSeen() {
  seen_ = common::fileIdentity(path_);
  pending_.reset();
}

// ---- ConfigReloader

ConfigReloader::ConfigReloader(DataplaneConfig running, ConfigWatcher watcher,
                               ReloadTargets targets, std::shared_ptr<spdlog::logger> log)
    : running_(std::move(running)),
      watcher_(std::move(watcher)),
      targets_(std::move(targets)),
      log_(std::move(log)) {}

absl::StatusOr<std::unique_ptr<ConfigReloader>> ConfigReloader::start(
    DataplaneConfig running, ConfigWatcher watcher, ReloadTargets targets,
    std::shared_ptr<spdlog::logger> log) {
  std::unique_ptr<ConfigReloader> self(new ConfigReloader(std::move(running), std::move(watcher),
                                                          std::move(targets), std::move(log)));
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> metrics =
      self->startMetrics(self->running_.metricsAddress);
  if (!metrics.ok()) {
    return absl::Status(metrics.status().code(),
                        strCat("dataplane.metricsAddress: ", toStd(metrics.status().message())));
  }
  self->metrics_ = *std::move(metrics);
  return self;
}

ReloadResult ConfigReloader::reload(ReloadTrigger trigger) {
  // Before reading: a change after this read is noticed by the next poll.
  watcher_.markSeen();
  return process(trigger, common::readFile(watcher_.path()));
}

std::optional<ReloadResult> ConfigReloader::poll() {
  if (!watcher_.poll()) return std::nullopt;
  absl::StatusOr<std::string> text = common::readFile(watcher_.path());
  // A rewrite with the same bytes (or the file a SIGHUP already read) changes nothing.
  if (text.ok() && read_hash_ == common::fnv1a64(*text)) return std::nullopt;
  return process(ReloadTrigger::FileChange, text);
}

ReloadResult ConfigReloader::process(ReloadTrigger trigger,
                                     const absl::StatusOr<std::string>& text) {
  if (!text.ok()) return fail(trigger, text.status());
  read_hash_ = common::fnv1a64(*text);
  absl::StatusOr<nlohmann::json> root = common::parseJsonDocument(watcher_.path(), *text);
  if (!root.ok()) return fail(trigger, root.status());
  absl::StatusOr<DataplaneConfig> next = parseDataplaneConfig(*root);
  if (!next.ok()) return fail(trigger, common::withPathPrefix(watcher_.path(), next.status()));
  if (targets_.adjust) targets_.adjust(*next);

  const ReloadPlan plan = planReload(running_, *next);
  if (!plan.restart.empty()) {
    for (const RestartChange& change : plan.restart) log_->warn("{}", refusalLine(change));
    log_->warn(
        "config reload refused, nothing applied (the running config is unchanged) trigger={} "
        "restart_keys={} live_keys={}",
        triggerName(trigger), plan.restart.size(), plan.live.size());
    {
      absl::MutexLock lock(&mu_);
      restart_required_ = plan.restart;
    }
    ++counts_[static_cast<int>(ReloadResult::Refused)];
    return ReloadResult::Refused;
  }
  if (plan.changed()) {
    if (absl::Status s = applyLive(*next); !s.ok()) return fail(trigger, s);
    running_ = *std::move(next);
    log_->info("config reload applied trigger={} changed={} metrics_port={}", triggerName(trigger),
               joined(plan.live), metricsPort());
  } else {
    log_->info("config reload applied, nothing changed trigger={}", triggerName(trigger));
  }
  {
    absl::MutexLock lock(&mu_);
    restart_required_.clear();
  }
  ++counts_[static_cast<int>(ReloadResult::Applied)];
  return ReloadResult::Applied;
}

ReloadResult ConfigReloader::fail(ReloadTrigger trigger, const absl::Status& status) {
  log_->error(
      "config reload failed, nothing applied (the running config is unchanged) trigger={} "
      "error={}",
      triggerName(trigger), common::logValue(toStd(status.message())));
  ++counts_[static_cast<int>(ReloadResult::Failed)];
  return ReloadResult::Failed;
}

absl::Status ConfigReloader::applyLive(const DataplaneConfig& next) {
  std::unique_ptr<common::MetricsServer> previous;
  const bool move = next.metricsAddress != running_.metricsAddress;
  if (move) {
    if (absl::Status s = moveMetrics(next.metricsAddress, previous); !s.ok()) return s;
  }
  if (absl::Status s = targets_.apply(next); !s.ok()) {
    if (move) restoreMetrics(std::move(previous));
    return s;
  }
  return absl::OkStatus();  // `previous`, the old endpoint, stops here
}

absl::StatusOr<std::unique_ptr<common::MetricsServer>> ConfigReloader::startMetrics(
    const std::string& address) {
  return common::MetricsServer::start(
      address, [this] { return targets_.render() + renderMetrics(); }, targets_.health);
}

absl::Status ConfigReloader::moveMetrics(const std::string& address,
                                         std::unique_ptr<common::MetricsServer>& previous) {
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> fresh = startMetrics(address);
  if (!fresh.ok() && portOf(address) != "0" && portOf(address) == portOf(running_.metricsAddress)) {
    // The old endpoint holds the port (127.0.0.1:9640 -> 0.0.0.0:9640): stop it and try again.
    metrics_.reset();
    fresh = startMetrics(address);
    if (!fresh.ok()) restoreMetrics(nullptr);
  }
  if (!fresh.ok()) {
    return absl::Status(fresh.status().code(),
                        strCat("dataplane.metricsAddress: ", toStd(fresh.status().message()),
                               "; metrics stay on ", running_.metricsAddress));
  }
  previous = std::move(metrics_);
  metrics_ = *std::move(fresh);
  return absl::OkStatus();
}

void ConfigReloader::restoreMetrics(std::unique_ptr<common::MetricsServer> previous) {
  metrics_.reset();
  if (previous) {
    metrics_ = std::move(previous);
    return;
  }
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> again =
      startMetrics(running_.metricsAddress);
  if (!again.ok()) {
    // Someone took the port meanwhile; /healthz is down with it, so the probes restart us.
    log_->error("metrics endpoint not restored address={} error={}", running_.metricsAddress,
                common::logValue(toStd(again.status().message())));
    return;
  }
  metrics_ = *std::move(again);
}

uint64_t ConfigReloader::count(ReloadResult result) const {
  return counts_[static_cast<int>(result)].load();
}

std::vector<RestartChange> ConfigReloader::restartRequired() const {
  absl::MutexLock lock(&mu_);
  return restart_required_;
}

std::string ConfigReloader::renderMetrics() const {
  common::PrometheusWriter w;
  for (ReloadResult result : {ReloadResult::Applied, ReloadResult::Refused, ReloadResult::Failed}) {
    w.counter("ena_dpdk_dataplane_config_reloads_total",
              "Config reloads (SIGHUP or a change of the file), by result.",
              {{"result", std::string(reloadResultName(result))}}, count(result));
  }
  for (const RestartChange& change : restartRequired()) {
    w.gauge("ena_dpdk_dataplane_config_restart_required",
            "1 for each key of the config file that differs from the running config and needs a "
            "restart (the last reload was refused for it).",
            {{"key", change.key}}, 1);
  }
  return w.text();
}

}  // namespace enadpdk::vhostuser
