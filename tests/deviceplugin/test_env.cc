#include "tests/deviceplugin/test_env.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <charconv>

#include "common/atomic_file.h"
#include "common/logging.h"
#include "common/strings.h"
#include "deviceplugin/plugin_config.h"

namespace enadpdk::testing {

namespace fs = std::filesystem;

// ---- FakeMounter

namespace {

// The value of "<key>=<n><unit>" in mount options, in MiB (unit G or M); 0 when absent.
std::uint64_t optionMiB(const std::string& options, std::string_view key) {
  std::size_t at = 0;
  while ((at = options.find(key, at)) != std::string::npos) {
    if (at == 0 || options[at - 1] == ',') break;
    ++at;
  }
  if (at == std::string::npos) return 0;
  const char* begin = options.data() + at + key.size();
  const char* end = options.data() + options.size();
  std::uint64_t value = 0;
  auto [unit, error] = std::from_chars(begin, end, value);
  if (error != std::errc()) return 0;
  return unit != end && *unit == 'G' ? value * 1024 : value;
}

}  // namespace

absl::Status FakeMounter::mount(const fs::path& target, const std::string& options) {
  absl::MutexLock lock(&mu_);
  if (!mountError_.ok()) return mountError_;
  if (!fs::is_directory(target)) {
    return absl::NotFoundError(common::strCat("no mount point ", target.string()));
  }
  if (mounts_.contains(target)) {
    return absl::FailedPreconditionError(common::strCat(target.string(), " is mounted already"));
  }
  Entry entry{.options = options};
  const std::uint64_t pageSize = optionMiB(options, "pagesize=");
  entry.pages = optionMiB(options, "size=") / (pageSize == 0 ? 1024 : pageSize);
  mounts_[target] = entry;
  return absl::OkStatus();
}

absl::Status FakeMounter::unmount(const fs::path& target) {
  absl::MutexLock lock(&mu_);
  if (mounts_.erase(target) == 0) {
    return absl::InvalidArgumentError(common::strCat(target.string(), " is not mounted"));
  }
  return absl::OkStatus();
}

bool FakeMounter::isMounted(const fs::path& target) {
  absl::MutexLock lock(&mu_);
  return mounts_.contains(target);
}

absl::StatusOr<std::uint64_t> FakeMounter::unusedPages(const fs::path& target) {
  absl::MutexLock lock(&mu_);
  auto it = mounts_.find(target);
  if (it == mounts_.end()) {
    return absl::FailedPreconditionError(common::strCat(target.string(), " is not mounted"));
  }
  return it->second.pages - it->second.used;
}

std::map<fs::path, FakeMounter::Entry> FakeMounter::mounts() const {
  absl::MutexLock lock(&mu_);
  return mounts_;
}

void FakeMounter::setUsed(const fs::path& target, std::uint64_t pages) {
  absl::MutexLock lock(&mu_);
  mounts_[target].used = pages;
}

void FakeMounter::failMounts(absl::Status status) {
  absl::MutexLock lock(&mu_);
  mountError_ = std::move(status);
}

absl::Status FakeMounter::fault(const deviceplugin::HugepageFaultRequest& request) {
  absl::MutexLock lock(&mu_);
  faults_.push_back(request);
  if (!faultError_.ok()) return faultError_;
  for (const deviceplugin::HugepageFileFault& file : request.files) {
    if (!mounts_.contains(file.path.parent_path())) {
      return absl::NotFoundError(common::strCat("no mount for ", file.path.string()));
    }
  }
  return absl::OkStatus();
}

std::vector<deviceplugin::HugepageFaultRequest> FakeMounter::faults() const {
  absl::MutexLock lock(&mu_);
  return faults_;
}

void FakeMounter::failFaults(absl::Status status) {
  absl::MutexLock lock(&mu_);
  faultError_ = std::move(status);
}

// ---- FakeClock

std::chrono::system_clock::time_point FakeClock::now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

void FakeClock::advance(std::chrono::seconds by) {
  absl::MutexLock lock(&mu_);
  now_ += by;
}

// ---- helpers

int freeTcpPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

void describeStandardHost(FakeHost& host) {
  host.addPciDevice({.address = "0000:00:05.0", .driver = "ena", .numa_node = 0, .netdev = "eth0"})
      .addPciDevice(
          {.address = "0000:00:06.0", .driver = "vfio-pci", .iommu_group = 3, .numa_node = 0})
      .addPciDevice(
          {.address = "0000:00:07.0", .driver = "vfio-pci", .iommu_group = 4, .numa_node = 0})
      .addPciDevice({.address = "0000:00:08.0",
                     .driver = "vfio-pci",
                     .iommu_group = 5,
                     .noiommu = true,
                     .numa_node = 1})
      .addPciDevice({.address = "0000:00:09.0", .driver = "igb_uio"})
      .addPciDevice({.address = "0000:00:0a.0",
                     .vendor = "8086",
                     .device = "1234",
                     .driver = "vfio-pci",
                     .iommu_group = 6})
      .addNumaNode(0, {.nr_1g = 2, .free_1g = 2})
      .addNumaNode(1, {.nr_1g = 1, .free_1g = 1});
}

nlohmann::json standardConfig() {
  return {
      {"dataplane",
       {{"networks",
         {{{"name", "eni1"}, {"uplink", {{"device", "0000:00:06.0"}}}},
          {{"name", "eni2"}, {"mode", "l2"}, {"uplink", {{"device", "net_null0"}}}},
          {{"name", "local"}}}}}},
      {"deviceplugin",
       {{"ena", {{"slotsPerNetwork", 4}}},
        {"cdi", {{"enabled", true}}},
        {"metricsAddress", common::strCat("127.0.0.1:", freeTcpPort())}}},
  };
}

// ---- PluginTestEnv

PluginTestEnv::PluginTestEnv(bool withKubelet) {
  describeStandardHost(host_);
  configPath_ = host_.path("/etc/ena-dpdk/config.json");
  writeConfig(standardConfig());
  if (withKubelet) {
    absl::Status status = startKubelet();
    if (!status.ok()) ADD_FAILURE() << status;
  }
}

PluginTestEnv::~PluginTestEnv() {
  plugin_.reset();
  kubelet_.reset();
}

fs::path PluginTestEnv::deviceDir() const { return host_.path(deviceplugin::kDevicePluginDir); }

void PluginTestEnv::writeConfig(const nlohmann::json& config) { writeConfigText(config.dump(2)); }

void PluginTestEnv::writeConfigText(const std::string& text) {
  if (absl::Status status = common::makeDirectories(configPath_.parent_path()); !status.ok()) {
    ADD_FAILURE() << status;
  }
  if (absl::Status status = common::writeFileAtomic(configPath_, text, 0644); !status.ok()) {
    ADD_FAILURE() << status;
  }
}

deviceplugin::PluginOptions PluginTestEnv::options() {
  return {.root = host_.hostRoot(),
          .configPath = configPath_,
          .mounter = &mounter_,
          .clock = &clock_,
          .healthInterval = std::chrono::milliseconds(50),
          .watchInterval = std::chrono::milliseconds(50),
          .registrationTimeout = std::chrono::milliseconds(1000),
          .registrationBackoffMin = std::chrono::milliseconds(20),
          .registrationBackoffMax = std::chrono::milliseconds(200),
          .gcInterval = std::chrono::hours(1),
          .gcGrace = std::chrono::seconds(60),
          .addressInterval = std::chrono::milliseconds(50)};
}

absl::Status PluginTestEnv::startPlugin() { return startPlugin(options()); }

absl::Status PluginTestEnv::startPlugin(deviceplugin::PluginOptions options) {
  absl::StatusOr<std::shared_ptr<spdlog::logger>> logger =
      common::makeLogger("deviceplugin-test", spdlog::level::warn);
  if (!logger.ok()) return logger.status();
  absl::StatusOr<std::unique_ptr<deviceplugin::PluginManager>> plugin =
      deviceplugin::PluginManager::start(std::move(options), *logger);
  if (!plugin.ok()) return plugin.status();
  plugin_ = std::move(*plugin);
  return absl::OkStatus();
}

absl::Status PluginTestEnv::startKubelet() {
  absl::StatusOr<std::unique_ptr<FakeKubelet>> kubelet = FakeKubelet::start(deviceDir());
  if (!kubelet.ok()) return kubelet.status();
  kubelet_ = std::move(*kubelet);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<DevicePluginClient>> PluginTestEnv::watch(
    const std::string& resource, std::chrono::milliseconds connectTimeout) {
  absl::StatusOr<std::unique_ptr<DevicePluginClient>> client = DevicePluginClient::connect(
      deviceDir() / deviceplugin::socketFileName(resource), connectTimeout);
  if (!client.ok()) return client.status();
  if (absl::Status status = (*client)->startListAndWatch(); !status.ok()) return status;
  return client;
}

}  // namespace enadpdk::testing
