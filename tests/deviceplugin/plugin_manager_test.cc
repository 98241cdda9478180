// The device plugin end to end, in process: a fake host, a fake kubelet registration server and
// kubelet-side clients on the plugin's real gRPC sockets.
#include "deviceplugin/plugin_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <functional>

#include "common/strings.h"
#include "common/version.h"
#include "deviceplugin/cdi_spec.h"
#include "ipam/ipam.h"
#include "nlohmann/json.hpp"
#include "spdlog/sinks/null_sink.h"
#include "tests/deviceplugin/test_env.h"
#include "tests/support/fake_dataplane.h"

namespace enadpdk::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;
namespace fs = std::filesystem;
using deviceplugin::FileIdentity;

// The resources the standard config registers: ena, ena-dedicated, ena-uplink, hugepages-1Gi.
constexpr std::size_t kStandardResources = 4;

// How soon a change must reach the kubelet (the bound).
constexpr milliseconds kOneSecond{1000};

// Polls `condition` until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition, milliseconds timeout = milliseconds(5000)) {
  const auto deadline = steady_clock::now() + timeout;
  while (!condition()) {
    if (steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(2));  // polling interval, not synchronisation
  }
  return true;
}

const v1beta1::Device* findDevice(const std::vector<v1beta1::Device>& devices,
                                  const std::string& id) {
  for (const v1beta1::Device& d : devices) {
    if (d.id() == id) return &d;
  }
  return nullptr;
}

std::vector<std::string> ids(const std::vector<v1beta1::Device>& devices) {
  std::vector<std::string> out;
  for (const v1beta1::Device& d : devices) out.push_back(d.id());
  return out;
}

std::string health(const std::vector<v1beta1::Device>& devices, const std::string& id) {
  const v1beta1::Device* d = findDevice(devices, id);
  return d ? d->health() : "absent";
}

// A predicate: `id` has health `wanted` ("absent" for not listed).
std::function<bool(const std::vector<v1beta1::Device>&)> hasHealth(std::string id,
                                                                   std::string wanted) {
  return [id, wanted](const std::vector<v1beta1::Device>& devices) {
    return health(devices, id) == wanted;
  };
}

std::vector<int64_t> numaNodes(const v1beta1::Device& device) {
  std::vector<int64_t> out;
  for (const v1beta1::NUMANode& node : device.topology().nodes()) out.push_back(node.id());
  return out;
}

class PluginManagerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(env_.startPlugin().ok()); }

  std::unique_ptr<DevicePluginClient> watch(const std::string& resource) {
    absl::StatusOr<std::unique_ptr<DevicePluginClient>> client = env_.watch(resource);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  // Waits for a first device list and returns it.
  std::vector<v1beta1::Device> firstList(DevicePluginClient& client) {
    absl::StatusOr<std::vector<v1beta1::Device>> list = client.waitForUpdate(0);
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? *list : std::vector<v1beta1::Device>{};
  }

  // Waits for a list satisfying `predicate` and checks it came within a second of `since`.
  void expectWithinOneSecond(
      DevicePluginClient& client,
      const std::function<bool(const std::vector<v1beta1::Device>&)>& predicate,
      steady_clock::time_point since, const std::string& what) {
    absl::StatusOr<std::vector<v1beta1::Device>> list = client.waitForDevices(predicate);
    ASSERT_TRUE(list.ok()) << what << ": " << list.status();
    EXPECT_LE(steady_clock::now() - since, kOneSecond) << what;
  }

  // A fake dataplane on the plugin's control socket with the networks eni1, eni2 and local (all
  // up), once the plugin has reached it; null (and a test failure) when it cannot start or the
  // plugin does not reach it.
  std::unique_ptr<FakeDataplane> startReachedDataplane() {
    std::unique_ptr<FakeDataplane> dataplane =
        FakeDataplane::start(env_.host().path("/run/ena-dpdk/dataplane.sock"));
    if (dataplane == nullptr) return nullptr;
    dataplane->setNetworks({{.name = "eni1"}, {.name = "eni2"}, {.name = "local"}});
    if (!eventually([&] { return env_.plugin().metrics()->dataplaneReachable(); })) {
      ADD_FAILURE() << "the plugin never reached the fake dataplane";
      return nullptr;
    }
    return dataplane;
  }

  std::optional<FileIdentity> socketIdentity(const std::string& resource) {
    return deviceplugin::linkIdentity(env_.deviceDir() / deviceplugin::socketFileName(resource));
  }

  PluginTestEnv env_;
};

TEST_F(PluginManagerTest, RegistersAllFourResourcesWhileServing) {
  ASSERT_TRUE(env_.kubelet().waitForRegistrations(kStandardResources, milliseconds(5000)));
  std::vector<std::string> resources;
  for (const PluginRegistration& r : env_.kubelet().registrations()) {
    resources.push_back(r.resourceName);
    EXPECT_EQ(r.version, "v1beta1");
    EXPECT_TRUE(r.preferredAllocationAvailable);
    EXPECT_FALSE(r.preStartRequired);
    // Registered endpoints are served, by a socket only root can use.
    const fs::path socket = env_.kubelet().endpointPath(r.endpoint);
    struct stat st {};
    ASSERT_EQ(::lstat(socket.c_str(), &st), 0) << socket;
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto client = DevicePluginClient::connect(socket);
    ASSERT_TRUE(client.ok()) << client.status();
    absl::StatusOr<v1beta1::DevicePluginOptions> options = (*client)->options();
    ASSERT_TRUE(options.ok()) << options.status();
    EXPECT_TRUE(options->get_preferred_allocation_available());
    EXPECT_FALSE(options->pre_start_required());
    EXPECT_TRUE((*client)->preStartContainer({"x"}).ok());
  }
  EXPECT_THAT(resources, UnorderedElementsAre("dpdk.aws/ena", "dpdk.aws/ena-dedicated",
                                              "dpdk.aws/ena-uplink", "dpdk.aws/hugepages-1Gi"));
  EXPECT_EQ(env_.kubelet().lastRegistration("dpdk.aws/ena")->endpoint, "ena-dpdk-ena.sock");
  EXPECT_EQ(env_.kubelet().lastRegistration("dpdk.aws/ena-dedicated")->endpoint,
            "ena-dpdk-ena-dedicated.sock");
  EXPECT_EQ(env_.kubelet().lastRegistration("dpdk.aws/ena-uplink")->endpoint,
            "ena-dpdk-ena-uplink.sock");
  EXPECT_EQ(env_.kubelet().lastRegistration("dpdk.aws/hugepages-1Gi")->endpoint,
            "ena-dpdk-hugepages-1Gi.sock");
}

