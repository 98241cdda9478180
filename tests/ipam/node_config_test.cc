// The "ipam" section of the node config file (ipam/node_config.h); moved here from
// tests/common/config_test.cc with the parser.

#include "ipam/node_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/config.h"
#include "tests/support/config_test_support.h"

namespace enadpdk::testing {
namespace {

using ipam::ImdsConfig;
using ipam::IpamConfig;
using ipam::IpamNetworkConfig;
using ipam::IpamRoute;

TEST(IpamNodeConfigTest, Ipam) {
  absl::StatusOr<IpamConfig> config = ipam::parseIpamConfig(parse(R"({"ipam": {
      "stateDir": "/tmp/ipam",
      "imds": {"endpoint": "http://127.0.0.1:8080", "ttlSeconds": 0, "timeoutMs": 200},
      "networks": {
        "local": {"addresses": ["10.0.0.0/24", "10.0.1.7", "fd00::/64"], "gateway": "10.0.0.1"},
        "other": {"addresses": ["192.168.0.2"]}}}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  IpamConfig expected{
      .stateDir = "/tmp/ipam",
      .imds = ImdsConfig{.endpoint = "http://127.0.0.1:8080", .ttlSeconds = 0, .timeoutMs = 200},
      .networks = {{"local",
                    IpamNetworkConfig{.addresses = {"10.0.0.0/24", "10.0.1.7", "fd00::/64"},
                                      .gateway = "10.0.0.1"}},
                   {"other", IpamNetworkConfig{.addresses = {"192.168.0.2"}}}},
  };
  EXPECT_EQ(*config, expected);
}

TEST(IpamNodeConfigTest, IpamNetworksFromTheMetadata) {
  absl::StatusOr<IpamConfig> config = ipam::parseIpamConfig(parse(R"({"ipam": {"networks": {
        "eni1": {"eniMac": "0A:1b:2c:3d:4e:5f",
                 "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.1.0.0/16", "gw": "10.0.0.9"}]},
        "eni2": {"deviceNumber": 2}}}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  IpamConfig expected{
      .networks = {{"eni1", IpamNetworkConfig{.eniMac = "0A:1b:2c:3d:4e:5f",
                                              .routes = {IpamRoute{.dst = "0.0.0.0/0"},
                                                         IpamRoute{.dst = "10.1.0.0/16",
                                                                   .gw = "10.0.0.9"}}}},
                   {"eni2", IpamNetworkConfig{.deviceNumber = 2}}},
  };
  EXPECT_EQ(*config, expected);
}

TEST(IpamNodeConfigTest, AddressSourcesOfAnEni) {
  absl::StatusOr<IpamConfig> config = ipam::parseIpamConfig(parse(R"({"ipam": {"networks": {
        "eni1": {"deviceNumber": 1, "sources": ["ipv4-prefixes", "secondary-ips"]},
        "eni2": {"deviceNumber": 2, "sources": ["ipv6-prefixes"]},
        "eni3": {"deviceNumber": 3}}}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  const IpamNetworkConfig& eni1 = config->networks.at("eni1");
  EXPECT_EQ(eni1.sources, (std::vector<std::string>{"ipv4-prefixes", "secondary-ips"}));
  EXPECT_TRUE(eni1.uses(ipam::kSourceSecondaryIps));
  EXPECT_TRUE(eni1.uses(ipam::kSourceIpv4Prefixes));
  EXPECT_FALSE(eni1.uses(ipam::kSourceIpv6Prefixes));
  const IpamNetworkConfig& eni2 = config->networks.at("eni2");
  EXPECT_FALSE(eni2.uses(ipam::kSourceSecondaryIps));
  EXPECT_TRUE(eni2.uses(ipam::kSourceIpv6Prefixes));
  // No "sources": today's behaviour, the secondary IPs only.
  const IpamNetworkConfig& eni3 = config->networks.at("eni3");
  EXPECT_TRUE(eni3.sources.empty());
  EXPECT_TRUE(eni3.uses(ipam::kSourceSecondaryIps));
  EXPECT_FALSE(eni3.uses(ipam::kSourceIpv4Prefixes));
  EXPECT_FALSE(eni3.uses(ipam::kSourceIpv6Prefixes));
}

TEST(IpamNodeConfigTest, MissingOrEmptySectionGivesTheDefaults) {
  for (std::string_view text :
       {R"({})", R"({"dataplane": {}, "deviceplugin": {}, "nodeprep": {}, "ipam": {}})"}) {
    EXPECT_EQ(ipam::parseIpamConfig(parse(text)).value(), IpamConfig{}) << text;
  }
  EXPECT_EQ(
      IpamConfig{}.imds,
      (ImdsConfig{.endpoint = "http://169.254.169.254", .ttlSeconds = 60, .timeoutMs = 1000}));
}

TEST(IpamNodeConfigTest, TheTopLevelIsCheckedAsForEverySection) {
  EXPECT_EQ(message(ipam::parseIpamConfig(parse(R"([])")).status()),
            "expected a JSON object at the top level");
  EXPECT_EQ(message(ipam::parseIpamConfig(parse(R"({"ipam": {}, "foo": {}})")).status()),
            "foo: unknown section");
}

class MalformedIpamConfigTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedIpamConfigTest, IsRejectedWithItsPath) {
  absl::Status status = ipam::parseIpamConfig(parse(GetParam().json)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(message(status), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedIpamConfigTest,
    ::testing::Values(
        MalformedCase{"BadPoolName", R"({"ipam": {"networks": {"ENI1": {"addresses": []}}}})",
                      "ipam.networks.ENI1: expected a name of 1 to 15 characters from [a-z0-9-]"},
        MalformedCase{"PoolWithoutAddresses", R"({"ipam": {"networks": {"eni1": {}}}})",
                      "ipam.networks.eni1.addresses: missing required key"},
        MalformedCase{"EmptyPool", R"({"ipam": {"networks": {"eni1": {"addresses": []}}}})",
                      "ipam.networks.eni1.addresses: expected at least one address"},
        MalformedCase{"BadAddress",
                      R"({"ipam": {"networks": {"eni1": {"addresses": ["10.0.0.300"]}}}})",
                      "ipam.networks.eni1.addresses[0]: expected an IPv4 or IPv6 address or "
                      R"(CIDR, got "10.0.0.300")"},
        MalformedCase{"BadPrefixLength",
                      R"({"ipam": {"networks": {"eni1": {"addresses": ["10.0.0.0/33"]}}}})",
                      "ipam.networks.eni1.addresses[0]: expected an IPv4 or IPv6 address or "
                      R"(CIDR, got "10.0.0.0/33")"},
        MalformedCase{"GatewayWithPrefix", R"({"ipam": {"networks": {"eni1": {
                          "addresses": ["10.0.0.5"], "gateway": "10.0.0.1/24"}}}})",
                      "ipam.networks.eni1.gateway: expected an IPv4 or IPv6 address, got "
                      R"("10.0.0.1/24")"},
        MalformedCase{"EndpointWithoutScheme",
                      R"({"ipam": {"imds": {"endpoint": "169.254.169.254"}}})",
                      "ipam.imds.endpoint: expected an http:// or https:// URL, got "
                      R"("169.254.169.254")"},
        MalformedCase{"EniMacAndDeviceNumber",
                      R"({"ipam": {"networks": {"eni1": {"eniMac": "02:00:00:00:00:01",
                                                           "deviceNumber": 1}}}})",
                      "ipam.networks.eni1: \"eniMac\" and \"deviceNumber\" exclude each other"},
        MalformedCase{"EniAndAddresses",
                      R"({"ipam": {"networks": {"eni1": {"deviceNumber": 1,
                                                           "addresses": ["10.0.0.5"]}}}})",
                      "ipam.networks.eni1: a network takes \"addresses\" or an ENI "
                      "(\"eniMac\", \"deviceNumber\"), not both"},
        MalformedCase{"MulticastEniMac",
                      R"({"ipam": {"networks": {"eni1": {"eniMac": "01:00:00:00:00:01"}}}})",
                      "ipam.networks.eni1.eniMac: expected a unicast MAC address like "
                      "02:00:00:00:00:01, got \"01:00:00:00:00:01\""},
        MalformedCase{"DeviceNumberTooLarge",
                      R"({"ipam": {"networks": {"eni1": {"deviceNumber": 256}}}})",
                      "ipam.networks.eni1.deviceNumber: expected an integer between 0 and 255, "
                      "got 256"},
        MalformedCase{"RouteWithoutDst",
                      R"({"ipam": {"networks": {"eni1": {"deviceNumber": 1,
                                                           "routes": [{"gw": "10.0.0.1"}]}}}})",
                      "ipam.networks.eni1.routes[0].dst: missing required key"},
        MalformedCase{"RouteDstNotCidr",
                      R"({"ipam": {"networks": {"eni1": {"deviceNumber": 1,
                                                           "routes": [{"dst": "10.0.0.0"}]}}}})",
                      "ipam.networks.eni1.routes[0].dst: expected a CIDR like \"10.0.0.0/24\", "
                      "got \"10.0.0.0\""},
        MalformedCase{"UnknownSource",
                      R"({"ipam": {"networks": {"eni1": {"deviceNumber": 1,
                                                           "sources": ["prefixes"]}}}})",
                      "ipam.networks.eni1.sources[0]: expected one of \"secondary-ips\", "
                      "\"ipv4-prefixes\", \"ipv6-prefixes\", got \"prefixes\""},
        MalformedCase{"EmptySources",
                      R"({"ipam": {"networks": {"eni1": {"deviceNumber": 1, "sources": []}}}})",
                      "ipam.networks.eni1.sources: expected at least one source"},
        MalformedCase{"SourcesWithoutEni",
                      R"({"ipam": {"networks": {"eni1": {"addresses": ["10.0.0.5"],
                                                           "sources": ["ipv4-prefixes"]}}}})",
                      "ipam.networks.eni1.sources: needs an ENI (\"eniMac\" or "
                      "\"deviceNumber\") next to it"},
        MalformedCase{"ZeroTimeout", R"({"ipam": {"imds": {"timeoutMs": 0}}})",
                      "ipam.imds.timeoutMs: expected an integer between 1 and 60000, got 0"}),
    [](const ::testing::TestParamInfo<MalformedCase>& testCase) { return testCase.param.name; });

TEST(IpamNodeConfigFileTest, ParseErrorsArePrefixedWithThePath) {
  std::string pattern = (std::filesystem::path(::testing::TempDir()) / "ipam_config.XXXXXX");
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const std::filesystem::path path = std::filesystem::path(pattern) / "config.json";
  std::ofstream(path) << R"({"ipam": {"stateDir": "ipam"}})";
  EXPECT_EQ(message(ipam::loadIpamConfig(path).status()),
            path.string() + R"(: ipam.stateDir: expected an absolute path, got "ipam")");
  std::filesystem::remove_all(pattern);
}

}  // namespace
}  // namespace enadpdk::testing
