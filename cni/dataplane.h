#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enadpdk/dataplane/v1/dataplane.pb.h"

namespace enadpdk::cni {

// What ena-dpdk-cni needs of the dataplane's control API (enadpdk.dataplane.v1.Dataplane and
// grpc.health.v1.Health). The plugin talks to it only through this interface, so tests can put
// a failing or counting implementation in its place. Errors carry the gRPC code unchanged as the
// absl code (the two share their numbering): UNAVAILABLE when nothing listens on the socket,
// DEADLINE_EXCEEDED when the dataplane does not answer in time, and the dataplane's own codes
// (INVALID_ARGUMENT naming the field, ALREADY_EXISTS, NOT_FOUND, RESOURCE_EXHAUSTED).
class Dataplane {
 public:
  virtual ~Dataplane() = default;

  // OK when the server reports SERVING for the whole server (service ""); Unavailable otherwise.
  virtual absl::Status health() = 0;
  // ListNetworks: every network of the dataplane.
  virtual absl::StatusOr<std::vector<dataplane::v1::Network>> listNetworks() = 0;
  // AddPort: creates `port` (idempotent for an identical request) and returns it as stored, with
  // the defaults filled in (MAC of vpc ports, MTU, queues).
  virtual absl::StatusOr<dataplane::v1::Port> addPort(const dataplane::v1::Port& port) = 0;
  // DeletePort: true when the port existed; deleting a missing port succeeds with false. With a
  // non-empty `uid` only that incarnation is deleted (false when the id has another uid).
  virtual absl::StatusOr<bool> deletePort(const std::string& id, const std::string& uid = "") = 0;
  // GetPort: NotFound for an unknown id.
  virtual absl::StatusOr<dataplane::v1::Port> getPort(const std::string& id) = 0;
  // ListPorts: the ports of `network`, or all ports when it is empty.
  virtual absl::StatusOr<std::vector<dataplane::v1::Port>> listPorts(
      const std::string& network) = 0;
};

// A Dataplane over gRPC on the Unix socket `socket`: an adapter over the shared client
// (dataplane_client::DataplaneClient). Every call has the deadline `timeout` and fails fast when
// nothing listens (no wait-for-ready). Creating it does not connect. Calls are logged at debug
// level.
std::unique_ptr<Dataplane> makeGrpcDataplane(const std::filesystem::path& socket,
                                             std::chrono::milliseconds timeout,
                                             std::shared_ptr<spdlog::logger> logger);

// True for the codes that mean "the dataplane is down or busy; try again later": UNAVAILABLE,
// DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (dataplane_client::isTransient).
bool isTransient(const absl::Status& status);

}  // namespace enadpdk::cni
