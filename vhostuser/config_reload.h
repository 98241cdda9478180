#pragma once

// Applying a changed config file to a running dataplane (docs/dataplane.md, "Reloading the
// configuration"): which keys a running dataplane can take (planReload), when the file changed
// (ConfigWatcher), and the reload itself, all or nothing (ConfigReloader).

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/logger.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/file_identity.h"
#include "common/metrics.h"
#include "vhostuser/dataplane_config.h"

namespace enadpdk::vhostuser {

// A key whose new value only a restart applies, as a refused reload names it.
struct RestartChange {
  // The key's JSON path, networks by name: "dataplane.workers", "dataplane.networks[eni1].mtu".
  std::string key{};
  // What happened to it: "changed", "removed", or why an added network needs a restart.
  std::string what = "changed";

  // Field-wise comparison.
  bool operator==(const RestartChange&) const = default;
};

// How a new "dataplane" section differs from the running one.
struct ReloadPlan {
  // Changed keys only a restart applies; a reload with any of them is refused as a whole.
  std::vector<RestartChange> restart{};
  // Changed keys a running dataplane applies (an added network is "dataplane.networks[name]").
  std::vector<std::string> live{};

  // True when the new section differs from the running one at all.
  bool changed() const { return !restart.empty() || !live.empty(); }
};

// Compares the running config with a new one, key by key (networks by name, so their order does
// not matter). Live: cniStateDir, metricsAddress, allowedSocketDirs, socket.owner, socket.mode,
// macAgingSeconds, maxPorts and added networks (without uplink, or with a vdev uplink). Every
// other change needs a restart, as does a network added with a PCI uplink (the kubelet allocates
// the uplinks to the dataplane's pod, and EAL's allow list carries their device arguments, at
// start only).
ReloadPlan planReload(const DataplaneConfig& running, const DataplaneConfig& next);

// The log line of a refused key: "config reload: dataplane.workers changed; restart the
// dataplane to apply it".
std::string refusalLine(const RestartChange& change);

// Notices that the file a path names changed, including on a ConfigMap volume, where the path is
// a link through `..data` and an update swaps that link (the path then resolves to another
// file). Polled by the main loop; not thread-safe.
class ConfigWatcher {
 public:
  // Takes the file's current identity as seen: construct it before the first read of the file,
  // so that a change during startup is noticed.
  explicit ConfigWatcher(std::filesystem::path path);

  // True once the identity the path resolves to (common::fileIdentity: device, inode, times,
  // size; none while it does not resolve) differs from the one last seen and has stayed the same
  // since the previous poll, so that a writer that is not atomic has finished. Then that
  // identity counts as seen. Call about once a second.
  bool poll();
  // Counts the current identity as seen (a reload that reads the file for another reason calls
  // it before reading).
  void markSeen();

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::optional<common::FileIdentity> seen_;
  // A new identity seen by the last poll, waiting to stay the same for one more.
  std::optional<std::optional<common::FileIdentity>> pending_;
};

// The outcome of one reload, as counted in ena_dpdk_dataplane_config_reloads_total{result}.
enum class ReloadResult {
  Applied,  // the new config is running (also when nothing changed)
  Refused,  // a key changed that only a restart applies: nothing changed
  Failed,   // unreadable, malformed, or a live change could not be made: nothing changed
};
std::string_view reloadResultName(ReloadResult result);

// What set off a reload, for the log.
enum class ReloadTrigger {
  Signal,      // SIGHUP
  FileChange,  // ConfigWatcher
};

// What a reload acts on, handed in by the dataplane's main (tests hand in fakes).
struct ReloadTargets {
  // Applies the live keys of `next` to the switch (Switch::applyConfig), all or nothing.
  std::function<absl::Status(const DataplaneConfig& next)> apply{};
  // The dataplane's metrics (renderMetrics), to which the endpoint appends the reload metrics;
  // called from the endpoint's thread.
  std::function<std::string()> render{};
  // The dataplane's health for /healthz (Switch::health); called from the endpoint's thread.
  std::function<absl::Status()> health{};
  // Applied to every config read from the file before it is compared with the running one (the
  // --metrics-address flag wins over the file's metricsAddress, as at start); may be empty.
  std::function<void(DataplaneConfig&)> adjust{};
};

// Reloads the dataplane's config file on request (SIGHUP) or when the file changed, and owns the
// metrics endpoint, whose address a reload may move. A reload reads the file once, parses its
// "dataplane" section and compares it with the running one (planReload): with any key that needs
// a restart it is refused (one log line per key, nothing changes); otherwise the metrics endpoint
// moves (the new address bound before the old one stops, unless they share the port) and the
// switch takes the rest; when either fails both are put back and the reload fails.
//
// Threading: reload(), poll() and running() from the main loop only; the counters, restart keys
// and renderMetrics() from any thread (the metrics endpoint's).
class ConfigReloader {
 public:
  // Starts the metrics endpoint (common::MetricsServer) on `running.metricsAddress`; the error
  // names the key.
  static absl::StatusOr<std::unique_ptr<ConfigReloader>> start(DataplaneConfig running,
                                                               ConfigWatcher watcher,
                                                               ReloadTargets targets,
                                                               std::shared_ptr<spdlog::logger> log);

