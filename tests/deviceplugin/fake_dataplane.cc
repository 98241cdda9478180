#include "tests/deviceplugin/fake_dataplane.h"

#include <grpcpp/grpcpp.h>

#include <system_error>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/strings.h"
#include "common/unix_socket.h"
#include "enadpdk/dataplane/v1/dataplane.grpc.pb.h"

namespace enadpdk::testing {

namespace dpv1 = ::enadpdk::dataplane::v1;

class FakeDataplane::Service final : public dpv1::Dataplane::Service {
 public:
  grpc::Status ListNetworks(grpc::ServerContext*, const dpv1::ListNetworksRequest*,
                            dpv1::ListNetworksResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    for (const auto& [name, up] : networks_) {
      dpv1::Network* network = response->add_networks();
      network->set_name(name);
      network->set_up(up);
    }
    return grpc::Status::OK;
  }

  mutable absl::Mutex mu_;
  std::map<std::string, bool> networks_ ABSL_GUARDED_BY(mu_);
  std::size_t calls_ ABSL_GUARDED_BY(mu_) = 0;
};

absl::StatusOr<std::unique_ptr<FakeDataplane>> FakeDataplane::start(
    const std::filesystem::path& socket) {
  std::error_code ec;
  std::filesystem::create_directories(socket.parent_path(), ec);
  std::filesystem::remove(socket, ec);
  std::unique_ptr<FakeDataplane> fake(new FakeDataplane());
  fake->socket_ = socket;
  fake->service_ = std::make_unique<Service>();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(common::grpcUnixTarget(socket), grpc::InsecureServerCredentials());
  builder.RegisterService(fake->service_.get());
  fake->server_ = builder.BuildAndStart();
  if (!fake->server_) {
    return absl::UnavailableError(common::strCat("cannot serve ", socket.string()));
  }
  return fake;
}

FakeDataplane::~FakeDataplane() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
  }
  std::error_code ec;
  std::filesystem::remove(socket_, ec);
}

void FakeDataplane::setNetworks(std::map<std::string, bool> up) {
  absl::MutexLock lock(&service_->mu_);
  service_->networks_ = std::move(up);
}

std::size_t FakeDataplane::calls() const {
  absl::MutexLock lock(&service_->mu_);
  return service_->calls_;
}

}  // namespace enadpdk::testing
