#include "tests/cni/fake_port_dataplane.h"

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_context.h>
#include <gtest/gtest.h>

#include <google/protobuf/util/message_differencer.h>

#include "common/unix_socket.h"

namespace enadpdk::testing {

namespace dp = dataplane::v1;

class FakePortDataplane::Service final : public dp::Dataplane::Service {
 public:
  explicit Service(FakePortDataplane& owner) : o_(owner) {}

  grpc::Status AddPort(grpc::ServerContext*, const dp::AddPortRequest* request,
                       dp::AddPortResponse* response) override {
    absl::MutexLock lock(&o_.mu_);
    if (auto s = enter("AddPort"); !s.ok()) return s;
    dp::Port port = request->port();
    auto net = std::find_if(o_.networks_.begin(), o_.networks_.end(),
                            [&](const FakeNetwork& n) { return n.name == port.network(); });
    if (net == o_.networks_.end())
      return invalid("network: unknown network \"" + port.network() + "\"");
    auto rel = std::filesystem::path(port.socket_path()).lexically_relative(o_.allowedDir_);
    if (port.socket_path().empty() || rel.empty() || *rel.begin() == "..") {
      return invalid("socket_path: \"" + port.socket_path() +
                     "\" is outside the allowed directories");
    }
    if (net->vpc) {
      if (port.mac().empty()) port.set_mac(net->eniMac);
      if (port.mac() != net->eniMac) return invalid("mac: ports on vpc network use the ENI's MAC");
      if (port.ips().empty()) return invalid("ips: a port on a vpc network needs an IP");
    }
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
    if (auto it = o_.failuresAfter_.find("AddPort"); it != o_.failuresAfter_.end()) {
      return it->second;
    }
    return grpc::Status::OK;
  }

  grpc::Status DeletePort(grpc::ServerContext*, const dp::DeletePortRequest* request,
                          dp::DeletePortResponse* response) override {
    absl::MutexLock lock(&o_.mu_);
    if (auto s = enter("DeletePort"); !s.ok()) return s;
    auto it = o_.ports_.find(request->id());
    const bool matches =
        it != o_.ports_.end() && (request->uid().empty() || it->second.uid() == request->uid());
    if (matches) o_.ports_.erase(it);
    response->set_existed(matches);
    return grpc::Status::OK;
  }

  grpc::Status GetPort(grpc::ServerContext*, const dp::GetPortRequest* request,
                       dp::GetPortResponse* response) override {
    absl::MutexLock lock(&o_.mu_);
    if (auto s = enter("GetPort"); !s.ok()) return s;
    auto it = o_.ports_.find(request->id());
    if (it == o_.ports_.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no port \"" + request->id() + "\"");
    }
    *response->mutable_port() = it->second;
    return grpc::Status::OK;
  }

  grpc::Status ListPorts(grpc::ServerContext*, const dp::ListPortsRequest* request,
                         dp::ListPortsResponse* response) override {
    absl::MutexLock lock(&o_.mu_);
    if (auto s = enter("ListPorts"); !s.ok()) return s;
    for (const auto& [id, port] : o_.ports_) {
      if (request->network().empty() || request->network() == port.network()) {
        *response->add_ports() = port;
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status ListNetworks(grpc::ServerContext*, const dp::ListNetworksRequest*,
                            dp::ListNetworksResponse* response) override {
    absl::MutexLock lock(&o_.mu_);
    if (auto s = enter("ListNetworks"); !s.ok()) return s;
    for (const FakeNetwork& n : o_.networks_) {
      dp::Network* net = response->add_networks();
      net->set_name(n.name);
      net->set_mode(n.vpc ? dp::NETWORK_MODE_VPC : dp::NETWORK_MODE_L2);
      net->set_mtu(n.mtu);
      net->set_up(true);
    }
    return grpc::Status::OK;
  }

 private:
  grpc::Status enter(const std::string& method) ABSL_EXCLUSIVE_LOCKS_REQUIRED(o_.mu_) {
    o_.calls_.push_back(method);
    auto it = o_.failures_.find(method);
    return it == o_.failures_.end() ? grpc::Status::OK : it->second;
  }
  static grpc::Status invalid(const std::string& msg) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, msg);
  }

  FakePortDataplane& o_;
};

std::unique_ptr<FakePortDataplane> FakePortDataplane::start(
    const std::filesystem::path& socket, std::vector<FakeNetwork> networks,
    const std::filesystem::path& allowedDir) {
  std::unique_ptr<FakePortDataplane> fake(new FakePortDataplane());
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

FakePortDataplane::~FakePortDataplane() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
  }
  std::error_code ec;
  std::filesystem::remove(socket_, ec);
}

void FakePortDataplane::fail(const std::string& method, grpc::Status status) {
  absl::MutexLock lock(&mu_);
  failures_[method] = std::move(status);
}

void FakePortDataplane::clearFailures() {
  absl::MutexLock lock(&mu_);
  failures_.clear();
  failuresAfter_.clear();
}

void FakePortDataplane::failAfterApplying(const std::string& method, grpc::Status status) {
  absl::MutexLock lock(&mu_);
  failuresAfter_[method] = std::move(status);
}

void FakePortDataplane::setServing(bool serving) {
  server_->GetHealthCheckService()->SetServingStatus(serving);
}

std::map<std::string, dp::Port> FakePortDataplane::ports() const {
  absl::MutexLock lock(&mu_);
  return ports_;
}

void FakePortDataplane::putPort(const dp::Port& port) {
  absl::MutexLock lock(&mu_);
  ports_[port.id()] = port;
}

std::vector<std::string> FakePortDataplane::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

void FakePortDataplane::clearCalls() {
  absl::MutexLock lock(&mu_);
  calls_.clear();
}

}  // namespace enadpdk::testing