  // Reads the file and applies it.
  ReloadResult reload(ReloadTrigger trigger) ABSL_LOCKS_EXCLUDED(mu_);
  // Reloads when the watcher saw the file change and its content differs from what the last
  // reload read; nullopt when it did not reload.
  std::optional<ReloadResult> poll() ABSL_LOCKS_EXCLUDED(mu_);

  // The config running now: as started, then as last applied.
  const DataplaneConfig& running() const { return running_; }
  // The TCP port the metrics endpoint listens on.
  int metricsPort() const { return metrics_ ? metrics_->port() : -1; }
  // Reloads with `result` so far.
  uint64_t count(ReloadResult result) const;
  // The keys the last refused reload named, until a reload is applied.
  std::vector<RestartChange> restartRequired() const ABSL_LOCKS_EXCLUDED(mu_);
  // The reload metrics in Prometheus text: ena_dpdk_dataplane_config_reloads_total{result} and
  // ena_dpdk_dataplane_config_restart_required{key}.
  std::string renderMetrics() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  ConfigReloader(DataplaneConfig running, ConfigWatcher watcher, ReloadTargets targets,
                 std::shared_ptr<spdlog::logger> log);
  // Applies `text`, the file's content (or why it could not be read).
  ReloadResult process(ReloadTrigger trigger, const absl::StatusOr<std::string>& text)
      ABSL_LOCKS_EXCLUDED(mu_);
  ReloadResult fail(ReloadTrigger trigger, const absl::Status& status);
  absl::Status applyLive(const DataplaneConfig& next);
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> startMetrics(const std::string& address);
  // Serves metrics on `address` instead; `previous` receives the old endpoint when it still
  // runs (it stops when dropped).
  absl::Status moveMetrics(const std::string& address,
                           std::unique_ptr<common::MetricsServer>& previous);
  // Undoes moveMetrics().
  void restoreMetrics(std::unique_ptr<common::MetricsServer> previous);

  DataplaneConfig running_;
  ConfigWatcher watcher_;
  const ReloadTargets targets_;
  std::shared_ptr<spdlog::logger> log_;
  // FNV-1a of the bytes the last reload read (none before the first).
  std::optional<uint64_t> read_hash_;
  std::atomic<uint64_t> counts_[3] = {0, 0, 0};  // by ReloadResult
  mutable absl::Mutex mu_;
  std::vector<RestartChange> restart_required_ ABSL_GUARDED_BY(mu_);
  // Last, so that it stops first: its thread renders from the members above.
  std::unique_ptr<common::MetricsServer> metrics_;
};

}  // namespace enadpdk::vhostuser
