#include "cni/result.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cni/skel.h"

namespace enadpdk::testing {
namespace {

using cni::Dns;
using cni::Interface;
using cni::IpConfig;
using cni::Result;
using cni::Route;

nlohmann::json parse(std::string_view text) { return nlohmann::json::parse(text); }
std::string message(const absl::Status& status) { return std::string(status.message()); }

// A result that uses every field of every shape.
Result fullResult() {
  return Result{
      .cniVersion = "1.1.0",
      .interfaces = {{.name = "net1",
                      .mac = "02:00:5e:00:53:01",
                      .sandbox = "/var/run/netns/pod",
                      .mtu = 9001,
                      .socketPath = "/var/run/ena-dpdk/vhost/eni1-07/vhost.sock",
                      .pciID = "0000:00:06.0"}},
      .ips = {{.address = "10.0.1.23/24", .gateway = "10.0.1.1", .interfaceIndex = 0},
              {.address = "2001:db8::5/64", .gateway = "2001:db8::1", .interfaceIndex = 0}},
      .routes = {{.dst = "0.0.0.0/0",
                  .gw = "10.0.1.1",
                  .mtu = 1500,
                  .advmss = 1460,
                  .priority = 100,
                  .table = 10,
                  .scope = 0}},
      .dns = {.nameservers = {"10.0.0.2"},
              .domain = "ec2.internal",
              .search = {"svc.cluster.local"},
              .options = {"ndots:5"}},
  };
}

// ---- rendering: the shape of every version

struct ShapeCase {
  std::string version;
  std::string expected;
};

void PrintTo(const ShapeCase& c, std::ostream* os) { *os << c.version; }

class RenderShapeTest : public ::testing::TestWithParam<ShapeCase> {};

TEST_P(RenderShapeTest, WritesTheVersionsShape) {
  absl::StatusOr<nlohmann::json> json = cni::renderResult(fullResult(), GetParam().version);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json, parse(GetParam().expected)) << json->dump();
}

constexpr char kOldShape[] = R"({
  "cniVersion": "%V%",
  "interfaces": [{"name": "net1", "mac": "02:00:5e:00:53:01", "sandbox": "/var/run/netns/pod"}],
  "ips": [{"version": "4", "address": "10.0.1.23/24", "gateway": "10.0.1.1", "interface": 0},
          {"version": "6", "address": "2001:db8::5/64", "gateway": "2001:db8::1", "interface": 0}],
  "routes": [{"dst": "0.0.0.0/0", "gw": "10.0.1.1"}],
  "dns": {"nameservers": ["10.0.0.2"], "domain": "ec2.internal", "search": ["svc.cluster.local"],
          "options": ["ndots:5"]}})";

std::string withVersion(std::string text, const std::string& version) {
  text.replace(text.find("%V%"), 3, version);
  return text;
}

INSTANTIATE_TEST_SUITE_P(AllVersions, RenderShapeTest,
                         ::testing::Values(ShapeCase{"0.3.0", withVersion(kOldShape, "0.3.0")},
                                           ShapeCase{"0.3.1", withVersion(kOldShape, "0.3.1")},
                                           ShapeCase{"0.4.0", withVersion(kOldShape, "0.4.0")},
                                           ShapeCase{"1.0.0", R"({
  "cniVersion": "1.0.0",
  "interfaces": [{"name": "net1", "mac": "02:00:5e:00:53:01", "sandbox": "/var/run/netns/pod"}],
  "ips": [{"address": "10.0.1.23/24", "gateway": "10.0.1.1", "interface": 0},
          {"address": "2001:db8::5/64", "gateway": "2001:db8::1", "interface": 0}],
  "routes": [{"dst": "0.0.0.0/0", "gw": "10.0.1.1"}],
  "dns": {"nameservers": ["10.0.0.2"], "domain": "ec2.internal", "search": ["svc.cluster.local"],
          "options": ["ndots:5"]}})"},
                                           ShapeCase{"1.1.0", R"({
  "cniVersion": "1.1.0",
  "interfaces": [{"name": "net1", "mac": "02:00:5e:00:53:01", "sandbox": "/var/run/netns/pod",
                  "mtu": 9001, "socketPath": "/var/run/ena-dpdk/vhost/eni1-07/vhost.sock",
                  "pciID": "0000:00:06.0"}],
  "ips": [{"address": "10.0.1.23/24", "gateway": "10.0.1.1", "interface": 0},
          {"address": "2001:db8::5/64", "gateway": "2001:db8::1", "interface": 0}],
  "routes": [{"dst": "0.0.0.0/0", "gw": "10.0.1.1", "mtu": 1500, "advmss": 1460,
              "priority": 100, "table": 10, "scope": 0}],
  "dns": {"nameservers": ["10.0.0.2"], "domain": "ec2.internal", "search": ["svc.cluster.local"],
          "options": ["ndots:5"]}})"}),
                         [](const ::testing::TestParamInfo<ShapeCase>& param) {
                           std::string name = "v" + param.param.version;
                           std::replace(name.begin(), name.end(), '.', '_');
                           return name;
                         });

