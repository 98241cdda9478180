#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <spdlog/logger.h>

#include "absl/status/statusor.h"
#include "enadpdk/dataplane/v1/dataplane.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace enadpdk::vhostuser {

// A synchronous client of the dataplane's control API (enadpdk.dataplane.v1.Dataplane and
// grpc.health.v1.Health), used by ena-dpdk-ctl. Every call carries the deadline given at
// construction and fails fast (no wait-for-ready) when nothing listens on the socket. Errors come
// back as absl::Status with the gRPC code carried over unchanged (the codes are the same set), so
// absl::StatusCodeToString() names them as gRPC does ("NOT_FOUND"). Not thread-safe.
class DataplaneClient {
 public:
  // Talks over `channel`; `endpoint` names the peer in transport errors (the socket path);
  // `timeout` is the deadline of every call; every call is logged at debug level to `logger`.
  DataplaneClient(std::shared_ptr<grpc::Channel> channel, std::string endpoint,
                  std::chrono::milliseconds timeout, std::shared_ptr<spdlog::logger> logger);

  // A client of the dataplane listening on the Unix socket `socket_path`. Creating the channel
  // does not connect; the first call does.
  static DataplaneClient forSocket(const std::filesystem::path& socket_path,
                                   std::chrono::milliseconds timeout,
                                   std::shared_ptr<spdlog::logger> logger);

  // grpc.health.v1.Health/Check for the whole server (service ""): the serving status.
  absl::StatusOr<grpc::health::v1::HealthCheckResponse> health();

  // One method per Dataplane RPC; see dataplane.proto for their semantics.
  absl::StatusOr<dataplane::v1::AddPortResponse> addPort(
      const dataplane::v1::AddPortRequest& request);
  absl::StatusOr<dataplane::v1::DeletePortResponse> deletePort(
      const dataplane::v1::DeletePortRequest& request);
  absl::StatusOr<dataplane::v1::GetPortResponse> getPort(
      const dataplane::v1::GetPortRequest& request);
  absl::StatusOr<dataplane::v1::ListPortsResponse> listPorts(
      const dataplane::v1::ListPortsRequest& request);
  absl::StatusOr<dataplane::v1::ListNetworksResponse> listNetworks(
      const dataplane::v1::ListNetworksRequest& request);
  absl::StatusOr<dataplane::v1::GetStatsResponse> getStats(
      const dataplane::v1::GetStatsRequest& request);

 private:
  // Runs one unary call `rpc` (a stub member function) named `method` with the deadline.
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> call(Stub& stub,
                                grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Request&,
                                                          Response*),
                                const char* method, const Request& request);

  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<dataplane::v1::Dataplane::Stub> dataplane_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

}  // namespace enadpdk::vhostuser
