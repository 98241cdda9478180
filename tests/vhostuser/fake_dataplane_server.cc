#include "tests/vhostuser/fake_dataplane_server.h"

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_context.h>
#include <gtest/gtest.h>

#include <chrono>

#include "common/unix_socket.h"

namespace enadpdk::testing {

namespace dp = dataplane::v1;

class FakeDataplaneServer::Service final : public dp::Dataplane::Service {
 public:
  explicit Service(FakeDataplaneServer& owner) : owner_(owner) {}

  grpc::Status AddPort(grpc::ServerContext* ctx, const dp::AddPortRequest* request,
                       dp::AddPortResponse* response) override {
    return answer(ctx, "AddPort", *request, response);
  }
  grpc::Status DeletePort(grpc::ServerContext* ctx, const dp::DeletePortRequest* request,
                          dp::DeletePortResponse* response) override {
    return answer(ctx, "DeletePort", *request, response);
  }
  grpc::Status GetPort(grpc::ServerContext* ctx, const dp::GetPortRequest* request,
                       dp::GetPortResponse* response) override {
    return answer(ctx, "GetPort", *request, response);
  }
  grpc::Status ListPorts(grpc::ServerContext* ctx, const dp::ListPortsRequest* request,
                         dp::ListPortsResponse* response) override {
    return answer(ctx, "ListPorts", *request, response);
  }
  grpc::Status ListNetworks(grpc::ServerContext* ctx, const dp::ListNetworksRequest* request,
                            dp::ListNetworksResponse* response) override {
    return answer(ctx, "ListNetworks", *request, response);
  }
  grpc::Status GetStats(grpc::ServerContext* ctx, const dp::GetStatsRequest* request,
                        dp::GetStatsResponse* response) override {
    return answer(ctx, "GetStats", *request, response);
  }

 private:
  grpc::Status answer(grpc::ServerContext* ctx, const std::string& method,
                      const google::protobuf::Message& request,
                      google::protobuf::Message* response) {
    Script script = owner_.record(method, request);
    if (script.hang) {
      // A sync handler is not told about cancellation; it has to look. The wait is bounded so a
      // broken client cannot wedge the test binary.
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (!ctx->IsCancelled() && std::chrono::steady_clock::now() < give_up &&
             !owner_.shutting_down_.WaitForNotificationWithTimeout(absl::Milliseconds(2))) {
      }
      return grpc::Status(grpc::StatusCode::CANCELLED, "fake: hung call abandoned");
    }
    if (!script.status.ok()) return script.status;
    if (!response->ParseFromString(script.response)) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "fake: scripted response does not parse");
    }
    return grpc::Status::OK;
  }

  FakeDataplaneServer& owner_;
};

FakeDataplaneServer::FakeDataplaneServer() : service_(std::make_unique<Service>(*this)) {}

std::unique_ptr<FakeDataplaneServer> FakeDataplaneServer::start(
    const std::filesystem::path& socket_path) {
  std::unique_ptr<FakeDataplaneServer> fake(new FakeDataplaneServer());
  // Process-wide switch; it has to be set before a server is built.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(common::grpcUnixTarget(socket_path), grpc::InsecureServerCredentials());
  builder.RegisterService(fake->service_.get());
  fake->server_ = builder.BuildAndStart();
  if (fake->server_ == nullptr) {
    ADD_FAILURE() << "fake dataplane cannot listen on " << socket_path;
    return nullptr;
  }
  return fake;
}

FakeDataplaneServer::~FakeDataplaneServer() {
  shutting_down_.Notify();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

void FakeDataplaneServer::reply(const std::string& method,
                                const google::protobuf::Message& response) {
  absl::MutexLock lock(&mu_);
  scripts_[method] = Script{.response = response.SerializeAsString()};
}

void FakeDataplaneServer::fail(const std::string& method, grpc::Status status) {
  absl::MutexLock lock(&mu_);
  scripts_[method] = Script{.status = std::move(status)};
}

void FakeDataplaneServer::hang(const std::string& method) {
  absl::MutexLock lock(&mu_);
  scripts_[method] = Script{.hang = true};
}

void FakeDataplaneServer::setServing(bool serving) {
  server_->GetHealthCheckService()->SetServingStatus(serving);
}

std::vector<std::string> FakeDataplaneServer::calls() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [method, request] : calls_) out.push_back(method);
  return out;
}

std::string FakeDataplaneServer::lastRequestBytes(const std::string& method) const {
  absl::MutexLock lock(&mu_);
  for (auto it = calls_.rbegin(); it != calls_.rend(); ++it) {
    if (it->first == method) return it->second;
  }
  ADD_FAILURE() << "no " << method << " call was received";
  return "";
}

FakeDataplaneServer::Script FakeDataplaneServer::record(const std::string& method,
                                                        const google::protobuf::Message& request) {
  absl::MutexLock lock(&mu_);
  calls_.emplace_back(method, request.SerializeAsString());
  auto it = scripts_.find(method);
  return it == scripts_.end() ? Script{} : it->second;
}

}  // namespace enadpdk::testing
