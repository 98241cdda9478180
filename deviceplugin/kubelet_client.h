#pragma once

#include <chrono>
#include <filesystem>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace enadpdk::deviceplugin {

// What a plugin tells the kubelet when it registers one resource.
struct RegistrationRequest {
  // The plugin's socket file name, relative to the device-plugin directory.
  std::string endpoint{};
  // The full resource name ("dpdk.aws/ena").
  std::string resourceName{};
  // Whether the kubelet should call GetPreferredAllocation.
  bool preferredAllocationAvailable = true;
};

// Calls v1beta1.Registration/Register on the kubelet socket `kubeletSocket` with version
// v1beta1, giving up after `timeout`. Unavailable when nothing listens there; the kubelet's
// error otherwise. Thread-safe.
absl::Status registerWithKubelet(const std::filesystem::path& kubeletSocket,
                                 const RegistrationRequest& request,
                                 std::chrono::milliseconds timeout);

// Asks the kubelet's PodResources API (v1.PodResourcesLister/List on `socket`) which device IDs of
// `resourceName` the pods on the node hold, in any container. Thread-safe.
absl::StatusOr<std::set<std::string>> listHeldDevices(const std::filesystem::path& socket,
                                                      const std::string& resourceName,
                                                      std::chrono::milliseconds timeout);

}  // namespace enadpdk::deviceplugin
