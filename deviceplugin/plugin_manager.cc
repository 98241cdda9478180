#include "deviceplugin/plugin_manager.h"

#include <algorithm>

#include "common/atomic_file.h"
#include "common/logging.h"
#include "common/strings.h"
#include "deviceplugin/kubelet_client.h"
#include "ipam/ipam.h"

namespace enadpdk::deviceplugin {
namespace {

namespace fs = std::filesystem;
using std::chrono::steady_clock;

// Bound of one PodResources List call.
constexpr std::chrono::milliseconds kPodResourcesTimeout{2000};

std::string names(const std::vector<std::string>& list) {
  std::string out;
  for (const std::string& name : list) out += out.empty() ? name : common::strCat(",", name);
  return out.empty() ? "-" : out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PluginManager>> PluginManager::start(
    PluginOptions options, std::shared_ptr<spdlog::logger> logger) {
  if (options.mounter == nullptr || options.clock == nullptr) {
    return absl::InvalidArgumentError("PluginOptions: mounter and clock must be set");
  }
  std::unique_ptr<PluginManager> manager(new PluginManager(std::move(options), std::move(logger)));
  PluginManager& m = *manager;
  m.configIdentity_ = fileIdentity(m.options_.configPath);
  absl::StatusOr<PluginConfig> config = m.loadConfig();
  if (!config.ok()) return config.status();
  if (absl::Status status = common::makeDirectories(m.options_.root.path(kDevicePluginDir), 0750);
      !status.ok()) {
    return status;
  }

  std::vector<std::shared_ptr<ResourcePool>> pools;
  for (auto& [name, spec] : poolSpecs(*config)) {
    absl::StatusOr<std::shared_ptr<ResourcePool>> pool = m.createPool(spec);
    if (!pool.ok()) return pool.status();
    pools.push_back(*pool);
    m.resources_[name] = Resource{.spec = spec, .pool = *pool};
  }
  auto monitor = std::make_shared<DataplaneMonitor>(
      m.options_.root.path(config->dataplane.controlSocket), m.options_.dataplaneTimeout);
  {
    // The first lists already count addresses: a kubelet must never see more than there are.
    std::map<std::string, NetworkAddresses> addresses = m.readAddresses(*config, {});
    absl::MutexLock lock(&m.mu_);
    m.addresses_ = std::move(addresses);
  }
  m.refreshNew(pools, *config, monitor.get());
  for (auto& [name, resource] : m.resources_) {
    absl::StatusOr<std::unique_ptr<ResourceServer>> server =
        ResourceServer::start(resource.pool, m.socketPath(name), m.metrics_, m.logger_);
    if (!server.ok()) return server.status();  // the destructor stops the others
    resource.server = std::move(*server);
  }
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> metricsServer =
      m.startMetricsServer(config->deviceplugin.metricsAddress);
  if (!metricsServer.ok()) return metricsServer.status();
  m.metricsServer_ = std::move(*metricsServer);
  m.metricsPort_ = m.metricsServer_->port();
  m.publishState(*config, monitor);
  {
    // Unhealthy until the control loop has registered every resource.
    absl::MutexLock lock(&m.mu_);
    std::map<std::string, bool> registered;
    for (const auto& [name, resource] : m.resources_) {
      m.unregistered_.push_back(resource.pool->resourceName());
      registered[resource.pool->resourceName()] = false;
    }
    m.metrics_->setRegistered(registered);
  }
  m.nextGc_ = steady_clock::now() + m.options_.gcInterval;

  m.health_ = std::make_unique<PeriodicWorker>(m.options_.healthInterval, [&m] { m.healthTick(); });
  m.addressLoop_ =
      std::make_unique<PeriodicWorker>(m.options_.addressInterval, [&m] { m.addressTick(); });
  m.control_ =
      std::make_unique<PeriodicWorker>(m.options_.watchInterval, [&m] { m.controlTick(); });
  m.control_->wake();  // register at once
  m.logger_->info("device plugin started resources={} root={}", m.resources_.size(),
                  m.options_.root.root().string());
  return manager;
}

PluginManager::PluginManager(PluginOptions options, std::shared_ptr<spdlog::logger> logger)
    : options_(std::move(options)),
      logger_(std::move(logger)),
      kubeletSocket_(options_.root.path(kDevicePluginDir) / kKubeletSocketName) {}

PluginManager::~PluginManager() { stop(); }

absl::StatusOr<PluginConfig> PluginManager::loadConfig() const {
  absl::StatusOr<PluginConfig> config = loadPluginConfig(options_.configPath);
  if (config.ok() && !options_.metricsAddress.empty()) {
    config->deviceplugin.metricsAddress = options_.metricsAddress;
  }
  return config;
}

void PluginManager::stop() {
  if (control_) control_->stop();
  if (health_) health_->stop();
  if (addressLoop_) addressLoop_->stop();
  for (auto& [name, resource] : resources_) {
    if (resource.server) resource.server->stop();
  }
  resources_.clear();
  metricsServer_.reset();
}

void PluginManager::requestReload() {
  reloadRequested_ = true;
  if (control_) control_->wake();
}

void PluginManager::requestGarbageCollection() {
  gcRequested_ = true;
  if (control_) control_->wake();
}

PluginConfig PluginManager::config() const {
  absl::MutexLock lock(&mu_);
  return config_;
}

fs::path PluginManager::socketPath(std::string_view resource) const {
  return options_.root.path(kDevicePluginDir) / socketFileName(resource);
}

std::map<std::string, PluginManager::PoolSpec> PluginManager::poolSpecs(
    const PluginConfig& config) {
  const DevicepluginConfig& dp = config.deviceplugin;
  std::map<std::string, PoolSpec> specs;
  for (auto& [name, networks] : attachmentResources(config)) {
    specs[name] = EnaPoolSpec{
        .prefix = dp.resourcePrefix, .name = name, .config = dp.ena, .networks = networks};
  }
  specs[kEnaDedicatedResource] =
      DedicatedPoolSpec{.prefix = dp.resourcePrefix, .config = dp.enaDedicated, .cdi = dp.cdi};
  const std::set<std::string> uplinks = uplinkPciAddresses(config.dataplane);
  if (!uplinks.empty()) {
    specs[kEnaUplinkResource] =
        UplinkPoolSpec{.prefix = dp.resourcePrefix,
                       .addresses = std::vector<std::string>(uplinks.begin(), uplinks.end()),
                       .cdi = dp.cdi};
  }
  if (dp.hugepages.enabled) {
    specs[kHugepagesResource] = HugepagesPoolSpec{.prefix = dp.resourcePrefix,
                                                  .config = dp.hugepages,
                                                  .pageSize = common::HugepageSize::Size1G,
                                                  .cgroupFs = dp.cgroupFs};
  }
  if (dp.hugepages2Mi.enabled) {
    specs[kHugepages2MiResource] = HugepagesPoolSpec{.prefix = dp.resourcePrefix,
                                                     .config = dp.hugepages2Mi,
                                                     .pageSize = common::HugepageSize::Size2M,
                                                     .cgroupFs = dp.cgroupFs};
  }
  return specs;
}

absl::StatusOr<std::shared_ptr<ResourcePool>> PluginManager::createPool(
    const PoolSpec& spec) const {
  if (const auto* ena = std::get_if<EnaPoolSpec>(&spec)) {
    absl::StatusOr<std::unique_ptr<EnaPool>> pool = EnaPool::create(options_.root, *ena);
    if (!pool.ok()) return pool.status();
    return std::shared_ptr<ResourcePool>(std::move(*pool));
  }
  if (const auto* dedicated = std::get_if<DedicatedPoolSpec>(&spec)) {
    return std::make_shared<DedicatedPool>(options_.root, *dedicated);
  }
  if (const auto* uplink = std::get_if<UplinkPoolSpec>(&spec)) {
    return std::make_shared<UplinkPool>(options_.root, *uplink);
  }
  absl::StatusOr<std::unique_ptr<HugepagesPool>> pool =
      HugepagesPool::create(options_.root, std::get<HugepagesPoolSpec>(spec), *options_.mounter,
                            *options_.clock, logger_);
  if (!pool.ok()) return pool.status();
  return std::shared_ptr<ResourcePool>(std::move(*pool));
}

absl::StatusOr<std::unique_ptr<common::MetricsServer>> PluginManager::startMetricsServer(
    const std::string& address) {
  const std::shared_ptr<PluginMetrics> metrics = metrics_;
  auto render = [metrics] { return metrics->render(); };
  auto health = [this] { return this->health(); };
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> server =
      common::MetricsServer::start(address, render, health);
  if (!server.ok() && metricsServer_) {
    // The running endpoint may hold the port (only the host part changed): free it and retry,
    // and put it back if that does not help.
    const std::string previous = config().deviceplugin.metricsAddress;
    metricsServer_.reset();
    server = common::MetricsServer::start(address, render, health);
    if (!server.ok()) {
      absl::StatusOr<std::unique_ptr<common::MetricsServer>> restored =
          common::MetricsServer::start(previous, render, health);
      if (restored.ok()) {
        metricsServer_ = std::move(*restored);
        metricsPort_ = metricsServer_->port();
      }
    }
  }
  if (!server.ok()) {
    return absl::Status(
        server.status().code(),
        common::strCat(options_.metricsAddress.empty() ? "deviceplugin.metricsAddress: "
                                                       : "--metrics-address: ",
                       common::toStd(server.status().message())));
  }
  return server;
}

void PluginManager::publishState(PluginConfig config, std::shared_ptr<DataplaneMonitor> monitor) {
  std::vector<std::shared_ptr<ResourcePool>> pools;
  for (const auto& [name, resource] : resources_) pools.push_back(resource.pool);
  absl::MutexLock lock(&mu_);
  config_ = std::move(config);
  pools_ = std::move(pools);
  monitor_ = std::move(monitor);
}

absl::StatusOr<HostState> PluginManager::scan(const PluginConfig& config,
                                              DataplaneMonitor* monitor) const {
  absl::StatusOr<HostState> host = scanHost(options_.root);
  if (!host.ok()) return host.status();
  host->uplinkPciAddresses = uplinkPciAddresses(config.dataplane);
  {
    absl::MutexLock lock(&mu_);
    host->networkAddresses = addresses_;
  }
  if (monitor != nullptr) {
    absl::StatusOr<std::map<std::string, bool>> up = monitor->networksUp();
    if (up.ok()) {
      host->dataplaneNetworksUp = *std::move(up);
    } else {
      host->dataplaneError = up.status();
    }
    metrics_->setDataplaneReachable(host->dataplaneNetworksUp.has_value());
  }
  return host;
}

void PluginManager::refresh(const std::vector<std::shared_ptr<ResourcePool>>& pools,
                            const HostState& host) {
  for (const std::shared_ptr<ResourcePool>& pool : pools) {
    pool->refresh(host);
    const ResourcePool::Snapshot snapshot = pool->snapshot();
    const auto healthy =
        static_cast<std::size_t>(std::count_if(snapshot.devices.begin(), snapshot.devices.end(),
                                               [](const Device& d) { return d.healthy; }));
    metrics_->setDevices(pool->resourceName(), healthy, snapshot.devices.size() - healthy);
  }
}

void PluginManager::healthTick() {
  std::vector<std::shared_ptr<ResourcePool>> pools;
  PluginConfig config;
  std::shared_ptr<DataplaneMonitor> monitor;
  {
    absl::MutexLock lock(&mu_);
    pools = pools_;
    config = config_;
    monitor = monitor_;
  }
  absl::StatusOr<HostState> host = scan(config, monitor.get());
  if (!host.ok()) {
    metrics_->countError("scan");
    const std::string error(common::toStd(host.status().message()));
    if (error != lastScanError_)
      logger_->error("cannot scan the host error={}", common::logValue(error));
    lastScanError_ = error;
    absl::MutexLock lock(&mu_);
    scanError_ = error;
    return;
  }
  if (!lastScanError_.empty()) logger_->info("host scan works again");
  lastScanError_.clear();
  {
    absl::MutexLock lock(&mu_);
    lastGoodScan_ = steady_clock::now();
    scanError_.clear();
  }
  const bool reachable = host->dataplaneNetworksUp.has_value();
  // A dataplane that answers what this plugin cannot read (a network mode of a newer dataplane)
  // is not restarting: its view counts as unknown all the same, but the error is counted and
  // logged with its reason until it goes away.
  const absl::Status& failure = host->dataplaneError;
  const std::string unreadable = failure.ok() || dataplane_client::isTransient(failure)
                                     ? std::string()
                                     : std::string(common::toStd(failure.message()));
  if (!unreadable.empty()) {
    metrics_->countError("dataplane");
    if (unreadable != lastDataplaneError_) {
      logger_->error(
          "cannot use the dataplane's answer, its view counts as unknown socket={} "
          "error={}",
          monitor->socket().string(), common::logValue(unreadable));
    }
  }
  lastDataplaneError_ = unreadable;
  if (dataplaneReachable_ != reachable && unreadable.empty()) {
    // An unreachable dataplane is normal while it restarts: it is logged, not counted as an error.
    logger_->info("dataplane {} socket={}", reachable ? "reachable" : "not reachable",
                  monitor->socket().string());
  }
  dataplaneReachable_ = reachable;
  refresh(pools, *host);
  metrics_->countHealthScan();
}

void PluginManager::addressTick() {
  PluginConfig config;
  std::map<std::string, NetworkAddresses> previous;
  {
    absl::MutexLock lock(&mu_);
    config = config_;
    previous = addresses_;
  }
  std::map<std::string, NetworkAddresses> addresses = readAddresses(config, previous);
  absl::MutexLock lock(&mu_);
  addresses_ = std::move(addresses);
}

std::map<std::string, NetworkAddresses> PluginManager::readAddresses(
    const PluginConfig& config, const std::map<std::string, NetworkAddresses>& previous) {
  // Logs `error` for `key` when it differs from the last one, and a recovery when it is empty.
  auto report = [this](const std::string& key, const std::string& what, const std::string& error) {
    std::string& last = lastAddressErrors_[key];
    if (error == last) return;
    if (error.empty()) {
      logger_->info("{} answers again", what);
    } else {
      logger_->warn("{} cannot answer error={}", what, common::logValue(error));
    }
    last = error;
  };

  ipam::IpamConfig ipamConfig = config.ipam;
  ipamConfig.stateDir = options_.root.path(ipamConfig.stateDir).string();
  const std::map<std::string, std::vector<AttachmentNetwork>> resources =
      attachmentResources(config);

  // The attachments pods hold, over every attachment resource; none when the kubelet cannot say.
  std::optional<std::set<std::string>> held;
  const fs::path podResources = options_.root.path(kPodResourcesSocket);
  std::error_code ec;
  if (fs::exists(podResources, ec) && !config.ipam.networks.empty()) {
    held.emplace();
    for (const auto& [name, networks] : resources) {
      if (networks.empty()) continue;
      absl::StatusOr<std::set<std::string>> ids = listHeldDevices(
          podResources, common::strCat(config.deviceplugin.resourcePrefix, "/", name),
          kPodResourcesTimeout);
      if (!ids.ok()) {
        metrics_->countError("podresources");
        report("", "the kubelet's PodResources API",
               std::string(common::toStd(ids.status().message())));
        held.reset();
        break;
      }
      held->insert(ids->begin(), ids->end());
    }
    if (held) report("", "the kubelet's PodResources API", "");
  }

  std::map<std::string, NetworkAddresses> addresses;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> gauges;
  for (const auto& [name, networks] : resources) {
    for (const AttachmentNetwork& network : networks) {
      if (config.ipam.networks.count(network.name) == 0) continue;
      ipam::Ipam ipam(ipam::nodeNetconf(ipamConfig, network.name, options_.configPath), logger_,
                      [] { return std::chrono::system_clock::now(); });
      absl::StatusOr<ipam::Capacity> capacity = ipam.capacity();
      const std::string what = common::strCat("the IPAM of network ", network.name);
      if (!capacity.ok()) {
        metrics_->countError("ipam");
        report(network.name, what, std::string(common::toStd(capacity.status().message())));
        if (auto it = previous.find(network.name); it != previous.end()) {
          addresses[network.name] = it->second;
          addresses[network.name].held = held;
        }
        continue;
      }
      report(network.name, what, "");
      addresses[network.name] = {
          .freeLeases = capacity->freeLeases, .leases = capacity->leases, .held = held};
      gauges[network.name] = {capacity->freeLeases, capacity->leases};
    }
  }
  metrics_->setNetworkAddresses(gauges);
  return addresses;
}

void PluginManager::refreshNew(const std::vector<std::shared_ptr<ResourcePool>>& pools,
                               const PluginConfig& config, DataplaneMonitor* monitor) {
  absl::StatusOr<HostState> host = scan(config, monitor);
  if (!host.ok()) {
    // The health loop reports scan errors; the pools stay empty until a scan works.
    metrics_->countError("scan");
    return;
  }
  refresh(pools, *host);
  absl::MutexLock lock(&mu_);
  lastGoodScan_ = steady_clock::now();
}

void PluginManager::controlTick() {
  const std::optional<FileIdentity> configIdentity = fileIdentity(options_.configPath);
  if (reloadRequested_.exchange(false) || configIdentity != configIdentity_) reload();
  watchResources();
  const auto now = steady_clock::now();
  if (gcRequested_.exchange(false) || now >= nextGc_) {
    nextGc_ = now + options_.gcInterval;
    collectGarbage();
  }
}

void PluginManager::serve(const std::string& name, Resource& resource) {
  resource.server.reset();
  resource.registeredWith.reset();
  absl::StatusOr<std::unique_ptr<ResourceServer>> server =
      ResourceServer::start(resource.pool, socketPath(name), metrics_, logger_);
  if (!server.ok()) {
    metrics_->countError("server");
    logger_->error("cannot serve resource={} error={}", resource.pool->resourceName(),
                   common::logValue(common::toStd(server.status().message())));
    return;
  }
  resource.server = std::move(*server);
  // A new server is registered at once.
  resource.nextAttempt = steady_clock::now();
  resource.backoff = options_.registrationBackoffMin;
}

absl::Status PluginManager::health() const {
  const auto maxAge =
      std::max<std::chrono::milliseconds>(std::chrono::seconds(5), options_.healthInterval * 10);
  absl::MutexLock lock(&mu_);
  if (!unregistered_.empty()) {
    return absl::UnavailableError(
        common::strCat("not registered with the kubelet: ", names(unregistered_)));
  }
  const auto age = steady_clock::now() - lastGoodScan_;
  if (age > maxAge) {
    return absl::UnavailableError(
        common::strCat("no successful host scan for ",
                       std::chrono::duration_cast<std::chrono::seconds>(age).count(), " s",
                       scanError_.empty() ? std::string() : common::strCat(": ", scanError_)));
  }
  return absl::OkStatus();
}

void PluginManager::watchResources() {
  const std::optional<FileIdentity> kubelet = linkIdentity(kubeletSocket_);
  const auto now = steady_clock::now();
  if (kubelet != kubeletIdentity_) {
    if (kubelet) logger_->info("kubelet socket (re)created path={}", kubeletSocket_.string());
    for (auto& [name, resource] : resources_) {
      resource.nextAttempt = now;
      resource.backoff = options_.registrationBackoffMin;
    }
    kubeletIdentity_ = kubelet;
  }
  for (auto& [name, resource] : resources_) {
    const std::string& resourceName = resource.pool->resourceName();
    if (!resource.server || !resource.server->socketIntact()) {
      if (resource.server) {
        logger_->warn("socket removed (kubelet restart?), serving again resource={}", resourceName);
        resource.server.reset();
        resource.nextAttempt = now;
        resource.backoff = options_.registrationBackoffMin;
      }
      if (now < resource.nextAttempt) continue;
      serve(name, resource);
      if (!resource.server) {
        // Retried with the registration backoff, so that a socket another process holds does
        // not flood the log.
        resource.nextAttempt = now + resource.backoff;
        resource.backoff = std::min(resource.backoff * 2, options_.registrationBackoffMax);
        continue;
      }
    }
    if (resource.registeredWith && resource.registeredWith != kubelet) {
      resource.registeredWith.reset();
    }
    if (resource.registeredWith || now < resource.nextAttempt) continue;
    absl::Status status = kubelet ? registerWithKubelet(kubeletSocket_,
                                                        {.endpoint = socketFileName(name),
                                                         .resourceName = resourceName,
                                                         .preferredAllocationAvailable = true},
                                                        options_.registrationTimeout)
                                  : absl::UnavailableError(common::strCat("no kubelet socket at ",
                                                                          kubeletSocket_.string()));
    if (status.ok()) {
      metrics_->countRegistration(resourceName, true);
      logger_->info("registered with the kubelet resource={} endpoint={}", resourceName,
                    socketFileName(name));
      resource.registeredWith = kubelet;
      resource.backoff = options_.registrationBackoffMin;
      continue;
    }
    // Without a kubelet socket there is nothing to count: the kubelet is just not there yet.
    if (kubelet) {
      metrics_->countRegistration(resourceName, false);
      logger_->warn("registration failed, retrying in {}ms resource={} error={}",
                    resource.backoff.count(), resourceName,
                    common::logValue(common::toStd(status.message())));
    }
    resource.nextAttempt = now + resource.backoff;
    resource.backoff = std::min(resource.backoff * 2, options_.registrationBackoffMax);
  }
  std::vector<std::string> unregistered;
  std::map<std::string, bool> registered;
  for (const auto& [name, resource] : resources_) {
    const bool ok = resource.server && resource.registeredWith;
    registered[resource.pool->resourceName()] = ok;
    if (!ok) unregistered.push_back(resource.pool->resourceName());
  }
  metrics_->setRegistered(registered);
  absl::MutexLock lock(&mu_);
  unregistered_ = std::move(unregistered);
}

void PluginManager::reload() {
  configIdentity_ = fileIdentity(options_.configPath);
  absl::StatusOr<PluginConfig> loaded = loadConfig();
  if (!loaded.ok()) {
    metrics_->countReload(false);
    logger_->error("config reload failed, keeping the running config error={}",
                   common::logValue(common::toStd(loaded.status().message())));
    return;
  }
  const PluginConfig current = config();
  if (*loaded == current) {
    metrics_->countReload(true);
    logger_->info("config reloaded, nothing changed");
    return;
  }

  // Build everything new before touching what runs, so that a failure changes nothing. The
  // hugepages pools are the exception: each shares its mount directory and allocation record with
  // the pool it replaces, so it is built once the old server no longer allocates.
  const std::map<std::string, PoolSpec> specs = poolSpecs(*loaded);
  std::map<std::string, std::shared_ptr<ResourcePool>> built;
  std::vector<std::string> kept, restarted, added, removed;
  for (const auto& [name, spec] : specs) {
    auto it = resources_.find(name);
    if (it != resources_.end() && it->second.spec == spec) {
      kept.push_back(name);
      continue;
    }
    (it == resources_.end() ? added : restarted).push_back(name);
    if (std::holds_alternative<HugepagesPoolSpec>(spec)) continue;
    absl::StatusOr<std::shared_ptr<ResourcePool>> pool = createPool(spec);
    if (!pool.ok()) {
      metrics_->countReload(false);
      logger_->error("config reload failed, keeping the running config error={}",
                     common::logValue(common::toStd(pool.status().message())));
      return;
    }
    built[name] = *pool;
  }
  std::unique_ptr<common::MetricsServer> metricsServer;
  if (loaded->deviceplugin.metricsAddress != current.deviceplugin.metricsAddress) {
    absl::StatusOr<std::unique_ptr<common::MetricsServer>> started =
        startMetricsServer(loaded->deviceplugin.metricsAddress);
    if (!started.ok()) {
      metrics_->countReload(false);
      logger_->error("config reload failed, keeping the running config error={}",
                     common::logValue(common::toStd(started.status().message())));
      return;
    }
    metricsServer = std::move(*started);
  }

  // Commit.
  for (auto it = resources_.begin(); it != resources_.end();) {
    if (specs.contains(it->first)) {
      ++it;
      continue;
    }
    removed.push_back(it->first);
    if (it->second.server) it->second.server->stop();
    metrics_->removeResource(it->second.pool->resourceName());
    it = resources_.erase(it);
  }
  std::shared_ptr<DataplaneMonitor> monitor;
  {
    absl::MutexLock lock(&mu_);
    monitor = monitor_;
  }
  const fs::path controlSocket = options_.root.path(loaded->dataplane.controlSocket);
  if (!monitor || monitor->socket() != controlSocket) {
    monitor = std::make_shared<DataplaneMonitor>(controlSocket, options_.dataplaneTimeout);
  }
  std::vector<std::string> changed = restarted;
  changed.insert(changed.end(), added.begin(), added.end());
  for (const std::string& name : changed) {
    const PoolSpec& spec = specs.at(name);
    auto existing = resources_.find(name);
    if (existing != resources_.end()) {
      if (existing->second.server) existing->second.server->stop();
      metrics_->removeResource(existing->second.pool->resourceName());
    }
    std::shared_ptr<ResourcePool> pool = built[name];
    if (!pool) {
      absl::StatusOr<std::shared_ptr<ResourcePool>> created = createPool(spec);
      if (!created.ok()) {
        metrics_->countError("reload");
        logger_->error("cannot rebuild, keeping the previous config resource={} error={}", name,
                       common::logValue(common::toStd(created.status().message())));
        if (existing != resources_.end()) serve(name, existing->second);
        continue;
      }
      pool = *created;
    }
    refreshNew({pool}, *loaded, monitor.get());
    Resource& resource = resources_[name];
    resource.spec = spec;
    resource.pool = pool;
    serve(name, resource);
  }
  if (metricsServer) {
    metricsServer_ = std::move(metricsServer);
    metricsPort_ = metricsServer_->port();
  }
  publishState(*loaded, monitor);
  if (addressLoop_) addressLoop_->wake();  // count the new config's addresses now
  metrics_->countReload(true);
  logger_->info("config reloaded kept={} restarted={} added={} removed={}", names(kept),
                names(restarted), names(added), names(removed));
}

void PluginManager::collectGarbage() {
  for (const char* name : {kHugepagesResource, kHugepages2MiResource}) {
    auto it = resources_.find(name);
    if (it == resources_.end()) continue;
    collectGarbage(static_cast<HugepagesPool&>(*it->second.pool));
  }
}

void PluginManager::collectGarbage(HugepagesPool& pool) {
  if (pool.allocations().empty()) return;
  absl::StatusOr<std::set<std::string>> held = listHeldDevices(
      options_.root.path(kPodResourcesSocket), pool.resourceName(), kPodResourcesTimeout);
  if (!held.ok()) {
    // Without the kubelet's word nothing is released: a mount in use must never go.
    metrics_->countError("gc");
    logger_->warn("cannot list pod resources, hugepages garbage collection skipped error={}",
                  common::logValue(common::toStd(held.status().message())));
    return;
  }
  absl::StatusOr<std::vector<std::string>> released = pool.collectGarbage(*held, options_.gcGrace);
  if (!released.ok()) {
    metrics_->countError("gc");
    logger_->error("hugepages garbage collection failed error={}",
                   common::logValue(common::toStd(released.status().message())));
  }
}

}  // namespace enadpdk::deviceplugin
