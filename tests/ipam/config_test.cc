#include "ipam/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cni/errors.h"

namespace enadpdk::testing {
namespace {

using cni::CniError;
using ipam::CniRuntime;
using ipam::Environment;
using ipam::IpamNetconf;
using ipam::LeaseKey;

std::string message(const absl::Status& status) { return std::string(status.message()); }
int code(const absl::Status& status) {
  return static_cast<int>(cni::cniCodeOf(status, CniError::kNotSupportedYet));
}
nlohmann::json parse(std::string_view text) { return nlohmann::json::parse(text); }

// A temporary directory for config files, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ipam-config-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return path_ / name;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Parses with a default config file that does not exist (so the host's never matters).
absl::StatusOr<IpamNetconf> parseNetconf(const nlohmann::json& config) {
  TempDir dir;
  return ipam::parseIpamNetconf(config, dir.path() / "absent.json");
}

// ---- environment

const Environment kAddEnv = {{"CNI_COMMAND", "ADD"},
                             {"CNI_CONTAINERID", "abc123"},
                             {"CNI_NETNS", "/var/run/netns/pod"},
                             {"CNI_IFNAME", "net1"},
                             {"CNI_PATH", "/opt/cni/bin"},
                             {"CNI_ARGS", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0"}};

TEST(CniRuntimeTest, ReadsTheVariables) {
  absl::StatusOr<CniRuntime> runtime = ipam::parseCniRuntime("ADD", kAddEnv);
  ASSERT_TRUE(runtime.ok()) << runtime.status();
  EXPECT_EQ(runtime->key, (LeaseKey{.containerId = "abc123", .ifName = "net1"}));
  EXPECT_EQ(runtime->netns, "/var/run/netns/pod");
  EXPECT_EQ(runtime->args.at("K8S_POD_NAME"), "web-0");
}

TEST(CniRuntimeTest, DelGcAndStatusNeedLess) {
  EXPECT_TRUE(
      ipam::parseCniRuntime("DEL", {{"CNI_CONTAINERID", "abc"}, {"CNI_IFNAME", "net1"}}).ok());
  EXPECT_TRUE(ipam::parseCniRuntime("GC", {}).ok());
  EXPECT_TRUE(ipam::parseCniRuntime("STATUS", {}).ok());
}

struct EnvCase {
  std::string name;
  std::string command;
  Environment env;
  std::string error;
};

void PrintTo(const EnvCase& c, std::ostream* os) { *os << c.name; }

class CniRuntimeErrorTest : public ::testing::TestWithParam<EnvCase> {};

TEST_P(CniRuntimeErrorTest, IsCode4) {
  absl::StatusOr<CniRuntime> runtime = ipam::parseCniRuntime(GetParam().command, GetParam().env);
  ASSERT_FALSE(runtime.ok());
  EXPECT_EQ(code(runtime.status()), 4);
  EXPECT_EQ(message(runtime.status()), GetParam().error);
}

Environment with(Environment env, const std::string& name, const std::string& value) {
  if (value.empty()) {
    env.erase(name);
  } else {
    env[name] = value;
  }
  return env;
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, CniRuntimeErrorTest,
    ::testing::Values(
        EnvCase{"AddWithoutAnything",
                "ADD",
                {},
                "required environment variables missing: CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME"},
        EnvCase{"AddWithoutNetns", "ADD", with(kAddEnv, "CNI_NETNS", ""),
                "required environment variables missing: CNI_NETNS"},
        EnvCase{"CheckWithoutIfname", "CHECK", with(kAddEnv, "CNI_IFNAME", ""),
                "required environment variables missing: CNI_IFNAME"},
        EnvCase{"DelWithoutContainer",
                "DEL",
                {{"CNI_IFNAME", "net1"}},
                "required environment variables missing: CNI_CONTAINERID"},
        EnvCase{"ContainerIdWithSlash", "ADD", with(kAddEnv, "CNI_CONTAINERID", "../etc"),
                "CNI_CONTAINERID: invalid container ID \"../etc\" (expected "
                "[a-zA-Z0-9][a-zA-Z0-9_.-]* without \"..\")"},
        EnvCase{"ContainerIdWithDots", "DEL", with(kAddEnv, "CNI_CONTAINERID", "a..b"),
                "CNI_CONTAINERID: invalid container ID \"a..b\" (expected "
                "[a-zA-Z0-9][a-zA-Z0-9_.-]* without \"..\")"},
        EnvCase{"IfnameTooLong", "ADD", with(kAddEnv, "CNI_IFNAME", "abcdefghijklmnop"),
                "CNI_IFNAME: \"abcdefghijklmnop\" is longer than 15 bytes"},
        EnvCase{"IfnameWithSlash", "DEL", with(kAddEnv, "CNI_IFNAME", "a/b"),
                "CNI_IFNAME: invalid interface name \"a/b\" (no '/', ':' or spaces, not . or ..)"},
        EnvCase{"IfnameDotDot", "ADD", with(kAddEnv, "CNI_IFNAME", ".."),
                "CNI_IFNAME: invalid interface name \"..\" (no '/', ':' or spaces, not . or ..)"},
        EnvCase{"MalformedArgs", "ADD", with(kAddEnv, "CNI_ARGS", "K8S_POD_NAME"),
                "CNI_ARGS: invalid pair \"K8S_POD_NAME\" (expected KEY=VALUE)"},
        EnvCase{
            "MalformedArgsOnGc", "GC", {{"CNI_ARGS", "A=1;A=2"}}, "CNI_ARGS: duplicate key \"A\""}),
    [](const ::testing::TestParamInfo<EnvCase>& param) { return param.param.name; });

// ---- versions

TEST(CheckVersionTest, AcceptsSupportedVersions) {
  for (const char* version : {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}) {
    EXPECT_TRUE(ipam::checkVersion({{"cniVersion", version}}, "ADD").ok()) << version;
    EXPECT_TRUE(ipam::checkVersion({{"cniVersion", version}}, "DEL").ok()) << version;
  }
  EXPECT_TRUE(ipam::checkVersion({{"cniVersion", "0.4.0"}}, "CHECK").ok());
  EXPECT_TRUE(ipam::checkVersion({{"cniVersion", "1.1.0"}}, "GC").ok());
  EXPECT_TRUE(ipam::checkVersion({{"cniVersion", "1.1.0"}}, "STATUS").ok());
}

TEST(CheckVersionTest, RejectsWithCode1) {
  struct Case {
    nlohmann::json config;
    std::string command;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {{{"cniVersion", "0.2.0"}},
            "ADD",
            "incompatible CNI versions: config is \"0.2.0\", plugin supports 0.3.0, 0.3.1, "
            "0.4.0, 1.0.0, 1.1.0"},
           {nlohmann::json::object(), "ADD",
            "incompatible CNI versions: config is \"\", plugin supports 0.3.0, 0.3.1, 0.4.0, "
            "1.0.0, 1.1.0"},
           {{{"cniVersion", 1}},
            "DEL",
            "incompatible CNI versions: config is \"\", plugin supports 0.3.0, 0.3.1, 0.4.0, "
            "1.0.0, 1.1.0"},
           {{{"cniVersion", "0.3.1"}}, "CHECK", "config version \"0.3.1\" does not allow CHECK"},
           {{{"cniVersion", "1.0.0"}}, "GC", "config version \"1.0.0\" does not allow GC"},
           {{{"cniVersion", "0.4.0"}}, "STATUS", "config version \"0.4.0\" does not allow STATUS"},
       }) {
    absl::Status status = ipam::checkVersion(c.config, c.command);
    EXPECT_EQ(code(status), 1) << c.error;
    EXPECT_EQ(message(status), c.error);
  }
}

// ---- network config

TEST(IpamNetconfTest, InlineStaticPool) {
  absl::StatusOr<IpamNetconf> netconf = ipam::parseIpamNetconf(parse(R"({
      "cniVersion": "1.0.0", "name": "eni1-net", "type": "ena-dpdk-cni", "unknown": {"x": 1},
      "ipam": {"type": "ena-dpdk-ipam", "network": "eni1", "configFile": "/x",
               "stateDir": "/tmp/leases", "addresses": ["10.0.1.0/28"], "gateway": "10.0.1.1",
               "routes": [{"dst": "0.0.0.0/0"}], "logFile": "/tmp/ipam.log",
               "logLevel": "debug", "future": true}})"));
  // configFile /x does not exist: a named file must.
  ASSERT_FALSE(netconf.ok());
  EXPECT_EQ(code(netconf.status()), 7);
  EXPECT_EQ(message(netconf.status()), "/x: cannot read: No such file or directory");

  TempDir dir;
  std::filesystem::path file = dir.write("config.json", R"({"ipam": {}})");
  nlohmann::json config = parse(R"({"cniVersion": "1.0.0", "name": "eni1-net",
      "ipam": {"type": "ena-dpdk-ipam", "network": "eni1", "stateDir": "/tmp/leases",
               "addresses": ["10.0.1.0/28"], "gateway": "10.0.1.1",
               "routes": [{"dst": "0.0.0.0/0"}], "logFile": "/tmp/ipam.log",
               "logLevel": "debug", "future": true}})");
  config["ipam"]["configFile"] = file.string();
  netconf = ipam::parseIpamNetconf(config);
  ASSERT_TRUE(netconf.ok()) << netconf.status();
  EXPECT_EQ(netconf->cniVersion, "1.0.0");
  EXPECT_EQ(netconf->network, "eni1");
  EXPECT_EQ(netconf->stateDir, "/tmp/leases");
  EXPECT_EQ(netconf->configFile, file);
  ASSERT_TRUE(netconf->source);
  EXPECT_EQ(*netconf->source, (ipam::IpamNetworkConfig{.addresses = {"10.0.1.0/28"},
                                                       .gateway = "10.0.1.1",
                                                       .routes = {{.dst = "0.0.0.0/0"}}}));
  EXPECT_EQ(netconf->sourceWhere, "ipam");
  EXPECT_EQ(netconf->logFile, "/tmp/ipam.log");
  EXPECT_EQ(netconf->logLevel, spdlog::level::debug);
  EXPECT_EQ(netconf->imds, ipam::ImdsConfig{});
}

TEST(IpamNetconfTest, MissingDefaultFileMeansDefaults) {
  TempDir dir;
  absl::StatusOr<IpamNetconf> netconf = ipam::parseIpamNetconf(parse(R"({
      "cniVersion": "0.3.1", "network": "eni2", "logFile": "/tmp/cni.log", "logLevel": "warn",
      "ipam": {"type": "ena-dpdk-ipam", "eniMac": "0A:1B:2C:3D:4E:5F"}})"),
                                                               dir.path() / "absent.json");
  ASSERT_TRUE(netconf.ok()) << netconf.status();
  EXPECT_EQ(netconf->network, "eni2");  // from the top-level key
  EXPECT_EQ(netconf->stateDir, "/var/lib/ena-dpdk/ipam");
  EXPECT_EQ(netconf->source->eniMac, "0A:1B:2C:3D:4E:5F");
  EXPECT_EQ(netconf->logFile, "/tmp/cni.log");  // the top-level key as a fallback
  EXPECT_EQ(netconf->logLevel, spdlog::level::warn);
  EXPECT_EQ(netconf->logFormat, common::LogFormat::Logfmt);
  EXPECT_EQ(netconf->logMaxBytes, common::kDefaultLogMaxBytes);
  EXPECT_EQ(netconf->logMaxFiles, common::kDefaultLogMaxFiles);
  EXPECT_EQ(netconf->imds.endpoint, "http://169.254.169.254");
  EXPECT_EQ(netconf->configFile, dir.path() / "absent.json");
}

TEST(IpamNetconfTest, LogFormatAndRotationFromTheIpamSectionElseTheTopLevel) {
  TempDir dir;
  absl::StatusOr<IpamNetconf> top = ipam::parseIpamNetconf(parse(R"({
      "cniVersion": "1.0.0", "network": "eni2", "logFormat": "json", "logMaxBytes": 4096,
      "logMaxFiles": 5, "ipam": {"type": "ena-dpdk-ipam", "eniMac": "0A:1B:2C:3D:4E:5F"}})"),
                                                           dir.path() / "absent.json");
  ASSERT_TRUE(top.ok()) << top.status();
  EXPECT_EQ(top->logFormat, common::LogFormat::Json);
  EXPECT_EQ(top->logMaxBytes, 4096u);
  EXPECT_EQ(top->logMaxFiles, 5u);
  absl::StatusOr<IpamNetconf> own = ipam::parseIpamNetconf(parse(R"({
      "cniVersion": "1.0.0", "network": "eni2", "logFormat": "json", "logMaxBytes": 4096,
      "ipam": {"type": "ena-dpdk-ipam", "eniMac": "0A:1B:2C:3D:4E:5F", "logFormat": "logfmt",
               "logMaxBytes": 0, "logMaxFiles": 1}})"),
                                                           dir.path() / "absent.json");
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->logFormat, common::LogFormat::Logfmt);
  EXPECT_EQ(own->logMaxBytes, 0u);
  EXPECT_EQ(own->logMaxFiles, 1u);
  for (const char* bad : {R"("logFormat": "xml")", R"("logMaxFiles": 0)", R"("logMaxBytes": -5)"}) {
    absl::StatusOr<IpamNetconf> refused = ipam::parseIpamNetconf(
        parse(std::string(R"({"cniVersion": "1.0.0", "network": "eni2", "ipam": {"type":
              "ena-dpdk-ipam", "eniMac": "0A:1B:2C:3D:4E:5F", )") +
              bad + "}}"),
        dir.path() / "absent.json");
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(code(refused.status()), 7) << bad;
    EXPECT_NE(message(refused.status()).find(std::string(bad).substr(1, 8)), std::string::npos)
        << refused.status();
  }
}