TEST_F(PluginManagerTest, ListsAttachmentsOfNetworksWithAnUplink) {
  auto client = watch("ena");
  std::vector<v1beta1::Device> devices = firstList(*client);
  EXPECT_THAT(ids(devices), ElementsAre("eni1-00", "eni1-01", "eni1-02", "eni1-03", "eni2-00",
                                        "eni2-01", "eni2-02", "eni2-03"));
  for (const v1beta1::Device& d : devices) {
    EXPECT_EQ(d.health(), "Healthy") << d.id();
    // eni1's uplink is on NUMA node 0; eni2's is a vdev without one.
    EXPECT_EQ(numaNodes(d),
              d.id().starts_with("eni1") ? std::vector<int64_t>{0} : std::vector<int64_t>{})
        << d.id();
    struct stat st {};
    ASSERT_EQ(::stat(env_.host().path("/var/run/ena-dpdk/vhost/" + d.id()).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0770u);
  }
}

TEST_F(PluginManagerTest, ListsDedicatedDevicesAndHugepagesWithTopology) {
  auto dedicated = watch("ena-dedicated");
  std::vector<v1beta1::Device> devices = firstList(*dedicated);
  ASSERT_THAT(ids(devices), ElementsAre("0000:00:07.0", "0000:00:08.0", "0000:00:09.0"));
  EXPECT_THAT(numaNodes(devices[0]), ElementsAre(0));
  EXPECT_THAT(numaNodes(devices[1]), ElementsAre(1));
  EXPECT_THAT(numaNodes(devices[2]), ElementsAre());  // sysfs says -1

  auto hugepages = watch("hugepages-1Gi");
  devices = firstList(*hugepages);
  ASSERT_THAT(ids(devices), ElementsAre("node0-0", "node0-1", "node1-0"));
  EXPECT_THAT(numaNodes(devices[2]), ElementsAre(1));
}

TEST_F(PluginManagerTest, AllocatesAttachments) {
  auto client = watch("ena");
  firstList(*client);
  absl::StatusOr<v1beta1::ContainerAllocateResponse> response =
      client->allocate({"eni1-03", "eni1-01"});
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->mounts_size(), 2);
  EXPECT_EQ(response->mounts(0).host_path(), "/var/run/ena-dpdk/vhost/eni1-03");
  EXPECT_EQ(response->mounts(0).container_path(), "/var/run/vhost-user/eni1-03");
  EXPECT_FALSE(response->mounts(0).read_only());
  EXPECT_EQ(response->mounts(1).container_path(), "/var/run/vhost-user/eni1-01");
  EXPECT_EQ(response->envs().at("ENA_DPDK_DEVICES"), "eni1-03,eni1-01");
  EXPECT_EQ(response->devices_size(), 0);

  absl::StatusOr<v1beta1::ContainerAllocateResponse> unknown = client->allocate({"eni9-00"});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("eni9-00"));
}

TEST_F(PluginManagerTest, AllocatesDedicatedVfioNoIommuAndUioDevices) {
  auto client = watch("ena-dedicated");
  firstList(*client);
  absl::StatusOr<v1beta1::ContainerAllocateResponse> response =
      client->allocate({"0000:00:07.0", "0000:00:08.0", "0000:00:09.0"});
  ASSERT_TRUE(response.ok()) << response.status();
  std::vector<std::string> specs;
  for (const v1beta1::DeviceSpec& d : response->devices()) {
    specs.push_back(common::strCat(d.host_path(), "->", d.container_path(), ":", d.permissions()));
  }
  EXPECT_THAT(specs, UnorderedElementsAre(
                         "/dev/vfio/vfio->/dev/vfio/vfio:rw", "/dev/vfio/4->/dev/vfio/4:rw",
                         "/dev/vfio/noiommu-5->/dev/vfio/5:rw", "/dev/uio0->/dev/uio0:rw"));
  EXPECT_EQ(response->envs().at("PCIDEVICE_DPDK_AWS_ENA_DEDICATED"),
            "0000:00:07.0,0000:00:08.0,0000:00:09.0");
  json info = json::parse(response->envs().at("PCIDEVICE_DPDK_AWS_ENA_DEDICATED_INFO"));
  EXPECT_EQ(info["0000:00:08.0"]["vfio"]["dev-mount"], "/dev/vfio/5");
  EXPECT_EQ(info["0000:00:09.0"]["uio"]["mount"], "/dev/uio0");
  EXPECT_EQ(info["0000:00:07.0"]["generic"]["deviceID"], "0000:00:07.0");
  for (const char* id : {"0000:00:07.0", "0000:00:08.0", "0000:00:09.0"}) {
    EXPECT_EQ(json::parse(env_.host().readFile(
                  common::strCat("/var/run/k8s.cni.cncf.io/devinfo/dp/dpdk.aws-ena-dedicated-", id,
                                 "-device.json")))["pci"]["pci-address"],
              id);
    EXPECT_TRUE(env_.host().exists(
        deviceplugin::cdiSpecPath("/var/run/cdi", "dpdk.aws/ena-dedicated", id).string()));
  }
  std::vector<std::string> cdi;
  for (const v1beta1::CDIDevice& d : response->cdi_devices()) cdi.push_back(d.name());
  EXPECT_THAT(
      cdi, ElementsAre("dpdk.aws/ena-dedicated=0000-00-07.0", "dpdk.aws/ena-dedicated=0000-00-08.0",
                       "dpdk.aws/ena-dedicated=0000-00-09.0"));
}

TEST_F(PluginManagerTest, TheDataplaneAsksForItsUplinksLikeAnyPod) {
  auto uplink = watch("ena-uplink");
  std::vector<v1beta1::Device> devices = firstList(*uplink);
  // eni1's PCI uplink, on NUMA node 0; eni2's vdev uplink is no device.
  ASSERT_THAT(ids(devices), ElementsAre("0000:00:06.0"));
  EXPECT_EQ(devices[0].health(), "Healthy");
  EXPECT_THAT(numaNodes(devices[0]), ElementsAre(0));
  // ...and never a dedicated device.
  auto dedicated = watch("ena-dedicated");
  EXPECT_EQ(health(firstList(*dedicated), "0000:00:06.0"), "absent");

  absl::StatusOr<v1beta1::ContainerAllocateResponse> response = uplink->allocate({"0000:00:06.0"});
  ASSERT_TRUE(response.ok()) << response.status();
  std::vector<std::string> specs;
  for (const v1beta1::DeviceSpec& d : response->devices()) {
    specs.push_back(common::strCat(d.host_path(), "->", d.container_path(), ":", d.permissions()));
  }
  EXPECT_THAT(specs, UnorderedElementsAre("/dev/vfio/vfio->/dev/vfio/vfio:rw",
                                          "/dev/vfio/3->/dev/vfio/3:rw"));
  EXPECT_EQ(response->envs().at("PCIDEVICE_DPDK_AWS_ENA_UPLINK"), "0000:00:06.0");
  EXPECT_EQ(json::parse(response->envs().at(
                "PCIDEVICE_DPDK_AWS_ENA_UPLINK_INFO"))["0000:00:06.0"]["vfio"]["dev-mount"],
            "/dev/vfio/3");

  // Before node prep binds it (or after someone unbinds it) the kubelet may not hand it out.
  const auto since = steady_clock::now();
  env_.host().setDriver("0000:00:06.0", "ena");
  expectWithinOneSecond(*uplink, hasHealth("0000:00:06.0", "Unhealthy"), since,
                        "uplink left its DPDK driver");
}

