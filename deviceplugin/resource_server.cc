#include "deviceplugin/resource_server.h"

#include <grpcpp/grpcpp.h>

#include <system_error>

#include "common/strings.h"
#include "common/unix_socket.h"
#include "deviceplugin/plugin_service.h"

namespace enadpdk::deviceplugin {
namespace {

constexpr mode_t kSocketMode = 0600;
constexpr std::chrono::seconds kShutdownGrace{1};

}  // namespace

absl::StatusOr<std::unique_ptr<ResourceServer>> ResourceServer::start(
    std::shared_ptr<ResourcePool> pool, const std::filesystem::path& socketPath,
    std::shared_ptr<PluginMetrics> metrics, std::shared_ptr<spdlog::logger> logger) {
  if (absl::Status status = common::checkSocketPath(socketPath.string()); !status.ok()) {
    return status;
  }
  if (absl::Status status = common::removeStaleSocket(socketPath); !status.ok()) return status;
  std::unique_ptr<ResourceServer> server(new ResourceServer(pool, socketPath));
  server->service_ = std::make_unique<PluginService>(pool, std::move(metrics), std::move(logger));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(common::grpcUnixTarget(socketPath), grpc::InsecureServerCredentials());
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (!server->server_) {
    return absl::UnavailableError(
        common::strCat("cannot serve ", pool->resourceName(), " on ", socketPath.string()));
  }
  server->identity_ = linkIdentity(socketPath);
  if (absl::Status status = common::setFilePermissions(socketPath, kSocketMode, ""); !status.ok()) {
    return status;  // the destructor stops the server and removes the socket
  }
  // chmod changed the change time: remember the file as it is now.
  server->identity_ = linkIdentity(socketPath);
  return server;
}

ResourceServer::ResourceServer(std::shared_ptr<ResourcePool> pool, std::filesystem::path socketPath)
    : pool_(std::move(pool)), socketPath_(std::move(socketPath)) {}

ResourceServer::~ResourceServer() { stop(); }

void ResourceServer::stop() {
  if (!server_) return;
  service_->stop();
  server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  server_->Wait();
  server_.reset();
  if (socketIntact()) {
    std::error_code ec;
    std::filesystem::remove(socketPath_, ec);
  }
  identity_.reset();
}

bool ResourceServer::socketIntact() const {
  return identity_.has_value() && linkIdentity(socketPath_) == identity_;
}

}  // namespace enadpdk::deviceplugin
