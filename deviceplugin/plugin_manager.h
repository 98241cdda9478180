#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <spdlog/logger.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/file_identity.h"
#include "common/host_root.h"
#include "common/metrics.h"
#include "deviceplugin/clock.h"
#include "deviceplugin/dataplane_monitor.h"
#include "deviceplugin/dedicated_pool.h"
#include "deviceplugin/ena_pool.h"
#include "deviceplugin/hugepages_pool.h"
#include "deviceplugin/hugetlbfs.h"
#include "deviceplugin/periodic_worker.h"
#include "deviceplugin/plugin_config.h"
#include "deviceplugin/plugin_metrics.h"
#include "deviceplugin/resource_server.h"
#include "deviceplugin/uplink_pool.h"

namespace enadpdk::deviceplugin {

// How the plugin runs: its seams and the periods of its loops. Every field has a default except
// the seams, which must be set.
struct PluginOptions {
  // The host root (--root): sysfs, /dev, the kubelet's directories and every configured path
  // are read and written under it.
  common::HostRoot root{};
  // The configuration file (not under the root).
  std::filesystem::path configPath = "/etc/ena-dpdk/config.json";
  // Mounts hugetlbfs instances and faults in their pages for the hugepages resources; must
  // outlive the manager.
  HugetlbfsMounter* mounter = nullptr;
  // Timestamps hugepage allocations; must outlive the manager.
  const Clock* clock = nullptr;
  // Period of the health loop (sysfs and dataplane re-scan).
  std::chrono::milliseconds healthInterval{200};
  // Period of the control loop (sockets, kubelet restarts, registration, config file changes).
  std::chrono::milliseconds watchInterval{100};
  // Bound of one dataplane ListNetworks call.
  std::chrono::milliseconds dataplaneTimeout{200};
  // Bound of one Register call.
  std::chrono::milliseconds registrationTimeout{5000};
  // First and largest delay between failed registrations.
  std::chrono::milliseconds registrationBackoffMin{100};
  std::chrono::milliseconds registrationBackoffMax{5000};
  // Period of the hugepages garbage collection, and how old an allocation must be before it may
  // be released (the kubelet reports a container's devices only after Allocate returned).
  std::chrono::milliseconds gcInterval{30000};
  std::chrono::seconds gcGrace{60};
  // Replaces deviceplugin.metricsAddress of the configuration file, at start and on every
  // reload ("" keeps the file's): --metrics-address, for the one ConfigMap that serves every
  // node while each plugin listens on its own node's address.
  std::string metricsAddress{};
  // Period of the address loop: each network's IPAM capacity (leases, and the ENI's addresses
  // through the IPAM's metadata cache) and the attachments pods hold (PodResources API).
  std::chrono::milliseconds addressInterval{2000};
};

// The device plugin: loads the configuration, builds one pool and one gRPC server per resource,
// registers them with the kubelet and keeps everything current.
//
// Three loops run on their own threads. The health loop re-reads sysfs and asks the dataplane
// which networks are up every healthInterval and refreshes the pools, whose servers push changed
// device lists to ListAndWatch. The control loop, every watchInterval, serves again and
// re-registers a resource whose socket was deleted or whose kubelet socket was replaced (a
// kubelet restart), registers with backoff while the kubelet is absent, reloads the
// configuration on request (SIGHUP) or when the file changes — resources whose configuration is
// unchanged keep their server and registration, a configuration that fails to load is logged and
// the running one kept — and releases hugepage mounts no pod holds any more (PodResources API).
// The address loop, every addressInterval, asks each network's IPAM (ipam.networks) how many
// leases it can still make and holds, and the kubelet which attachments pods hold, so that the
// health loop lists no more healthy attachments than can get an address (healthyWithin()). A
// network whose IPAM cannot answer keeps its last known view (errors_total{kind="ipam"}); one
// never known is not limited.
//
// Thread-safety: public methods may be called from any thread. Lock order: mu_, then the pools'
// own mutexes. The resource table is owned by the control loop (and by start()/stop() while the
// loops are not running).
class PluginManager {
 public:
  // Loads the configuration, creates the pools, serves every resource, starts the metrics
  // endpoint and both loops. Fails (leaving nothing behind) on a bad configuration, a socket
  // another live process serves, or a metrics address that cannot be bound.
  static absl::StatusOr<std::unique_ptr<PluginManager>> start(
      PluginOptions options, std::shared_ptr<spdlog::logger> logger);
  // stop().
  ~PluginManager();
  PluginManager(const PluginManager&) = delete;
  PluginManager& operator=(const PluginManager&) = delete;

  // Stops both loops and every server and removes the sockets. Idempotent.
  void stop();

  // Asks the control loop to reload the configuration (what SIGHUP does). Returns at once.
  void requestReload();
  // Asks the control loop to run the hugepages garbage collection now. Returns at once.
  void requestGarbageCollection();

  // The configuration in force.
  PluginConfig config() const;
  // The metrics, shared with the servers.
  const std::shared_ptr<PluginMetrics>& metrics() const { return metrics_; }
  // The TCP port of the metrics endpoint.
  int metricsPort() const { return metricsPort_.load(); }
  // The socket path of a resource (by name without prefix) under the root.
  std::filesystem::path socketPath(std::string_view resource) const;
  // What GET /healthz answers: OK while every resource is served and registered with the
  // kubelet's current socket, and the health loop's last host scan succeeded within
  // max(5 s, 10 health intervals); else Unavailable naming what is wrong ("not registered with
  // the kubelet: dpdk.aws/ena", "no successful host scan for 12 s: <error>").
  absl::Status health() const;

