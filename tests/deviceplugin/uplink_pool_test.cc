#include "deviceplugin/uplink_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "deviceplugin/cdi_spec.h"
#include "deviceplugin/dedicated_pool.h"
#include "deviceplugin/plugin_config.h"
#include "nlohmann/json.hpp"
#include "tests/deviceplugin/test_env.h"

namespace enadpdk::deviceplugin {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using json = nlohmann::json;

// The standard host (test_env.h) with a dataplane whose uplinks are 0000:00:06.0 (vfio, NUMA 0),
// 0000:00:08.0 (no-IOMMU vfio, NUMA 1) and 0000:00:09.0 (igb_uio, no NUMA node).
class UplinkPoolTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::describeStandardHost(host_); }

  std::unique_ptr<UplinkPool> makePool(UplinkPoolSpec spec) {
    return std::make_unique<UplinkPool>(host_.hostRoot(), std::move(spec));
  }

  HostState scan() {
    absl::StatusOr<HostState> state = scanHost(host_.hostRoot());
    EXPECT_TRUE(state.ok()) << state.status();
    if (!state.ok()) return {};
    state->uplinkPciAddresses = {kUplinks.begin(), kUplinks.end()};
    return *state;
  }

  static std::vector<Device> devices(const ResourcePool& pool) { return pool.snapshot().devices; }

  const std::vector<std::string> kUplinks = {"0000:00:06.0", "0000:00:08.0", "0000:00:09.0"};
  testing::FakeHost host_;
};

TEST_F(UplinkPoolTest, AdvertisesEachPciUplinkWithItsNumaNode) {
  auto pool = makePool({.addresses = kUplinks});
  pool->refresh(scan());
  EXPECT_EQ(pool->resourceName(), "dpdk.aws/ena-uplink");
  EXPECT_THAT(devices(*pool),
              ElementsAre(Device{.id = "0000:00:06.0", .healthy = true, .numaNode = 0},
                          Device{.id = "0000:00:08.0", .healthy = true, .numaNode = 1},
                          // sysfs says -1: no topology
                          Device{.id = "0000:00:09.0", .healthy = true, .numaNode = std::nullopt}));
}

TEST_F(UplinkPoolTest, AnUplinkOffItsDpdkDriverOrGoneStaysListedAsUnhealthy) {
  auto pool = makePool({.addresses = kUplinks});
  host_.setDriver("0000:00:06.0", "ena");  // node prep has not bound it yet
  host_.removePciDevice("0000:00:08.0");
  pool->refresh(scan());
  EXPECT_THAT(devices(*pool),
              ElementsAre(Device{.id = "0000:00:06.0", .healthy = false, .numaNode = 0},
                          Device{.id = "0000:00:08.0", .healthy = false, .numaNode = std::nullopt},
                          Device{.id = "0000:00:09.0", .healthy = true}));
  host_.setDriver("0000:00:06.0", "vfio-pci");
  pool->refresh(scan());
  EXPECT_TRUE(devices(*pool)[0].healthy);
  host_.setDriver("0000:00:06.0", "uio_pci_generic");
  pool->refresh(scan());
  EXPECT_TRUE(devices(*pool)[0].healthy);
}

TEST_F(UplinkPoolTest, UplinksNeverReachTheDedicatedPool) {
  auto dedicated = std::make_unique<DedicatedPool>(host_.hostRoot(), DedicatedPoolSpec{});
  dedicated->refresh(scan());
  EXPECT_THAT(devices(*dedicated), ElementsAre(Device{.id = "0000:00:07.0", .numaNode = 0}));
}

TEST_F(UplinkPoolTest, AllocateGivesDeviceNodesAndTheSriovStyleEnvironment) {
  auto pool = makePool({.addresses = kUplinks, .cdi = {.enabled = true}});
  pool->refresh(scan());
  absl::StatusOr<ContainerAllocation> allocation =
      pool->allocate({"0000:00:08.0", "0000:00:06.0", "0000:00:09.0"});
  ASSERT_TRUE(allocation.ok()) << allocation.status();
  EXPECT_THAT(allocation->devices,
              UnorderedElementsAre(DeviceNode{"/dev/vfio/vfio", "/dev/vfio/vfio", "rw"},
                                   DeviceNode{"/dev/vfio/noiommu-5", "/dev/vfio/5", "rw"},
                                   DeviceNode{"/dev/vfio/3", "/dev/vfio/3", "rw"},
                                   DeviceNode{"/dev/uio0", "/dev/uio0", "rw"}));
  EXPECT_EQ(allocation->envs.at("PCIDEVICE_DPDK_AWS_ENA_UPLINK"),
            "0000:00:08.0,0000:00:06.0,0000:00:09.0");
  const json info = json::parse(allocation->envs.at("PCIDEVICE_DPDK_AWS_ENA_UPLINK_INFO"));
  EXPECT_EQ(info["0000:00:06.0"],
            (json{{"generic", {{"deviceID", "0000:00:06.0"}}},
                  {"vfio", {{"dev-mount", "/dev/vfio/3"}, {"mount", "/dev/vfio/vfio"}}}}));
  EXPECT_EQ(info["0000:00:09.0"]["uio"]["mount"], "/dev/uio0");
  EXPECT_EQ(allocation->envs.size(), 2u);
  EXPECT_THAT(allocation->mounts, IsEmpty());
  EXPECT_THAT(allocation->cdiDevices,
              ElementsAre("dpdk.aws/ena-uplink=0000-00-08.0", "dpdk.aws/ena-uplink=0000-00-06.0",
                          "dpdk.aws/ena-uplink=0000-00-09.0"));
  EXPECT_TRUE(
      host_.exists(cdiSpecPath("/var/run/cdi", "dpdk.aws/ena-uplink", "0000:00:06.0").string()));
  EXPECT_TRUE(host_.exists(
      "/var/run/k8s.cni.cncf.io/devinfo/dp/dpdk.aws-ena-uplink-0000:00:06.0-device.json"));
}

TEST_F(UplinkPoolTest, AllocateRefusesOtherDevicesAndUnboundUplinks) {
  auto pool = makePool({.addresses = {"0000:00:06.0"}});
  pool->refresh(scan());
  absl::StatusOr<ContainerAllocation> other = pool->allocate({"0000:00:07.0"});
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(other.status().message()), HasSubstr("0000:00:07.0"));
  host_.setDriver("0000:00:06.0", "ena");
  absl::StatusOr<ContainerAllocation> unbound = pool->allocate({"0000:00:06.0"});
  EXPECT_EQ(unbound.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(unbound.status().message()), HasSubstr("is bound to ena"));
  EXPECT_FALSE(host_.exists("/var/run/k8s.cni.cncf.io/devinfo/dp"));
}

TEST(UplinkPciAddressesTest, OnlyPciUplinksCount) {
  absl::StatusOr<PluginConfig> config = parsePluginConfig(testing::standardConfig());
  ASSERT_TRUE(config.ok()) << config.status();
  // eni1's uplink is a PCI address, eni2's a vdev, local has none.
  EXPECT_THAT(uplinkPciAddresses(config->dataplane), ElementsAre("0000:00:06.0"));
}

}  // namespace
}  // namespace enadpdk::deviceplugin