TEST(PluginManagerUplinkTest, NoPciUplinkMeansNoUplinkResourceUntilTheConfigHasOne) {
  PluginTestEnv env;
  json config = standardConfig();
  config["dataplane"]["networks"][0]["uplink"]["device"] = "net_null1";
  env.writeConfig(config);
  ASSERT_TRUE(env.startPlugin().ok());
  const fs::path socket = env.deviceDir() / deviceplugin::socketFileName("ena-uplink");
  // Every resource is served when start() returns, so a missing socket is not a race.
  EXPECT_FALSE(fs::exists(socket));
  ASSERT_TRUE(env.kubelet().waitForRegistrations(kStandardResources - 1, milliseconds(5000)));
  for (const PluginRegistration& r : env.kubelet().registrations()) {
    EXPECT_NE(r.resourceName, "dpdk.aws/ena-uplink");
  }

  // A PCI uplink in the reloaded config adds the resource (and takes the device from
  // ena-dedicated).
  config["dataplane"]["networks"][0]["uplink"]["device"] = "0000:00:07.0";
  config["deviceplugin"]["metricsAddress"] = env.plugin().config().deviceplugin.metricsAddress;
  env.writeConfig(config);
  ASSERT_TRUE(env.kubelet().waitForRegistrations(kStandardResources + 1, milliseconds(5000)));
  absl::StatusOr<std::unique_ptr<DevicePluginClient>> uplink = env.watch("ena-uplink");
  ASSERT_TRUE(uplink.ok()) << uplink.status();
  absl::StatusOr<std::vector<v1beta1::Device>> devices = (*uplink)->waitForUpdate(0);
  ASSERT_TRUE(devices.ok()) << devices.status();
  EXPECT_THAT(ids(*devices), ElementsAre("0000:00:07.0"));
}

TEST_F(PluginManagerTest, PreferredAllocationKeepsAttachmentsOnOneNetwork) {
  auto client = watch("ena");
  std::vector<v1beta1::Device> devices = firstList(*client);
  absl::StatusOr<std::vector<std::string>> preferred =
      client->preferredAllocation(ids(devices), {"eni2-02"}, 2);
  ASSERT_TRUE(preferred.ok()) << preferred.status();
  EXPECT_THAT(*preferred, ElementsAre("eni2-00", "eni2-02"));
}

TEST_F(PluginManagerTest, AllocatesHugepagesAndReleasesThemWhenNoPodHoldsThem) {
  absl::StatusOr<std::unique_ptr<FakePodResources>> podResources =
      FakePodResources::start(env_.host().path("/var/lib/kubelet/pod-resources/kubelet.sock"));
  ASSERT_TRUE(podResources.ok()) << podResources.status();
  auto client = watch("hugepages-1Gi");
  firstList(*client);
  absl::StatusOr<v1beta1::ContainerAllocateResponse> response =
      client->allocate({"node0-0", "node0-1"});
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->mounts_size(), 1);
  EXPECT_EQ(response->mounts(0).container_path(), "/dev/hugepages-1Gi");
  const std::string hostPath = response->mounts(0).host_path();
  ASSERT_TRUE(hostPath.starts_with("/var/run/ena-dpdk/hugepages/")) << hostPath;
  const fs::path mountPoint = env_.host().path(hostPath);
  ASSERT_TRUE(env_.mounter().isMounted(mountPoint));
  EXPECT_EQ(env_.mounter().mounts()[mountPoint].options,
            "pagesize=1G,size=2G,min_size=2G,mode=1777");
  const std::string id = mountPoint.filename().string();
  EXPECT_EQ(response->envs().at("ENA_DPDK_HUGEPAGES_1GI_EAL"),
            "--huge-dir /dev/hugepages-1Gi --file-prefix ena" + id +
                " --huge-unlink=never --single-file-segments --socket-mem 2048");
  ASSERT_EQ(env_.mounter().faults().size(), 1u);
  EXPECT_EQ(
      env_.mounter().faults()[0],
      (deviceplugin::HugepageFaultRequest{
          .files = {
              {.path = mountPoint / ("ena" + id + "map_0"), .bytes = 2ull << 30, .node = 0}}}));

  // A pod holds the devices: the mount stays, however old.
  (*podResources)
      ->setPods({{.pod = "dpdk-app",
                  .resourceName = "dpdk.aws/hugepages-1Gi",
                  .deviceIds = {"node0-1", "node0-0"}}});
  env_.clock().advance(std::chrono::hours(1));
  const std::size_t calls = (*podResources)->listCalls();
  env_.plugin().requestGarbageCollection();
  ASSERT_TRUE(eventually([&] { return (*podResources)->listCalls() > calls; }));
  ASSERT_TRUE(eventually([&] { return env_.plugin().metrics()->errors("gc") == 0; }));
  EXPECT_TRUE(env_.mounter().isMounted(mountPoint));

  // The pod is gone: the next collection unmounts and removes the mount point.
  (*podResources)->setPods({});
  env_.plugin().requestGarbageCollection();
  ASSERT_TRUE(eventually([&] { return !env_.mounter().isMounted(mountPoint); }));
  EXPECT_TRUE(eventually([&] { return !fs::exists(mountPoint); }));
}

TEST_F(PluginManagerTest, Serves2MiHugepagesOnceEnabledAndReleasesThemToo) {
  ASSERT_TRUE(env_.kubelet().waitForRegistrations(kStandardResources, milliseconds(5000)));
  absl::StatusOr<std::unique_ptr<FakePodResources>> podResources =
      FakePodResources::start(env_.host().path("/var/lib/kubelet/pod-resources/kubelet.sock"));
  ASSERT_TRUE(podResources.ok()) << podResources.status();
  env_.host().setHugepages(0, HugepageSize::Size2M, 4, 4);
  json config = standardConfig();
  config["deviceplugin"]["metricsAddress"] = env_.plugin().config().deviceplugin.metricsAddress;
  config["deviceplugin"]["hugepages2Mi"] = {{"enabled", true}};
  env_.writeConfig(config);
  ASSERT_TRUE(env_.kubelet().waitForRegistrations(kStandardResources + 1, milliseconds(5000)));
  EXPECT_EQ(env_.kubelet().registrations().back().resourceName, "dpdk.aws/hugepages-2Mi");
  EXPECT_EQ(env_.kubelet().registrations().back().endpoint, "ena-dpdk-hugepages-2Mi.sock");

  auto client = watch("hugepages-2Mi");
  EXPECT_THAT(ids(firstList(*client)), ElementsAre("node0-0", "node0-1", "node0-2", "node0-3"));
  absl::StatusOr<v1beta1::ContainerAllocateResponse> response =
      client->allocate({"node0-0", "node0-1", "node0-2"});
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->mounts_size(), 1);
  EXPECT_EQ(response->mounts(0).container_path(), "/dev/hugepages-2Mi");
  const std::string hostPath = response->mounts(0).host_path();
  ASSERT_TRUE(hostPath.starts_with("/var/run/ena-dpdk/hugepages-2Mi/")) << hostPath;
  const fs::path mountPoint = env_.host().path(hostPath);
  const std::string id = mountPoint.filename().string();
  EXPECT_EQ(env_.mounter().mounts()[mountPoint].options,
            "pagesize=2M,size=6M,min_size=6M,mode=1777");
  EXPECT_EQ(response->envs().at("ENA_DPDK_HUGEPAGES_2MI_EAL"),
            "--huge-dir /dev/hugepages-2Mi --file-prefix ena" + id +
                " --huge-unlink=never --single-file-segments --socket-mem 6");
  EXPECT_FALSE(response->envs().contains("ENA_DPDK_HUGEPAGES_1GI_EAL"));
  ASSERT_EQ(env_.mounter().faults().size(), 1u);
  EXPECT_EQ(
      env_.mounter().faults()[0],
      (deviceplugin::HugepageFaultRequest{
          .files = {
              {.path = mountPoint / ("ena" + id + "map_0"), .bytes = 6ull << 20, .node = 0}}}));

  env_.clock().advance(std::chrono::hours(1));
  env_.plugin().requestGarbageCollection();
  ASSERT_TRUE(eventually([&] { return !env_.mounter().isMounted(mountPoint); }));
  EXPECT_TRUE(eventually([&] { return !fs::exists(mountPoint); }));
}

