#pragma once

// Shared fixtures of the device-plugin tests and benchmark: a fake hugetlbfs mounter and clock,
// and PluginTestEnv, a fake host with the config file, a fake kubelet and the plugin under test.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "deviceplugin/clock.h"
#include "deviceplugin/hugetlbfs.h"
#include "deviceplugin/plugin_manager.h"
#include "nlohmann/json.hpp"
#include "tests/support/fake_host.h"
#include "tests/support/fake_kubelet.h"

namespace enadpdk::testing {

// A HugetlbfsMounter that keeps its mount table in memory and records what it would fault in.
// Thread-safe.
class FakeMounter final : public deviceplugin::HugetlbfsMounter {
 public:
  // One mount.
  struct Entry {
    // The options given to mount().
    std::string options{};
    // Size limit in pages, from "size=" and "pagesize=" ("size=4M,pagesize=2M": 2 pages).
    std::uint64_t pages = 0;
    // Pages "in use" (set by the test).
    std::uint64_t used = 0;
  };

  absl::Status mount(const std::filesystem::path& target, const std::string& options) override;
  absl::Status unmount(const std::filesystem::path& target) override;
  bool isMounted(const std::filesystem::path& target) override;
  absl::StatusOr<std::uint64_t> unusedPages(const std::filesystem::path& target) override;
  // Records the request; fails as set by failFaults(), or NotFound for a file outside every
  // mount. The pages do not count as used (setUsed() does that).
  absl::Status fault(const deviceplugin::HugepageFaultRequest& request) override;

  // The requests fault() got, in order (also those it failed).
  std::vector<deviceplugin::HugepageFaultRequest> faults() const;
  // Makes the next fault() calls fail with `status` (OK to stop).
  void failFaults(absl::Status status);
  // The current mounts, by target.
  std::map<std::filesystem::path, Entry> mounts() const;
  // Marks `pages` pages of the mount on `target` as used.
  void setUsed(const std::filesystem::path& target, std::uint64_t pages);
  // Makes the next mount() calls fail with `status` (OK to stop).
  void failMounts(absl::Status status);

 private:
  mutable absl::Mutex mu_;
  std::map<std::filesystem::path, Entry> mounts_ ABSL_GUARDED_BY(mu_);
  absl::Status mountError_ ABSL_GUARDED_BY(mu_);
  std::vector<deviceplugin::HugepageFaultRequest> faults_ ABSL_GUARDED_BY(mu_);
  absl::Status faultError_ ABSL_GUARDED_BY(mu_);
};

// A Clock the test moves. Thread-safe.
class FakeClock final : public deviceplugin::Clock {
 public:
  std::chrono::system_clock::time_point now() const override;
  // Moves the time forward.
  void advance(std::chrono::seconds by);

 private:
  mutable absl::Mutex mu_;
  std::chrono::system_clock::time_point now_ ABSL_GUARDED_BY(mu_) =
      std::chrono::system_clock::time_point(std::chrono::hours(24 * 365 * 50));
};

// A TCP port that was free a moment ago (for metricsAddress, which must name a port).
int freeTcpPort();

// The host most tests run on:
//   0000:00:05.0 ENA on the kernel driver (eth0)          -> in no resource
//   0000:00:06.0 ENA on vfio-pci, group 3, NUMA 0          -> uplink of network eni1
//   0000:00:07.0 ENA on vfio-pci, group 4, NUMA 0          -> dedicated (vfio)
//   0000:00:08.0 ENA on vfio-pci, no-IOMMU group 5, NUMA 1 -> dedicated (no-IOMMU)
//   0000:00:09.0 ENA on igb_uio, no NUMA node              -> dedicated (uio)
//   0000:00:0a.0 an Intel device on vfio-pci               -> in no resource
//   NUMA node 0 with 2 free 1G pages, node 1 with 1.
void describeStandardHost(FakeHost& host);

// The config of the standard host: networks eni1 (uplink 0000:00:06.0), eni2 (uplink
// net_null0, a vdev) and local (no uplink); 4 slots per network; CDI enabled; metrics on a free
// port of 127.0.0.1.
nlohmann::json standardConfig();

// A fake host with its config file, a fake kubelet serving in its device-plugin directory, and
// the plugin under test (started by startPlugin()).
class PluginTestEnv {
 public:
  // Describes the standard host and writes standardConfig(); the kubelet is started unless
  // `withKubelet` is false.
  explicit PluginTestEnv(bool withKubelet = true);
  ~PluginTestEnv();

  // The fake host.
  FakeHost& host() { return host_; }
  // The mounter and clock startPlugin() hands the plugin.
  FakeMounter& mounter() { return mounter_; }
  FakeClock& clock() { return clock_; }
  // The fake kubelet (after startKubelet() when built without one).
  FakeKubelet& kubelet() { return *kubelet_; }
  // The plugin (after startPlugin()).
  deviceplugin::PluginManager& plugin() { return *plugin_; }
  // The config file, under the root's /etc/ena-dpdk.
  const std::filesystem::path& configPath() const { return configPath_; }
  // The device-plugin directory under the root.
  std::filesystem::path deviceDir() const;

  // Writes the config file (atomically, as a ConfigMap update would).
  void writeConfig(const nlohmann::json& config);
  // Writes the config file's text as given (e.g. malformed JSON).
  void writeConfigText(const std::string& text);
  // The options startPlugin() uses: fast loops, the fake mounter and clock.
  deviceplugin::PluginOptions options();
  // Starts the plugin with options().
  absl::Status startPlugin();
  // Starts the plugin with `options`.
  absl::Status startPlugin(deviceplugin::PluginOptions options);
  // Starts the fake kubelet (when the env was built without one).
  absl::Status startKubelet();
  // Connects to a resource's socket and opens ListAndWatch.
  absl::StatusOr<std::unique_ptr<DevicePluginClient>> watch(
      const std::string& resource,
      std::chrono::milliseconds connectTimeout = std::chrono::seconds(5));

 private:
  FakeHost host_;
  FakeMounter mounter_;
  FakeClock clock_;
  std::filesystem::path configPath_;
  std::unique_ptr<FakeKubelet> kubelet_;
  std::unique_ptr<deviceplugin::PluginManager> plugin_;
};

}  // namespace enadpdk::testing
