#include "deviceplugin/plugin_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/atomic_file.h"
#include "common/strings.h"
#include "tests/support/config_test_support.h"
#include "tests/support/fake_host.h"

namespace enadpdk::deviceplugin {
namespace {

using enadpdk::testing::MalformedCase;
using enadpdk::testing::message;
using enadpdk::testing::parse;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

struct BadConfig {
  const char* description;
  const char* json;
  const char* error;
};

class BadPluginConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadPluginConfigTest, IsRejectedWithAClearError) {
  const BadConfig& c = GetParam();
  absl::StatusOr<PluginConfig> config = parsePluginConfig(nlohmann::json::parse(c.json));
  ASSERT_FALSE(config.ok()) << c.description;
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << c.description;
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(c.error)) << c.description;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadPluginConfigTest,
    ::testing::Values(
        BadConfig{"unknown resource", R"({"deviceplugin": {"gpu": {}}})",
                  "deviceplugin.gpu: unknown key"},
        BadConfig{"unknown resource key", R"({"deviceplugin": {"ena": {"slots": 3}}})",
                  "deviceplugin.ena.slots: unknown key"},
        BadConfig{"unknown dedicated key", R"({"deviceplugin": {"enaDedicated": {"driver": "x"}}})",
                  "deviceplugin.enaDedicated.driver: unknown key"},
        BadConfig{"short PCI address",
                  R"({"deviceplugin": {"enaDedicated": {"pciAddresses": ["00:06.0"]}}})",
                  "deviceplugin.enaDedicated.pciAddresses[0]: expected a PCI address"},
        BadConfig{"PCI function out of range",
                  R"({"deviceplugin": {"enaDedicated": {"exclude": ["0000:00:06.8"]}}})",
                  "deviceplugin.enaDedicated.exclude[0]: expected a PCI address"},
        BadConfig{"upper-case PCI address",
                  R"({"deviceplugin": {"enaDedicated": {"pciAddresses": ["0000:00:0A.0"]}}})",
                  "deviceplugin.enaDedicated.pciAddresses[0]: expected a PCI address"},
        BadConfig{"duplicate vendor",
                  R"({"deviceplugin": {"enaDedicated": {"vendors": ["1d0f", "1d0f"]}}})",
                  "deviceplugin.enaDedicated.vendors[1]: duplicate entry"},
        BadConfig{"duplicate PCI address",
                  R"({"deviceplugin": {"enaDedicated":
                      {"pciAddresses": ["0000:00:07.0", "0000:00:07.0"]}}})",
                  "deviceplugin.enaDedicated.pciAddresses[1]: duplicate entry"},
        BadConfig{"address both included and excluded",
                  R"({"deviceplugin": {"enaDedicated":
                      {"pciAddresses": ["0000:00:07.0"], "exclude": ["0000:00:07.0"]}}})",
                  "is also in pciAddresses"},
        BadConfig{"uplink also offered as a dedicated device",
                  R"({"dataplane": {"networks": [{"name": "eni1",
                                                 "uplink": {"device": "0000:00:06.0"}}]},
                      "deviceplugin": {"enaDedicated": {"pciAddresses": ["0000:00:06.0"]}}})",
                  "deviceplugin.enaDedicated.pciAddresses[0]: \"0000:00:06.0\" is the uplink of "
                  "dataplane network \"eni1\""},
        BadConfig{"two resources in one directory",
                  R"({"deviceplugin": {"ena": {"dir": "/var/run/x"},
                                       "hugepages": {"mountDir": "/var/run/x/"}}})",
                  "deviceplugin.hugepages.mountDir: \"/var/run/x/\" overlaps deviceplugin.ena.dir"},
        BadConfig{"both hugepage resources in one directory",
                  R"({"deviceplugin": {"hugepages2Mi": {"enabled": true,
                                                        "mountDir": "/var/run/ena-dpdk/hugepages"}}})",
                  "deviceplugin.hugepages2Mi.mountDir: \"/var/run/ena-dpdk/hugepages\" overlaps "
                  "deviceplugin.hugepages.mountDir"},
        BadConfig{"both hugepage resources at one container path",
                  R"({"deviceplugin": {"hugepages2Mi": {"enabled": true,
                                                        "containerPath": "/dev/hugepages-1Gi/"}}})",
                  "deviceplugin.hugepages2Mi.containerPath: \"/dev/hugepages-1Gi/\" is also "
                  "deviceplugin.hugepages.containerPath"},
        BadConfig{"charge cgroup under the pods",
                  R"({"deviceplugin": {"hugepages2Mi": {"chargeCgroup": "/kubepods/besteffort"}}})",
                  "deviceplugin.hugepages2Mi.chargeCgroup: must not be under the kubelet's"},
        BadConfig{"CDI specs inside the slot directory",
                  R"({"deviceplugin": {"ena": {"dir": "/var/run/x"},
                                       "cdi": {"enabled": true, "specDir": "/var/run/x/cdi"}}})",
                  "deviceplugin.cdi.specDir: \"/var/run/x/cdi\" overlaps deviceplugin.ena.dir"},
        BadConfig{"too many slots", R"({"deviceplugin": {"ena": {"slotsPerNetwork": 100}}})",
                  "deviceplugin.ena.slotsPerNetwork"},
        BadConfig{"unknown driver", R"({"deviceplugin": {"enaDedicated": {"drivers": ["ena"]}}})",
                  "deviceplugin.enaDedicated.drivers[0]"},
        BadConfig{"bad dataplane section", R"({"dataplane": {"networks": [{"name": "Eni1"}]}})",
                  "dataplane.networks[0].name"},
        BadConfig{
            "network resource with upper case",
            R"({"dataplane": {"networks": [{"name": "eni1", "uplink": {"device": "0000:00:06.0"}},
                                           {"name": "eni2", "uplink": {"device": "net_null0"}},
                                           {"name": "local"}]}, "deviceplugin": {"ena": {"networkResources": {"eni1": "Ena-eni1"}}}})",
            "deviceplugin.ena.networkResources.eni1: expected a resource name of 1 to 50 "
            "characters"},
        BadConfig{
            "network resource not a string",
            R"({"dataplane": {"networks": [{"name": "eni1", "uplink": {"device": "0000:00:06.0"}},
                                           {"name": "eni2", "uplink": {"device": "net_null0"}},
                                           {"name": "local"}]}, "deviceplugin": {"ena": {"networkResources": {"eni1": 5}}}})",
            "deviceplugin.ena.networkResources.eni1: expected"},
        BadConfig{
            "network resource too long",
            R"({"dataplane": {"networks": [{"name": "eni1", "uplink": {"device": "0000:00:06.0"}},
                                           {"name": "eni2", "uplink": {"device": "net_null0"}},
                                           {"name": "local"}]}, "deviceplugin": {"ena": {"networkResources": {"eni1": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}}}})",
            "deviceplugin.ena.networkResources.eni1: expected a resource name"},
        BadConfig{
            "network resource ending in a dash",
            R"({"dataplane": {"networks": [{"name": "eni1", "uplink": {"device": "0000:00:06.0"}},
                                           {"name": "eni2", "uplink": {"device": "net_null0"}},
                                           {"name": "local"}]}, "deviceplugin": {"ena": {"networkResources": {"eni1": "ena-"}}}})",
            "deviceplugin.ena.networkResources.eni1: expected a resource name"},
        BadConfig{
            "network resource named like a built-in one",
            R"({"dataplane": {"networks": [{"name": "eni1", "uplink": {"device": "0000:00:06.0"}},
                                           {"name": "eni2", "uplink": {"device": "net_null0"}},
                                           {"name": "local"}]}, "deviceplugin": {"ena": {"networkResources": {"eni1": "ena-dedicated"}}}})",
            "deviceplugin.ena.networkResources.eni1: \"ena-dedicated\" is a resource the plugin "
            "always offers"},
        BadConfig{
            "network resource named ena",
            R"({"dataplane": {"networks": [{"name": "eni1", "uplink": {"device": "0000:00:06.0"}},
                                           {"name": "eni2", "uplink": {"device": "net_null0"}},
                                           {"name": "local"}]}, "deviceplugin": {"ena": {"networkResources": {"eni1": "ena"}}}})",
            "deviceplugin.ena.networkResources.eni1: \"ena\" is a resource the plugin always "
            "offers"},
        BadConfig{
            "two networks, one resource",
            R"({"dataplane": {"networks": [{"name": "eni1", "uplink": {"device": "0000:00:06.0"}},
                                           {"name": "eni2", "uplink": {"device": "net_null0"}},
                                           {"name": "local"}]}, "deviceplugin": {"ena": {"networkResources": {"eni1": "ena-x", "eni2": "ena-x"}}}})",
            "deviceplugin.ena.networkResources.eni2: resource \"ena-x\" is also network "
            "\"eni1\"'s"},
        BadConfig{
            "network resource of a bad network name",
            R"({"dataplane": {"networks": [{"name": "eni1", "uplink": {"device": "0000:00:06.0"}},
                                           {"name": "eni2", "uplink": {"device": "net_null0"}},
                                           {"name": "local"}]}, "deviceplugin": {"ena": {"networkResources": {"ENI1": "ena-x"}}}})",
            "deviceplugin.ena.networkResources.ENI1: expected a network name"},
        BadConfig{
            "network resource of an unknown network",
            R"({"dataplane": {"networks": [{"name": "eni1", "uplink": {"device": "0000:00:06.0"}},
                                           {"name": "eni2", "uplink": {"device": "net_null0"}},
                                           {"name": "local"}]}, "deviceplugin": {"ena": {"networkResources": {"eni9": "ena-eni9"}}}})",
            "deviceplugin.ena.networkResources.eni9: no dataplane network of that name (networks "
            "with an uplink: eni1, eni2)"},
        BadConfig{
            "network resource of a network without uplink",
            R"({"dataplane": {"networks": [{"name": "eni1", "uplink": {"device": "0000:00:06.0"}},
                                           {"name": "eni2", "uplink": {"device": "net_null0"}},
                                           {"name": "local"}]}, "deviceplugin": {"ena": {"networkResources": {"local": "ena-local"}}}})",
            "deviceplugin.ena.networkResources.local: the dataplane network has no uplink"},
        BadConfig{"unknown section", R"({"devicepluginn": {}})",
                  "devicepluginn: unknown section"}));