TEST(RenderResultTest, OmitsEmptyParts) {
  // An IPAM result: no interfaces, no interface index, no routes, no DNS.
  Result ipam{.ips = {{.address = "10.0.1.23/24"}}};
  for (const std::string& version : cni::kSupportedVersions) {
    absl::StatusOr<nlohmann::json> json = cni::renderResult(ipam, version);
    ASSERT_TRUE(json.ok()) << json.status();
    nlohmann::json expected = {{"cniVersion", version}, {"ips", {{{"address", "10.0.1.23/24"}}}}};
    if (!cni::versionAtLeast(version, "1.0.0")) expected["ips"][0]["version"] = "4";
    EXPECT_EQ(*json, expected) << version;
  }
}

TEST(RenderResultTest, EmptyResultIsOnlyTheVersion) {
  absl::StatusOr<nlohmann::json> json = cni::renderResult(Result{}, "1.0.0");
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, parse(R"({"cniVersion": "1.0.0"})"));
}

TEST(RenderResultTest, RejectsUnsupportedVersion) {
  for (const char* version : {"0.2.0", "1.2.0", "", "1.0"}) {
    absl::StatusOr<nlohmann::json> json = cni::renderResult(fullResult(), version);
    ASSERT_FALSE(json.ok()) << version;
    EXPECT_EQ(message(json.status()), std::string("unsupported CNI version \"") + version +
                                          "\" (supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)");
  }
}

// ---- round trips and conversions

TEST(ResultRoundTripTest, EveryVersionToEveryVersion) {
  for (const std::string& from : cni::kSupportedVersions) {
    absl::StatusOr<nlohmann::json> written = cni::renderResult(fullResult(), from);
    ASSERT_TRUE(written.ok());
    absl::StatusOr<Result> read = cni::parseResult(*written);
    ASSERT_TRUE(read.ok()) << from << ": " << read.status();
    EXPECT_EQ(read->cniVersion, from);

    // What survives a version's shape: 1.1.0 keeps everything, older ones lose the 1.1.0 fields.
    Result expected = fullResult();
    expected.cniVersion = from;
    if (from != "1.1.0") {
      Interface& i = expected.interfaces[0];
      i.mtu.reset();
      i.socketPath.clear();
      i.pciID.clear();
      expected.routes[0] = Route{.dst = "0.0.0.0/0", .gw = "10.0.1.1"};
    }
    EXPECT_EQ(*read, expected) << from;

    for (const std::string& to : cni::kSupportedVersions) {
      absl::StatusOr<nlohmann::json> converted = cni::renderResult(*read, to);
      ASSERT_TRUE(converted.ok());
      absl::StatusOr<Result> back = cni::parseResult(*converted);
      ASSERT_TRUE(back.ok()) << from << " -> " << to << ": " << back.status();
      Result again = *read;
      again.cniVersion = to;
      if (to != "1.1.0") {
        again.interfaces[0].mtu.reset();
        again.interfaces[0].socketPath.clear();
        again.interfaces[0].pciID.clear();
        again.routes[0] = Route{.dst = "0.0.0.0/0", .gw = "10.0.1.1"};
      }
      EXPECT_EQ(*back, again) << from << " -> " << to;
    }
  }
}

