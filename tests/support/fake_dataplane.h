#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/server.h>
#include <gtest/gtest.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
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
  // Network.up as ListNetworks reports it (the device plugin's health follows it).
  bool up = true;
  // Network.mode as ListNetworks and GetStats send it, instead of the one `vpc` names: 0
  // (NETWORK_MODE_UNSPECIFIED) or a number the API does not define (what a newer dataplane could
  // send), for testing that clients refuse what they cannot read. AddPort still follows `vpc`.
  std::optional<int> wireMode{};
};

// The one in-process stand-in for ena-dpdk-dataplane's control API (enadpdk.dataplane.v1 and
// grpc.health.v1) on a Unix socket, for testing its clients over real gRPC: the CNI, ena-dpdk-ctl
// and the device plugin.
//
// By default it is stateful: a port table with the dataplane's AddPort rules (idempotent for an
// identical request, ALREADY_EXISTS for a conflicting one or an address another port of the
// network has, INVALID_ARGUMENT for an unknown network, a socket outside the allowed directory, a
// foreign MAC on a vpc network or a vpc port without IPs; defaults for MAC, MTU and queues),
// DeletePort honouring the uid, GetPort/ListPorts/GetStats from the table, ListNetworks from
// the networks; AddPort stores VHOST_MODE_UNSPECIFIED as server, as the dataplane does. A test can
// script any method instead (reply, fail, failAfterApplying, hang), and
// every call is recorded with its request. Thread-safe: the gRPC threads and the test share it
// under one mutex.
class FakeDataplane {
 public:
  // Serves on `socket` (its directory is created, a stale socket removed) with `networks`;
  // sockets of ports must be inside `allowedDir` (any path when empty). Null (and a test failure)
  // when the server cannot start.
  static std::unique_ptr<FakeDataplane> start(const std::filesystem::path& socket,
                                              std::vector<FakeNetwork> networks = {},
                                              const std::filesystem::path& allowedDir = {});
  // Unblocks hung calls, stops serving and removes the socket.
  ~FakeDataplane();
  FakeDataplane(const FakeDataplane&) = delete;
  FakeDataplane& operator=(const FakeDataplane&) = delete;

  // Makes `method` ("AddPort", "ListPorts", ...) answer `response` (which must be the method's
  // response type) instead of consulting the state, until clearFailures().
  void reply(const std::string& method, const google::protobuf::Message& response);
  // Makes every later call of `method` fail with `status`, until clearFailures().
  void fail(const std::string& method, grpc::Status status);
  // Makes every later call of `method` (AddPort) do its work and then answer `status` anyway
  // (an answer that arrives after the caller's deadline), until clearFailures().
  void failAfterApplying(const std::string& method, grpc::Status status);
  // Makes `method` never answer: it returns only once the client has given up (its deadline
  // passed) or the server shuts down.
  void hang(const std::string& method);
  // Undoes reply(), fail(), failAfterApplying() and hang().
  void clearFailures();
  // Sets the health status of the whole server (service "").
  void setServing(bool serving);

  // Replaces the networks.
  void setNetworks(std::vector<FakeNetwork> networks);
  // The port table.
  std::map<std::string, dataplane::v1::Port> ports() const;
  // Puts a port into the table directly, as it is (bypassing the rules and the defaults), e.g. one
  // left by someone else.
  void putPort(const dataplane::v1::Port& port);

  // Methods called so far, in order.
  std::vector<std::string> calls() const;
  // How many calls of `method` were received.
  size_t callCount(const std::string& method) const;
  // Forgets the recorded calls.
  void clearCalls();
  // The request of the last call of `method` parsed as `Request`; fails the test when there was
  // none.
  template <typename Request>
  Request lastRequest(const std::string& method) const {
    Request request;
    std::string bytes = lastRequestBytes(method);
    if (!request.ParseFromString(bytes)) ADD_FAILURE() << "cannot parse " << method << " request";
    return request;
  }

 private:
  class Service;
  // How one method answers when scripted.
  struct Script {
    // Serialized response (when `scripted_response`).
    std::string response{};
    bool scripted_response = false;
    // Status to answer with before doing anything.
    grpc::Status status{};
    // Status to answer with after doing the work.
    grpc::Status status_after{};
    // Block until cancelled instead of answering.
    bool hang = false;
  };

  FakeDataplane() = default;
  std::string lastRequestBytes(const std::string& method) const;

  mutable absl::Mutex mu_;
  std::vector<FakeNetwork> networks_ ABSL_GUARDED_BY(mu_);
  std::filesystem::path allowedDir_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, dataplane::v1::Port> ports_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Script> scripts_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, std::string>> calls_ ABSL_GUARDED_BY(mu_);
  absl::Notification shutting_down_;
  std::filesystem::path socket_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace enadpdk::testing
