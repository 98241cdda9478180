#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dataplane_client/rpc_client.h"
#include "dataplane_client/types.h"

namespace enadpdk::dataplane_client {

// The client of the dataplane's control API in library types (dataplane_client/types.h), over
// gRPC on the dataplane's Unix socket: the one client the CNI and the device plugin use (and,
// through RpcClient, ena-dpdk-ctl). Every call has the deadline given at creation and fails fast
// when nothing listens. Errors carry the gRPC code unchanged as the absl code and name the RPC:
// UNAVAILABLE when nothing listens ("<Method>: dataplane at <socket> is unreachable: ..."),
// DEADLINE_EXCEEDED when the dataplane does not answer in time, and the dataplane's own codes as
// "<Method>: <its message>" (INVALID_ARGUMENT naming the field, ALREADY_EXISTS, NOT_FOUND,
// RESOURCE_EXHAUSTED). An answer this client cannot read without guessing (a network or vhost
// mode that is unspecified or unknown to this build, dataplane_client/convert.h) fails the whole
// call with UNKNOWN: '<Method>: network "x": unknown mode 7 from the dataplane (...)'; the call
// did reach the dataplane (an AddPort may have created its port). Thread-safe.
class DataplaneClient {
 public:
  // Calls go through `rpc`.
  explicit DataplaneClient(RpcClient rpc) : rpc_(std::move(rpc)) {}

  // A client of the dataplane on the Unix socket `socket`; see RpcClient::forSocket.
  static DataplaneClient forSocket(const std::filesystem::path& socket,
                                   std::chrono::milliseconds timeout,
                                   std::shared_ptr<spdlog::logger> logger,
                                   ChannelOptions options = {});

  // OK when the server reports SERVING for the whole server (service ""); Unavailable otherwise.
  absl::Status health() const;
  // ListNetworks: every network of the dataplane.
  absl::StatusOr<std::vector<NetworkInfo>> listNetworks() const;
  // AddPort: creates `spec` (idempotent for an identical request) and returns the port as stored,
  // with the defaults filled in (MAC of vpc ports, MTU, queues).
  absl::StatusOr<PortInfo> addPort(const PortSpec& spec) const;
  // DeletePort: true when the port existed; deleting a missing port succeeds with false. With a
  // non-empty `uid` only that incarnation is deleted (false when the id has another uid).
  absl::StatusOr<bool> deletePort(const std::string& id, const std::string& uid = "") const;
  // GetPort: NotFound for an unknown id.
  absl::StatusOr<PortInfo> getPort(const std::string& id) const;
  // ListPorts: the ports of `network`, or all ports when it is empty.
  absl::StatusOr<std::vector<PortInfo>> listPorts(const std::string& network) const;
  // GetStats: ports, networks and workers with their counters.
  absl::StatusOr<Stats> getStats() const;

  // The proto-level client underneath.
  const RpcClient& rpc() const { return rpc_; }

 private:
  RpcClient rpc_;
};

// True for the codes that mean "the dataplane is down or busy; try again later": UNAVAILABLE,
// DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED.
bool isTransient(const absl::Status& status);

}  // namespace enadpdk::dataplane_client