TEST(PluginConfigTest, DefaultsWhenSectionsAreMissing) {
  absl::StatusOr<PluginConfig> config = parsePluginConfig(nlohmann::json::object());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->deviceplugin, DevicepluginConfig{});
  EXPECT_EQ(config->dataplane, vhostuser::DataplaneConfig{});
}

TEST(PluginConfigTest, DisabledResourcesMayShareDirectories) {
  absl::StatusOr<PluginConfig> config = parsePluginConfig(nlohmann::json::parse(
      R"({"deviceplugin": {"ena": {"dir": "/var/run/x"},
                           "hugepages": {"enabled": false, "mountDir": "/var/run/x"},
                           "cdi": {"specDir": "/var/run/x"}}})"));
  EXPECT_TRUE(config.ok()) << config.status();
}

TEST(PluginConfigTest, SiblingDirectoriesWithACommonPrefixDoNotOverlap) {
  absl::StatusOr<PluginConfig> config = parsePluginConfig(nlohmann::json::parse(
      R"({"deviceplugin": {"ena": {"dir": "/var/run/x"},
                           "hugepages": {"mountDir": "/var/run/xy"}}})"));
  EXPECT_TRUE(config.ok()) << config.status();
}

TEST(PluginConfigTest, LoadNamesTheFileInErrors) {
  testing::FakeHost host;
  host.writeFile("/etc/ena-dpdk/config.json", R"({"deviceplugin": {"ena": {"slots": 1}}})");
  absl::StatusOr<PluginConfig> config = loadPluginConfig(host.path("/etc/ena-dpdk/config.json"));
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr(common::strCat(host.path("/etc/ena-dpdk/config.json").string(),
                                       ": deviceplugin.ena.slots: unknown key")));
  EXPECT_FALSE(loadPluginConfig(host.path("/etc/missing.json")).ok());
}

