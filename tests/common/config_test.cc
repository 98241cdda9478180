#include "common/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace enadpdk::testing {
namespace {

using common::BindConfig;
using common::DataplaneConfig;
using common::DevicepluginConfig;
using common::HostExec;
using common::HugepagesConfig;
using common::HugetlbfsMount;
using common::IommuMode;
using common::NetworkConfig;
using common::NetworkMode;
using common::NodeprepConfig;
using common::NoIommuMode;
using common::PersistMode;
using common::SocketConfig;
using common::UplinkConfig;
using common::VfioConfig;

nlohmann::json parse(std::string_view text) { return nlohmann::json::parse(text); }

// The message as a std::string, which gtest prints readably (absl::string_view it does not).
std::string message(const absl::Status& status) { return std::string(status.message()); }

// ---- the examples from the issues, and defaults

TEST(ConfigTest, DataplaneExampleFromTheIssue) {
  absl::StatusOr<DataplaneConfig> config = common::parseDataplaneConfig(parse(R"({"dataplane": {
      "eal": ["-l", "0,1", "--main-lcore", "0", "--huge-dir", "/dev/hugepages", "-m", "512",
              "--file-prefix", "ena-dpdk"],
      "workers": [1],
      "controlSocket": "/run/ena-dpdk/dataplane.sock",
      "stateFile": "/var/lib/ena-dpdk/dataplane-state.json",
      "metricsAddress": "127.0.0.1:9640",
      "networks": [
        {"name": "eni1", "mode": "vpc", "uplink": {"device": "0000:00:06.0", "queues": 2},
         "mtu": 9001},
        {"name": "local", "mode": "l2"}
      ]}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  DataplaneConfig expected{
      .eal = {"-l", "0,1", "--main-lcore", "0", "--huge-dir", "/dev/hugepages", "-m", "512",
              "--file-prefix", "ena-dpdk"},
      .workers = {1},
      .networks = {NetworkConfig{.name = "eni1",
                                 .mode = NetworkMode::Vpc,
                                 .uplink = UplinkConfig{.device = "0000:00:06.0", .queues = 2},
                                 .mtu = 9001},
                   NetworkConfig{.name = "local", .mode = NetworkMode::L2}},
  };
  EXPECT_EQ(*config, expected);
}

TEST(ConfigTest, UplinkDevargsAndRings) {
  absl::StatusOr<DataplaneConfig> config = common::parseDataplaneConfig(parse(R"({"dataplane": {
      "networks": [
        {"name": "eni1", "uplink": {"device": "0000:00:06.0", "rxDescriptors": 2048,
                                    "txDescriptors": 512,
                                    "devargs": {"large_llq_hdr": 1, "miss_txc_to": "3",
                                                "enable_llq": 1}}}
      ]}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  const UplinkConfig& up = *config->networks.at(0).uplink;
  EXPECT_EQ(up.rxDescriptors, 2048u);
  EXPECT_EQ(up.txDescriptors, 512u);
  EXPECT_EQ(up.devargs, (std::map<std::string, std::string>{
                            {"enable_llq", "1"}, {"large_llq_hdr", "1"}, {"miss_txc_to", "3"}}));
  EXPECT_EQ(config->networks.at(0).uplink->queues, common::kDefaultUplinkQueues);
}

TEST(ConfigTest, DataplaneOptionalKeys) {
  absl::StatusOr<DataplaneConfig> config = common::parseDataplaneConfig(parse(R"({"dataplane": {
      "metricsAddress": "[::1]:9000",
      "cniStateDir": "/tmp/cni-state",
      "allowedSocketDirs": ["/var/run/ena-dpdk/vhost", "/tmp/vhost"],
      "socket": {"owner": "1000:1000", "mode": "0600"},
      "mbufs": 32768, "burstSize": 64, "macAgingSeconds": 60, "maxPorts": 64,
      "networks": [
        {"name": "ens6", "uplink": {"device": "net_af_packet0,iface=veth0"},
         "mac": "02:AB:cd:00:00:01"},
        {"name": "tap", "uplink": {"device": "net_tap0"}, "mode": "l2", "mtu": 68},
        {"name": "br-0"}
      ]}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  DataplaneConfig expected{
      .cniStateDir = "/tmp/cni-state",
      .metricsAddress = "[::1]:9000",
      .allowedSocketDirs = {"/var/run/ena-dpdk/vhost", "/tmp/vhost"},
      .socket = SocketConfig{.owner = "1000:1000", .mode = 0600},
      .mbufs = 32768,
      .burstSize = 64,
      .macAgingSeconds = 60,
      .maxPorts = 64,
      .networks = {NetworkConfig{.name = "ens6",
                                 .mode = NetworkMode::Vpc,
                                 .uplink = UplinkConfig{.device = "net_af_packet0,iface=veth0"},
                                 .mac = "02:ab:cd:00:00:01"},
                   NetworkConfig{.name = "tap",
                                 .mode = NetworkMode::L2,
                                 .uplink = UplinkConfig{.device = "net_tap0"},
                                 .mtu = 68},
                   NetworkConfig{.name = "br-0", .mode = NetworkMode::L2}},
  };
  EXPECT_EQ(*config, expected);
}

TEST(ConfigTest, DevicepluginExampleFromTheIssueIsTheDefault) {
  absl::StatusOr<DevicepluginConfig> config =
      common::parseDevicepluginConfig(parse(R"({"deviceplugin": {
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
      common::parseDevicepluginConfig(parse(R"({"deviceplugin": {
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
      common::parseDevicepluginConfig(parse(R"({"deviceplugin": {
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
    absl::StatusOr<DevicepluginConfig> config = common::parseDevicepluginConfig(
        parse(R"({"deviceplugin": {"ena": {"slotGroup": )" + std::to_string(gid) + "}}}"));
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(config->ena.slotGroup, gid);
  }
  // Absent: no group, the directories stay root:root 0770.
  absl::StatusOr<DevicepluginConfig> config =
      common::parseDevicepluginConfig(parse(R"({"deviceplugin": {"ena": {}}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ena.slotGroup, std::nullopt);
}

TEST(ConfigTest, NodeprepExampleFromTheIssue) {
  absl::StatusOr<NodeprepConfig> config = common::parseNodeprepConfig(parse(R"({"nodeprep": {
      "hugepages": {"1G": 4, "2M": 0, "perNumaNode": false, "persist": "auto"},
      "mounts": [{"path": "/dev/hugepages-1Gi", "pageSize": "1G"},
                 {"path": "/dev/hugepages", "pageSize": "2M"}],
      "vfio": {"noiommu": "auto", "driver": "vfio-pci"},
      "bind": {"pciAddresses": [], "interfaces": ["eth1"], "allExceptPrimary": false},
      "hostExec": "direct"}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  NodeprepConfig expected{
      .hugepages = HugepagesConfig{.pages1G = 4},
      .mounts = {HugetlbfsMount{.path = "/dev/hugepages-1Gi",
                                .pageSize = common::HugepageSize::Size1G},
                 HugetlbfsMount{.path = "/dev/hugepages",
                                .pageSize = common::HugepageSize::Size2M}},
      .bind = BindConfig{.interfaces = {"eth1"}},
  };
  EXPECT_EQ(*config, expected);
}

TEST(ConfigTest, NodeprepOverrides) {
  absl::StatusOr<NodeprepConfig> config = common::parseNodeprepConfig(parse(R"({"nodeprep": {
      "hugepages": {"1G": 2, "2M": 1024, "perNumaNode": true, "persist": "always"},
      "vfio": {"iommu": "noiommu", "noiommu": "never", "driver": "igb_uio"},
      "bind": {"pciAddresses": ["0000:00:06.0"], "allExceptPrimary": true,
               "force": ["eth0", "0000:00:05.0"]},
      "hostExec": "nsenter"}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  NodeprepConfig expected{
      .hugepages =
          HugepagesConfig{
              .pages1G = 2, .pages2M = 1024, .perNumaNode = true, .persist = PersistMode::Always},
      .vfio =
          VfioConfig{
              .iommu = IommuMode::NoIommu, .noiommu = NoIommuMode::Never, .driver = "igb_uio"},
      .bind = BindConfig{.pciAddresses = {"0000:00:06.0"},
                         .allExceptPrimary = true,
                         .force = {"eth0", "0000:00:05.0"}},
      .hostExec = HostExec::Nsenter,
  };
  EXPECT_EQ(*config, expected);
}

TEST(ConfigTest, MissingOrEmptySectionsGiveTheDefaults) {
  for (std::string_view text :
       {R"({})", R"({"dataplane": {}, "deviceplugin": {}, "nodeprep": {}, "ipam": {}})"}) {
    nlohmann::json root = parse(text);
    EXPECT_EQ(common::parseDataplaneConfig(root).value(), DataplaneConfig{}) << text;
    EXPECT_EQ(common::parseDevicepluginConfig(root).value(), DevicepluginConfig{}) << text;
    EXPECT_EQ(common::parseNodeprepConfig(root).value(), NodeprepConfig{}) << text;
  }
  DataplaneConfig dataplane;
  EXPECT_EQ(dataplane.controlSocket, "/run/ena-dpdk/dataplane.sock");
  EXPECT_EQ(dataplane.stateFile, "/var/lib/ena-dpdk/dataplane-state.json");
  EXPECT_EQ(dataplane.cniStateDir, "/var/lib/ena-dpdk/cni");
  EXPECT_EQ(dataplane.metricsAddress, "127.0.0.1:9640");
  EXPECT_THAT(dataplane.allowedSocketDirs, ::testing::ElementsAre("/var/run/ena-dpdk/vhost"));
  EXPECT_EQ(dataplane.socket, (SocketConfig{.owner = "", .mode = 0660}));
  EXPECT_EQ(dataplane.burstSize, 32u);
  EXPECT_EQ(dataplane.maxPorts, 128u);
}

TEST(ConfigTest, AParserDoesNotValidateOtherSections) {
  nlohmann::json root = parse(R"({"dataplane": {"networks": [{"name": "eni1"}]},
                                  "deviceplugin": {"bogus": true}})");
  EXPECT_TRUE(common::parseDataplaneConfig(root).ok());
  EXPECT_EQ(message(common::parseDevicepluginConfig(root).status()),
            "deviceplugin.bogus: unknown key");
}

// ---- malformed configs

struct MalformedCase {
  std::string name;
  std::string json;
  std::string message;
};

// Parses `root` with the parser of its first section ("dataplane" for an empty document).
absl::Status parseFirstSection(const nlohmann::json& root) {
  std::string section = root.is_object() && !root.empty() ? root.begin().key() : "dataplane";
  if (section == "deviceplugin") return common::parseDevicepluginConfig(root).status();
  if (section == "nodeprep") return common::parseNodeprepConfig(root).status();
  return common::parseDataplaneConfig(root).status();
}

void PrintTo(const MalformedCase& testCase, std::ostream* out) { *out << testCase.name; }

class MalformedConfigTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedConfigTest, IsRejectedWithItsPath) {
  absl::Status status = parseFirstSection(parse(GetParam().json));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(message(status), GetParam().message);
}

constexpr char kUplinkDeviceExpected[] =
    "expected a PCI address like 0000:00:06.0 or a DPDK vdev string like "
    "net_af_packet0,iface=veth0";

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedConfigTest,
    ::testing::Values(
        // Top level.
        MalformedCase{"TopLevelArray", R"([])", "expected a JSON object at the top level"},
        MalformedCase{"UnknownSection", R"({"dataplane": {}, "foo": {}})", "foo: unknown section"},
        MalformedCase{"SectionNotObject", R"({"dataplane": []})",
                      "dataplane: expected an object, got an array"},
        // dataplane.
        MalformedCase{"BadMode", R"({"dataplane": {"networks": [
                          {"name": "eni1", "uplink": {"device": "0000:00:06.0"}},
                          {"name": "local", "mode": "bridge"}]}})",
                      R"(dataplane.networks[1].mode: expected "vpc" or "l2", got "bridge")"},
        MalformedCase{"VpcWithoutUplink",
                      R"({"dataplane": {"networks": [{"name": "a", "mode": "vpc"}]}})",
                      R"(dataplane.networks[0].mode: "vpc" needs an uplink)"},
        MalformedCase{"WorkerNotInteger", R"({"dataplane": {"workers": ["a"]}})",
                      R"(dataplane.workers[0]: expected an integer between 0 and 1023, got "a")"},
        MalformedCase{"WorkerTooLarge", R"({"dataplane": {"workers": [1, 1024]}})",
                      "dataplane.workers[1]: expected an integer between 0 and 1023, got 1024"},
        MalformedCase{"DuplicateWorker", R"({"dataplane": {"workers": [1, 2, 1]}})",
                      "dataplane.workers[2]: duplicate lcore 1"},
        MalformedCase{"EalString", R"({"dataplane": {"eal": "-l 0,1"}})",
                      R"(dataplane.eal: expected an array of strings, got "-l 0,1")"},
        MalformedCase{"EalNumber", R"({"dataplane": {"eal": ["-l", 0]}})",
                      "dataplane.eal[1]: expected a string, got 0"},
        MalformedCase{"DataplaneUnknownKey", R"({"dataplane": {"network": []}})",
                      "dataplane.network: unknown key"},
        MalformedCase{"NetworksNotArray", R"({"dataplane": {"networks": {"eni1": {}}}})",
                      "dataplane.networks: expected an array of objects, got an object"},
        MalformedCase{"NetworkNotObject", R"({"dataplane": {"networks": ["eni1"]}})",
                      R"(dataplane.networks[0]: expected an object, got "eni1")"},
        MalformedCase{"NetworkWithoutName", R"({"dataplane": {"networks": [{"mtu": 1500}]}})",
                      "dataplane.networks[0].name: missing required key"},
        MalformedCase{"BadNetworkName", R"({"dataplane": {"networks": [{"name": "ENI1"}]}})",
                      "dataplane.networks[0].name: expected a name of 1 to 15 characters from "
                      R"([a-z0-9-], got "ENI1")"},
        MalformedCase{"LongNetworkName",
                      R"({"dataplane": {"networks": [{"name": "a23456789012345x"}]}})",
                      "dataplane.networks[0].name: expected a name of 1 to 15 characters from "
                      R"([a-z0-9-], got "a23456789012345x")"},
        MalformedCase{"DuplicateNetworkName",
                      R"({"dataplane": {"networks": [{"name": "eni1"}, {"name": "eni1"}]}})",
                      R"(dataplane.networks[1].name: duplicate network name "eni1")"},
        MalformedCase{"MalformedPciAddress", R"({"dataplane": {"networks": [
                          {"name": "eni1", "uplink": {"device": "0000:00:6.0"}}]}})",
                      std::string("dataplane.networks[0].uplink.device: ") + kUplinkDeviceExpected +
                          R"(, got "0000:00:6.0")"},
        MalformedCase{"EmptyDevice", R"({"dataplane": {"networks": [
                          {"name": "eni1", "uplink": {"device": ""}}]}})",
                      std::string("dataplane.networks[0].uplink.device: ") + kUplinkDeviceExpected +
                          R"(, got "")"},
        MalformedCase{"BadVdevArguments", R"({"dataplane": {"networks": [
                          {"name": "eni1", "uplink": {"device": "net_tap0,,iface=x"}}]}})",
                      std::string("dataplane.networks[0].uplink.device: ") + kUplinkDeviceExpected +
                          R"(, got "net_tap0,,iface=x")"},
        MalformedCase{"UplinkWithoutDevice",
                      R"({"dataplane": {"networks": [{"name": "eni1", "uplink": {}}]}})",
                      "dataplane.networks[0].uplink.device: missing required key"},
        MalformedCase{"UplinkUnknownKey", R"({"dataplane": {"networks": [
                          {"name": "eni1", "uplink": {"device": "net_null0", "iface": "x"}}]}})",
                      "dataplane.networks[0].uplink.iface: unknown key"},
        MalformedCase{"DuplicateUplink", R"({"dataplane": {"networks": [
                          {"name": "eni1", "uplink": {"device": "0000:00:06.0"}},
                          {"name": "eni2", "uplink": {"device": "0000:00:06.0"}}]}})",
                      R"(dataplane.networks[1].uplink.device: device "0000:00:06.0" is already )"
                      R"(the uplink of network "eni1")"},
        MalformedCase{"DuplicateVdevName", R"({"dataplane": {"networks": [
                          {"name": "a", "uplink": {"device": "net_tap0,iface=a"}},
                          {"name": "b", "uplink": {"device": "net_tap0,iface=b"}}]}})",
                      R"(dataplane.networks[1].uplink.device: device "net_tap0" is already )"
                      R"(the uplink of network "a")"},
        MalformedCase{"DevargsUnknownKey", R"({"dataplane": {"networks": [
                          {"name": "a", "uplink": {"device": "0000:00:06.0",
                                                   "devargs": {"normal_llq_hdr": 1}}}]}})",
                      "dataplane.networks[0].uplink.devargs.normal_llq_hdr: not a device argument "
                      "of DPDK 22.11's ENA PMD (large_llq_hdr, enable_llq, miss_txc_to)"},
        MalformedCase{"DevargsOutOfRange", R"({"dataplane": {"networks": [
                          {"name": "a", "uplink": {"device": "0000:00:06.0",
                                                   "devargs": {"miss_txc_to": 61}}}]}})",
                      "dataplane.networks[0].uplink.devargs.miss_txc_to: expected an integer "
                      "between 0 and 60, got 61"},
        MalformedCase{"DevargsBadString", R"({"dataplane": {"networks": [
                          {"name": "a", "uplink": {"device": "0000:00:06.0",
                                                   "devargs": {"large_llq_hdr": "yes"}}}]}})",
                      "dataplane.networks[0].uplink.devargs.large_llq_hdr: expected an integer "
                      "between 0 and 1, got \"yes\""},
        MalformedCase{"DevargsBool", R"({"dataplane": {"networks": [
                          {"name": "a", "uplink": {"device": "0000:00:06.0",
                                                   "devargs": {"enable_llq": true}}}]}})",
                      "dataplane.networks[0].uplink.devargs.enable_llq: expected an integer "
                      "between 0 and 1, got true"},
        MalformedCase{"DevargsNotAnObject", R"({"dataplane": {"networks": [
                          {"name": "a", "uplink": {"device": "0000:00:06.0",
                                                   "devargs": "large_llq_hdr=1"}}]}})",
                      "dataplane.networks[0].uplink.devargs: expected an object, got "
                      "\"large_llq_hdr=1\""},
        MalformedCase{"DevargsForAVdev", R"({"dataplane": {"networks": [
                          {"name": "a", "uplink": {"device": "net_af_packet0,iface=veth0",
                                                   "devargs": {"large_llq_hdr": 1}}}]}})",
                      "dataplane.networks[0].uplink.devargs: only for a PCI uplink: a vdev's "
                      "arguments belong in its device string (\"net_af_packet0,iface=veth0\")"},
        MalformedCase{"RxDescriptorsTooFew", R"({"dataplane": {"networks": [
                          {"name": "a", "uplink": {"device": "net_null0", "rxDescriptors": 32}}]}})",
                      "dataplane.networks[0].uplink.rxDescriptors: expected an integer between 64 "
                      "and 32768, got 32"},
        MalformedCase{"TooManyQueues", R"({"dataplane": {"networks": [
                          {"name": "a", "uplink": {"device": "net_null0", "queues": 33}}]}})",
                      "dataplane.networks[0].uplink.queues: expected an integer between 1 and 32, "
                      "got 33"},
        MalformedCase{"MtuTooLarge", R"({"dataplane": {"networks": [{"name": "a", "mtu": 9216}]}})",
                      "dataplane.networks[0].mtu: expected an integer between 68 and 9001, got "
                      "9216"},
        MalformedCase{"MtuFloat", R"({"dataplane": {"networks": [{"name": "a", "mtu": 1500.5}]}})",
                      "dataplane.networks[0].mtu: expected an integer between 68 and 9001, got "
                      "1500.5"},
        MalformedCase{"MulticastMac",
                      R"({"dataplane": {"networks": [{"name": "a", "mac": "01:00:5e:00:00:01"}]}})",
                      "dataplane.networks[0].mac: expected a unicast MAC address like "
                      R"(02:00:00:00:00:01, got "01:00:5e:00:00:01")"},
        MalformedCase{"RelativeStateFile", R"({"dataplane": {"stateFile": "state.json"}})",
                      R"(dataplane.stateFile: expected an absolute path, got "state.json")"},
        MalformedCase{"RelativeCniStateDir", R"({"dataplane": {"cniStateDir": "cni"}})",
                      R"(dataplane.cniStateDir: expected an absolute path, got "cni")"},
        MalformedCase{"RelativeSocketDir",
                      R"({"dataplane": {"allowedSocketDirs": ["/var/run/x", "vhost"]}})",
                      R"(dataplane.allowedSocketDirs[1]: expected an absolute path, got "vhost")"},
        MalformedCase{"MetricsAddressWithoutPort",
                      R"({"dataplane": {"metricsAddress": "127.0.0.1"}})",
                      "dataplane.metricsAddress: expected host:port like 127.0.0.1:9640, got "
                      R"("127.0.0.1")"},
        MalformedCase{"MetricsPortTooLarge",
                      R"({"dataplane": {"metricsAddress": "127.0.0.1:65536"}})",
                      "dataplane.metricsAddress: expected host:port like 127.0.0.1:9640, got "
                      R"("127.0.0.1:65536")"},
        MalformedCase{"SocketModeNotOctal", R"({"dataplane": {"socket": {"mode": "0999"}}})",
                      R"(dataplane.socket.mode: expected an octal file mode like "0660", )"
                      R"(got "0999")"},
        MalformedCase{"SocketModeNumber", R"({"dataplane": {"socket": {"mode": 432}}})",
                      R"(dataplane.socket.mode: expected an octal file mode like "0660", got 432)"},
        MalformedCase{"BurstSizeBool", R"({"dataplane": {"burstSize": true}})",
                      "dataplane.burstSize: expected an integer between 1 and 64, got true"},
        MalformedCase{"TooManyPorts", R"({"dataplane": {"maxPorts": 241}})",
                      "dataplane.maxPorts: expected an integer between 1 and 240, got 241"},
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
                      R"(deviceplugin.cdi.specDir: expected an absolute path, got "cdi")"},
        // nodeprep.
        MalformedCase{"BadPersist", R"({"nodeprep": {"hugepages": {"persist": "sometimes"}}})",
                      "nodeprep.hugepages.persist: expected \"auto\", \"always\" or \"never\", got "
                      R"("sometimes")"},
        MalformedCase{"NegativeHugepages", R"({"nodeprep": {"hugepages": {"1G": -1}}})",
                      "nodeprep.hugepages.1G: expected an integer between 0 and 16384, got -1"},
        MalformedCase{"BadPageSize", R"({"nodeprep": {"mounts": [
                          {"path": "/dev/hugepages", "pageSize": "2M"},
                          {"path": "/mnt/huge", "pageSize": "4K"}]}})",
                      R"(nodeprep.mounts[1].pageSize: expected "1G" or "2M", got "4K")"},
        MalformedCase{"MountWithoutPath", R"({"nodeprep": {"mounts": [{"pageSize": "1G"}]}})",
                      "nodeprep.mounts[0].path: missing required key"},
        MalformedCase{"DuplicateMount", R"({"nodeprep": {"mounts": [
                          {"path": "/mnt/huge", "pageSize": "2M"},
                          {"path": "/mnt/huge", "pageSize": "1G"}]}})",
                      R"(nodeprep.mounts[1].path: duplicate mount point "/mnt/huge")"},
        MalformedCase{"BadVfioDriver", R"({"nodeprep": {"vfio": {"driver": "vfio"}}})",
                      R"(nodeprep.vfio.driver: expected "vfio-pci", "igb_uio" or )"
                      R"("uio_pci_generic", got "vfio")"},
        MalformedCase{"BadIommu", R"({"nodeprep": {"vfio": {"iommu": "on"}}})",
                      R"(nodeprep.vfio.iommu: expected "auto", "noiommu" or "required", )"
                      R"(got "on")"},
        MalformedCase{"IommuRequiredWithNoIommuAlways",
                      R"({"nodeprep": {"vfio": {"iommu": "required", "noiommu": "always"}}})",
                      R"(nodeprep.vfio.iommu: "required" excludes "noiommu": "always")"},
        MalformedCase{"IommuRequiredWithIgbUio",
                      R"({"nodeprep": {"vfio": {"iommu": "required", "driver": "igb_uio"}}})",
                      R"(nodeprep.vfio.iommu: "required" needs driver "vfio-pci" (igb_uio )"
                      "does not use the IOMMU)"},
        MalformedCase{"BadInterface", R"({"nodeprep": {"bind": {"interfaces": ["eth 1"]}}})",
                      R"(nodeprep.bind.interfaces[0]: expected an interface name, got "eth 1")"},
        MalformedCase{"BadForce", R"({"nodeprep": {"bind": {"force": ["a/b"]}}})",
                      "nodeprep.bind.force[0]: expected a PCI address or an interface name, got "
                      R"("a/b")"},
        MalformedCase{"BadHostExec", R"({"nodeprep": {"hostExec": "chroot"}})",
                      R"(nodeprep.hostExec: expected "direct" or "nsenter", got "chroot")"}),
    [](const ::testing::TestParamInfo<MalformedCase>& testCase) { return testCase.param.name; });

