#include "tests/support/fake_dataplane.h"

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_context.h>

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <chrono>
#include <system_error>

#include "common/unix_socket.h"

namespace enadpdk::testing {

namespace dp = dataplane::v1;

class FakeDataplane::Service final : public dp::Dataplane::Service {
 public:
  explicit Service(FakeDataplane& owner) : o_(owner) {}

  grpc::Status AddPort(grpc::ServerContext* ctx, const dp::AddPortRequest* request,
                       dp::AddPortResponse* response) override {
    return handle(ctx, "AddPort", *request, response, &Service::addPort);
  }
  grpc::Status DeletePort(grpc::ServerContext* ctx, const dp::DeletePortRequest* request,
                          dp::DeletePortResponse* response) override {
    return handle(ctx, "DeletePort", *request, response, &Service::deletePort);
  }
  grpc::Status GetPort(grpc::ServerContext* ctx, const dp::GetPortRequest* request,
                       dp::GetPortResponse* response) override {
    return handle(ctx, "GetPort", *request, response, &Service::getPort);
  }
  grpc::Status ListPorts(grpc::ServerContext* ctx, const dp::ListPortsRequest* request,
                         dp::ListPortsResponse* response) override {
    return handle(ctx, "ListPorts", *request, response, &Service::listPorts);
  }
  grpc::Status ListNetworks(grpc::ServerContext* ctx, const dp::ListNetworksRequest* request,
                            dp::ListNetworksResponse* response) override {
    return handle(ctx, "ListNetworks", *request, response, &Service::listNetworks);
  }
  grpc::Status GetStats(grpc::ServerContext* ctx, const dp::GetStatsRequest* request,
                        dp::GetStatsResponse* response) override {
    return handle(ctx, "GetStats", *request, response, &Service::getStats);
  }

 private:
  // Records the call, then answers as scripted or from the state (`stateful`, under the lock).
  template <typename Request, typename Response>
  grpc::Status handle(grpc::ServerContext* ctx, const std::string& method, const Request& request,
                      Response* response,
                      grpc::Status (Service::*stateful)(const Request&, Response*)) {
    Script script;
    {
      absl::MutexLock lock(&o_.mu_);
      o_.calls_.emplace_back(method, request.SerializeAsString());
      if (auto it = o_.scripts_.find(method); it != o_.scripts_.end()) script = it->second;
    }
    if (script.hang) {
      // A sync handler is not told about cancellation; it has to look. The wait is bounded so a
      // broken client cannot wedge the test binary.
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (!ctx->IsCancelled() && std::chrono::steady_clock::now() < give_up &&
             !o_.shutting_down_.WaitForNotificationWithTimeout(absl::Milliseconds(2))) {
      }
      return grpc::Status(grpc::StatusCode::CANCELLED, "fake: hung call abandoned");
    }
    if (!script.status.ok()) return script.status;
    if (script.scripted_response) {
      if (!response->ParseFromString(script.response)) {
        return grpc::Status(grpc::StatusCode::INTERNAL, "fake: scripted response does not parse");
      }
      return grpc::Status::OK;
    }
    grpc::Status status;
    {
      absl::MutexLock lock(&o_.mu_);
      status = (this->*stateful)(request, response);
    }
    if (status.ok() && !script.status_after.ok()) return script.status_after;
    return status;
  }

  grpc::Status addPort(const dp::AddPortRequest& request, dp::AddPortResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(o_.mu_) {
    dp::Port port = request.port();
    auto net = std::find_if(o_.networks_.begin(), o_.networks_.end(),
                            [&](const FakeNetwork& n) { return n.name == port.network(); });
    if (net == o_.networks_.end()) {
      return invalid("network: unknown network \"" + port.network() + "\"");
    }
    if (!o_.allowedDir_.empty()) {
      auto rel = std::filesystem::path(port.socket_path()).lexically_relative(o_.allowedDir_);
      if (port.socket_path().empty() || rel.empty() || *rel.begin() == "..") {
        return invalid("socket_path: \"" + port.socket_path() +
                       "\" is outside the allowed directories");
      }
    }
    if (net->vpc) {
      if (port.mac().empty()) port.set_mac(net->eniMac);
      if (port.mac() != net->eniMac) return invalid("mac: ports on vpc network use the ENI's MAC");
      if (port.ips().empty()) return invalid("ips: a port on a vpc network needs an IP");
    }
    if (port.vhost_mode() == dp::VHOST_MODE_UNSPECIFIED) port.set_vhost_mode(dp::VHOST_MODE_SERVER);
    if (port.queues() == 0) port.set_queues(1);
    if (port.mtu() == 0) port.set_mtu(net->mtu);
    if (auto it = o_.ports_.find(port.id()); it != o_.ports_.end()) {
      if (!google::protobuf::util::MessageDifferencer::Equals(it->second, port)) {
        return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                            "id: port \"" + port.id() + "\" exists with other settings");
      }
    }
    for (const auto& [id, other] : o_.ports_) {
      if (id == port.id() || other.network() != port.network()) continue;
      for (const std::string& ip : port.ips()) {
        if (std::find(other.ips().begin(), other.ips().end(), ip) != other.ips().end()) {
          return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                              "ips: " + ip + " is already used by port \"" + id + "\"");
        }
      }
    }
    o_.ports_[port.id()] = port;
    *response->mutable_port() = port;
    return grpc::Status::OK;
  }