TEST_F(PluginManagerTest, NoPodResourcesMeansNoRelease) {
  auto client = watch("hugepages-1Gi");
  firstList(*client);
  absl::StatusOr<v1beta1::ContainerAllocateResponse> response = client->allocate({"node1-0"});
  ASSERT_TRUE(response.ok()) << response.status();
  env_.clock().advance(std::chrono::hours(1));
  env_.plugin().requestGarbageCollection();
  ASSERT_TRUE(eventually([&] { return env_.plugin().metrics()->errors("gc") >= 1; }));
  EXPECT_TRUE(env_.mounter().isMounted(env_.host().path(response->mounts(0).host_path())));
}

TEST_F(PluginManagerTest, HugepagesFollowTheNodeAsPagesAreReserved) {
  auto client = watch("hugepages-1Gi");
  firstList(*client);
  const auto since = steady_clock::now();
  env_.host().setHugepages(1, HugepageSize::Size1G, 3, 3);
  expectWithinOneSecond(*client, hasHealth("node1-2", "Healthy"), since, "pages reserved");
}

TEST_F(PluginManagerTest, ADedicatedDeviceChangingDriverOrVanishingIsReportedWithinASecond) {
  auto client = watch("ena-dedicated");
  firstList(*client);
  auto since = steady_clock::now();
  env_.host().setDriver("0000:00:07.0", "ena");
  expectWithinOneSecond(*client, hasHealth("0000:00:07.0", "Unhealthy"), since, "driver change");
  since = steady_clock::now();
  env_.host().setDriver("0000:00:07.0", "vfio-pci");
  expectWithinOneSecond(*client, hasHealth("0000:00:07.0", "Healthy"), since, "driver back");
  since = steady_clock::now();
  env_.host().removePciDevice("0000:00:08.0");
  expectWithinOneSecond(*client, hasHealth("0000:00:08.0", "absent"), since, "hot-unplug");
}

TEST_F(PluginManagerTest, AttachmentsFollowTheirUplinkWithinASecond) {
  auto client = watch("ena");
  firstList(*client);
  auto since = steady_clock::now();
  env_.host().setDriver("0000:00:06.0", "ena");
  auto eni1Down = [](const std::vector<v1beta1::Device>& devices) {
    return health(devices, "eni1-00") == "Unhealthy" && health(devices, "eni1-03") == "Unhealthy" &&
           health(devices, "eni2-00") == "Healthy";
  };
  expectWithinOneSecond(*client, eni1Down, since, "uplink left its DPDK driver");
  since = steady_clock::now();
  env_.host().setDriver("0000:00:06.0", "vfio-pci");
  expectWithinOneSecond(*client, hasHealth("eni1-00", "Healthy"), since, "uplink back");
  since = steady_clock::now();
  env_.host().removePciDevice("0000:00:06.0");
  expectWithinOneSecond(*client, eni1Down, since, "uplink unplugged");
}

TEST_F(PluginManagerTest, AttachmentsFollowTheDataplaneButNotItsAbsence) {
  auto client = watch("ena");
  firstList(*client);
  std::unique_ptr<FakeDataplane> dataplane = startReachedDataplane();
  ASSERT_NE(dataplane, nullptr);

  auto since = steady_clock::now();
  dataplane->setNetworks({{.name = "eni1"}, {.name = "eni2", .up = false}, {.name = "local"}});
  expectWithinOneSecond(*client, hasHealth("eni2-01", "Unhealthy"), since, "network down");
  EXPECT_EQ(health(*client->latest(), "eni1-01"), "Healthy");
  since = steady_clock::now();
  dataplane->setNetworks({{.name = "eni1"}, {.name = "eni2"}, {.name = "local"}});
  expectWithinOneSecond(*client, hasHealth("eni2-01", "Healthy"), since, "network up");

  // The dataplane goes away (a restart): nothing changes for the kubelet.
  const std::size_t updates = client->updates();
  dataplane.reset();
  ASSERT_TRUE(eventually([&] { return !env_.plugin().metrics()->dataplaneReachable(); }));
  const std::uint64_t scans = env_.plugin().metrics()->healthScans();
  ASSERT_TRUE(eventually([&] { return env_.plugin().metrics()->healthScans() >= scans + 3; }));
  EXPECT_EQ(client->updates(), updates);

  // A dataplane that does not know a network counts it as down.
  dataplane = FakeDataplane::start(env_.host().path("/run/ena-dpdk/dataplane.sock"));
  ASSERT_NE(dataplane, nullptr);
  dataplane->setNetworks({{.name = "eni1"}});
  EXPECT_TRUE(client->waitForDevices(hasHealth("eni2-00", "Unhealthy")).ok());
}

// A dataplane that answers with a network mode the plugin cannot read (a newer dataplane's) is
// not restarting, yet its answer is not guessed at either: its view counts as unknown (nothing
// changes for the kubelet, even for a network it reports down) and the error is counted.
TEST_F(PluginManagerTest, AnUnreadableDataplaneAnswerIsCountedNotGuessed) {
  auto client = watch("ena");
  firstList(*client);
  std::unique_ptr<FakeDataplane> dataplane = startReachedDataplane();
  ASSERT_NE(dataplane, nullptr);
  EXPECT_EQ(env_.plugin().metrics()->errors("dataplane"), 0u);

  const std::size_t updates = client->updates();
  dataplane->setNetworks(
      {{.name = "eni1"}, {.name = "eni2", .up = false}, {.name = "local", .wireMode = 7}});
  ASSERT_TRUE(eventually([&] { return env_.plugin().metrics()->errors("dataplane") >= 3; }));
  EXPECT_FALSE(env_.plugin().metrics()->dataplaneReachable());
  EXPECT_EQ(client->updates(), updates);
  EXPECT_EQ(health(*client->latest(), "eni2-01"), "Healthy");

  // Readable again: its view counts.
  dataplane->setNetworks({{.name = "eni1"}, {.name = "eni2", .up = false}, {.name = "local"}});
  EXPECT_TRUE(client->waitForDevices(hasHealth("eni2-01", "Unhealthy")).ok());
}

