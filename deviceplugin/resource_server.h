#pragma once

#include <filesystem>
#include <memory>
#include <optional>

#include <spdlog/logger.h>

#include "absl/status/statusor.h"
#include "common/file_identity.h"
#include "deviceplugin/plugin_metrics.h"
#include "deviceplugin/resource_pool.h"

namespace grpc {
class Server;
}

namespace enadpdk::deviceplugin {

// Shared with the dataplane's config reload (common/file_identity.h).
using common::FileIdentity;
using common::fileIdentity;
using common::linkIdentity;

class PluginService;

// The gRPC server of one resource on its Unix socket (mode 0600) in the device-plugin directory.
// It remembers which file it bound, so that the plugin notices when a restarting kubelet deletes
// it. A server cannot listen again once its socket is gone: the plugin starts a new one.
// Not thread-safe: owned and driven by the plugin's control loop.
class ResourceServer {
 public:
  // Serves `pool` on `socketPath`, removing a stale socket left there by a dead process first.
  // FailedPrecondition when a live process listens there or the path is not a socket;
  // Unavailable when gRPC cannot listen.
  static absl::StatusOr<std::unique_ptr<ResourceServer>> start(
      std::shared_ptr<ResourcePool> pool, const std::filesystem::path& socketPath,
      std::shared_ptr<PluginMetrics> metrics, std::shared_ptr<spdlog::logger> logger);
  // stop().
  ~ResourceServer();
  ResourceServer(const ResourceServer&) = delete;
  ResourceServer& operator=(const ResourceServer&) = delete;

  // Ends the ListAndWatch streams, shuts the server down (cancelling RPCs still running after
  // one second) and removes the socket if it is still the one this server bound. Idempotent.
  void stop();

  // True while the socket file is the one this server bound.
  bool socketIntact() const;

  // The socket path.
  const std::filesystem::path& socketPath() const { return socketPath_; }
  // The pool served.
  const std::shared_ptr<ResourcePool>& pool() const { return pool_; }

 private:
  ResourceServer(std::shared_ptr<ResourcePool> pool, std::filesystem::path socketPath);

  const std::shared_ptr<ResourcePool> pool_;
  const std::filesystem::path socketPath_;
  std::unique_ptr<PluginService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::optional<FileIdentity> identity_;
};

}  // namespace enadpdk::deviceplugin