// ---- files

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "config_test.XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `text` to a file in the test's directory and returns its path.
  std::filesystem::path write(std::string_view text) {
    std::filesystem::path path = dir_ / "config.json";
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(ConfigFileTest, LoadsASection) {
  std::filesystem::path path =
      write(R"({"dataplane": {"networks": [{"name": "local"}]}, "nodeprep": {"hostExec": "x"}})");
  absl::StatusOr<DataplaneConfig> config = common::loadDataplaneConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->networks, std::vector<NetworkConfig>{{.name = "local"}});
  EXPECT_EQ(message(common::loadNodeprepConfig(path).status()),
            path.string() + R"(: nodeprep.hostExec: expected "direct" or "nsenter", got "x")");
}

TEST_F(ConfigFileTest, ParseErrorsArePrefixedWithThePath) {
  std::filesystem::path path = write(R"({"dataplane": {"networks": [
      {"name": "eni1", "uplink": {"device": "0000:00:06.0"}}, {"name": "local", "mode": "x"}]}})");
  absl::Status status = common::loadDataplaneConfig(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(message(status),
            path.string() + R"(: dataplane.networks[1].mode: expected "vpc" or "l2", got "x")");
  EXPECT_EQ(message(common::loadDevicepluginConfig(write(R"({"devicepluggin": {}})")).status()),
            path.string() + ": devicepluggin: unknown section");
}

