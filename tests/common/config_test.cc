#include "common/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace enadpdk::testing {
namespace {

using common::ImdsConfig;
using common::IpamConfig;
using common::IpamNetworkConfig;
using common::IpamRoute;

nlohmann::json parse(std::string_view text) { return nlohmann::json::parse(text); }

// The message as a std::string, which gtest prints readably (absl::string_view it does not).
std::string message(const absl::Status& status) { return std::string(status.message()); }

// ---- the "ipam" section

TEST(ConfigTest, Ipam) {
  absl::StatusOr<IpamConfig> config = common::parseIpamConfig(parse(R"({"ipam": {
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

TEST(ConfigTest, IpamNetworksFromTheMetadata) {
  absl::StatusOr<IpamConfig> config = common::parseIpamConfig(parse(R"({"ipam": {"networks": {
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

TEST(ConfigTest, MissingOrEmptyIpamSectionGivesTheDefaults) {
  for (std::string_view text :
       {R"({})", R"({"dataplane": {}, "deviceplugin": {}, "nodeprep": {}, "ipam": {}})"}) {
    EXPECT_EQ(common::parseIpamConfig(parse(text)).value(), IpamConfig{}) << text;
  }
  EXPECT_EQ(
      IpamConfig{}.imds,
      (ImdsConfig{.endpoint = "http://169.254.169.254", .ttlSeconds = 60, .timeoutMs = 1000}));
}

// ---- the section dispatch every component's parser goes through

TEST(ConfigTest, ReadSectionChecksTheSectionNamesAndReadsOnlyItsOwn) {
  nlohmann::json root = parse(R"({"nodeprep": {"a": true}, "dataplane": {"b": 1}})");
  std::string name;
  EXPECT_TRUE(common::readSection(root, "nodeprep", [&](common::JsonReader& r) {
                bool a = false;
                r.read("a", a);
                name = a ? "read" : "";
              }).ok());
  EXPECT_EQ(name, "read");
  EXPECT_EQ(message(common::readSection(root, "ipam", [&](common::JsonReader&) { name = "ipam"; })),
            "");
  EXPECT_EQ(name, "read");  // a missing section is not parsed
  EXPECT_EQ(message(common::readSection(root, "nodeprep", [](common::JsonReader&) {})),
            "nodeprep.a: unknown key");
  EXPECT_EQ(
      message(common::readSection(parse(R"({"foo": {}})"), "nodeprep", [](common::JsonReader&) {})),
      "foo: unknown section");
  EXPECT_EQ(message(common::readSection(parse("[]"), "nodeprep", [](common::JsonReader&) {})),
            "expected a JSON object at the top level");
}

// ---- malformed configs

struct MalformedCase {
  std::string name;
  std::string json;
  std::string message;
};

void PrintTo(const MalformedCase& testCase, std::ostream* out) { *out << testCase.name; }

class MalformedConfigTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedConfigTest, IsRejectedWithItsPath) {
  absl::Status status = common::parseIpamConfig(parse(GetParam().json)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(message(status), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedConfigTest,
    ::testing::Values(
        // ipam.
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
        MalformedCase{"ZeroTimeout", R"({"ipam": {"imds": {"timeoutMs": 0}}})",
                      "ipam.imds.timeoutMs: expected an integer between 1 and 60000, got 0"}),
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