TEST(ParseResultTest, ReadsLaterFieldsFromAnyVersion) {
  absl::StatusOr<Result> result = cni::parseResult(parse(R"({"cniVersion": "1.0.0",
      "interfaces": [{"name": "net1", "socketPath": "/s", "pciID": "0000:00:06.0", "mtu": 1500}]})"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->interfaces[0],
            (Interface{.name = "net1", .mtu = 1500, .socketPath = "/s", .pciID = "0000:00:06.0"}));
}

TEST(ParseResultTest, IgnoresUnknownKeysAndTheVersionFieldOfNewShapes) {
  absl::StatusOr<Result> result = cni::parseResult(parse(R"({"cniVersion": "1.0.0", "extra": 1,
      "ips": [{"version": "9", "address": "10.0.0.5/24", "future": true}]})"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->ips, (std::vector<IpConfig>{{.address = "10.0.0.5/24"}}));
}

TEST(ParseResultTest, OldShapeWithoutVersionFieldIsAccepted) {
  absl::StatusOr<Result> result =
      cni::parseResult(parse(R"({"cniVersion": "0.4.0", "ips": [{"address": "fd00::5/64"}]})"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->ips[0].family(), 6);
}

TEST(ParseResultTest, DefaultVersionForAPrevResultWithoutOne) {
  absl::StatusOr<Result> result =
      cni::parseResult(parse(R"({"ips": [{"address": "10.0.0.5/24"}]})"), "prevResult", "0.3.1");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->cniVersion, "0.3.1");
  // The document's own version wins over the default.
  result = cni::parseResult(parse(R"({"cniVersion": "1.1.0"})"), "prevResult", "0.3.1");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->cniVersion, "1.1.0");
}

