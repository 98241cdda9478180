#pragma once

// A stand-in for the kubelet's side of the device-plugin protocol, for tests and tools:
//   - FakeKubelet serves v1beta1.Registration on <dir>/kubelet.sock and records every Register
//     call; restart() behaves like a restarting kubelet (every socket in the directory is
//     deleted, kubelet.sock comes back as a new file).
//   - DevicePluginClient dials a plugin's socket as the kubelet does: GetDevicePluginOptions,
//     a ListAndWatch stream read in the background, Allocate, GetPreferredAllocation,
//     PreStartContainer.
//   - FakePodResources serves v1.PodResourcesLister/List with the pods a test describes.
// Waiting is always bounded by a deadline; nothing sleeps.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "deviceplugin/v1beta1/api.grpc.pb.h"
#include "podresources/v1/api.grpc.pb.h"

namespace grpc {
class Server;
class Channel;
class ClientContext;
}  // namespace grpc

namespace enadpdk::testing {

// One Register call the fake kubelet received.
struct PluginRegistration {
  // RegisterRequest.version ("v1beta1").
  std::string version{};
  // RegisterRequest.endpoint: the plugin's socket file name in the device-plugin directory.
  std::string endpoint{};
  // RegisterRequest.resource_name ("dpdk.aws/ena").
  std::string resourceName{};
  // RegisterRequest.options.pre_start_required.
  bool preStartRequired = false;
  // RegisterRequest.options.get_preferred_allocation_available.
  bool preferredAllocationAvailable = false;
};

// The kubelet's Registration service on <deviceDir>/kubelet.sock. Thread-safe.
class FakeKubelet {
 public:
  // Creates `deviceDir` when missing and serves kubelet.sock in it.
  static absl::StatusOr<std::unique_ptr<FakeKubelet>> start(const std::filesystem::path& deviceDir);
  // Stops serving and removes kubelet.sock.
  ~FakeKubelet();
  FakeKubelet(const FakeKubelet&) = delete;
  FakeKubelet& operator=(const FakeKubelet&) = delete;

  // The device-plugin directory.
  const std::filesystem::path& deviceDir() const { return deviceDir_; }
  // <deviceDir>/kubelet.sock.
  std::filesystem::path socketPath() const { return deviceDir_ / "kubelet.sock"; }
  // The socket path of a plugin endpoint as registered (<deviceDir>/<endpoint>).
  std::filesystem::path endpointPath(const std::string& endpoint) const {
    return deviceDir_ / endpoint;
  }

  // Every registration received so far, in order.
  std::vector<PluginRegistration> registrations() const;
  // Waits until at least `count` registrations have been received in total; false on timeout.
  bool waitForRegistrations(std::size_t count, std::chrono::milliseconds timeout) const;
  // The last registration of `resourceName`, if any.
  std::optional<PluginRegistration> lastRegistration(const std::string& resourceName) const;

  // Makes Register answer with `status` (e.g. UNAVAILABLE while "starting"); OK restores
  // normal behaviour. Failed calls are not recorded.
  void setRegisterError(absl::Status status);

  // Restarts like the real kubelet: stops serving, deletes every socket in the directory (its
  // own and the plugins'; not directories or other files), then serves a new kubelet.sock.
  absl::Status restart();
  // Stops serving and deletes kubelet.sock (the kubelet is down). start() semantics come back
  // with restart().
  void stop();

 private:
  class Service;
  explicit FakeKubelet(std::filesystem::path deviceDir);
  absl::Status serve();

  const std::filesystem::path deviceDir_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
};

// What the kubelet does with a plugin's socket. Thread-safe except where noted.
class DevicePluginClient {
 public:
  // Dials the plugin socket and waits until the connection is ready.
  static absl::StatusOr<std::unique_ptr<DevicePluginClient>> connect(
      const std::filesystem::path& socket,
      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Cancels the ListAndWatch stream and joins its reader.
  ~DevicePluginClient();
  DevicePluginClient(const DevicePluginClient&) = delete;
  DevicePluginClient& operator=(const DevicePluginClient&) = delete;

  // GetDevicePluginOptions.
  absl::StatusOr<v1beta1::DevicePluginOptions> options();

  // Opens ListAndWatch; a background thread collects every device list the plugin sends.
  // Call once.
  absl::Status startListAndWatch();
  // The number of device lists received so far.
  std::size_t updates() const;
  // The latest device list, if any arrived.
  std::optional<std::vector<v1beta1::Device>> latest() const;
  // Waits until a device list satisfying `predicate` arrives (the latest one is checked first)
  // and returns it. DeadlineExceeded on timeout, Aborted when the stream ended.
  absl::StatusOr<std::vector<v1beta1::Device>> waitForDevices(
      const std::function<bool(const std::vector<v1beta1::Device>&)>& predicate,
      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Waits for a device list newer than the `seen`-th (updates() counts from 1). DeadlineExceeded
  // on timeout, Aborted when the stream ended.
  absl::StatusOr<std::vector<v1beta1::Device>> waitForUpdate(
      std::size_t seen, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True once the plugin ended the stream (or it broke).
  bool streamEnded() const;

  // Allocate for one container; the plugin's error as a status.
  absl::StatusOr<v1beta1::ContainerAllocateResponse> allocate(const std::vector<std::string>& ids);
  // GetPreferredAllocation for one container.
  absl::StatusOr<std::vector<std::string>> preferredAllocation(
      const std::vector<std::string>& available, const std::vector<std::string>& mustInclude,
      int size);
  // PreStartContainer.
  absl::Status preStartContainer(const std::vector<std::string>& ids);

 private:
  explicit DevicePluginClient(std::shared_ptr<grpc::Channel> channel);
  void readStream();

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1beta1::DevicePlugin::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> streamContext_;
  std::thread reader_;
  mutable absl::Mutex mu_;
  std::vector<std::vector<v1beta1::Device>> lists_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

// A container's devices of one resource, as the PodResources API lists them.
struct PodDevices {
  // Pod name.
  std::string pod{};
  // Pod namespace.
  std::string podNamespace = "default";
  // Container name.
  std::string container = "app";
  // Full resource name.
  std::string resourceName{};
  // Device IDs.
  std::vector<std::string> deviceIds{};
};

// The kubelet's PodResourcesLister on a Unix socket. Thread-safe.
class FakePodResources {
 public:
  // Creates the socket's directory when missing and serves List there.
  static absl::StatusOr<std::unique_ptr<FakePodResources>> start(
      const std::filesystem::path& socket);
  ~FakePodResources();
  FakePodResources(const FakePodResources&) = delete;
  FakePodResources& operator=(const FakePodResources&) = delete;

  // Replaces the pods List reports (one pod per entry; entries with the same pod name form one
  // pod).
  void setPods(std::vector<PodDevices> pods);
  // Makes List fail with `status`; OK restores normal behaviour.
  void setError(absl::Status status);
  // How many List calls were answered (successfully or not).
  std::size_t listCalls() const;

 private:
  class Service;
  FakePodResources() = default;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::filesystem::path socket_;
};

}  // namespace enadpdk::testing
