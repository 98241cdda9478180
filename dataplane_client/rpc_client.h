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

namespace enadpdk::dataplane_client {

// How the channel to the dataplane behaves.
struct ChannelOptions {
  // Cap gRPC's reconnection backoff at one second (its default grows to two minutes), for a
  // long-lived client that must see a restarted dataplane again quickly (the device plugin).
  bool fast_reconnect = false;
};

// The transport of the dataplane's control API (enadpdk.dataplane.v1.Dataplane and
// grpc.health.v1.Health) on its Unix socket: one method per RPC, taking and returning the proto
// messages. Every call carries the deadline given at construction, fails fast (no
// wait-for-ready) when nothing listens, and is logged at debug level (method, socket, code,
// time). Errors come back as absl::Status with the gRPC code unchanged (the code sets are the
// same), so absl::StatusCodeToString() names them as gRPC does ("NOT_FOUND"); the server's
// message is kept as is, except for the two transport failures, whose gRPC texts name neither
// the socket nor the deadline:
//   DEADLINE_EXCEEDED "<Method>: no answer from the dataplane at <socket> within <5s|500ms>"
//   UNAVAILABLE       "<Method>: dataplane at <socket> is unreachable: <gRPC's text>"
// Thread-safe (the stubs are; the client holds no other state).
//
// Most callers want DataplaneClient (library types, dataplane_client.h); ena-dpdk-ctl uses this
// layer because its `-o json` output is, by contract, the RPC's response message.
class RpcClient {
 public:
  // Talks over `channel`; `endpoint` names the peer in transport errors (the socket path);
  // `timeout` is the deadline of every call; calls are logged to `logger` (none when null).
  RpcClient(std::shared_ptr<grpc::Channel> channel, std::string endpoint,
            std::chrono::milliseconds timeout, std::shared_ptr<spdlog::logger> logger);

  // A client of the dataplane listening on the Unix socket `socket_path`. Creating the channel
  // does not connect; the first call does.
  static RpcClient forSocket(const std::filesystem::path& socket_path,
                             std::chrono::milliseconds timeout,
                             std::shared_ptr<spdlog::logger> logger, ChannelOptions options = {});

  // grpc.health.v1.Health/Check for the whole server (service ""): the serving status.
  absl::StatusOr<grpc::health::v1::HealthCheckResponse> health() const;

  // One method per Dataplane RPC; see dataplane.proto for their semantics.
  absl::StatusOr<dataplane::v1::AddPortResponse> addPort(
      const dataplane::v1::AddPortRequest& request) const;
  absl::StatusOr<dataplane::v1::DeletePortResponse> deletePort(
      const dataplane::v1::DeletePortRequest& request) const;
  absl::StatusOr<dataplane::v1::GetPortResponse> getPort(
      const dataplane::v1::GetPortRequest& request) const;
  absl::StatusOr<dataplane::v1::ListPortsResponse> listPorts(
      const dataplane::v1::ListPortsRequest& request) const;
  absl::StatusOr<dataplane::v1::ListNetworksResponse> listNetworks(
      const dataplane::v1::ListNetworksRequest& request) const;
  absl::StatusOr<dataplane::v1::GetStatsResponse> getStats(
      const dataplane::v1::GetStatsRequest& request) const;

  // The socket (or endpoint) this client talks to.
  const std::string& endpoint() const { return endpoint_; }

 private:
  // Runs one unary call `rpc` (a stub member function) named `method` with the deadline.
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> call(Stub& stub,
                                grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Request&,
                                                          Response*),
                                const char* method, const Request& request) const;

  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<dataplane::v1::Dataplane::Stub> dataplane_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

}  // namespace enadpdk::dataplane_client
