#include "tests/support/fake_kubelet.h"

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <system_error>

#include "absl/time/time.h"
#include "common/grpc_status.h"
#include "common/strings.h"
#include "common/unix_socket.h"

namespace enadpdk::testing {
namespace {

namespace fs = std::filesystem;

using common::fromGrpcStatus;
using common::toGrpcStatus;

bool isSocket(const fs::path& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

std::unique_ptr<grpc::Server> serveOn(const fs::path& socket, grpc::Service* service) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(common::grpcUnixTarget(socket), grpc::InsecureServerCredentials());
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

}  // namespace

// ---- FakeKubelet

class FakeKubelet::Service final : public v1beta1::Registration::Service {
 public:
  grpc::Status Register(grpc::ServerContext*, const v1beta1::RegisterRequest* request,
                        v1beta1::Empty*) override {
    absl::MutexLock lock(&mu_);
    if (!error_.ok()) return toGrpcStatus(error_);
    registrations_.push_back(
        {.version = request->version(),
         .endpoint = request->endpoint(),
         .resourceName = request->resource_name(),
         .preStartRequired = request->options().pre_start_required(),
         .preferredAllocationAvailable = request->options().get_preferred_allocation_available()});
    return grpc::Status::OK;
  }

  mutable absl::Mutex mu_;
  std::vector<PluginRegistration> registrations_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

FakeKubelet::FakeKubelet(fs::path deviceDir)
    : deviceDir_(std::move(deviceDir)), service_(std::make_unique<Service>()) {}

absl::StatusOr<std::unique_ptr<FakeKubelet>> FakeKubelet::start(const fs::path& deviceDir) {
  std::error_code ec;
  fs::create_directories(deviceDir, ec);
  if (ec) {
    return absl::InternalError(
        common::strCat("cannot create ", deviceDir.string(), ": ", ec.message()));
  }
  std::unique_ptr<FakeKubelet> kubelet(new FakeKubelet(deviceDir));
  if (absl::Status status = kubelet->serve(); !status.ok()) return status;
  return kubelet;
}

FakeKubelet::~FakeKubelet() { stop(); }

absl::Status FakeKubelet::serve() {
  std::error_code ec;
  fs::remove(socketPath(), ec);
  server_ = serveOn(socketPath(), service_.get());
  if (!server_) {
    return absl::UnavailableError(common::strCat("cannot serve ", socketPath().string()));
  }
  return absl::OkStatus();
}

void FakeKubelet::stop() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
    server_.reset();
  }
  std::error_code ec;
  fs::remove(socketPath(), ec);
}

absl::Status FakeKubelet::restart() {
  stop();
  std::error_code ec;
  for (fs::directory_iterator it(deviceDir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (isSocket(it->path())) fs::remove(it->path(), ec);
  }
  // The same service serves the new socket, so the registrations recorded before the restart
  // stay visible to the test.
  return serve();
}

std::vector<PluginRegistration> FakeKubelet::registrations() const {
  absl::MutexLock lock(&service_->mu_);
  return service_->registrations_;
}

bool FakeKubelet::waitForRegistrations(std::size_t count, std::chrono::milliseconds timeout) const {
  absl::MutexLock lock(&service_->mu_);
  auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(service_->mu_) {
    return service_->registrations_.size() >= count;
  };
  return service_->mu_.AwaitWithTimeout(absl::Condition(&enough), absl::FromChrono(timeout));
}

std::optional<PluginRegistration> FakeKubelet::lastRegistration(
    const std::string& resourceName) const {
  absl::MutexLock lock(&service_->mu_);
  for (auto it = service_->registrations_.rbegin(); it != service_->registrations_.rend(); ++it) {
    if (it->resourceName == resourceName) return *it;
  }
  return std::nullopt;
}

void FakeKubelet::setRegisterError(absl::Status status) {
  absl::MutexLock lock(&service_->mu_);
  service_->error_ = std::move(status);
}

// ---- DevicePluginClient

DevicePluginClient::DevicePluginClient(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)), stub_(v1beta1::DevicePlugin::NewStub(channel_)) {}

absl::StatusOr<std::unique_ptr<DevicePluginClient>> DevicePluginClient::connect(
    const fs::path& socket, std::chrono::milliseconds timeout) {
  // A channel of its own (no subchannel shared with earlier clients of the same socket, so no
  // reconnect backoff inherited from them) that retries fast: tests dial sockets that are being
  // replaced, and gRPC's default backoff (1 s, growing) would outlast their deadlines.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  auto channel = grpc::CreateCustomChannel(common::grpcUnixTarget(socket),
                                           grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + timeout)) {
    return absl::DeadlineExceededError(
        common::strCat("cannot connect to ", socket.string(), " within ", timeout.count(), "ms"));
  }
  return std::unique_ptr<DevicePluginClient>(new DevicePluginClient(std::move(channel)));
}

