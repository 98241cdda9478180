#include "common/config.h"
#include "tests/support/config_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace enadpdk::testing {
namespace {

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

// ---- files

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

// metricsAddress: IPv6 in brackets; IPv4 may be bracketed too (a manifest's
// "[$(NODE_IP)]:9640" fits a node of either family).
TEST(ConfigHelpersTest, HostPorts) {
  for (std::string_view good :
       {"127.0.0.1:9640", "node-1.example:0", "[fd00::1]:9640", "[::1]:65535", "[10.0.0.5]:9640"}) {
    EXPECT_TRUE(common::isHostPort(good)) << good;
  }
  for (std::string_view bad : {"", "127.0.0.1", "127.0.0.1:", ":9640", "fd00::1:9640", "[fd00::1]",
                               "[node-1]:9640", "127.0.0.1:65536", "h_1:80"}) {
    EXPECT_FALSE(common::isHostPort(bad)) << bad;
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