TEST_F(ConfigFileTest, SyntaxErrorNamesLineAndColumn) {
  std::filesystem::path path = write("{\n  \"dataplane\": {\n    \"workers\": [1,]\n  }\n}\n");
  absl::Status status = common::readJsonFile(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      message(status),
      path.string() +
          ": invalid JSON: parse error at line 3, column 19: syntax error while parsing value "
          "- unexpected ']'; expected '[', '{', or a literal");
}

TEST_F(ConfigFileTest, EmptyFile) {
  std::filesystem::path path = write("");
  EXPECT_THAT(
      message(common::readJsonFile(path).status()),
      ::testing::StartsWith(path.string() + ": invalid JSON: parse error at line 1, column 1: "));
}

TEST_F(ConfigFileTest, MissingFile) {
  std::filesystem::path path = dir_ / "missing.json";
  absl::Status status = common::loadDataplaneConfig(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(message(status), path.string() + ": cannot read: No such file or directory");
}

TEST_F(ConfigFileTest, Directory) {
  EXPECT_EQ(message(common::readJsonFile(dir_).status()),
            dir_.string() + ": cannot read: Is a directory");
}

TEST_F(ConfigFileTest, TopLevelNotAnObject) {
  std::filesystem::path path = write(R"(["dataplane"])");
  absl::Status status = common::readJsonFile(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(message(status), path.string() + ": expected a JSON object at the top level");
}

// ---- validation helpers

TEST(ConfigHelpersTest, IpAddressesAndCidrs) {
  for (std::string_view good : {"10.0.0.5", "0.0.0.0", "fd00::1", "::"}) {
    EXPECT_TRUE(common::isIpAddress(good)) << good;
    EXPECT_FALSE(common::isCidr(good)) << good;
  }
  for (std::string_view good :
       {"10.0.0.0/24", "10.0.0.5/32", "10.0.0.0/0", "fd00::/64", "fd00::1/128"}) {
    EXPECT_TRUE(common::isCidr(good)) << good;
    EXPECT_FALSE(common::isIpAddress(good)) << good;
  }
  for (std::string_view bad : {"", "10.0.0", "10.0.0.256", "fd00:::1", "10.0.0.0/", "10.0.0.0/33",
                               "fd00::/129", "10.0.0.0/+8", "10.0.0.0/ 8", "/24", " 10.0.0.1"}) {
    EXPECT_FALSE(common::isIpAddress(bad)) << bad;
    EXPECT_FALSE(common::isCidr(bad)) << bad;
  }
}

TEST(ConfigHelpersTest, MacAddresses) {
  EXPECT_TRUE(common::isMacAddress("02:00:5e:00:53:01"));
  EXPECT_TRUE(common::isMacAddress("0A:1B:2C:3D:4E:5F"));
  for (std::string_view bad : {"", "02:00:5e:00:53", "02:00:5e:00:53:01:", "02-00-5e-00-53-01",
                               "02:00:5e:00:53:0g", "2:00:5e:00:53:011"}) {
    EXPECT_FALSE(common::isMacAddress(bad)) << bad;
  }
}

TEST(ConfigHelpersTest, NetworkNames) {
  for (std::string_view good : {"eni1", "local", "a", "br-0", "a23456789012345"}) {
    EXPECT_TRUE(common::isNetworkName(good)) << good;
  }
  for (std::string_view bad : {"", "Eni1", "eni_1", "eni 1", "a234567890123456", "eni/1"}) {
    EXPECT_FALSE(common::isNetworkName(bad)) << bad;
  }
}

}  // namespace
}  // namespace enadpdk::testing