  grpc::Status deletePort(const dp::DeletePortRequest& request, dp::DeletePortResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(o_.mu_) {
    auto it = o_.ports_.find(request.id());
    const bool matches =
        it != o_.ports_.end() && (request.uid().empty() || it->second.uid() == request.uid());
    if (matches) o_.ports_.erase(it);
    response->set_existed(matches);
    return grpc::Status::OK;
  }

  grpc::Status getPort(const dp::GetPortRequest& request, dp::GetPortResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(o_.mu_) {
    auto it = o_.ports_.find(request.id());
    if (it == o_.ports_.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no port \"" + request.id() + "\"");
    }
    *response->mutable_port() = it->second;
    return grpc::Status::OK;
  }

  grpc::Status listPorts(const dp::ListPortsRequest& request, dp::ListPortsResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(o_.mu_) {
    for (const auto& [id, port] : o_.ports_) {
      if (request.network().empty() || request.network() == port.network()) {
        *response->add_ports() = port;
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status listNetworks(const dp::ListNetworksRequest&, dp::ListNetworksResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(o_.mu_) {
    addNetworks(*response->mutable_networks());
    return grpc::Status::OK;
  }

  grpc::Status getStats(const dp::GetStatsRequest&, dp::GetStatsResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(o_.mu_) {
    for (const auto& [id, port] : o_.ports_) *response->add_ports() = port;
    addNetworks(*response->mutable_networks());
    return grpc::Status::OK;
  }

  void addNetworks(google::protobuf::RepeatedPtrField<dp::Network>& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(o_.mu_) {
    for (const FakeNetwork& n : o_.networks_) {
      dp::Network* net = out.Add();
      net->set_name(n.name);
      net->set_mode(n.wireMode ? static_cast<dp::NetworkMode>(*n.wireMode)
                    : n.vpc    ? dp::NETWORK_MODE_VPC
                               : dp::NETWORK_MODE_L2);
      net->set_mtu(n.mtu);
      net->set_up(n.up);
      net->set_port_count(static_cast<uint32_t>(
          std::count_if(o_.ports_.begin(), o_.ports_.end(),
                        [&](const auto& entry) { return entry.second.network() == n.name; })));
    }
  }

  static grpc::Status invalid(const std::string& msg) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, msg);
  }

  FakeDataplane& o_;
};

std::unique_ptr<FakeDataplane> FakeDataplane::start(const std::filesystem::path& socket,
                                                    std::vector<FakeNetwork> networks,
                                                    const std::filesystem::path& allowedDir) {
  std::error_code ec;
  std::filesystem::create_directories(socket.parent_path(), ec);
  std::filesystem::remove(socket, ec);
  std::unique_ptr<FakeDataplane> fake(new FakeDataplane());
  {
    absl::MutexLock lock(&fake->mu_);
    fake->networks_ = std::move(networks);
    fake->allowedDir_ = allowedDir;
  }
  fake->socket_ = socket;
  fake->service_ = std::make_unique<Service>(*fake);
  // Process-wide switch; it has to be set before a server is built.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(common::grpcUnixTarget(socket), grpc::InsecureServerCredentials());
  builder.RegisterService(fake->service_.get());
  fake->server_ = builder.BuildAndStart();
  if (!fake->server_) {
    ADD_FAILURE() << "cannot serve the fake dataplane on " << socket;
    return nullptr;
  }
  fake->server_->GetHealthCheckService()->SetServingStatus(true);
  return fake;
}

FakeDataplane::~FakeDataplane() {
  shutting_down_.Notify();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server_->Wait();
  }
  std::error_code ec;
  std::filesystem::remove(socket_, ec);
}

void FakeDataplane::reply(const std::string& method, const google::protobuf::Message& response) {
  absl::MutexLock lock(&mu_);
  scripts_[method] = Script{.response = response.SerializeAsString(), .scripted_response = true};
}

void FakeDataplane::fail(const std::string& method, grpc::Status status) {
  absl::MutexLock lock(&mu_);
  scripts_[method] = Script{.status = std::move(status)};
}

void FakeDataplane::failAfterApplying(const std::string& method, grpc::Status status) {
  absl::MutexLock lock(&mu_);
  scripts_[method] = Script{.status_after = std::move(status)};
}

void FakeDataplane::hang(const std::string& method) {
  absl::MutexLock lock(&mu_);
  scripts_[method] = Script{.hang = true};
}

void FakeDataplane::clearFailures() {
  absl::MutexLock lock(&mu_);
  scripts_.clear();
}

void FakeDataplane::setServing(bool serving) {
  server_->GetHealthCheckService()->SetServingStatus(serving);
}

void FakeDataplane::setNetworks(std::vector<FakeNetwork> networks) {
  absl::MutexLock lock(&mu_);
  networks_ = std::move(networks);
}

std::map<std::string, dp::Port> FakeDataplane::ports() const {
  absl::MutexLock lock(&mu_);
  return ports_;
}

void FakeDataplane::putPort(const dp::Port& port) {
  absl::MutexLock lock(&mu_);
  ports_[port.id()] = port;
}

std::vector<std::string> FakeDataplane::calls() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [method, request] : calls_) out.push_back(method);
  return out;
}

size_t FakeDataplane::callCount(const std::string& method) const {
  absl::MutexLock lock(&mu_);
  return static_cast<size_t>(std::count_if(calls_.begin(), calls_.end(),
                                           [&](const auto& call) { return call.first == method; }));
}

void FakeDataplane::clearCalls() {
  absl::MutexLock lock(&mu_);
  calls_.clear();
}

std::string FakeDataplane::lastRequestBytes(const std::string& method) const {
  absl::MutexLock lock(&mu_);
  for (auto it = calls_.rbegin(); it != calls_.rend(); ++it) {
    if (it->first == method) return it->second;
  }
  ADD_FAILURE() << "no " << method << " call was received";
  return "";
}

}  // namespace enadpdk::testing