DevicePluginClient::~DevicePluginClient() {
  if (streamContext_) streamContext_->TryCancel();
  if (reader_.joinable()) reader_.join();
}

absl::StatusOr<v1beta1::DevicePluginOptions> DevicePluginClient::options() {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1beta1::Empty request;
  v1beta1::DevicePluginOptions response;
  grpc::Status status = stub_->GetDevicePluginOptions(&context, request, &response);
  if (!status.ok()) return fromGrpcStatus(status);
  return response;
}

absl::Status DevicePluginClient::startListAndWatch() {
  if (streamContext_) return absl::FailedPreconditionError("ListAndWatch already started");
  streamContext_ = std::make_unique<grpc::ClientContext>();
  reader_ = std::thread([this] { readStream(); });
  return absl::OkStatus();
}

void DevicePluginClient::readStream() {
  v1beta1::Empty request;
  std::unique_ptr<grpc::ClientReader<v1beta1::ListAndWatchResponse>> reader =
      stub_->ListAndWatch(streamContext_.get(), request);
  v1beta1::ListAndWatchResponse response;
  while (reader->Read(&response)) {
    absl::MutexLock lock(&mu_);
    lists_.emplace_back(response.devices().begin(), response.devices().end());
  }
  reader->Finish();
  absl::MutexLock lock(&mu_);
  ended_ = true;
}

std::size_t DevicePluginClient::updates() const {
  absl::MutexLock lock(&mu_);
  return lists_.size();
}

std::optional<std::vector<v1beta1::Device>> DevicePluginClient::latest() const {
  absl::MutexLock lock(&mu_);
  if (lists_.empty()) return std::nullopt;
  return lists_.back();
}

bool DevicePluginClient::streamEnded() const {
  absl::MutexLock lock(&mu_);
  return ended_;
}

absl::StatusOr<std::vector<v1beta1::Device>> DevicePluginClient::waitForDevices(
    const std::function<bool(const std::vector<v1beta1::Device>&)>& predicate,
    std::chrono::milliseconds timeout) {
  const absl::Time deadline = absl::Now() + absl::FromChrono(timeout);
  absl::MutexLock lock(&mu_);
  std::size_t checked = lists_.empty() ? 0 : lists_.size() - 1;
  for (;;) {
    for (; checked < lists_.size(); ++checked) {
      if (predicate(lists_[checked])) return lists_[checked];
    }
    if (ended_) return absl::AbortedError("the ListAndWatch stream ended");
    auto progress = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return lists_.size() > checked || ended_;
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&progress), deadline)) {
      return absl::DeadlineExceededError("no matching device list arrived in time");
    }
  }
}

absl::StatusOr<std::vector<v1beta1::Device>> DevicePluginClient::waitForUpdate(
    std::size_t seen, std::chrono::milliseconds timeout) {
  absl::MutexLock lock(&mu_);
  auto progress = [&]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return lists_.size() > seen || ended_; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&progress), absl::FromChrono(timeout))) {
    return absl::DeadlineExceededError("no device list arrived in time");
  }
  if (lists_.size() <= seen) return absl::AbortedError("the ListAndWatch stream ended");
  return lists_[seen];
}

