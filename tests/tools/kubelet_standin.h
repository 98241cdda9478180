#pragma once

// The kubelet's side of the device-plugin API, as a long-running stand-in for demos and
// end-to-end tests (tests/support/fake_kubelet.h does the protocol work):
//   - on start it behaves like a starting kubelet: every socket in the device-plugin directory is
//     deleted (plugins notice and register again), then Registration is served on kubelet.sock;
//   - for every Register call it dials the plugin, asks GetDevicePluginOptions and keeps a
//     ListAndWatch stream open, replacing the previous connection of that resource;
//   - allocate() admits a container the way the kubelet's device manager does (free Healthy
//     devices, GetPreferredAllocation when offered, Allocate) and records the result in a
//     checkpoint file and in the PodResources API it serves, so that the plugin's garbage
//     collection sees the devices as held. The checkpoint survives a restart of the stand-in.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/host_root.h"
#include "kubelet_standin.pb.h"
#include "tests/support/fake_kubelet.h"

namespace enadpdk::testing {

// The kubelet's well-known host paths (PROTOCOLS.md, device-plugin API).
inline constexpr char kKubeletDevicePluginDir[] = "/var/lib/kubelet/device-plugins";
inline constexpr char kKubeletPodResourcesSocket[] = "/var/lib/kubelet/pod-resources/kubelet.sock";
// The stand-in's own files, next to the kubelet's.
inline constexpr char kStandinControlSocket[] = "/var/lib/kubelet/kubelet-standin.sock";
inline constexpr char kStandinCheckpointName[] = "kubelet-standin-checkpoint.json";
// Container name used when a request names none.
inline constexpr char kDefaultContainer[] = "app";

// How the stand-in is set up.
struct StandinOptions {
  // Host root: the device-plugin directory and the PodResources socket are under it.
  common::HostRoot root{};
  // How long dialing a registered plugin may take.
  std::chrono::milliseconds connectTimeout = std::chrono::seconds(2);
  // How long allocate() waits for the first device list of a freshly registered resource.
  std::chrono::milliseconds firstListTimeout = std::chrono::seconds(2);
};

// The stand-in kubelet. Thread-safe. Lock order: allocMu_ before mu_.
class KubeletStandin {
 public:
  // Deletes every socket in the device-plugin directory, loads the checkpoint (a malformed one is
  // an error naming the file), serves Registration and PodResources, and starts watching for
  // registrations.
  static absl::StatusOr<std::unique_ptr<KubeletStandin>> start(
      StandinOptions options, std::shared_ptr<spdlog::logger> logger);
  // Stops watching, closes every plugin connection and stops the servers (their sockets go).
  ~KubeletStandin();
  KubeletStandin(const KubeletStandin&) = delete;
  KubeletStandin& operator=(const KubeletStandin&) = delete;

  // Admits one container's request (see the control API, tests/tools/kubelet_standin.proto).
  absl::StatusOr<standin::v1::Allocation> allocate(const standin::v1::AllocateRequest& request);
  // Forgets every allocation of `pod`; NotFound when it holds none.
  absl::StatusOr<standin::v1::ReleaseResponse> release(const std::string& pod);
  // Resources (sorted by name) with their devices, and every allocation.
  standin::v1::ListResourcesResponse listResources() const;

  // <root>/var/lib/kubelet/device-plugins.
  const std::filesystem::path& deviceDir() const { return deviceDir_; }
  // <deviceDir>/kubelet-standin-checkpoint.json.
  std::filesystem::path checkpointPath() const { return deviceDir_ / kStandinCheckpointName; }

 private:
  // What the stand-in knows of one resource.
  struct ResourceState {
    // The latest registration.
    PluginRegistration registration{};
    // Register calls received.
    unsigned registrations = 0;
    // The connection made for the latest registration; null when dialing it failed.
    std::shared_ptr<DevicePluginClient> client{};
  };

  KubeletStandin(StandinOptions options, std::shared_ptr<spdlog::logger> logger);
  absl::Status loadCheckpoint() ABSL_EXCLUSIVE_LOCKS_REQUIRED(allocMu_);
  absl::Status saveCheckpoint() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(allocMu_);
  void publishPodResources() ABSL_EXCLUSIVE_LOCKS_REQUIRED(allocMu_);
  void watchRegistrations();
  void connect(const PluginRegistration& registration);
  // The pod holding each allocated device of `resource`.
  std::map<std::string, std::string> holders(const std::string& resource) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(allocMu_);

  const StandinOptions options_;
  const std::shared_ptr<spdlog::logger> logger_;
  const std::filesystem::path deviceDir_;
  std::unique_ptr<FakeKubelet> kubelet_;
  std::unique_ptr<FakePodResources> podResources_;

  // Serialises admissions (as the kubelet's device manager does) and guards the allocations.
  mutable absl::Mutex allocMu_;
  std::vector<standin::v1::Allocation> allocations_ ABSL_GUARDED_BY(allocMu_);

  mutable absl::Mutex mu_;
  std::map<std::string, ResourceState> resources_ ABSL_GUARDED_BY(mu_);

  std::atomic<bool> stopping_{false};
  std::thread watcher_;
};

}  // namespace enadpdk::testing
