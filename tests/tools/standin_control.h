#pragma once

// The control API of kubelet-standin (tests/tools/kubelet_standin.proto) on a Unix socket: the
// server side, a thin translation onto KubeletStandin, and the client the CLI uses.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kubelet_standin.grpc.pb.h"
#include "tests/tools/kubelet_standin.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace enadpdk::testing {

// Serves the control API for `standin` on `socket` (mode 0600). Not copyable; stops serving and
// removes the socket when destroyed. `standin` must outlive it.
class StandinControlServer {
 public:
  // Replaces a stale socket left by a dead stand-in; FailedPrecondition when a live process
  // serves `socket`.
  static absl::StatusOr<std::unique_ptr<StandinControlServer>> start(
      const std::filesystem::path& socket, KubeletStandin& standin);
  ~StandinControlServer();
  StandinControlServer(const StandinControlServer&) = delete;
  StandinControlServer& operator=(const StandinControlServer&) = delete;

 private:
  class Service;
  StandinControlServer() = default;
  std::filesystem::path socket_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
};

// A client of the control API. Every call has the deadline given at construction; errors are
// the server's status ("UNAVAILABLE: ..." when nothing serves the socket).
class StandinControlClient {
 public:
  StandinControlClient(const std::filesystem::path& socket, std::chrono::milliseconds timeout);

  // KubeletStandin.Allocate.
  absl::StatusOr<standin::v1::Allocation> allocate(const standin::v1::AllocateRequest& request);
  // KubeletStandin.Release.
  absl::StatusOr<standin::v1::ReleaseResponse> release(const std::string& pod);
  // KubeletStandin.ListResources.
  absl::StatusOr<standin::v1::ListResourcesResponse> listResources();

 private:
  const std::filesystem::path socket_;
  const std::chrono::milliseconds timeout_;
  std::unique_ptr<standin::v1::KubeletStandin::Stub> stub_;
};

}  // namespace enadpdk::testing
