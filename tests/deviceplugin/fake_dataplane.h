#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace grpc {
class Server;
}

namespace enadpdk::testing {

// A stand-in for ena-dpdk-dataplane's control socket that answers
// enadpdk.dataplane.v1.Dataplane/ListNetworks with the networks a test sets (name -> up); the
// other RPCs are unimplemented. Thread-safe.
class FakeDataplane {
 public:
  // Serves on `socket` (its directory is created when missing).
  static absl::StatusOr<std::unique_ptr<FakeDataplane>> start(const std::filesystem::path& socket);
  // Stops serving and removes the socket.
  ~FakeDataplane();
  FakeDataplane(const FakeDataplane&) = delete;
  FakeDataplane& operator=(const FakeDataplane&) = delete;

  // Replaces the networks ListNetworks reports.
  void setNetworks(std::map<std::string, bool> up);
  // How many ListNetworks calls were answered.
  std::size_t calls() const;

 private:
  class Service;
  FakeDataplane() = default;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::filesystem::path socket_;
};

}  // namespace enadpdk::testing