TEST(PluginConfigTest, NetworksAndUplinks) {
  absl::StatusOr<PluginConfig> config = parsePluginConfig(nlohmann::json::parse(
      R"({"dataplane": {"networks": [
            {"name": "eni1", "uplink": {"device": "0000:00:06.0"}},
            {"name": "tap", "mode": "l2", "uplink": {"device": "net_tap0,iface=t0"}},
            {"name": "local"}]}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(uplinkPciAddresses(config->dataplane), ElementsAre("0000:00:06.0"));
  EXPECT_THAT(attachmentNetworks(config->dataplane),
              ElementsAre(AttachmentNetwork{.name = "eni1", .uplink = "0000:00:06.0"},
                          AttachmentNetwork{.name = "tap", .uplink = "net_tap0,iface=t0"}));
  EXPECT_EQ(socketFileName(kEnaDedicatedResource), "ena-dpdk-ena-dedicated.sock");
  EXPECT_EQ(socketFileName(kHugepagesResource), "ena-dpdk-hugepages-1Gi.sock");
  EXPECT_EQ(socketFileName(kHugepages2MiResource), "ena-dpdk-hugepages-2Mi.sock");
}

TEST(PluginConfigTest, NetworksWithAResourceOfTheirOwnLeaveThePooledOne) {
  absl::StatusOr<PluginConfig> config = parsePluginConfig(nlohmann::json::parse(
      R"({"dataplane": {"networks": [
            {"name": "eni1", "uplink": {"device": "0000:00:06.0"}},
            {"name": "eni2", "uplink": {"device": "0000:00:07.0"}},
            {"name": "eni3", "uplink": {"device": "net_null0"}},
            {"name": "local"}]},
          "deviceplugin": {"ena": {"networkResources": {"eni2": "ena-user", "eni3": "ena-eni3"}}}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->deviceplugin.ena.networkResources,
            (std::map<std::string, std::string>{{"eni2", "ena-user"}, {"eni3", "ena-eni3"}}));
  const std::map<std::string, std::vector<AttachmentNetwork>> resources =
      attachmentResources(*config);
  EXPECT_THAT(
      resources,
      ElementsAre(
          Pair("ena", ElementsAre(AttachmentNetwork{.name = "eni1", .uplink = "0000:00:06.0"})),
          Pair("ena-eni3", ElementsAre(AttachmentNetwork{.name = "eni3", .uplink = "net_null0"})),
          Pair("ena-user",
               ElementsAre(AttachmentNetwork{.name = "eni2", .uplink = "0000:00:07.0"}))));
  EXPECT_EQ(socketFileName("ena-user"), "ena-dpdk-ena-user.sock");

  // Every network on its own: the pooled resource stays, empty.
  config->deviceplugin.ena.networkResources["eni1"] = "ena-eni1";
  EXPECT_THAT(
      attachmentResources(*config),
      ElementsAre(Pair("ena", ElementsAre()), Pair("ena-eni1", ::testing::SizeIs(1)),
                  Pair("ena-eni3", ::testing::SizeIs(1)), Pair("ena-user", ::testing::SizeIs(1))));
}

