#include "dataplane_client/rpc_client.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "common/strings.h"
#include "common/unix_socket.h"

namespace enadpdk::dataplane_client {

namespace dp = dataplane::v1;
namespace health = grpc::health::v1;

namespace {

std::string formatSeconds(std::chrono::milliseconds d) {
  return d.count() % 1000 == 0 ? common::strCat(d.count() / 1000, "s")
                               : common::strCat(d.count(), "ms");
}

}  // namespace

RpcClient::RpcClient(std::shared_ptr<grpc::Channel> channel, std::string endpoint,
                     std::chrono::milliseconds timeout, std::shared_ptr<spdlog::logger> logger)
    : endpoint_(std::move(endpoint)),
      timeout_(timeout),
      logger_(std::move(logger)),
      dataplane_(dp::Dataplane::NewStub(channel)),
      health_(health::Health::NewStub(channel)) {}

RpcClient RpcClient::forSocket(const std::filesystem::path& socket_path,
                               std::chrono::milliseconds timeout,
                               std::shared_ptr<spdlog::logger> logger, ChannelOptions options) {
  grpc::ChannelArguments args;
  if (options.fast_reconnect) {
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  }
  return RpcClient(grpc::CreateCustomChannel(common::grpcUnixTarget(socket_path),
                                             grpc::InsecureChannelCredentials(), args),
                   socket_path.string(), timeout, std::move(logger));
}

template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> RpcClient::call(Stub& stub,
                                         grpc::Status (Stub::*rpc)(grpc::ClientContext*,
                                                                   const Request&, Response*),
                                         const char* method, const Request& request) const {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout_);
  Response response;
  const auto start = std::chrono::steady_clock::now();
  grpc::Status status = (stub.*rpc)(&context, request, &response);
  // grpc::StatusCode and absl::StatusCode share their numbering (both are the canonical codes).
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  if (logger_) {
    logger_->debug("dataplane call method={} socket={} timeout_ms={} code={} elapsed_us={}", method,
                   endpoint_, timeout_.count(), absl::StatusCodeToString(code),
                   std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::steady_clock::now() - start)
                       .count());
  }
  if (status.ok()) return response;
  // gRPC's own texts for these two ("Deadline Exceeded", "failed to connect to all addresses")
  // do not say what was being reached or for how long; whoever reads the error needs both.
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    message = common::strCat(method, ": no answer from the dataplane at ", endpoint_, " within ",
                             formatSeconds(timeout_));
  } else if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    message = common::strCat(method, ": dataplane at ", endpoint_, " is unreachable: ", message);
  }
  return absl::Status(code, message);
}

absl::StatusOr<health::HealthCheckResponse> RpcClient::health() const {
  return call(*health_, &health::Health::Stub::Check, "Health.Check", health::HealthCheckRequest());
}

absl::StatusOr<dp::AddPortResponse> RpcClient::addPort(const dp::AddPortRequest& request) const {
  return call(*dataplane_, &dp::Dataplane::Stub::AddPort, "AddPort", request);
}

absl::StatusOr<dp::DeletePortResponse> RpcClient::deletePort(
    const dp::DeletePortRequest& request) const {
  return call(*dataplane_, &dp::Dataplane::Stub::DeletePort, "DeletePort", request);
}

absl::StatusOr<dp::GetPortResponse> RpcClient::getPort(const dp::GetPortRequest& request) const {
  return call(*dataplane_, &dp::Dataplane::Stub::GetPort, "GetPort", request);
}

absl::StatusOr<dp::ListPortsResponse> RpcClient::listPorts(
    const dp::ListPortsRequest& request) const {
  return call(*dataplane_, &dp::Dataplane::Stub::ListPorts, "ListPorts", request);
}

absl::StatusOr<dp::ListNetworksResponse> RpcClient::listNetworks(
    const dp::ListNetworksRequest& request) const {
  return call(*dataplane_, &dp::Dataplane::Stub::ListNetworks, "ListNetworks", request);
}

absl::StatusOr<dp::GetStatsResponse> RpcClient::getStats(const dp::GetStatsRequest& request) const {
  return call(*dataplane_, &dp::Dataplane::Stub::GetStats, "GetStats", request);
}

}  // namespace enadpdk::dataplane_client