 private:
  using PoolSpec = std::variant<EnaPoolSpec, DedicatedPoolSpec, UplinkPoolSpec, HugepagesPoolSpec>;

  // One served resource; owned by the control loop.
  struct Resource {
    // What the pool was built from (compared on reload).
    PoolSpec spec{};
    // The devices and allocation logic.
    std::shared_ptr<ResourcePool> pool{};
    // The gRPC server; none after a failed start (retried with backoff).
    std::unique_ptr<ResourceServer> server{};
    // The kubelet socket the resource is registered with; none while not registered.
    std::optional<FileIdentity> registeredWith{};
    // When the next serve or register attempt is due, and the delay after a failure.
    std::chrono::steady_clock::time_point nextAttempt{};
    std::chrono::milliseconds backoff{0};
  };

  PluginManager(PluginOptions options, std::shared_ptr<spdlog::logger> logger);

  // The pools a configuration asks for, by resource name without prefix. ena-uplink only when
  // the dataplane has a PCI uplink: an empty resource would show on every node as capacity 0 and
  // take a socket and a registration, and a pod asking for it pends either way.
  static std::map<std::string, PoolSpec> poolSpecs(const PluginConfig& config);
  // Builds the pool of a spec.
  absl::StatusOr<std::shared_ptr<ResourcePool>> createPool(const PoolSpec& spec) const;
  // Reads the host state the pools derive their lists from; `config` supplies the uplinks.
  absl::StatusOr<HostState> scan(const PluginConfig& config, DataplaneMonitor* monitor) const;
  // Refreshes `pools` from `host` and updates their device gauges.
  void refresh(const std::vector<std::shared_ptr<ResourcePool>>& pools, const HostState& host);
  // Scans and refreshes pools not served yet, so that their first list is complete.
  void refreshNew(const std::vector<std::shared_ptr<ResourcePool>>& pools,
                  const PluginConfig& config, DataplaneMonitor* monitor);
  // Starts a metrics endpoint on `address`; when that fails while one runs (it may hold the
  // port), retries after stopping it and restores it if the retry fails too.
  // The configuration file with options_.metricsAddress applied.
  absl::StatusOr<PluginConfig> loadConfig() const;
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> startMetricsServer(
      const std::string& address);
  // (Re)starts the server of `resource`; on success it is due for registration at once.
  void serve(const std::string& name, Resource& resource);
  // Publishes the pools and config the health loop reads.
  void publishState(PluginConfig config, std::shared_ptr<DataplaneMonitor> monitor);

  void healthTick();
  void controlTick();
  void addressTick();
  // Each network's address view for `config` (root-mapped IPAM state); `previous` fills in for a
  // network whose IPAM cannot answer now.
  std::map<std::string, NetworkAddresses> readAddresses(
      const PluginConfig& config, const std::map<std::string, NetworkAddresses>& previous);
  void reload();
  void watchResources();
  // Releases the hugepage allocations of both hugepages resources that no pod holds.
  void collectGarbage();
  // The same for one hugepages resource: asks the PodResources API which of its devices pods
  // hold, then releases the rest (errors are counted and logged).
  void collectGarbage(HugepagesPool& pool);

  const PluginOptions options_;
  const std::shared_ptr<spdlog::logger> logger_;
  const std::shared_ptr<PluginMetrics> metrics_ = std::make_shared<PluginMetrics>();
  const std::filesystem::path kubeletSocket_;
  std::atomic<int> metricsPort_{0};
  std::atomic<bool> reloadRequested_{false};
  std::atomic<bool> gcRequested_{false};

  mutable absl::Mutex mu_;
  // Resources not registered with the current kubelet socket (the control loop's last view).
  std::vector<std::string> unregistered_ ABSL_GUARDED_BY(mu_);
  // When the health loop last scanned the host successfully (steady clock), and the last error.
  std::chrono::steady_clock::time_point lastGoodScan_ ABSL_GUARDED_BY(mu_);
  std::string scanError_ ABSL_GUARDED_BY(mu_);
  PluginConfig config_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<ResourcePool>> pools_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<DataplaneMonitor> monitor_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, NetworkAddresses> addresses_ ABSL_GUARDED_BY(mu_);

  // Owned by the control loop.
  std::map<std::string, Resource> resources_;
  std::unique_ptr<common::MetricsServer> metricsServer_;
  std::optional<FileIdentity> configIdentity_;
  std::optional<FileIdentity> kubeletIdentity_;
  std::chrono::steady_clock::time_point nextGc_{};

  // Owned by the health loop.
  std::optional<bool> dataplaneReachable_;
  std::string lastScanError_;
  // The message of the dataplane's last unreadable answer; empty when it was readable or absent.
  std::string lastDataplaneError_;

  // Owned by the address loop: the last error per network (or of the kubelet, key ""), logged
  // when it changes.
  std::map<std::string, std::string> lastAddressErrors_;

  // Declared last: destroyed (stopped) first.
  std::unique_ptr<PeriodicWorker> addressLoop_;
  std::unique_ptr<PeriodicWorker> health_;
  std::unique_ptr<PeriodicWorker> control_;
};

}  // namespace enadpdk::deviceplugin