TEST(PluginConfigTest, ResourceNames) {
  for (const char* good : {"a", "ena-eni1", "user-plane", "0", "x9"}) {
    EXPECT_TRUE(isResourceName(good)) << good;
  }
  for (const std::string& bad :
       std::vector<std::string>{"", "-a", "a-", "Ena", "ena_1", "ena.1", "ena/1",
                                std::string(kMaxResourceNameLength + 1, 'a')}) {
    EXPECT_FALSE(isResourceName(bad)) << bad;
  }
  EXPECT_TRUE(isResourceName(std::string(kMaxResourceNameLength, 'a')));
}

// ---- the "deviceplugin" section on its own (parseDevicepluginConfig)

TEST(ConfigTest, DevicepluginExampleFromTheIssueIsTheDefault) {
  absl::StatusOr<DevicepluginConfig> config =
      deviceplugin::parseDevicepluginConfig(parse(R"({"deviceplugin": {
      "resourcePrefix": "dpdk.aws",
      "ena": {"slotsPerNetwork": 32, "dir": "/var/run/ena-dpdk/vhost",
              "containerPath": "/var/run/vhost-user"},
      "enaDedicated": {"vendors": ["1d0f"], "devices": ["ec20", "ec21"],
                       "drivers": ["vfio-pci", "igb_uio", "uio_pci_generic"],
                       "pciAddresses": [], "exclude": []},
      "hugepages": {"enabled": true, "mountDir": "/var/run/ena-dpdk/hugepages",
                    "containerPath": "/dev/hugepages-1Gi", "chargeCgroup": "/ena-dpdk/hugepages"},
      "hugepages2Mi": {"enabled": false, "mountDir": "/var/run/ena-dpdk/hugepages-2Mi",
                       "containerPath": "/dev/hugepages-2Mi",
                       "chargeCgroup": "/ena-dpdk/hugepages"},
      "cgroupFs": "/sys/fs/cgroup",
      "cdi": {"enabled": false, "specDir": "/var/run/cdi"},
      "metricsAddress": "127.0.0.1:9641"}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(*config, DevicepluginConfig{});
}

TEST(ConfigTest, HugepageResourcesAndTheirChargeCgroups) {
  absl::StatusOr<DevicepluginConfig> config =
      deviceplugin::parseDevicepluginConfig(parse(R"({"deviceplugin": {
      "hugepages": {"chargeCgroup": "/"},
      "hugepages2Mi": {"enabled": true, "chargeCgroup": "/system.slice/ena-dpdk.hugepages"},
      "cgroupFs": "/host/sys/fs/cgroup"}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  DevicepluginConfig expected;
  expected.hugepages.chargeCgroup = "/";
  expected.hugepages2Mi.enabled = true;
  expected.hugepages2Mi.chargeCgroup = "/system.slice/ena-dpdk.hugepages";
  expected.cgroupFs = "/host/sys/fs/cgroup";
  EXPECT_EQ(*config, expected);
  EXPECT_EQ(config->hugepages2Mi.mountDir, "/var/run/ena-dpdk/hugepages-2Mi");
  EXPECT_EQ(config->hugepages2Mi.containerPath, "/dev/hugepages-2Mi");
}

TEST(ConfigTest, DevicepluginOverrides) {
  absl::StatusOr<DevicepluginConfig> config =
      deviceplugin::parseDevicepluginConfig(parse(R"({"deviceplugin": {
      "resourcePrefix": "example.com",
      "ena": {"slotsPerNetwork": 99},
      "enaDedicated": {"drivers": ["vfio-pci"], "pciAddresses": ["0000:00:07.0", "0000:00:08.0"],
                       "exclude": ["0000:00:06.0"]},
      "hugepages": {"enabled": false},
      "cdi": {"enabled": true, "specDir": "/etc/cdi"},
      "metricsAddress": "localhost:9100"}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  DevicepluginConfig expected;
  expected.resourcePrefix = "example.com";
  expected.ena.slotsPerNetwork = 99;
  expected.enaDedicated.drivers = {"vfio-pci"};
  expected.enaDedicated.pciAddresses = {"0000:00:07.0", "0000:00:08.0"};
  expected.enaDedicated.exclude = {"0000:00:06.0"};
  expected.hugepages.enabled = false;
  expected.cdi = {.enabled = true, .specDir = "/etc/cdi"};
  expected.metricsAddress = "localhost:9100";
  EXPECT_EQ(*config, expected);
}

TEST(ConfigTest, DevicepluginSlotGroup) {
  for (unsigned gid : {1u, 1500u, common::kMaxSlotGroup}) {
    absl::StatusOr<DevicepluginConfig> config = deviceplugin::parseDevicepluginConfig(
        parse(R"({"deviceplugin": {"ena": {"slotGroup": )" + std::to_string(gid) + "}}}"));
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(config->ena.slotGroup, gid);
  }
  // Absent: no group, the directories stay root:root 0770.
  absl::StatusOr<DevicepluginConfig> config =
      deviceplugin::parseDevicepluginConfig(parse(R"({"deviceplugin": {"ena": {}}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ena.slotGroup, std::nullopt);
}

TEST(DevicepluginConfigTest, MissingOrEmptySectionGivesTheDefaults) {
  for (std::string_view text :
       {R"({})", R"({"dataplane": {}, "deviceplugin": {}, "nodeprep": {}, "ipam": {}})"}) {
    EXPECT_EQ(deviceplugin::parseDevicepluginConfig(parse(text)).value(), DevicepluginConfig{})
        << text;
  }
}

TEST(ConfigTest, AParserDoesNotValidateOtherSections) {
  nlohmann::json root = parse(R"({"dataplane": {"networks": [{"name": "eni1"}]},
                                  "deviceplugin": {"bogus": true}})");
  EXPECT_TRUE(vhostuser::parseDataplaneConfig(root).ok());
  EXPECT_EQ(message(deviceplugin::parseDevicepluginConfig(root).status()),
            "deviceplugin.bogus: unknown key");
}

// ---- malformed configs

class MalformedConfigTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedConfigTest, IsRejectedWithItsPath) {
  absl::Status status = deviceplugin::parseDevicepluginConfig(parse(GetParam().json)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(message(status), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedConfigTest,
    ::testing::Values(
        // deviceplugin.
        MalformedCase{"MisspelledSlots", R"({"deviceplugin": {"ena": {"slotsPerNetwok": 8}}})",
                      "deviceplugin.ena.slotsPerNetwok: unknown key"},
        MalformedCase{"RelativeChargeCgroup",
                      R"({"deviceplugin": {"hugepages": {"chargeCgroup": "ena-dpdk/hugepages"}}})",
                      "deviceplugin.hugepages.chargeCgroup: expected a cgroup path starting with "
                      R"('/', got "ena-dpdk/hugepages")"},
        MalformedCase{"ChargeCgroupWithDotDot",
                      R"({"deviceplugin": {"hugepages2Mi": {"chargeCgroup": "/ena/../kubepods"}}})",
                      "deviceplugin.hugepages2Mi.chargeCgroup: expected a cgroup path without "
                      R"(empty, "." or ".." components, got "/ena/../kubepods")"},
        MalformedCase{"ChargeCgroupWithEmptyComponent",
                      R"({"deviceplugin": {"hugepages": {"chargeCgroup": "/ena-dpdk/"}}})",
                      "deviceplugin.hugepages.chargeCgroup: expected a cgroup path without "
                      R"(empty, "." or ".." components, got "/ena-dpdk/")"},
        MalformedCase{"ChargeCgroupUnderKubepods",
                      R"({"deviceplugin": {"hugepages": {"chargeCgroup": "/kubepods/ena"}}})",
                      "deviceplugin.hugepages.chargeCgroup: must not be under the kubelet's "
                      R"(/kubepods* cgroups, got "/kubepods/ena")"},
        MalformedCase{"ChargeCgroupUnderKubepodsSlice",
                      R"({"deviceplugin": {"hugepages": {"chargeCgroup": "/kubepods.slice"}}})",
                      "deviceplugin.hugepages.chargeCgroup: must not be under the kubelet's "
                      R"(/kubepods* cgroups, got "/kubepods.slice")"},
        MalformedCase{"ChargeCgroupNotAString",
                      R"({"deviceplugin": {"hugepages": {"chargeCgroup": 7}}})",
                      "deviceplugin.hugepages.chargeCgroup: expected a string, got 7"},
        MalformedCase{"RelativeCgroupFs", R"({"deviceplugin": {"cgroupFs": "sys/fs/cgroup"}})",
                      "deviceplugin.cgroupFs: expected an absolute path, got \"sys/fs/cgroup\""},
        MalformedCase{"TooManySlots", R"({"deviceplugin": {"ena": {"slotsPerNetwork": 100}}})",
                      "deviceplugin.ena.slotsPerNetwork: expected an integer between 1 and 99, "
                      "got 100"},
        MalformedCase{"SlotGroupZero", R"({"deviceplugin": {"ena": {"slotGroup": 0}}})",
                      "deviceplugin.ena.slotGroup: expected an integer between 1 and 2147483647, "
                      "got 0"},
        MalformedCase{"SlotGroupNegative", R"({"deviceplugin": {"ena": {"slotGroup": -1500}}})",
                      "deviceplugin.ena.slotGroup: expected an integer between 1 and 2147483647, "
                      "got -1500"},
        MalformedCase{"SlotGroupTooBig", R"({"deviceplugin": {"ena": {"slotGroup": 2147483648}}})",
                      "deviceplugin.ena.slotGroup: expected an integer between 1 and 2147483647, "
                      "got 2147483648"},
        MalformedCase{"SlotGroupString", R"({"deviceplugin": {"ena": {"slotGroup": "1500"}}})",
                      "deviceplugin.ena.slotGroup: expected an integer between 1 and 2147483647, "
                      R"(got "1500")"},
        MalformedCase{"SlotGroupFloat", R"({"deviceplugin": {"ena": {"slotGroup": 1500.5}}})",
                      "deviceplugin.ena.slotGroup: expected an integer between 1 and 2147483647, "
                      "got 1500.5"},
        MalformedCase{"DedicatedBadPciAddress",
                      R"({"deviceplugin": {"enaDedicated": {"pciAddresses": ["0000:00:06"]}}})",
                      "deviceplugin.enaDedicated.pciAddresses[0]: expected a PCI address like "
                      R"(0000:00:06.0, got "0000:00:06")"},
        MalformedCase{"DedicatedDuplicateDevice",
                      R"({"deviceplugin": {"enaDedicated": {"devices": ["ec20", "ec20"]}}})",
                      R"(deviceplugin.enaDedicated.devices[1]: duplicate entry "ec20")"},
        MalformedCase{"DedicatedUppercaseVendor",
                      R"({"deviceplugin": {"enaDedicated": {"vendors": ["1D0F"]}}})",
                      "deviceplugin.enaDedicated.vendors[0]: expected 4 lowercase hex digits like "
                      R"("ec20", got "1D0F")"},
        MalformedCase{"DedicatedKernelDriver",
                      R"({"deviceplugin": {"enaDedicated": {"drivers": ["ena"]}}})",
                      "deviceplugin.enaDedicated.drivers[0]: expected \"vfio-pci\", \"igb_uio\" or "
                      R"("uio_pci_generic", got "ena")"},
        MalformedCase{"DedicatedIncludedAndExcluded",
                      R"({"deviceplugin": {"enaDedicated": {"pciAddresses": ["0000:00:07.0"],
                                                            "exclude": ["0000:00:07.0"]}}})",
                      R"(deviceplugin.enaDedicated.exclude[0]: "0000:00:07.0" is also in )"
                      "pciAddresses"},
        MalformedCase{"HugepagesEnabledString",
                      R"({"deviceplugin": {"hugepages": {"enabled": "yes"}}})",
                      R"(deviceplugin.hugepages.enabled: expected true or false, got "yes")"},
        MalformedCase{"UppercaseResourcePrefix", R"({"deviceplugin": {"resourcePrefix": "DPDK"}})",
                      "deviceplugin.resourcePrefix: expected a lowercase DNS subdomain like "
                      R"("dpdk.aws", got "DPDK")"},
        MalformedCase{"RelativeCdiDir", R"({"deviceplugin": {"cdi": {"specDir": "cdi"}}})",
                      R"(deviceplugin.cdi.specDir: expected an absolute path, got "cdi")"}),
    [](const ::testing::TestParamInfo<MalformedCase>& testCase) { return testCase.param.name; });

}  // namespace
}  // namespace enadpdk::deviceplugin
