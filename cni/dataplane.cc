#include "cni/dataplane.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "common/strings.h"
#include "common/unix_socket.h"
#include "enadpdk/dataplane/v1/dataplane.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace enadpdk::cni {
namespace {

namespace dp = dataplane::v1;
namespace health = grpc::health::v1;
using common::strCat;

class GrpcDataplane final : public Dataplane {
 public:
  GrpcDataplane(const std::filesystem::path& socket, std::chrono::milliseconds timeout,
                std::shared_ptr<spdlog::logger> logger)
      : socket_(socket.string()), timeout_(timeout), logger_(std::move(logger)) {
    auto channel =
        grpc::CreateChannel(common::grpcUnixTarget(socket), grpc::InsecureChannelCredentials());
    dataplane_ = dp::Dataplane::NewStub(channel);
    health_ = health::Health::NewStub(channel);
  }

  absl::Status health() override {
    auto response =
        call(*health_, &health::Health::Stub::Check, "Health.Check", health::HealthCheckRequest());
    if (!response.ok()) return response.status();
    if (response->status() != health::HealthCheckResponse::SERVING) {
      return absl::UnavailableError(
          strCat("dataplane at ", socket_, " is not serving (health status ",
                 health::HealthCheckResponse::ServingStatus_Name(response->status()), ")"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<dp::Network>> listNetworks() override {
    auto response = call(*dataplane_, &dp::Dataplane::Stub::ListNetworks, "ListNetworks",
                         dp::ListNetworksRequest());
    if (!response.ok()) return response.status();
    return std::vector<dp::Network>(response->networks().begin(), response->networks().end());
  }

  absl::StatusOr<dp::Port> addPort(const dp::Port& port) override {
    dp::AddPortRequest request;
    *request.mutable_port() = port;
    auto response = call(*dataplane_, &dp::Dataplane::Stub::AddPort, "AddPort", request);
    if (!response.ok()) return response.status();
    return response->port();
  }

  absl::StatusOr<bool> deletePort(const std::string& id, const std::string& uid) override {
    dp::DeletePortRequest request;
    request.set_id(id);
    request.set_uid(uid);
    auto response = call(*dataplane_, &dp::Dataplane::Stub::DeletePort, "DeletePort", request);
    if (!response.ok()) return response.status();
    return response->existed();
  }

  absl::StatusOr<dp::Port> getPort(const std::string& id) override {
    dp::GetPortRequest request;
    request.set_id(id);
    auto response = call(*dataplane_, &dp::Dataplane::Stub::GetPort, "GetPort", request);
    if (!response.ok()) return response.status();
    return response->port();
  }

  absl::StatusOr<std::vector<dp::Port>> listPorts(const std::string& network) override {
    dp::ListPortsRequest request;
    request.set_network(network);
    auto response = call(*dataplane_, &dp::Dataplane::Stub::ListPorts, "ListPorts", request);
    if (!response.ok()) return response.status();
    return std::vector<dp::Port>(response->ports().begin(), response->ports().end());
  }

 private:
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> call(Stub& stub,
                                grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Request&,
                                                          Response*),
                                const char* method, const Request& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
    Response response;
    const auto start = std::chrono::steady_clock::now();
    grpc::Status status = (stub.*rpc)(&context, request, &response);
    // grpc::StatusCode and absl::StatusCode share their numbering (the canonical codes).
    const auto code = static_cast<absl::StatusCode>(status.error_code());
    logger_->debug("dataplane call method={} socket={} code={} elapsed_us={}", method, socket_,
                   absl::StatusCodeToString(code),
                   std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::steady_clock::now() - start)
                       .count());
    if (status.ok()) return response;
    // gRPC's own texts for these ("Deadline Exceeded", "failed to connect to all addresses")
    // name neither the socket nor the deadline; whoever reads the CNI error needs both.
    if (code == absl::StatusCode::kDeadlineExceeded) {
      return absl::DeadlineExceededError(strCat(method, ": no answer from the dataplane at ",
                                                socket_, " within ", timeout_.count(), "ms"));
    }
    if (code == absl::StatusCode::kUnavailable) {
      return absl::UnavailableError(
          strCat(method, ": dataplane at ", socket_, " is unreachable: ", status.error_message()));
    }
    return absl::Status(code, strCat(method, ": ", status.error_message()));
  }

  std::string socket_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<dp::Dataplane::Stub> dataplane_;
  std::unique_ptr<health::Health::Stub> health_;
};

}  // namespace

std::unique_ptr<Dataplane> makeGrpcDataplane(const std::filesystem::path& socket,
                                             std::chrono::milliseconds timeout,
                                             std::shared_ptr<spdlog::logger> logger) {
  return std::make_unique<GrpcDataplane>(socket, timeout, std::move(logger));
}

bool isTransient(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
         absl::IsResourceExhausted(status);
}

}  // namespace enadpdk::cni