TEST(IpamNetconfTest, InlineSourcesGoWithTheInlineEni) {
  TempDir dir;
  absl::StatusOr<IpamNetconf> netconf = ipam::parseIpamNetconf(parse(R"({
      "cniVersion": "1.1.0", "network": "eni2",
      "ipam": {"type": "ena-dpdk-ipam", "deviceNumber": 2,
               "sources": ["secondary-ips", "ipv4-prefixes", "ipv6-prefixes"]}})"),
                                                               dir.path() / "absent.json");
  ASSERT_TRUE(netconf.ok()) << netconf.status();
  EXPECT_EQ(netconf->source->sources,
            (std::vector<std::string>{"secondary-ips", "ipv4-prefixes", "ipv6-prefixes"}));
}

TEST(IpamNetconfTest, IpamNetworkWinsOverTopLevel) {
  absl::StatusOr<IpamNetconf> netconf = parseNetconf(parse(
      R"({"cniVersion": "1.1.0", "network": "other", "ipam": {"network": "eni1", "deviceNumber": 1}})"));
  ASSERT_TRUE(netconf.ok()) << netconf.status();
  EXPECT_EQ(netconf->network, "eni1");
}

TEST(IpamNetconfTest, SourceAndSettingsFromTheConfigFile) {
  TempDir dir;
  std::filesystem::path file = dir.write("config.json", R"({
      "dataplane": {"networks": [{"name": "eni1"}]},
      "ipam": {"stateDir": "/srv/ipam",
               "imds": {"endpoint": "http://127.0.0.1:9", "ttlSeconds": 5, "timeoutMs": 300},
               "networks": {"eni1": {"deviceNumber": 1, "routes": [{"dst": "10.0.0.0/8"}]}}}})");
  nlohmann::json config = parse(R"({"cniVersion": "1.0.0",
      "ipam": {"network": "eni1", "imds": {"timeoutMs": 50},
               "routes": [{"dst": "0.0.0.0/0", "gw": "10.0.1.1"}]}})");
  config["ipam"]["configFile"] = file.string();
  absl::StatusOr<IpamNetconf> netconf = ipam::parseIpamNetconf(config);
  ASSERT_TRUE(netconf.ok()) << netconf.status();
  EXPECT_EQ(netconf->stateDir, "/srv/ipam");
  EXPECT_EQ(netconf->imds,
            (ipam::ImdsConfig{.endpoint = "http://127.0.0.1:9", .ttlSeconds = 5, .timeoutMs = 50}));
  ASSERT_TRUE(netconf->source);
  EXPECT_EQ(netconf->source->deviceNumber, 1u);
  // Inline routes replace the file's.
  EXPECT_EQ(netconf->source->routes,
            (std::vector<ipam::IpamRoute>{{.dst = "0.0.0.0/0", .gw = "10.0.1.1"}}));
  EXPECT_EQ(netconf->sourceWhere, file.string() + ": ipam.networks.eni1");

  // A network the file does not know has no source; only ADD and STATUS mind.
  config["ipam"]["network"] = "eni9";
  netconf = ipam::parseIpamNetconf(config);
  ASSERT_TRUE(netconf.ok()) << netconf.status();
  EXPECT_FALSE(netconf->source);
  absl::Status missing = ipam::missingSourceError(*netconf);
  EXPECT_EQ(code(missing), 7);
  EXPECT_EQ(message(missing),
            "network \"eni9\" has no address source: set ipam.addresses, "
            "ipam.eniMac or ipam.deviceNumber, or ipam.networks.eni9 in " +
                file.string());
}