TEST_F(PluginManagerTest, ServesAndRegistersAgainAfterEachOfTwentyKubeletRestarts) {
  ASSERT_TRUE(env_.kubelet().waitForRegistrations(kStandardResources, milliseconds(5000)));
  for (int restart = 1; restart <= 20; ++restart) {
    const auto since = steady_clock::now();
    ASSERT_TRUE(env_.kubelet().restart().ok());
    ASSERT_TRUE(
        env_.kubelet().waitForRegistrations(kStandardResources * (restart + 1), milliseconds(5000)))
        << "restart " << restart;
    EXPECT_LE(steady_clock::now() - since, kOneSecond) << "restart " << restart;
    for (const char* resource : {"ena", "ena-dedicated", "ena-uplink", "hugepages-1Gi"}) {
      auto client = DevicePluginClient::connect(
          env_.deviceDir() / deviceplugin::socketFileName(resource), milliseconds(1000));
      ASSERT_TRUE(client.ok()) << "restart " << restart << ": " << client.status();
      EXPECT_TRUE((*client)->options().ok());
    }
  }
  EXPECT_EQ(env_.kubelet().registrations().size(), kStandardResources * 21);
}

TEST_F(PluginManagerTest, ADeletedSocketIsServedAndRegisteredAgain) {
  ASSERT_TRUE(env_.kubelet().waitForRegistrations(kStandardResources, milliseconds(5000)));
  auto client = watch("ena");
  firstList(*client);
  const auto since = steady_clock::now();
  fs::remove(env_.deviceDir() / "ena-dpdk-ena.sock");
  ASSERT_TRUE(env_.kubelet().waitForRegistrations(kStandardResources + 1, milliseconds(5000)));
  EXPECT_LE(steady_clock::now() - since, kOneSecond);
  EXPECT_EQ(env_.kubelet().registrations().back().resourceName, "dpdk.aws/ena");
  // The old stream ends (the kubelet would reconnect); the new socket serves.
  EXPECT_TRUE(eventually([&] { return client->streamEnded(); }));
  EXPECT_TRUE(env_.watch("ena").ok());
}

TEST_F(PluginManagerTest, StopRemovesTheSockets) {
  ASSERT_TRUE(env_.kubelet().waitForRegistrations(kStandardResources, milliseconds(5000)));
  auto client = watch("ena");
  firstList(*client);
  env_.plugin().stop();
  for (const char* resource : {"ena", "ena-dedicated", "ena-uplink", "hugepages-1Gi"}) {
    EXPECT_FALSE(fs::exists(env_.deviceDir() / deviceplugin::socketFileName(resource)));
  }
  EXPECT_TRUE(eventually([&] { return client->streamEnded(); }));
  EXPECT_TRUE(fs::exists(env_.kubelet().socketPath()));
}

TEST_F(PluginManagerTest, ConfigChangeRestartsOnlyWhatChanged) {
  ASSERT_TRUE(env_.kubelet().waitForRegistrations(kStandardResources, milliseconds(5000)));
  auto dedicated = watch("ena-dedicated");
  firstList(*dedicated);
  const auto enaSocket = socketIdentity("ena");
  const auto dedicatedSocket = socketIdentity("ena-dedicated");
  const std::size_t dedicatedUpdates = dedicated->updates();

  json config = standardConfig();
  config["deviceplugin"]["metricsAddress"] = env_.plugin().config().deviceplugin.metricsAddress;
  config["deviceplugin"]["hugepages"]["containerPath"] = "/dev/hugepages";
  env_.writeConfig(config);
  ASSERT_TRUE(env_.kubelet().waitForRegistrations(kStandardResources + 1, milliseconds(5000)));
  EXPECT_EQ(env_.kubelet().registrations().back().resourceName, "dpdk.aws/hugepages-1Gi");
  EXPECT_EQ(env_.plugin().config().deviceplugin.hugepages.containerPath, "/dev/hugepages");
  EXPECT_EQ(env_.plugin().metrics()->reloads(true), 1u);
  EXPECT_EQ(socketIdentity("ena"), enaSocket);
  EXPECT_EQ(socketIdentity("ena-dedicated"), dedicatedSocket);
  EXPECT_FALSE(dedicated->streamEnded());
  EXPECT_EQ(dedicated->updates(), dedicatedUpdates);
  EXPECT_EQ(env_.kubelet().registrations().size(), kStandardResources + 1);
}

