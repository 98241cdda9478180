#include "deviceplugin/plugin_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/atomic_file.h"
#include "common/strings.h"
#include "tests/support/fake_host.h"

namespace enadpdk::deviceplugin {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

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
        BadConfig{"unknown section", R"({"devicepluginn": {}})",
                  "devicepluginn: unknown section"}));

TEST(PluginConfigTest, DefaultsWhenSectionsAreMissing) {
  absl::StatusOr<PluginConfig> config = parsePluginConfig(nlohmann::json::object());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->deviceplugin, common::DevicepluginConfig{});
  EXPECT_EQ(config->dataplane, common::DataplaneConfig{});
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

}  // namespace
}  // namespace enadpdk::deviceplugin
