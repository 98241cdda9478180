#include "vhostuser/dataplane_config.h"
#include "tests/support/config_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace enadpdk::testing {
namespace {

using vhostuser::DataplaneConfig;
using vhostuser::NetworkConfig;
using vhostuser::NetworkMode;
using vhostuser::SocketConfig;
using vhostuser::UplinkConfig;

// ---- the examples from the issues, and defaults

TEST(ConfigTest, DataplaneExampleFromTheIssue) {
  absl::StatusOr<DataplaneConfig> config = vhostuser::parseDataplaneConfig(parse(R"({"dataplane": {
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
  absl::StatusOr<DataplaneConfig> config = vhostuser::parseDataplaneConfig(parse(R"({"dataplane": {
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
  EXPECT_EQ(config->networks.at(0).uplink->queues, vhostuser::kDefaultUplinkQueues);
}

TEST(ConfigTest, DataplaneOptionalKeys) {
  absl::StatusOr<DataplaneConfig> config = vhostuser::parseDataplaneConfig(parse(R"({"dataplane": {
      "metricsAddress": "[::1]:9000",
      "cniStateDir": "/tmp/cni-state",
      "allowedSocketDirs": ["/var/run/ena-dpdk/vhost", "/tmp/vhost"],
      "socket": {"owner": "1000:1000", "mode": "0600"},
      "mbufs": 32768, "burstSize": 64, "txDrainMicroseconds": 100, "macAgingSeconds": 60,
      "maxPorts": 64,
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
      .txDrainMicroseconds = 100,
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

TEST(DataplaneConfigTest, MissingOrEmptySectionGivesTheDefaults) {
  for (std::string_view text :
       {R"({})", R"({"dataplane": {}, "deviceplugin": {}, "nodeprep": {}, "ipam": {}})"}) {
    EXPECT_EQ(vhostuser::parseDataplaneConfig(parse(text)).value(), DataplaneConfig{}) << text;
  }
  DataplaneConfig dataplane;
  EXPECT_EQ(dataplane.controlSocket, "/run/ena-dpdk/dataplane.sock");
  EXPECT_EQ(dataplane.stateFile, "/var/lib/ena-dpdk/dataplane-state.json");
  EXPECT_EQ(dataplane.cniStateDir, "/var/lib/ena-dpdk/cni");
  EXPECT_EQ(dataplane.metricsAddress, "127.0.0.1:9640");
  EXPECT_THAT(dataplane.allowedSocketDirs, ::testing::ElementsAre("/var/run/ena-dpdk/vhost"));
  EXPECT_EQ(dataplane.socket, (SocketConfig{.owner = "", .mode = 0660}));
  EXPECT_EQ(dataplane.burstSize, 32u);
  // Today's behaviour (flush at the end of every pass) until benchmarks pick another default.
  EXPECT_EQ(dataplane.txDrainMicroseconds, 0u);
  EXPECT_EQ(dataplane.txDrainMicroseconds, vhostuser::kDefaultTxDrainMicroseconds);
  EXPECT_EQ(dataplane.maxPorts, 128u);
}

// Both ends of the range and a value inside are taken as given.
TEST(DataplaneConfigTest, TxDrainMicrosecondsWithinBounds) {
  EXPECT_EQ(vhostuser::kMaxTxDrainMicroseconds, 1000u);
  for (unsigned value : {0u, 1u, 100u, 1000u}) {
    absl::StatusOr<DataplaneConfig> config =
        vhostuser::parseDataplaneConfig({{"dataplane", {{"txDrainMicroseconds", value}}}});
    ASSERT_TRUE(config.ok()) << value << ": " << config.status();
    EXPECT_EQ(config->txDrainMicroseconds, value);
  }
}

// Every mode has one name, and the parser reads back each name as its mode.
TEST(DataplaneConfigTest, NetworkModeNames) {
  EXPECT_EQ(vhostuser::networkModeName(NetworkMode::Vpc), "vpc");
  EXPECT_EQ(vhostuser::networkModeName(NetworkMode::L2), "l2");
  for (const auto& [name, mode] : vhostuser::kNetworkModeNames) {
    EXPECT_EQ(name, vhostuser::networkModeName(mode));
    nlohmann::json root = {
        {"dataplane",
         {{"networks",
           {{{"name", "eni1"}, {"mode", name}, {"uplink", {{"device", "0000:00:06.0"}}}}}}}}};
    absl::StatusOr<DataplaneConfig> config = vhostuser::parseDataplaneConfig(root);
    ASSERT_TRUE(config.ok()) << name << ": " << config.status();
    EXPECT_EQ(config->networks.at(0).mode, mode) << name;
  }
}

// ---- malformed configs

class MalformedConfigTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedConfigTest, IsRejectedWithItsPath) {
  absl::Status status = vhostuser::parseDataplaneConfig(parse(GetParam().json)).status();
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
        MalformedCase{"TxDrainTooLong", R"({"dataplane": {"txDrainMicroseconds": 1001}})",
                      "dataplane.txDrainMicroseconds: expected an integer between 0 and 1000, got "
                      "1001"},
        MalformedCase{"TxDrainNegative", R"({"dataplane": {"txDrainMicroseconds": -1}})",
                      "dataplane.txDrainMicroseconds: expected an integer between 0 and 1000, got "
                      "-1"},
        MalformedCase{"TxDrainFraction", R"({"dataplane": {"txDrainMicroseconds": 50.5}})",
                      "dataplane.txDrainMicroseconds: expected an integer between 0 and 1000, got "
                      "50.5"},
        MalformedCase{"TxDrainString", R"({"dataplane": {"txDrainMicroseconds": "100"}})",
                      "dataplane.txDrainMicroseconds: expected an integer between 0 and 1000, got "
                      R"("100")"},
        MalformedCase{"TxDrainInMilliseconds", R"({"dataplane": {"txDrainMilliseconds": 1}})",
                      "dataplane.txDrainMilliseconds: unknown key"},
        MalformedCase{"TooManyPorts", R"({"dataplane": {"maxPorts": 241}})",
                      "dataplane.maxPorts: expected an integer between 1 and 240, got 241"}),
    [](const ::testing::TestParamInfo<MalformedCase>& testCase) { return testCase.param.name; });

}  // namespace
}  // namespace enadpdk::testing
