#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/server.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "enadpdk/dataplane/v1/dataplane.grpc.pb.h"

namespace enadpdk::testing {

// A network of the fake dataplane.
struct FakeNetwork {
  // Network name.
  std::string name{};
  // vpc (ports get the ENI's MAC and need an IP) or l2.
  bool vpc = false;
  // The network's MTU (a port's default and maximum).
  unsigned mtu = 1500;
  // The ENI's MAC (vpc).
  std::string eniMac = "02:00:00:00:aa:01";
};

// A stateful in-process stand-in for ena-dpdk-dataplane's control API on a Unix socket, for
// testing ena-dpdk-cni over real gRPC: it keeps a port table with the dataplane's AddPort rules
// (idempotent for an identical request, ALREADY_EXISTS for a conflicting one or an address
// another port of the network has, INVALID_ARGUMENT for
// an unknown network, a socket outside the allowed directory, a foreign MAC on a vpc network or a
// vpc port without IPs; defaults for MAC, MTU and queues), serves grpc.health.v1, and lets a test
// make any method fail. Thread-safe (the gRPC threads and the test share it under one mutex).
class FakePortDataplane {
 public:
  // Serves on `socket`; sockets of ports must be inside `allowedDir`. Null (and a test failure)
  // when the server cannot start.
  static std::unique_ptr<FakePortDataplane> start(const std::filesystem::path& socket,
                                                  std::vector<FakeNetwork> networks,
                                                  const std::filesystem::path& allowedDir);
  // Stops serving and removes the socket.
  ~FakePortDataplane();

  // Makes every later call of `method` ("AddPort", "DeletePort", "ListNetworks", ...) fail with
  // `status`, until clearFailures().
  void fail(const std::string& method, grpc::Status status);
  // Makes every later AddPort do its work and then answer `status` anyway (an answer that
  // arrives after the caller's deadline), until clearFailures().
  void failAfterApplying(const std::string& method, grpc::Status status);
  // Undoes fail() and failAfterApplying().
  void clearFailures();
  // Sets the health status of the whole server.
  void setServing(bool serving);

  // The port table.
  std::map<std::string, dataplane::v1::Port> ports() const;
  // Puts a port into the table directly (bypassing the rules), e.g. one left by someone else.
  void putPort(const dataplane::v1::Port& port);
  // Methods called so far, in order.
  std::vector<std::string> calls() const;
  // Forgets the recorded calls.
  void clearCalls();

 private:
  class Service;
  FakePortDataplane() = default;

  mutable absl::Mutex mu_;
  std::vector<FakeNetwork> networks_ ABSL_GUARDED_BY(mu_);
  std::filesystem::path allowedDir_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, dataplane::v1::Port> ports_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, grpc::Status> failures_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, grpc::Status> failuresAfter_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
  std::filesystem::path socket_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace enadpdk::testing
