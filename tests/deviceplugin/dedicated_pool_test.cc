#include "deviceplugin/dedicated_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "deviceplugin/cdi_spec.h"
#include "deviceplugin/device_info.h"
#include "nlohmann/json.hpp"
#include "tests/deviceplugin/test_env.h"

namespace enadpdk::deviceplugin {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;
using json = nlohmann::json;

class DedicatedPoolTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::describeStandardHost(host_); }

  std::unique_ptr<DedicatedPool> makePool(DedicatedPoolSpec spec = {}) {
    return std::make_unique<DedicatedPool>(host_.hostRoot(), std::move(spec));
  }

  HostState scan() {
    absl::StatusOr<HostState> state = scanHost(host_.hostRoot());
    EXPECT_TRUE(state.ok()) << state.status();
    if (!state.ok()) return {};
    state->uplinkPciAddresses = uplinks_;
    return *state;
  }

  static std::vector<Device> devices(const ResourcePool& pool) { return pool.snapshot().devices; }

  testing::FakeHost host_;
  std::set<std::string> uplinks_ = {"0000:00:06.0"};
};

TEST_F(DedicatedPoolTest, OffersDpdkBoundEnasThatAreNotUplinks) {
  auto pool = makePool();
  pool->refresh(scan());
  EXPECT_THAT(devices(*pool),
              ElementsAre(Device{.id = "0000:00:07.0", .healthy = true, .numaNode = 0},
                          Device{.id = "0000:00:08.0", .healthy = true, .numaNode = 1},
                          Device{.id = "0000:00:09.0", .healthy = true, .numaNode = std::nullopt}));
}

TEST_F(DedicatedPoolTest, ADeviceThatLosesItsDriverTurnsUnhealthyAndLeavesWhenGone) {
  auto pool = makePool();
  pool->refresh(scan());
  host_.setDriver("0000:00:07.0", "ena");
  pool->refresh(scan());
  EXPECT_EQ(devices(*pool)[0], (Device{.id = "0000:00:07.0", .healthy = false, .numaNode = 0}));
  host_.setDriver("0000:00:07.0", "vfio-pci");
  pool->refresh(scan());
  EXPECT_TRUE(devices(*pool)[0].healthy);
  host_.removePciDevice("0000:00:07.0");
  pool->refresh(scan());
  EXPECT_EQ(devices(*pool)[0].id, "0000:00:08.0");
  EXPECT_EQ(devices(*pool).size(), 2u);
}

TEST_F(DedicatedPoolTest, ADeviceTakenAsAnUplinkLeavesTheList) {
  auto pool = makePool();
  pool->refresh(scan());
  uplinks_.insert("0000:00:08.0");
  pool->refresh(scan());
  for (const Device& d : devices(*pool)) EXPECT_NE(d.id, "0000:00:08.0");
  EXPECT_EQ(devices(*pool).size(), 2u);
}

TEST_F(DedicatedPoolTest, ADeviceBoundLaterIsOfferedAndTracked) {
  auto pool = makePool();
  pool->refresh(scan());
  host_.setDriver("0000:00:05.0", "vfio-pci");
  pool->refresh(scan());
  EXPECT_EQ(devices(*pool)[0].id, "0000:00:05.0");
  EXPECT_TRUE(devices(*pool)[0].healthy);
  host_.setDriver("0000:00:05.0", "ena");
  pool->refresh(scan());
  EXPECT_EQ(devices(*pool)[0], (Device{.id = "0000:00:05.0", .healthy = false, .numaNode = 0}));
}

TEST_F(DedicatedPoolTest, FiltersFromTheConfig) {
  auto pool = makePool(
      {.config = {.drivers = {"vfio-pci"}, .pciAddresses = {"0000:00:08.0", "0000:00:09.0"}}});
  pool->refresh(scan());
  EXPECT_THAT(devices(*pool), ElementsAre(Device{.id = "0000:00:08.0", .numaNode = 1}));
  auto excluding = makePool({.config = {.exclude = {"0000:00:07.0"}}});
  excluding->refresh(scan());
  EXPECT_EQ(devices(*excluding).size(), 2u);
  auto intel = makePool({.config = {.vendors = {"8086"}, .devices = {"1234"}}});
  intel->refresh(scan());
  EXPECT_THAT(devices(*intel), ElementsAre(Device{.id = "0000:00:0a.0"}));
}

