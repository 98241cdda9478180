#include "tests/tools/standin_control.h"

#include <grpcpp/grpcpp.h>

#include "common/grpc_status.h"
#include "common/strings.h"
#include "common/unix_socket.h"

namespace enadpdk::testing {
namespace {

namespace sv1 = standin::v1;
using common::strCat;

using common::toGrpcStatus;

absl::Status fromGrpc(const grpc::Status& status, const std::filesystem::path& socket) {
  std::string message = status.error_message();
  // Say where nothing answered, so that a script's log names the missing stand-in.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    message = strCat("kubelet-standin at ", socket.string(), ": ", message);
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), message);
}

}  // namespace

class StandinControlServer::Service final : public sv1::KubeletStandin::Service {
 public:
  explicit Service(KubeletStandin& standin) : standin_(standin) {}

  grpc::Status Allocate(grpc::ServerContext*, const sv1::AllocateRequest* request,
                        sv1::Allocation* response) override {
    absl::StatusOr<sv1::Allocation> allocation = standin_.allocate(*request);
    if (!allocation.ok()) return toGrpcStatus(allocation.status());
    *response = *std::move(allocation);
    return grpc::Status::OK;
  }

  grpc::Status Release(grpc::ServerContext*, const sv1::ReleaseRequest* request,
                       sv1::ReleaseResponse* response) override {
    absl::StatusOr<sv1::ReleaseResponse> released = standin_.release(request->pod());
    if (!released.ok()) return toGrpcStatus(released.status());
    *response = *std::move(released);
    return grpc::Status::OK;
  }

  grpc::Status ListResources(grpc::ServerContext*, const sv1::ListResourcesRequest*,
                             sv1::ListResourcesResponse* response) override {
    *response = standin_.listResources();
    return grpc::Status::OK;
  }

 private:
  KubeletStandin& standin_;
};

absl::StatusOr<std::unique_ptr<StandinControlServer>> StandinControlServer::start(
    const std::filesystem::path& socket, KubeletStandin& standin) {
  if (absl::Status status = common::checkSocketPath(socket.string(), "--control-socket");
      !status.ok()) {
    return status;
  }
  if (absl::Status status = common::removeStaleSocket(socket); !status.ok()) return status;
  std::unique_ptr<StandinControlServer> server(new StandinControlServer());
  server->socket_ = socket;
  server->service_ = std::make_unique<Service>(standin);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(common::grpcUnixTarget(socket), grpc::InsecureServerCredentials());
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (!server->server_) {
    return absl::UnavailableError(strCat("cannot serve the control API on ", socket.string()));
  }
  if (absl::Status status = common::setFilePermissions(socket, 0600, ""); !status.ok()) {
    return status;
  }
  return server;
}

StandinControlServer::~StandinControlServer() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
  }
  std::error_code ec;
  std::filesystem::remove(socket_, ec);
}

StandinControlClient::StandinControlClient(const std::filesystem::path& socket,
                                           std::chrono::milliseconds timeout)
    : socket_(socket),
      timeout_(timeout),
      stub_(sv1::KubeletStandin::NewStub(grpc::CreateChannel(
          common::grpcUnixTarget(socket), grpc::InsecureChannelCredentials()))) {}

absl::StatusOr<sv1::Allocation> StandinControlClient::allocate(
    const sv1::AllocateRequest& request) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout_);
  sv1::Allocation response;
  grpc::Status status = stub_->Allocate(&context, request, &response);
  if (!status.ok()) return fromGrpc(status, socket_);
  return response;
}

absl::StatusOr<sv1::ReleaseResponse> StandinControlClient::release(const std::string& pod) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout_);
  sv1::ReleaseRequest request;
  request.set_pod(pod);
  sv1::ReleaseResponse response;
  grpc::Status status = stub_->Release(&context, request, &response);
  if (!status.ok()) return fromGrpc(status, socket_);
  return response;
}

absl::StatusOr<sv1::ListResourcesResponse> StandinControlClient::listResources() {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout_);
  sv1::ListResourcesResponse response;
  grpc::Status status = stub_->ListResources(&context, sv1::ListResourcesRequest(), &response);
  if (!status.ok()) return fromGrpc(status, socket_);
  return response;
}

}  // namespace enadpdk::testing