TEST(ParseResultTest, ParsesText) {
  absl::StatusOr<Result> result = cni::parseResult(std::string_view(R"({"cniVersion": "0.3.0"})"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, Result{.cniVersion = "0.3.0"});
}

// ---- malformed results

struct BadResultCase {
  std::string name;
  std::string json;
  std::string error;
};

void PrintTo(const BadResultCase& c, std::ostream* os) { *os << c.name; }

class ParseResultErrorTest : public ::testing::TestWithParam<BadResultCase> {};

TEST_P(ParseResultErrorTest, NamesThePath) {
  absl::StatusOr<Result> result = cni::parseResult(std::string_view(GetParam().json), "prevResult");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(message(result.status()), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, ParseResultErrorTest,
    ::testing::Values(
        BadResultCase{"NotJson", R"({"cniVersion": )",
                      "prevResult: invalid JSON: parse error at line 1, column 16: syntax error "
                      "while parsing value - unexpected "
                      "end of input; expected '[', '{', or a literal"},
        BadResultCase{"NotObject", R"([1])", "prevResult: expected an object, got an array"},
        BadResultCase{"NoVersion", R"({"ips": []})", "prevResult.cniVersion: missing required key"},
        BadResultCase{"VersionNotString", R"({"cniVersion": 1})",
                      "prevResult.cniVersion: expected a string, got 1"},
        BadResultCase{"OldVersion", R"({"cniVersion": "0.2.0"})",
                      "prevResult.cniVersion: unsupported CNI version \"0.2.0\" (supported: "
                      "0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)"},
        BadResultCase{"InterfacesNotArray", R"({"cniVersion": "1.0.0", "interfaces": {}})",
                      "prevResult.interfaces: expected an array of objects, got an object"},
        BadResultCase{"InterfaceWithoutName", R"({"cniVersion": "1.0.0", "interfaces": [{}]})",
                      "prevResult.interfaces[0].name: missing required key"},
        BadResultCase{"NegativeMtu",
                      R"({"cniVersion": "1.1.0", "interfaces": [{"name": "a", "mtu": -1}]})",
                      "prevResult.interfaces[0].mtu: expected an integer between 0 and 4294967295, "
                      "got -1"},
        BadResultCase{"IpWithoutAddress", R"({"cniVersion": "1.0.0", "ips": [{}]})",
                      "prevResult.ips[0].address: missing required key"},
        BadResultCase{"AddressWithoutPrefix",
                      R"({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.5"}]})",
                      "prevResult.ips[0].address: expected an address with a prefix length like "
                      "\"10.0.0.5/24\", got \"10.0.0.5\""},
        BadResultCase{"BadGateway",
                      R"({"cniVersion": "1.0.0",
                          "ips": [{"address": "10.0.0.5/24", "gateway": "x"}]})",
                      "prevResult.ips[0].gateway: expected an IPv4 or IPv6 address, got \"x\""},
        BadResultCase{"GatewayOfOtherFamily",
                      R"({"cniVersion": "1.0.0",
                          "ips": [{"address": "10.0.0.5/24", "gateway": "fd00::1"}]})",
                      "prevResult.ips[0].gateway: fd00::1 is not of the family of 10.0.0.5/24"},
        BadResultCase{"NegativeInterfaceIndex",
                      R"({"cniVersion": "1.0.0",
                          "ips": [{"address": "10.0.0.5/24", "interface": -1}]})",
                      "prevResult.ips[0].interface: expected an integer between 0 and 2147483647, "
                      "got -1"},
        BadResultCase{"BadIpVersion",
                      R"({"cniVersion": "0.4.0",
                          "ips": [{"version": "5", "address": "10.0.0.5/24"}]})",
                      "prevResult.ips[0].version: expected \"4\" or \"6\", got \"5\""},
        BadResultCase{"IpVersionMismatch",
                      R"({"cniVersion": "0.3.1",
                          "ips": [{"version": "6", "address": "10.0.0.5/24"}]})",
                      "prevResult.ips[0].version: \"6\" does not match the address 10.0.0.5/24"},
        BadResultCase{"RouteWithoutDst",
                      R"({"cniVersion": "1.0.0", "routes": [{"gw": "1.1.1.1"}]})",
                      "prevResult.routes[0].dst: missing required key"},
        BadResultCase{"RouteBadGw",
                      R"({"cniVersion": "1.0.0", "routes": [{"dst": "0.0.0.0/0", "gw": 5}]})",
                      "prevResult.routes[0].gw: expected an IPv4 or IPv6 address, got 5"},
        BadResultCase{"ScopeTooLarge",
                      R"({"cniVersion": "1.1.0", "routes": [{"dst": "0.0.0.0/0", "scope": 256}]})",
                      "prevResult.routes[0].scope: expected an integer between 0 and 255, got 256"},
        BadResultCase{"DnsNotObject", R"({"cniVersion": "1.0.0", "dns": []})",
                      "prevResult.dns: expected an object, got an array"},
        BadResultCase{"NameserversNotStrings",
                      R"({"cniVersion": "1.0.0", "dns": {"nameservers": [1]}})",
                      "prevResult.dns.nameservers[0]: expected a string, got 1"}),
    [](const ::testing::TestParamInfo<BadResultCase>& param) { return param.param.name; });

// ---- versions

TEST(VersionTest, Supported) {
  for (const char* v : {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}) {
    EXPECT_TRUE(cni::isSupportedVersion(v)) << v;
  }
  for (const char* v : {"0.1.0", "0.2.0", "1.2.0", "1.0", "", "v1.0.0"}) {
    EXPECT_FALSE(cni::isSupportedVersion(v)) << v;
  }
}

TEST(VersionTest, CompareIsNumeric) {
  struct Case {
    const char* a;
    const char* b;
    int order;
  };
  for (const Case& c : std::vector<Case>{{"1.0.0", "1.0.0", 0},
                                         {"0.4.0", "1.0.0", -1},
                                         {"1.1.0", "1.0.0", 1},
                                         {"0.10.0", "0.4.0", 1},
                                         {"0.3.1", "0.3.0", 1},
                                         {"0.3.0", "0.3.1", -1}}) {
    absl::StatusOr<int> order = cni::compareVersions(c.a, c.b);
    ASSERT_TRUE(order.ok()) << c.a << " " << c.b;
    EXPECT_EQ(*order, c.order) << c.a << " vs " << c.b;
  }
}

TEST(VersionTest, CompareRejectsMalformed) {
  for (const char* v : {"", "1", "1.0", "1.0.0.0", "1..0", "a.b.c", "1.0.0 ", "-1.0.0", "1.0.x"}) {
    absl::StatusOr<int> order = cni::compareVersions(v, "1.0.0");
    ASSERT_FALSE(order.ok()) << v;
    EXPECT_EQ(message(order.status()), std::string("invalid CNI version \"") + v + "\"");
    EXPECT_FALSE(cni::compareVersions("1.0.0", v).ok()) << v;
  }
}