struct AllocateCase {
  const char* description;
  std::vector<std::string> ids;
  std::vector<DeviceNode> devices;
  std::string addresses;
  json info;
};

class DedicatedAllocateTest : public DedicatedPoolTest,
                              public ::testing::WithParamInterface<AllocateCase> {};

TEST_P(DedicatedAllocateTest, GivesDeviceNodesEnvAndDeviceInfo) {
  const AllocateCase& c = GetParam();
  auto pool = makePool({.cdi = {.enabled = true, .specDir = "/var/run/cdi"}});
  pool->refresh(scan());
  absl::StatusOr<ContainerAllocation> allocation = pool->allocate(c.ids);
  ASSERT_TRUE(allocation.ok()) << c.description << ": " << allocation.status();
  EXPECT_THAT(allocation->devices, UnorderedElementsAreArray(c.devices)) << c.description;
  EXPECT_EQ(allocation->envs.at("PCIDEVICE_DPDK_AWS_ENA_DEDICATED"), c.addresses);
  EXPECT_EQ(json::parse(allocation->envs.at("PCIDEVICE_DPDK_AWS_ENA_DEDICATED_INFO")), c.info)
      << c.description;
  EXPECT_EQ(allocation->envs.size(), 2u);
  EXPECT_THAT(allocation->mounts, IsEmpty());
  for (const std::string& id : c.ids) {
    const std::string infoPath =
        "/var/run/k8s.cni.cncf.io/devinfo/dp/dpdk.aws-ena-dedicated-" + id + "-device.json";
    EXPECT_EQ(json::parse(host_.readFile(infoPath)),
              (json{{"type", "pci"}, {"version", "1.1.0"}, {"pci", {{"pci-address", id}}}}));
    struct stat st {};
    ASSERT_EQ(::stat(host_.path(infoPath).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0444u);
    // The CDI spec describes the same device nodes.
    json spec = json::parse(
        host_.readFile(cdiSpecPath("/var/run/cdi", "dpdk.aws/ena-dedicated", id).string()));
    EXPECT_EQ(spec["cdiVersion"], "0.5.0");
    EXPECT_EQ(spec["kind"], "dpdk.aws/ena-dedicated");
    EXPECT_EQ(spec["devices"][0]["name"], cdiDeviceName(id));
    for (const json& node : spec["devices"][0]["containerEdits"]["deviceNodes"]) {
      DeviceNode described{.hostPath = node["hostPath"],
                           .containerPath = node["path"],
                           .permissions = node["permissions"]};
      EXPECT_THAT(c.devices, ::testing::Contains(described)) << id;
    }
  }
  std::vector<std::string> cdi;
  for (const std::string& id : c.ids) cdi.push_back(cdiQualifiedName("dpdk.aws/ena-dedicated", id));
  EXPECT_EQ(allocation->cdiDevices, cdi);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DedicatedAllocateTest,
    ::testing::Values(
        AllocateCase{
            "vfio with an IOMMU",
            {"0000:00:07.0"},
            {{"/dev/vfio/vfio", "/dev/vfio/vfio", "rw"}, {"/dev/vfio/4", "/dev/vfio/4", "rw"}},
            "0000:00:07.0",
            {{"0000:00:07.0",
              {{"generic", {{"deviceID", "0000:00:07.0"}}},
               {"vfio", {{"dev-mount", "/dev/vfio/4"}, {"mount", "/dev/vfio/vfio"}}}}}}},
        AllocateCase{"vfio in no-IOMMU mode",
                     {"0000:00:08.0"},
                     {{"/dev/vfio/vfio", "/dev/vfio/vfio", "rw"},
                      {"/dev/vfio/noiommu-5", "/dev/vfio/5", "rw"}},
                     "0000:00:08.0",
                     {{"0000:00:08.0",
                       {{"generic", {{"deviceID", "0000:00:08.0"}}},
                        {"vfio", {{"dev-mount", "/dev/vfio/5"}, {"mount", "/dev/vfio/vfio"}}}}}}},
        AllocateCase{
            "igb_uio",
            {"0000:00:09.0"},
            {{"/dev/uio0", "/dev/uio0", "rw"}},
            "0000:00:09.0",
            {{"0000:00:09.0",
              {{"generic", {{"deviceID", "0000:00:09.0"}}}, {"uio", {{"mount", "/dev/uio0"}}}}}}},
        AllocateCase{"two vfio devices share /dev/vfio/vfio",
                     {"0000:00:08.0", "0000:00:07.0"},
                     {{"/dev/vfio/vfio", "/dev/vfio/vfio", "rw"},
                      {"/dev/vfio/noiommu-5", "/dev/vfio/5", "rw"},
                      {"/dev/vfio/4", "/dev/vfio/4", "rw"}},
                     "0000:00:08.0,0000:00:07.0",
                     {{"0000:00:07.0",
                       {{"generic", {{"deviceID", "0000:00:07.0"}}},
                        {"vfio", {{"dev-mount", "/dev/vfio/4"}, {"mount", "/dev/vfio/vfio"}}}}},
                      {"0000:00:08.0",
                       {{"generic", {{"deviceID", "0000:00:08.0"}}},
                        {"vfio", {{"dev-mount", "/dev/vfio/5"}, {"mount", "/dev/vfio/vfio"}}}}}}}));

TEST_F(DedicatedPoolTest, WithoutCdiNoSpecIsWritten) {
  auto pool = makePool();
  pool->refresh(scan());
  absl::StatusOr<ContainerAllocation> allocation = pool->allocate({"0000:00:07.0"});
  ASSERT_TRUE(allocation.ok()) << allocation.status();
  EXPECT_THAT(allocation->cdiDevices, IsEmpty());
  EXPECT_FALSE(host_.exists("/var/run/cdi"));
}

TEST_F(DedicatedPoolTest, AllocateFailsCleanlyWhenADeviceChangedDriver) {
  auto pool = makePool();
  pool->refresh(scan());
  host_.setDriver("0000:00:08.0", "ena");
  absl::StatusOr<ContainerAllocation> allocation = pool->allocate({"0000:00:07.0", "0000:00:08.0"});
  EXPECT_EQ(allocation.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(allocation.status().message()), HasSubstr("0000:00:08.0"));
  EXPECT_FALSE(host_.exists("/var/run/k8s.cni.cncf.io/devinfo/dp"));
}

TEST_F(DedicatedPoolTest, AllocateFailsWhenTheDeviceNodeIsMissing) {
  auto pool = makePool();
  pool->refresh(scan());
  host_.removePath("/dev/vfio/4");
  absl::StatusOr<ContainerAllocation> allocation = pool->allocate({"0000:00:07.0"});
  EXPECT_EQ(allocation.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(allocation.status().message()),
              HasSubstr("device node /dev/vfio/4 of 0000:00:07.0 does not exist"));
}

TEST_F(DedicatedPoolTest, AllocateRejectsDevicesNotListed) {
  auto pool = makePool();
  pool->refresh(scan());
  EXPECT_EQ(pool->allocate({"0000:00:06.0"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pool->allocate({"0000:00:05.0"}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DeviceInfoTest, NamesAndEnv) {
  EXPECT_EQ(deviceInfoPath("dpdk.aws/ena-dedicated", "0000:00:07.0"),
            "/var/run/k8s.cni.cncf.io/devinfo/dp/dpdk.aws-ena-dedicated-0000:00:07.0-device.json");
  EXPECT_EQ(pciDeviceEnvName("dpdk.aws/ena-dedicated"), "PCIDEVICE_DPDK_AWS_ENA_DEDICATED");
  EXPECT_EQ(cdiQualifiedName("dpdk.aws/ena-dedicated", "0000:00:07.0"),
            "dpdk.aws/ena-dedicated=0000-00-07.0");
}

}  // namespace
}  // namespace enadpdk::deviceplugin