TEST_F(PluginManagerTest, ANetworkWithAResourceOfItsOwnIsOfferedOnlyThere) {
  ASSERT_TRUE(env_.kubelet().waitForRegistrations(kStandardResources, milliseconds(5000)));
  json config = standardConfig();
  config["deviceplugin"]["metricsAddress"] = env_.plugin().config().deviceplugin.metricsAddress;
  config["deviceplugin"]["ena"]["networkResources"] = {{"eni2", "ena-user"}};
  env_.writeConfig(config);
  ASSERT_TRUE(env_.kubelet().waitForRegistrations(kStandardResources + 2, milliseconds(5000)));
  std::vector<std::string> registered;
  for (const PluginRegistration& r : env_.kubelet().registrations()) {
    registered.push_back(r.resourceName);
  }
  // The pooled resource changed (it lost eni2) and registers again; the new one registers once.
  EXPECT_THAT(std::vector<std::string>(registered.end() - 2, registered.end()),
              UnorderedElementsAre("dpdk.aws/ena", "dpdk.aws/ena-user"));
  EXPECT_EQ(env_.kubelet().lastRegistration("dpdk.aws/ena-user")->endpoint,
            "ena-dpdk-ena-user.sock");

  auto pooled = watch("ena");
  EXPECT_THAT(ids(firstList(*pooled)), ElementsAre("eni1-00", "eni1-01", "eni1-02", "eni1-03"));
  auto own = watch("ena-user");
  std::vector<v1beta1::Device> devices = firstList(*own);
  EXPECT_THAT(ids(devices), ElementsAre("eni2-00", "eni2-01", "eni2-02", "eni2-03"));
  for (const v1beta1::Device& d : devices) EXPECT_EQ(d.health(), "Healthy") << d.id();

  absl::StatusOr<v1beta1::ContainerAllocateResponse> response = own->allocate({"eni2-01"});
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->mounts_size(), 1);
  EXPECT_EQ(response->mounts(0).host_path(), "/var/run/ena-dpdk/vhost/eni2-01");
  EXPECT_EQ(response->mounts(0).container_path(), "/var/run/vhost-user/eni2-01");
  // Its own variable: a pod holding attachments of two resources gets both lists.
  EXPECT_EQ(response->envs().at("ENA_DPDK_DEVICES_ENA_USER"), "eni2-01");
  EXPECT_EQ(response->envs().count("ENA_DPDK_DEVICES"), 0u);
  // Each resource hands out its own network's attachments only.
  EXPECT_EQ(own->allocate({"eni1-00"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pooled->allocate({"eni2-00"}).status().code(), absl::StatusCode::kInvalidArgument);

  // Taking the network back into the pool removes its resource and its socket.
  config["deviceplugin"]["ena"].erase("networkResources");
  env_.writeConfig(config);
  ASSERT_TRUE(eventually([&] { return !socketIdentity("ena-user").has_value(); }));
  // The pooled resource is served again with both networks (a watch may first reach the server
  // being replaced, or find its socket missing for a moment, so watch again, with short attempts,
  // until the new one answers; the budget allows for a loaded sanitizer build).
  EXPECT_TRUE(eventually(
      [&] {
        absl::StatusOr<std::unique_ptr<DevicePluginClient>> again =
            env_.watch("ena", milliseconds(500));
        return again.ok() &&
               (*again)
                   ->waitForDevices(
                       [](const std::vector<v1beta1::Device>& d) { return d.size() == 8; },
                       milliseconds(500))
                   .ok();
      },
      milliseconds(15000)));
}

// The healthy attachments of `network` in `devices`.
std::vector<std::string> healthyOf(const std::vector<v1beta1::Device>& devices,
                                   const std::string& network) {
  std::vector<std::string> out;
  for (const v1beta1::Device& d : devices) {
    if (d.id().starts_with(network + "-") && d.health() == "Healthy") out.push_back(d.id());
  }
  return out;
}

// A predicate: exactly `wanted` attachments of `network` are healthy.
std::function<bool(const std::vector<v1beta1::Device>&)> healthyCount(std::string network,
                                                                      std::size_t wanted) {
  return [network, wanted](const std::vector<v1beta1::Device>& devices) {
    return healthyOf(devices, network).size() == wanted;
  };
}

class PluginCapacityTest : public PluginManagerTest {
 protected:
  void SetUp() override {
    // A pool of 4 addresses for eni1 and 32 slots per network; eni2 has no IPAM source here.
    json config = standardConfig();
    config["deviceplugin"]["ena"]["slotsPerNetwork"] = 32;
    config["ipam"] = {{"stateDir", "/var/lib/ena-dpdk/ipam"},
                      {"networks",
                       {{"eni1",
                         {{"addresses", {"10.0.1.10", "10.0.1.11", "10.0.1.12", "10.0.1.13/24"}},
                          {"gateway", "10.0.1.1"}}}}}};
    env_.writeConfig(config);
    // The kubelet's PodResources API, with no pod holding anything until a test says so.
    absl::StatusOr<std::unique_ptr<FakePodResources>> podResources =
        FakePodResources::start(env_.host().path("/var/lib/kubelet/pod-resources/kubelet.sock"));
    ASSERT_TRUE(podResources.ok()) << podResources.status();
    podResources_ = std::move(*podResources);
    PluginManagerTest::SetUp();
  }

  // ena-dpdk-ipam's ADD or DEL for container `id` on eni1, as the CNI runs it.
  absl::Status ipam(const std::string& command, const std::string& id) {
    absl::StatusOr<ipam::IpamNetconf> netconf =
        ipam::parseIpamNetconf(json{{"cniVersion", "1.1.0"},
                                    {"name", "ena"},
                                    {"ipam", {{"type", "ena-dpdk-ipam"}, {"network", "eni1"}}}},
                               env_.configPath());
    if (!netconf.ok()) return netconf.status();
    netconf->stateDir = env_.host().path(netconf->stateDir.string());
    ipam::Ipam ipam(
        *std::move(netconf),
        std::make_shared<spdlog::logger>("ipam", std::make_shared<spdlog::sinks::null_sink_mt>()),
        [] { return std::chrono::system_clock::now(); });
    const ipam::LeaseKey key{.containerId = id, .ifName = "net1"};
    return command == "ADD" ? ipam.add(key).status() : ipam.del(key);
  }

  std::unique_ptr<FakePodResources> podResources_;
};

TEST_F(PluginCapacityTest, HealthyAttachmentsNeverOutnumberTheFreeAddresses) {
  auto client = watch("ena");
  std::vector<v1beta1::Device> devices = firstList(*client);
  // Already the first list counts the addresses: 4 of eni1's 32 attachments are healthy, the
  // lowest IDs; eni2, without an IPAM source, is not limited.
  EXPECT_EQ(devices.size(), 64u);
  EXPECT_THAT(healthyOf(devices, "eni1"), ElementsAre("eni1-00", "eni1-01", "eni1-02", "eni1-03"));
  EXPECT_EQ(healthyOf(devices, "eni2").size(), 32u);
  ASSERT_TRUE(eventually([&] {
    return env_.plugin().metrics()->render().find(
               "ena_dpdk_deviceplugin_network_free_leases{network=\"eni1\"} 4") !=
           std::string::npos;
  }));

  // One CNI ADD takes an address: 3 healthy (the kubelet says no pod holds an attachment, so the
  // lease is not one of a held attachment's).
  ASSERT_TRUE(ipam("ADD", "pod-a").ok());
  auto since = steady_clock::now();
  absl::StatusOr<std::vector<v1beta1::Device>> list =
      client->waitForDevices(healthyCount("eni1", 3));
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_LE(steady_clock::now() - since, kOneSecond);

  // The pool runs dry, then an address comes back.
  for (const char* id : {"pod-b", "pod-c", "pod-d"}) ASSERT_TRUE(ipam("ADD", id).ok());
  ASSERT_TRUE(client->waitForDevices(healthyCount("eni1", 0)).ok());
  EXPECT_FALSE(ipam("ADD", "pod-e").ok());
  ASSERT_TRUE(ipam("DEL", "pod-c").ok());
  ASSERT_TRUE(client->waitForDevices(healthyCount("eni1", 1)).ok());
  EXPECT_EQ(env_.plugin().metrics()->errors("ipam"), 0u);
}

TEST_F(PluginCapacityTest, AttachmentsPodsHoldStayHealthyAndCountTheirAddresses) {
  auto client = watch("ena");
  ASSERT_TRUE(client->waitForDevices(healthyCount("eni1", 4)).ok());

  // The kubelet gave eni1-07 to a pod whose CNI ADD has not run yet: its address is spoken for,
  // so 4 healthy of which the kubelet can give 3 more (eni1-07 is held).
  podResources_->setPods({{.pod = "a", .resourceName = "dpdk.aws/ena", .deviceIds = {"eni1-07"}}});
  absl::StatusOr<std::vector<v1beta1::Device>> list =
      client->waitForDevices([](const std::vector<v1beta1::Device>& d) {
        return healthyOf(d, "eni1") ==
               std::vector<std::string>{"eni1-00", "eni1-01", "eni1-02", "eni1-07"};
      });
  ASSERT_TRUE(list.ok()) << list.status();
  // Its ADD takes the address: still 4 healthy, 3 free for the kubelet.
  ASSERT_TRUE(ipam("ADD", "a").ok());
  // Wait until the address loop has seen the lease and a health scan has followed it.
  ASSERT_TRUE(eventually([&] {
    return env_.plugin().metrics()->render().find(
               "ena_dpdk_deviceplugin_network_leases{network=\"eni1\"} 1") != std::string::npos;
  }));
  const std::uint64_t scans = env_.plugin().metrics()->healthScans();
  ASSERT_TRUE(eventually([&] { return env_.plugin().metrics()->healthScans() > scans + 1; }));
  EXPECT_THAT(healthyOf(client->latest().value(), "eni1"),
              ElementsAre("eni1-00", "eni1-01", "eni1-02", "eni1-07"));
  // A lease nobody holds an attachment for (another resource's pod, or not yet collected) takes
  // its address away: 3 healthy, one of them eni1-07.
  ASSERT_TRUE(ipam("ADD", "stray").ok());
  ASSERT_TRUE(client->waitForDevices(healthyCount("eni1", 3)).ok());
  EXPECT_THAT(healthyOf(client->latest().value(), "eni1"),
              ElementsAre("eni1-00", "eni1-01", "eni1-07"));

  // The kubelet cannot answer: every lease is assumed held (no flapping to fewer).
  podResources_->setError(absl::UnavailableError("restarting"));
  ASSERT_TRUE(eventually([&] { return env_.plugin().metrics()->errors("podresources") > 0; }));
  ASSERT_TRUE(client->waitForDevices(healthyCount("eni1", 4)).ok());
}

TEST_F(PluginCapacityTest, AnIpamThatCannotAnswerKeepsTheLastKnownView) {
  auto client = watch("ena");
  ASSERT_TRUE(client->waitForDevices(healthyCount("eni1", 4)).ok());
  ASSERT_TRUE(ipam("ADD", "pod-a").ok());
  ASSERT_TRUE(client->waitForDevices(healthyCount("eni1", 3)).ok());
  // The network's lease directory becomes unusable (a file where it should be).
  const fs::path dir = env_.host().path("/var/lib/ena-dpdk/ipam/eni1");
  fs::rename(dir, dir.string() + ".moved");
  std::ofstream(dir) << "not a directory";
  ASSERT_TRUE(eventually([&] { return env_.plugin().metrics()->errors("ipam") >= 2; }));
  EXPECT_EQ(healthyOf(client->latest().value(), "eni1").size(), 3u);
  // It comes back: the view follows again.
  fs::remove(dir);
  fs::rename(dir.string() + ".moved", dir);
  ASSERT_TRUE(ipam("DEL", "pod-a").ok());
  ASSERT_TRUE(client->waitForDevices(healthyCount("eni1", 4)).ok());
}

TEST_F(PluginManagerTest, ADedicatedDeviceTakenAsAnUplinkLeavesTheListWithinASecond) {
  ASSERT_TRUE(env_.kubelet().waitForRegistrations(kStandardResources, milliseconds(5000)));
  auto dedicated = watch("ena-dedicated");
  firstList(*dedicated);
  const auto dedicatedSocket = socketIdentity("ena-dedicated");
  json config = standardConfig();
  config["deviceplugin"]["metricsAddress"] = env_.plugin().config().deviceplugin.metricsAddress;
  config["dataplane"]["networks"].push_back(
      {{"name", "eni3"}, {"uplink", {{"device", "0000:00:07.0"}}}});
  const auto since = steady_clock::now();
  env_.writeConfig(config);
  expectWithinOneSecond(*dedicated, hasHealth("0000:00:07.0", "absent"), since,
                        "device became an uplink");
  // The dedicated resource kept its server; the attachments gained eni3 and the dataplane's
  // own resource the device.
  EXPECT_EQ(socketIdentity("ena-dedicated"), dedicatedSocket);
  ASSERT_TRUE(env_.kubelet().waitForRegistrations(kStandardResources + 2, milliseconds(5000)));
  const std::vector<PluginRegistration> registrations = env_.kubelet().registrations();
  EXPECT_THAT((std::vector<std::string>{registrations[kStandardResources].resourceName,
                                        registrations[kStandardResources + 1].resourceName}),
              UnorderedElementsAre("dpdk.aws/ena", "dpdk.aws/ena-uplink"));
  auto ena = watch("ena");
  EXPECT_TRUE(ena->waitForDevices(hasHealth("eni3-00", "Healthy")).ok());
  auto uplink = watch("ena-uplink");
  EXPECT_THAT(ids(firstList(*uplink)), ElementsAre("0000:00:06.0", "0000:00:07.0"));
}

TEST_F(PluginManagerTest, ABadReloadKeepsTheRunningConfig) {
  ASSERT_TRUE(env_.kubelet().waitForRegistrations(kStandardResources, milliseconds(5000)));
  const deviceplugin::PluginConfig before = env_.plugin().config();
  const auto enaSocket = socketIdentity("ena");

  struct Bad {
    const char* description;
    std::string text;
  };
  json unknownKey = standardConfig();
  unknownKey["deviceplugin"]["ena"]["slots"] = 2;
  json badAddress = standardConfig();
  badAddress["deviceplugin"]["enaDedicated"]["pciAddresses"] = {"00:07.0"};
  json duplicate = standardConfig();
  duplicate["deviceplugin"]["enaDedicated"]["pciAddresses"] = {"0000:00:06.0"};
  const Bad cases[] = {{"malformed JSON", "{\"deviceplugin\": "},
                       {"unknown key", unknownKey.dump()},
                       {"malformed PCI address", badAddress.dump()},
                       {"device in two resources", duplicate.dump()}};
  std::uint64_t failures = 0;
  for (const Bad& bad : cases) {
    env_.writeConfigText(bad.text);
    ++failures;
    ASSERT_TRUE(eventually([&] { return env_.plugin().metrics()->reloads(false) >= failures; }))
        << bad.description;
    EXPECT_EQ(env_.plugin().config(), before) << bad.description;
  }
  // SIGHUP (requestReload) with the bad file: the same.
  env_.plugin().requestReload();
  ++failures;
  ASSERT_TRUE(eventually([&] { return env_.plugin().metrics()->reloads(false) >= failures; }));
  EXPECT_EQ(env_.plugin().config(), before);
  EXPECT_EQ(socketIdentity("ena"), enaSocket);
  EXPECT_EQ(env_.kubelet().registrations().size(), kStandardResources);
  auto client = watch("ena");
  EXPECT_EQ(firstList(*client).size(), 8u);
}

TEST_F(PluginManagerTest, ServesMetrics) {
  ASSERT_TRUE(env_.kubelet().waitForRegistrations(kStandardResources, milliseconds(5000)));
  auto client = watch("ena-dedicated");
  firstList(*client);
  ASSERT_TRUE(client->allocate({"0000:00:07.0"}).ok());
  httplib::Client http("127.0.0.1", env_.plugin().metricsPort());
  httplib::Result result = http.Get("/metrics");
  ASSERT_TRUE(result) << "no answer from the metrics endpoint";
  EXPECT_EQ(result->status, 200);
  EXPECT_THAT(result->body,
              HasSubstr("ena_dpdk_deviceplugin_devices{resource=\"dpdk.aws/ena-dedicated\","
                        "health=\"Healthy\"} 3"));
  EXPECT_THAT(result->body, HasSubstr("ena_dpdk_deviceplugin_allocations_total{resource=\"dpdk."
                                      "aws/ena-dedicated\",result=\"ok\"} 1"));
  EXPECT_THAT(result->body, HasSubstr("ena_dpdk_deviceplugin_registrations_total{resource=\"dpdk."
                                      "aws/ena\",result=\"ok\"} 1"));
  EXPECT_THAT(result->body,
              HasSubstr(common::strCat("# TYPE ena_dpdk_deviceplugin_build_info gauge\n"
                                       "ena_dpdk_deviceplugin_build_info{version=\"",
                                       common::kVersion, "\",revision=\"", common::kGitRevision,
                                       "\"} 1\n")));
}

// --metrics-address: one ConfigMap for every node, each plugin on its own node's address (here
// IPv6). The option wins over the file at start and after a reload that changes the file's.
TEST(PluginManagerStartTest, MetricsAddressOptionWinsOverTheConfigFile) {
  PluginTestEnv env;
  deviceplugin::PluginOptions options = env.options();
  const int port = freeTcpPort();
  options.metricsAddress = common::strCat("[::1]:", port);
  ASSERT_TRUE(env.startPlugin(options).ok());
  EXPECT_EQ(env.plugin().metricsPort(), port);
  EXPECT_EQ(env.plugin().config().deviceplugin.metricsAddress, options.metricsAddress);
  auto scrape = [port] {
    httplib::Client http("::1", port);
    httplib::Result result = http.Get("/metrics");
    return result && result->status == 200 ? result->body : std::string();
  };
  EXPECT_THAT(scrape(), HasSubstr("ena_dpdk_deviceplugin_build_info{"));

  json config = standardConfig();
  config["deviceplugin"]["metricsAddress"] = common::strCat("127.0.0.1:", freeTcpPort());
  config["deviceplugin"]["hugepages"]["containerPath"] = "/dev/hugepages";
  env.writeConfig(config);
  ASSERT_TRUE(eventually([&] { return env.plugin().metrics()->reloads(true) >= 1; }));
  EXPECT_EQ(env.plugin().config().deviceplugin.hugepages.containerPath, "/dev/hugepages");
  EXPECT_EQ(env.plugin().config().deviceplugin.metricsAddress, options.metricsAddress);
  EXPECT_EQ(env.plugin().metricsPort(), port);
  EXPECT_THAT(scrape(), HasSubstr("ena_dpdk_deviceplugin_config_reloads_total{result=\"ok\"} 1"));
}

// GET /healthz as (status, body); (0, "") when nothing answers.
std::pair<int, std::string> healthz(int port) {
  httplib::Client http("127.0.0.1", port);
  httplib::Result result = http.Get("/healthz");
  return result ? std::pair{result->status, result->body} : std::pair{0, std::string()};
}

TEST_F(PluginManagerTest, HealthIsRegistrationWithTheKubeletAndAWorkingHostScan) {
  const int port = env_.plugin().metricsPort();
  ASSERT_TRUE(env_.kubelet().waitForRegistrations(kStandardResources, milliseconds(5000)));
  ASSERT_TRUE(eventually([&] { return healthz(port).first == 200; }));
  EXPECT_EQ(healthz(port).second, "ok\n");
  // The gauge the EnaDpdkDevicePluginNotRegistered alert watches says the same.
  const std::string registered =
      "ena_dpdk_deviceplugin_resource_registered{resource=\"dpdk.aws/ena\"} ";
  EXPECT_THAT(env_.plugin().metrics()->render(), HasSubstr(registered + "1\n"));

  // The kubelet goes away: its registrations with it.
  env_.kubelet().stop();
  ASSERT_TRUE(eventually([&] { return healthz(port).first == 503; }, kOneSecond));
  EXPECT_THAT(healthz(port).second,
              HasSubstr("unhealthy: not registered with the kubelet: dpdk.aws/ena,"));
  EXPECT_THAT(env_.plugin().metrics()->render(), HasSubstr(registered + "0\n"));
  // It is back: the plugin registers again and is healthy.
  ASSERT_TRUE(env_.kubelet().restart().ok());
  ASSERT_TRUE(eventually([&] { return healthz(port).first == 200; }));
  EXPECT_THAT(env_.plugin().metrics()->render(), HasSubstr(registered + "1\n"));

  // The host cannot be scanned (sysfs unreadable): unhealthy once no scan has worked for 5 s.
  fs::rename(env_.host().path("/sys/bus/pci/devices"), env_.host().path("/sys/bus/pci/gone"));
  ASSERT_TRUE(eventually([&] { return env_.plugin().metrics()->errors("scan") > 0; }));
  ASSERT_TRUE(eventually([&] { return healthz(port).first == 503; }, milliseconds(7000)));
  EXPECT_THAT(healthz(port).second, HasSubstr("unhealthy: no successful host scan for "));
  fs::rename(env_.host().path("/sys/bus/pci/gone"), env_.host().path("/sys/bus/pci/devices"));
  ASSERT_TRUE(eventually([&] { return healthz(port).first == 200; }));
}

TEST(PluginManagerStartTest, UnhealthyUntilRegistered) {
  PluginTestEnv env(/*withKubelet=*/false);
  ASSERT_TRUE(env.startPlugin().ok());
  const auto [status, body] = healthz(env.plugin().metricsPort());
  EXPECT_EQ(status, 503);
  EXPECT_THAT(body, HasSubstr("not registered with the kubelet: dpdk.aws/ena,"));
  ASSERT_TRUE(env.startKubelet().ok());
  EXPECT_TRUE(eventually([&] { return healthz(env.plugin().metricsPort()).first == 200; }));
}

TEST(PluginManagerStartTest, RegistersOnceTheKubeletAppears) {
  PluginTestEnv env(/*withKubelet=*/false);
  ASSERT_TRUE(env.startPlugin().ok());
  // The plugin serves before any kubelet exists.
  ASSERT_TRUE(env.watch("ena").ok());
  ASSERT_TRUE(env.startKubelet().ok());
  const auto since = steady_clock::now();
  ASSERT_TRUE(env.kubelet().waitForRegistrations(kStandardResources, milliseconds(5000)));
  EXPECT_LE(steady_clock::now() - since, kOneSecond);
}

TEST(PluginManagerStartTest, RetriesAFailingRegistration) {
  PluginTestEnv env;
  env.kubelet().setRegisterError(absl::UnavailableError("kubelet still starting"));
  ASSERT_TRUE(env.startPlugin().ok());
  ASSERT_TRUE(eventually(
      [&] { return env.plugin().metrics()->registrations("dpdk.aws/ena", false) >= 2; }));
  EXPECT_EQ(env.plugin().metrics()->registrations("dpdk.aws/ena"), 0u);
  env.kubelet().setRegisterError(absl::OkStatus());
  ASSERT_TRUE(env.kubelet().waitForRegistrations(kStandardResources, milliseconds(5000)));
}

TEST(PluginManagerStartTest, RefusesABadConfigOrASocketInUse) {
  PluginTestEnv env;
  env.writeConfigText("{\"deviceplugin\": {\"ena\": {\"slotsPerNetwork\": 0}}}");
  absl::Status status = env.startPlugin();
  EXPECT_THAT(std::string(status.message()), HasSubstr("deviceplugin.ena.slotsPerNetwork"));

  env.writeConfig(standardConfig());
  ASSERT_TRUE(env.startPlugin().ok());
  PluginTestEnv other;
  deviceplugin::PluginOptions options = other.options();
  options.root = env.host().hostRoot();
  options.configPath = env.configPath();
  // The same root and sockets, served by a live plugin: a second one must not steal them.
  status = other.startPlugin(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(env.watch("ena").ok());
}

}  // namespace
}  // namespace enadpdk::testing
