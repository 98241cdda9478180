#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "deviceplugin/device.h"
#include "deviceplugin/host_scan.h"

namespace enadpdk::deviceplugin {

// One resource (`dpdk.aws/ena`, ...): its current device list and its allocation logic. The
// health loop feeds it host snapshots (refresh()); the resource's gRPC server reads the list,
// waits for changes and forwards Allocate and GetPreferredAllocation to it. Subclasses are the
// concrete resources.
//
// Thread-safety: every public method may be called from any thread. refresh() is called by one
// thread at a time (the health loop). The device list is guarded by an internal mutex that is
// never held while calling out.
class ResourcePool {
 public:
  // A device list with its version: the version grows by one each time the list changes.
  struct Snapshot {
    // The devices, sorted by ID.
    std::vector<Device> devices{};
    // 0 before the first publish.
    std::uint64_t version = 0;
  };

  virtual ~ResourcePool() = default;
  ResourcePool(const ResourcePool&) = delete;
  ResourcePool& operator=(const ResourcePool&) = delete;

  // The resource name without prefix ("ena-dedicated"); also names the socket.
  const std::string& name() const { return name_; }
  // The full resource name the kubelet knows ("dpdk.aws/ena-dedicated").
  const std::string& resourceName() const { return resourceName_; }

  // The current device list.
  Snapshot snapshot() const;

  // Blocks until the list's version differs from `version`, `stop` becomes true (after a
  // wake()), or `timeout` passes. Returns true when the version differs.
  bool waitForChange(std::uint64_t version, const std::atomic<bool>& stop,
                     std::chrono::milliseconds timeout) const;

  // Re-evaluates waiters' conditions, so that a waiter whose `stop` flag was set returns.
  void wake() const;

  // Recomputes the device list from `host` and publishes it when it changed.
  virtual void refresh(const HostState& host) = 0;

  // Allocates `ids` to one container. InvalidArgument for an ID that is not a device of this
  // resource; other errors say what on the host prevents the allocation. Nothing is left behind
  // on failure.
  virtual absl::StatusOr<ContainerAllocation> allocate(const std::vector<std::string>& ids) = 0;

  // Answers GetPreferredAllocation for one container (see choosePreferred()).
  std::vector<std::string> preferredAllocation(const PreferenceRequest& request) const;

 protected:
  // `prefix` is the resource prefix ("dpdk.aws"), `name` the resource's own name.
  ResourcePool(const std::string& prefix, std::string name);

  // Replaces the device list (sorted here) and bumps the version when it differs.
  void publish(std::vector<Device> devices);

  // The placement group of a device for GetPreferredAllocation; none by default.
  virtual std::string groupOf(const std::string& id) const;

 private:
  const std::string name_;
  const std::string resourceName_;
  mutable absl::Mutex mu_;
  std::vector<Device> devices_ ABSL_GUARDED_BY(mu_);
  std::uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
};

// The name of the environment variable a resource's devices are announced in, as the SR-IOV
// device plugin derives it: "PCIDEVICE_" + the resource name upper-cased with every character
// other than a letter or digit replaced by '_' ("PCIDEVICE_DPDK_AWS_ENA_DEDICATED").
std::string pciDeviceEnvName(const std::string& resourceName);

// Checks that every ID is one of `devices` and that no ID repeats; InvalidArgument naming the
// first offending ID and `resourceName` otherwise.
absl::Status checkDeviceIds(const std::vector<std::string>& ids, const std::vector<Device>& devices,
                            const std::string& resourceName);

}  // namespace enadpdk::deviceplugin