absl::StatusOr<v1beta1::ContainerAllocateResponse> DevicePluginClient::allocate(
    const std::vector<std::string>& ids) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1beta1::AllocateRequest request;
  v1beta1::ContainerAllocateRequest* container = request.add_container_requests();
  for (const std::string& id : ids) container->add_devices_ids(id);
  v1beta1::AllocateResponse response;
  grpc::Status status = stub_->Allocate(&context, request, &response);
  if (!status.ok()) return fromGrpcStatus(status);
  if (response.container_responses_size() != 1) {
    return absl::InternalError(common::strCat("expected one container response, got ",
                                              response.container_responses_size()));
  }
  return response.container_responses(0);
}

absl::StatusOr<std::vector<std::string>> DevicePluginClient::preferredAllocation(
    const std::vector<std::string>& available, const std::vector<std::string>& mustInclude,
    int size) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1beta1::PreferredAllocationRequest request;
  v1beta1::ContainerPreferredAllocationRequest* container = request.add_container_requests();
  for (const std::string& id : available) container->add_available_deviceids(id);
  for (const std::string& id : mustInclude) container->add_must_include_deviceids(id);
  container->set_allocation_size(size);
  v1beta1::PreferredAllocationResponse response;
  grpc::Status status = stub_->GetPreferredAllocation(&context, request, &response);
  if (!status.ok()) return fromGrpcStatus(status);
  if (response.container_responses_size() != 1) {
    return absl::InternalError(common::strCat("expected one container response, got ",
                                              response.container_responses_size()));
  }
  const auto& ids = response.container_responses(0).deviceids();
  return std::vector<std::string>(ids.begin(), ids.end());
}

absl::Status DevicePluginClient::preStartContainer(const std::vector<std::string>& ids) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1beta1::PreStartContainerRequest request;
  for (const std::string& id : ids) request.add_devices_ids(id);
  v1beta1::PreStartContainerResponse response;
  return fromGrpcStatus(stub_->PreStartContainer(&context, request, &response));
}

// ---- FakePodResources

class FakePodResources::Service final : public v1::PodResourcesLister::Service {
 public:
  grpc::Status List(grpc::ServerContext*, const v1::ListPodResourcesRequest*,
                    v1::ListPodResourcesResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    if (!error_.ok()) return toGrpcStatus(error_);
    for (const PodDevices& entry : pods_) {
      v1::PodResources* pod = nullptr;
      for (v1::PodResources& existing : *response->mutable_pod_resources()) {
        if (existing.name() == entry.pod && existing.namespace_() == entry.podNamespace) {
          pod = &existing;
        }
      }
      if (pod == nullptr) {
        pod = response->add_pod_resources();
        pod->set_name(entry.pod);
        pod->set_namespace_(entry.podNamespace);
      }
      v1::ContainerResources* container = pod->add_containers();
      container->set_name(entry.container);
      v1::ContainerDevices* devices = container->add_devices();
      devices->set_resource_name(entry.resourceName);
      for (const std::string& id : entry.deviceIds) devices->add_device_ids(id);
    }
    return grpc::Status::OK;
  }

  mutable absl::Mutex mu_;
  std::vector<PodDevices> pods_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::size_t calls_ ABSL_GUARDED_BY(mu_) = 0;
};

absl::StatusOr<std::unique_ptr<FakePodResources>> FakePodResources::start(const fs::path& socket) {
  std::error_code ec;
  fs::create_directories(socket.parent_path(), ec);
  fs::remove(socket, ec);
  std::unique_ptr<FakePodResources> fake(new FakePodResources());
  fake->socket_ = socket;
  fake->service_ = std::make_unique<Service>();
  fake->server_ = serveOn(socket, fake->service_.get());
  if (!fake->server_) {
    return absl::UnavailableError(common::strCat("cannot serve ", socket.string()));
  }
  return fake;
}

FakePodResources::~FakePodResources() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
  }
  std::error_code ec;
  fs::remove(socket_, ec);
}

void FakePodResources::setPods(std::vector<PodDevices> pods) {
  absl::MutexLock lock(&service_->mu_);
  service_->pods_ = std::move(pods);
}

void FakePodResources::setError(absl::Status status) {
  absl::MutexLock lock(&service_->mu_);
  service_->error_ = std::move(status);
}

std::size_t FakePodResources::listCalls() const {
  absl::MutexLock lock(&service_->mu_);
  return service_->calls_;
}

}  // namespace enadpdk::testing