TEST(IpamNetconfTest, ValidAttachmentsUnderEitherKey) {
  for (const char* key : {"cni.dev/valid-attachments", "cni.dev/attachments"}) {
    nlohmann::json config = parse(R"({"cniVersion": "1.1.0", "ipam": {"network": "eni1"}})");
    config[key] = parse(R"([{"containerID": "a1", "ifname": "net1"},
                            {"containerID": "b2", "ifname": "net2"}])");
    absl::StatusOr<IpamNetconf> netconf = parseNetconf(config);
    ASSERT_TRUE(netconf.ok()) << netconf.status();
    ASSERT_TRUE(netconf->validAttachments) << key;
    EXPECT_THAT(*netconf->validAttachments,
                ::testing::ElementsAre(LeaseKey{.containerId = "a1", .ifName = "net1"},
                                       LeaseKey{.containerId = "b2", .ifName = "net2"}));
  }
}

struct NetconfCase {
  std::string name;
  std::string json;
  std::string error;
};

void PrintTo(const NetconfCase& c, std::ostream* os) { *os << c.name; }

class IpamNetconfErrorTest : public ::testing::TestWithParam<NetconfCase> {};

TEST_P(IpamNetconfErrorTest, IsCode7) {
  absl::StatusOr<IpamNetconf> netconf = parseNetconf(parse(GetParam().json));
  ASSERT_FALSE(netconf.ok());
  EXPECT_EQ(code(netconf.status()), 7);
  EXPECT_EQ(message(netconf.status()), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, IpamNetconfErrorTest,
    ::testing::Values(
        NetconfCase{"NoIpam", R"({"cniVersion": "1.0.0", "network": "eni1"})",
                    "ipam: missing required key"},
        NetconfCase{"IpamNotObject", R"({"cniVersion": "1.0.0", "ipam": "x"})",
                    "ipam: expected an object, got \"x\""},
        NetconfCase{"NoNetwork", R"({"cniVersion": "1.0.0", "ipam": {"addresses": ["10.0.0.5"]}})",
                    "ipam.network: missing: set ipam.network (or the top-level \"network\")"},
        NetconfCase{"BadNetwork", R"({"cniVersion": "1.0.0", "ipam": {"network": "../x"}})",
                    "ipam.network: expected a name of 1 to 15 characters from [a-z0-9-], got "
                    "\"../x\""},
        NetconfCase{"BadTopNetwork", R"({"cniVersion": "1.0.0", "network": 5, "ipam": {}})",
                    "network: expected a name of 1 to 15 characters from [a-z0-9-], got 5"},
        NetconfCase{"RelativeStateDir",
                    R"({"cniVersion": "1.0.0", "ipam": {"network": "a", "stateDir": "x"}})",
                    "ipam.stateDir: expected an absolute path, got \"x\""},
        NetconfCase{"RelativeConfigFile",
                    R"({"cniVersion": "1.0.0", "ipam": {"network": "a", "configFile": "c.json"}})",
                    "ipam.configFile: expected an absolute path, got \"c.json\""},
        NetconfCase{"EmptyAddresses",
                    R"({"cniVersion": "1.0.0", "ipam": {"network": "a", "addresses": []}})",
                    "ipam.addresses: expected at least one address"},
        NetconfCase{"BadAddress",
                    R"({"cniVersion": "1.0.0", "ipam": {"network": "a", "addresses": ["1.2.3"]}})",
                    "ipam.addresses[0]: expected an IPv4 or IPv6 address or CIDR, got \"1.2.3\""},
        NetconfCase{"GatewayAlone",
                    R"({"cniVersion": "1.0.0", "ipam": {"network": "a", "gateway": "10.0.0.1"}})",
                    "ipam.gateway: needs \"addresses\" next to it"},
        NetconfCase{"MacAndAddresses", R"({"cniVersion": "1.0.0", "ipam": {"network": "a",
                      "eniMac": "02:00:00:00:00:01", "addresses": ["10.0.0.5"]}})",
                    "ipam: a network takes \"addresses\" or an ENI (\"eniMac\", \"deviceNumber\"), "
                    "not both"},
        NetconfCase{"SourcesAlone", R"({"cniVersion": "1.0.0", "ipam": {"network": "a",
                      "sources": ["ipv4-prefixes"]}})",
                    "ipam.sources: needs an ENI (\"eniMac\" or \"deviceNumber\") next to it"},
        NetconfCase{"DuplicateSource", R"({"cniVersion": "1.0.0", "ipam": {"network": "a",
                      "deviceNumber": 1, "sources": ["ipv4-prefixes", "ipv4-prefixes"]}})",
                    "ipam.sources[1]: duplicate entry \"ipv4-prefixes\""},
        NetconfCase{"BadMac",
                    R"({"cniVersion": "1.0.0", "ipam": {"network": "a", "eniMac": "zz"}})",
                    "ipam.eniMac: expected a unicast MAC address like 02:00:00:00:00:01, got "
                    "\"zz\""},
        NetconfCase{"BadRoute", R"({"cniVersion": "1.0.0", "ipam": {"network": "a",
                      "deviceNumber": 1, "routes": [{"dst": "0.0.0.0/0", "gw": "x"}]}})",
                    "ipam.routes[0].gw: expected an IPv4 or IPv6 address, got \"x\""},
        NetconfCase{"BadEndpoint", R"({"cniVersion": "1.0.0", "ipam": {"network": "a",
                      "imds": {"endpoint": "169.254.169.254"}}})",
                    "ipam.imds.endpoint: expected an http:// or https:// URL, got "
                    "\"169.254.169.254\""},
        NetconfCase{"BadTimeout", R"({"cniVersion": "1.0.0", "ipam": {"network": "a",
                      "imds": {"timeoutMs": 0}}})",
                    "ipam.imds.timeoutMs: expected an integer between 1 and 60000, got 0"},
        NetconfCase{"BadLogLevel",
                    R"({"cniVersion": "1.0.0", "ipam": {"network": "a", "logLevel": "loud"}})",
                    "ipam.logLevel: expected one of trace, debug, info, warn, error, off, got "
                    "\"loud\""},
        NetconfCase{"BadAttachments", R"({"cniVersion": "1.1.0", "ipam": {"network": "a"},
                      "cni.dev/valid-attachments": [{"containerID": "a/b", "ifname": "x"}]})",
                    "cni.dev/valid-attachments[0].containerID: expected a container ID, got "
                    "\"a/b\""},
        NetconfCase{"AttachmentWithoutIfname", R"({"cniVersion": "1.1.0", "ipam": {"network": "a"},
                      "cni.dev/attachments": [{"containerID": "ab"}]})",
                    "cni.dev/attachments[0].ifname: missing required key"}),
    [](const ::testing::TestParamInfo<NetconfCase>& param) { return param.param.name; });

TEST(IpamNetconfTest, ConfigFileErrorsNameTheFile) {
  TempDir dir;
  std::filesystem::path file =
      dir.write("config.json", R"({"ipam": {"imds": {"ttlSeconds": -1}}})");
  nlohmann::json config = parse(R"({"cniVersion": "1.0.0", "ipam": {"network": "a"}})");
  config["ipam"]["configFile"] = file.string();
  absl::StatusOr<IpamNetconf> netconf = ipam::parseIpamNetconf(config);
  ASSERT_FALSE(netconf.ok());
  EXPECT_EQ(code(netconf.status()), 7);
  EXPECT_EQ(message(netconf.status()),
            file.string() +
                ": ipam.imds.ttlSeconds: expected an integer between 0 and 86400, "
                "got -1");
}

}  // namespace
}  // namespace enadpdk::testing