TEST(VersionTest, AtLeast) {
  EXPECT_TRUE(cni::versionAtLeast("1.1.0", "1.1.0"));
  EXPECT_TRUE(cni::versionAtLeast("1.1.0", "0.4.0"));
  EXPECT_FALSE(cni::versionAtLeast("1.0.0", "1.1.0"));
  EXPECT_FALSE(cni::versionAtLeast("0.3.1", "0.4.0"));
  EXPECT_FALSE(cni::versionAtLeast("garbage", "0.1.0"));
}

// ---- CNI_ARGS

TEST(CniArgsTest, ParsesPairs) {
  absl::StatusOr<std::map<std::string, std::string>> args = cni::parseCniArgs(
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_UID=");
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(*args, (std::map<std::string, std::string>{{"IgnoreUnknown", "1"},
                                                       {"K8S_POD_NAMESPACE", "default"},
                                                       {"K8S_POD_NAME", "web-0"},
                                                       {"K8S_POD_UID", ""}}));
  args = cni::parseCniArgs("");
  ASSERT_TRUE(args.ok());
  EXPECT_TRUE(args->empty());
}

TEST(CniArgsTest, RejectsMalformed) {
  struct Case {
    const char* args;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {"K", "CNI_ARGS: invalid pair \"K\" (expected KEY=VALUE)"},
           {"=V", "CNI_ARGS: invalid pair \"=V\" (expected KEY=VALUE)"},
           {"A=1;", "CNI_ARGS: invalid pair \"\" (expected KEY=VALUE)"},
           {";A=1", "CNI_ARGS: invalid pair \"\" (expected KEY=VALUE)"},
           {"A=1;;B=2", "CNI_ARGS: invalid pair \"\" (expected KEY=VALUE)"},
           {"A=1=2", "CNI_ARGS: invalid pair \"A=1=2\" (expected KEY=VALUE)"},
           {"A=1;A=2", "CNI_ARGS: duplicate key \"A\""},
       }) {
    absl::StatusOr<std::map<std::string, std::string>> args = cni::parseCniArgs(c.args);
    ASSERT_FALSE(args.ok()) << c.args;
    EXPECT_EQ(message(args.status()), c.error) << c.args;
  }
}

// ---- container ID and interface name

TEST(RuntimeParameterTest, ContainerIds) {
  for (const char* id : {"abc", "0123456789abcdef", "a.b_c-d", "K8S-1"}) {
    EXPECT_TRUE(cni::validateContainerId(id).ok()) << id;
  }
  EXPECT_EQ(message(cni::validateContainerId("")), "CNI_CONTAINERID: empty");
  for (const char* id : {"a/b", "..", "a..b", ".hidden", "-x", "a b", "a\nb", "/abs"}) {
    EXPECT_EQ(message(cni::validateContainerId(id)),
              std::string("CNI_CONTAINERID: invalid container ID \"") + id +
                  "\" (expected [a-zA-Z0-9][a-zA-Z0-9_.-]* without \"..\")")
        << id;
  }
}

TEST(RuntimeParameterTest, InterfaceNames) {
  for (const char* name : {"eth0", "net1", "a", "abcdefghijklmno", "vhu.1"}) {
    EXPECT_TRUE(cni::validateIfName(name).ok()) << name;
  }
  EXPECT_EQ(message(cni::validateIfName("")), "CNI_IFNAME: empty");
  EXPECT_EQ(message(cni::validateIfName("abcdefghijklmnop")),
            "CNI_IFNAME: \"abcdefghijklmnop\" is longer than 15 bytes");
  for (const char* name : {".", "..", "a/b", "a:b", "a b", "a\tb"}) {
    EXPECT_EQ(message(cni::validateIfName(name)),
              std::string("CNI_IFNAME: invalid interface name \"") + name +
                  "\" (no '/', ':' or spaces, not . or ..)")
        << name;
  }
}

}  // namespace
}  // namespace enadpdk::testing
