#pragma once

#include <filesystem>
#include <map>
#include <memory>
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

// An in-process enadpdk.dataplane.v1.Dataplane server on a Unix socket, for testing clients of
// the control API (ena-dpdk-ctl). Each method answers what the test scripted for it (an empty
// response by default), records every request it receives, and grpc++'s default health service
// runs beside it. Thread-safe: the gRPC threads and the test share it under one mutex.
class FakeDataplaneServer {
 public:
  // Starts serving on `socket_path`; fails the calling test (and returns nullptr) when the
  // server cannot start.
  static std::unique_ptr<FakeDataplaneServer> start(const std::filesystem::path& socket_path);
  // Unblocks hung calls and shuts the server down.
  ~FakeDataplaneServer();

  // Makes `method` ("AddPort", "ListPorts", ...) answer `response` (which must be the method's
  // response type).
  void reply(const std::string& method, const google::protobuf::Message& response);
  // Makes `method` fail with `status`.
  void fail(const std::string& method, grpc::Status status);
  // Makes `method` never answer: it returns only once the client has given up (its deadline
  // passed) or the server shuts down.
  void hang(const std::string& method);
  // Sets the health status of the whole server (service "").
  void setServing(bool serving);

  // The methods called so far, in order.
  std::vector<std::string> calls() const;
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
  // How one method answers.
  struct Script {
    // Serialized response when the status is OK.
    std::string response{};
    // Status to answer with.
    grpc::Status status{};
    // Block until cancelled instead of answering.
    bool hang = false;
  };

  FakeDataplaneServer();
  std::string lastRequestBytes(const std::string& method) const;
  // Records `request` and returns the script of `method`.
  Script record(const std::string& method, const google::protobuf::Message& request);

  mutable absl::Mutex mu_;
  std::map<std::string, Script> scripts_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, std::string>> calls_ ABSL_GUARDED_BY(mu_);
  absl::Notification shutting_down_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace enadpdk::testing
