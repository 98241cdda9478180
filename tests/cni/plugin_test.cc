// ena-dpdk-cni commands end to end in-process: real gRPC to a stateful fake dataplane, a fake
// IPAM plugin executed through CNI_PATH, files in a temporary tree.

#include "cni/plugin.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cni/records.h"
#include "cni/slot_files.h"
#include "common/atomic_file.h"
#include "tests/cni/cni_test_env.h"
#include "tests/support/fake_host.h"

namespace enadpdk::cni {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CniTestEnv;

constexpr char kPortId[] = "c0ffee01/net1";
constexpr char kEniMac[] = "02:00:00:00:aa:01";

json multus(const std::string& deviceId, const std::string& infoFile = "") {
  json rc = {{"deviceID", deviceId}};
  if (!infoFile.empty()) rc["CNIDeviceInfoFile"] = infoFile;
  return {{"runtimeConfig", rc}};
}

json readJson(const fs::path& path) {
  auto text = common::readFile(path);
  if (!text.ok()) return nullptr;
  return json::parse(*text, nullptr, false);
}

class PluginTest : public ::testing::Test {
 protected:
  // ADD of the default attachment on slot eni1-03, device-info under devinfoDir.
  json vhostConfig(const std::string& version = "1.0.0") {
    return env_.config(version, multus("eni1-03", infoFile().string()));
  }
  fs::path infoFile() const { return env_.devinfoDir() / "net1.json"; }
  fs::path slot() const { return env_.slotDir() / "eni1-03"; }

  // Checks nothing of the default attachment is left: port, record, files, lease.
  void expectNothingLeft() {
    EXPECT_TRUE(env_.dataplane()->ports().empty());
    EXPECT_FALSE(fs::exists(slot() / "ena-dpdk.json"));
    EXPECT_FALSE(fs::exists(infoFile()));
    EXPECT_TRUE(env_.ipam().leases().empty());
    EXPECT_FALSE(fs::exists(env_.stateDir() / "attachments" / "c0ffee01%2Fnet1.json"));
  }

  CniTestEnv env_;
};

TEST_F(PluginTest, AddVhostUserWiresPortFilesAndResult) {
  testing::RunOutput out = env_.run("ADD", vhostConfig());
  ASSERT_EQ(out.exitCode, 0) << out.text;
  const std::string socket = (slot() / "vhost.sock").string();

  EXPECT_EQ(out.json, json::parse(R"({
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "net1", "mac": "02:00:00:00:aa:01", "sandbox": "/var/run/netns/pod1"}],
    "ips": [{"address": "10.99.0.10/24", "gateway": "10.99.0.1", "interface": 0}],
    "routes": [{"dst": "0.0.0.0/0"}],
    "dns": {"nameservers": ["10.99.0.2"]}})"));

  auto ports = env_.dataplane()->ports();
  ASSERT_EQ(ports.count(kPortId), 1u);
  const auto& port = ports.at(kPortId);
  EXPECT_EQ(port.network(), "eni1");
  EXPECT_EQ(port.socket_path(), socket);
  EXPECT_EQ(port.vhost_mode(), dataplane::v1::VHOST_MODE_SERVER);
  EXPECT_EQ(port.mac(), kEniMac);
  ASSERT_EQ(port.ips_size(), 1);
  EXPECT_EQ(port.ips(0), "10.99.0.10/24");
  EXPECT_EQ(port.mtu(), 9001u);
  // The pod, from CNI_ARGS, for the dataplane's per-port metric labels.
  EXPECT_EQ(port.pod_namespace(), "default");
  EXPECT_EQ(port.pod_name(), "p");

  EXPECT_EQ(readJson(slot() / "ena-dpdk.json"), json::parse(R"({
    "containerID": "c0ffee01", "ifname": "net1", "cniNetwork": "dpdk-net", "deviceID": "eni1-03",
    "network": "eni1", "socketPath": "/var/run/vhost-user/eni1-03/vhost.sock",
    "vhostMode": "server", "mac": "02:00:00:00:aa:01", "ips": ["10.99.0.10/24"],
    "gateway": "10.99.0.1", "mtu": 9001, "queues": 1})"));
  EXPECT_EQ(readJson(infoFile()), json::parse(R"({"type": "vhost-user", "version": "1.1.0",
    "vhost-user": {"mode": "server", "path": "/var/run/vhost-user/eni1-03/vhost.sock"}})"));

  // The IPAM plugin got the config with the network taken from the device ID.
  json ipamIn = env_.ipam().lastInput("ADD");
  EXPECT_EQ(ipamIn["ipam"]["network"], "eni1");
  EXPECT_EQ(ipamIn["name"], "dpdk-net");
  EXPECT_EQ(env_.ipam().calls(), std::vector<std::string>{"ADD c0ffee01 net1"});
  EXPECT_TRUE(fs::exists(env_.stateDir() / "attachments" / "c0ffee01%2Fnet1.json"));
}

TEST_F(PluginTest, AVpcPodWithIpv6IsToldItsLinkLocalAddress) {
  env_.ipam().handOutIpv6(true);
  testing::RunOutput out = env_.run("ADD", vhostConfig());
  ASSERT_EQ(out.exitCode, 0) << out.text;
  const json info = readJson(slot() / "ena-dpdk.json");
  EXPECT_EQ(info["ips"], json::parse(R"(["10.99.0.10/24", "2001:db8:99::c0:10/64"])"));
  // Every vpc pod has the ENI's MAC, so not EUI-64: fe80:: + the low 64 bits of its address, the
  // rule the dataplane's anti-spoofing accepts.
  EXPECT_EQ(info["linkLocal"], "fe80::c0:10/64");
  const auto ports = env_.dataplane()->ports();
  const auto& port = ports.at(kPortId);
  ASSERT_EQ(port.ips_size(), 2);
  EXPECT_EQ(port.ips(1), "2001:db8:99::c0:10/64");

  // On an l2 network the pod has a MAC of its own, so its usual link-local address is unique.
  ASSERT_EQ(env_.run("DEL", vhostConfig()).exitCode, 0);
  json l2 = env_.config("1.1.0", {{"network", "local"}});
  out = env_.run("ADD", l2);
  ASSERT_EQ(out.exitCode, 0) << out.text;
  const json l2Info =
      readJson(env_.slotDir() / perAttachmentDirName("c0ffee01", "net1") / "ena-dpdk.json");
  EXPECT_EQ(l2Info["ips"].size(), 2u);
  EXPECT_FALSE(l2Info.contains("linkLocal"));
}

TEST(PodLinkLocalTest, LowSixtyFourBitsBehindFe80) {
  EXPECT_EQ(cni::podLinkLocal("2001:db8:99::c0:10/64"), "fe80::c0:10/64");
  EXPECT_EQ(cni::podLinkLocal("2600:1f18:abc:de01:1234:5678:9abc:def0"),
            "fe80::1234:5678:9abc:def0/64");
  EXPECT_EQ(cni::podLinkLocal("2001:db8::/64"), "fe80::/64");
  EXPECT_EQ(cni::podLinkLocal("10.0.0.5/24"), "");
  EXPECT_EQ(cni::podLinkLocal("nonsense"), "");
}

TEST_F(PluginTest, ResultShapeFollowsTheVersion) {
  struct Case {
    std::string version;
    bool ipVersion;   // ips[].version
    bool socketPath;  // interfaces[].socketPath and mtu
  };
  for (const Case& c :
       {Case{"0.3.0", true, false}, Case{"0.3.1", true, false}, Case{"0.4.0", true, false},
        Case{"1.0.0", false, false}, Case{"1.1.0", false, true}}) {
    SCOPED_TRACE(c.version);
    testing::RunOutput out = env_.run("ADD", vhostConfig(c.version));
    ASSERT_EQ(out.exitCode, 0) << out.text;
    EXPECT_EQ(out.json["cniVersion"], c.version);
    EXPECT_EQ(out.json["ips"][0].contains("version"), c.ipVersion);
    if (c.ipVersion) {
      EXPECT_EQ(out.json["ips"][0]["version"], "4");
    }
    const json& iface = out.json["interfaces"][0];
    EXPECT_EQ(iface.contains("socketPath"), c.socketPath);
    if (c.socketPath) {
      EXPECT_EQ(iface["socketPath"], (slot() / "vhost.sock").string());
      EXPECT_EQ(iface["mtu"], 9001);
    }
    ASSERT_EQ(env_.run("DEL", vhostConfig(c.version)).exitCode, 0);
  }
}

TEST_F(PluginTest, RepeatedAddIsIdempotent) {
  testing::RunOutput first = env_.run("ADD", vhostConfig());
  ASSERT_EQ(first.exitCode, 0) << first.text;
  testing::RunOutput second = env_.run("ADD", vhostConfig());
  ASSERT_EQ(second.exitCode, 0) << second.text;
  EXPECT_EQ(first.json, second.json);
  EXPECT_EQ(env_.dataplane()->ports().size(), 1u);
}

TEST_F(PluginTest, L2NetworkGetsAStableDerivedMac) {
  json conf = env_.config("1.0.0", {{"network", "local"}});
  testing::RunOutput out = env_.run("ADD", conf);
  ASSERT_EQ(out.exitCode, 0) << out.text;
  const std::string mac = out.json["interfaces"][0]["mac"];
  EXPECT_EQ(mac.substr(0, 3), "02:");  // locally administered unicast
  EXPECT_EQ(env_.dataplane()->ports().at(kPortId).mac(), mac);
  EXPECT_EQ(env_.run("ADD", conf).json["interfaces"][0]["mac"], mac);

  // A configured MAC (or runtimeConfig.mac, which wins) is used as given, lowercased.
  ASSERT_EQ(env_.run("DEL", conf).exitCode, 0);
  conf["mac"] = "02:AB:00:00:00:01";
  conf["runtimeConfig"] = {{"mac", "02:CD:00:00:00:02"}};
  out = env_.run("ADD", conf);
  ASSERT_EQ(out.exitCode, 0) << out.text;
  EXPECT_EQ(out.json["interfaces"][0]["mac"], "02:cd:00:00:00:02");
}

TEST_F(PluginTest, WithoutDeviceIdUsesAPerAttachmentDirectory) {
  json conf = env_.config("1.1.0", {{"network", "local"}});
  testing::RunOutput out = env_.run("ADD", conf);
  ASSERT_EQ(out.exitCode, 0) << out.text;
  const fs::path dir = env_.slotDir() / perAttachmentDirName("c0ffee01", "net1");
  EXPECT_EQ(out.json["interfaces"][0]["socketPath"], (dir / "vhost.sock").string());
  EXPECT_TRUE(fs::is_directory(dir));
  EXPECT_EQ(fs::status(dir).permissions() & fs::perms::all, fs::perms(0770));
  // Without a device plugin mount the pod sees the host path.
  EXPECT_EQ(readJson(dir / "ena-dpdk.json")["socketPath"], (dir / "vhost.sock").string());
  EXPECT_FALSE(readJson(dir / "ena-dpdk.json").contains("deviceID"));

  ASSERT_EQ(env_.run("DEL", conf).exitCode, 0);
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_TRUE(env_.dataplane()->ports().empty());
}

TEST_F(PluginTest, PerAttachmentDirectoryGetsTheSlotGroup) {
  ASSERT_EQ(::geteuid(), 0u) << "needs root to give directories a group: run the tests as root";
  constexpr gid_t kGroup = 1500;
  json conf = env_.config("1.1.0", {{"network", "local"}, {"slotGroup", kGroup}});
  testing::RunOutput out = env_.run("ADD", conf);
  ASSERT_EQ(out.exitCode, 0) << out.text;
  const fs::path dir = env_.slotDir() / perAttachmentDirName("c0ffee01", "net1");
  struct stat st {};
  ASSERT_EQ(::lstat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, kGroup);
  EXPECT_EQ(st.st_mode & 07777, 02770u);
  // Files made inside inherit the group (setgid); the pod's app still reads ena-dpdk.json.
  ASSERT_EQ(::stat((dir / "ena-dpdk.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, kGroup);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  ASSERT_EQ(env_.run("DEL", conf).exitCode, 0);
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(PluginTest, PerAttachmentDirectoryThatIsASymlinkIsRefused) {
  const fs::path target = env_.root() / "elsewhere";
  fs::create_directories(target);
  fs::create_directories(env_.slotDir());
  fs::create_symlink(target, env_.slotDir() / perAttachmentDirName("c0ffee01", "net1"));
  testing::RunOutput out = env_.run("ADD", env_.config("1.1.0", {{"network", "local"}}));
  EXPECT_NE(out.exitCode, 0);
  EXPECT_NE(out.json["msg"].get<std::string>().find("is a symbolic link"), std::string::npos)
      << out.text;
  EXPECT_TRUE(fs::is_empty(target));
  EXPECT_TRUE(env_.dataplane()->ports().empty());
}

// A runtime that is not Kubernetes passes no pod: the port is added with an unknown one.
TEST_F(PluginTest, AddWithoutKubernetesArgsLeavesThePodUnknown) {
  testing::RunOutput out = env_.run("ADD", vhostConfig(), {{"CNI_ARGS", "IgnoreUnknown=1"}});
  ASSERT_EQ(out.exitCode, 0) << out.text;
  const auto port = env_.dataplane()->ports().at(kPortId);
  EXPECT_EQ(port.pod_namespace(), "");
  EXPECT_EQ(port.pod_name(), "");
}

TEST_F(PluginTest, ClientModeAsksForSocketPermissionsAndQueues) {
  json conf = vhostConfig();
  conf["vhost"] = {{"mode", "client"}, {"queues", 4}, {"owner", "1000:1000"}, {"perm", "0660"}};
  conf["mtu"] = 1500;
  testing::RunOutput out = env_.run("ADD", conf);
  ASSERT_EQ(out.exitCode, 0) << out.text;
  const auto port = env_.dataplane()->ports().at(kPortId);
  EXPECT_EQ(port.vhost_mode(), dataplane::v1::VHOST_MODE_CLIENT);
  EXPECT_EQ(port.queues(), 4u);
  EXPECT_EQ(port.mtu(), 1500u);
  EXPECT_EQ(port.socket_permissions().owner(), "1000:1000");
  EXPECT_EQ(port.socket_permissions().mode(), "0660");
  EXPECT_EQ(readJson(slot() / "ena-dpdk.json")["vhostMode"], "client");
  EXPECT_EQ(readJson(infoFile())["vhost-user"]["mode"], "client");
}

TEST_F(PluginTest, ChainingExtendsPrevResult) {
  json conf = vhostConfig();
  conf["prevResult"] = json::parse(R"({"cniVersion": "1.0.0",
    "interfaces": [{"name": "eth0", "sandbox": "/var/run/netns/pod1"}],
    "ips": [{"address": "192.168.0.5/24", "interface": 0}],
    "dns": {"nameservers": ["192.168.0.1"]}})");
  testing::RunOutput out = env_.run("ADD", conf);
  ASSERT_EQ(out.exitCode, 0) << out.text;
  ASSERT_EQ(out.json["interfaces"].size(), 2u);
  EXPECT_EQ(out.json["interfaces"][0]["name"], "eth0");
  EXPECT_EQ(out.json["interfaces"][1]["name"], "net1");
  ASSERT_EQ(out.json["ips"].size(), 2u);
  EXPECT_EQ(out.json["ips"][0]["address"], "192.168.0.5/24");
  EXPECT_EQ(out.json["ips"][1]["address"], "10.99.0.10/24");
  EXPECT_EQ(out.json["ips"][1]["interface"], 1);
  // The earlier plugin's DNS stays.
  EXPECT_EQ(out.json["dns"]["nameservers"][0], "192.168.0.1");
}

TEST_F(PluginTest, ConfigErrorsChangeNothing) {
  struct Case {
    std::string name;
    json extra;
    std::string message;
  };
  const std::string longDir = "/" + std::string(100, 'd');
  const Case cases[] = {
      {"network does not match device",
       {{"network", "eni2"}, {"runtimeConfig", {{"deviceID", "eni1-03"}}}},
       "does not match deviceID"},
      {"device ID is not an attachment",
       {{"runtimeConfig", {{"deviceID", "0000:00:06.0"}}}},
       "is not a dpdk.aws/ena attachment ID"},
      {"no network at all", {}, "network: missing"},
      {"unknown dataplane network", {{"network", "nope"}}, "is not a network of the dataplane"},
      {"slot of another node", {{"runtimeConfig", {{"deviceID", "eni1-42"}}}}, "slot directory"},
      {"socket path too long", {{"network", "local"}, {"slotDir", longDir}}, "longer than the 107"},
      {"pod socket path too long",
       {{"podSlotDir", longDir}, {"runtimeConfig", {{"deviceID", "eni1-03"}}}},
       "podSlotDir"},
      {"mtu out of range", {{"network", "local"}, {"mtu", 20}}, "mtu"},
      {"bad vhost mode", {{"network", "local"}, {"vhost", {{"mode", "both"}}}}, "vhost.mode"},
      {"too many queues", {{"network", "local"}, {"vhost", {{"queues", 9}}}}, "vhost.queues"},
      {"owner in server mode", {{"network", "local"}, {"vhost", {{"owner", "1:1"}}}}, "vhost"},
      {"bad mode", {{"mode", "tap"}}, "mode"},
      {"relative slotDir", {{"slotDir", "slots"}}, "slotDir"},
      {"bad mac", {{"network", "local"}, {"mac", "02:00"}}, "mac"},
      {"ipam without type", {{"network", "local"}, {"ipam", json::object()}}, "ipam.type"},
      {"ipam type with a path", {{"network", "local"}, {"ipam", {{"type", "../x"}}}}, "ipam.type"},
      {"unknown ipam plugin",
       {{"network", "local"}, {"ipam", {{"type", "nope"}}}},
       "not found in CNI_PATH"},
      {"name missing", {{"network", "local"}, {"name", nullptr}}, "name"},
      {"cniVersion missing", {{"network", "local"}, {"cniVersion", nullptr}}, "cniVersion"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    testing::RunOutput out = env_.run("ADD", env_.config("1.0.0", c.extra));
    EXPECT_EQ(out.exitCode, 1);
    EXPECT_EQ(out.json["code"], 7) << out.text;
    EXPECT_NE(out.json["msg"].get<std::string>().find(c.message), std::string::npos) << out.text;
    EXPECT_TRUE(env_.ipam().calls().empty());
    EXPECT_TRUE(env_.dataplane()->ports().empty());
    EXPECT_FALSE(fs::exists(env_.stateDir() / "attachments" / "c0ffee01%2Fnet1.json"));
  }
}

TEST_F(PluginTest, UnknownKeysAreIgnored) {
  json conf = vhostConfig();
  conf["capabilities"] = {{"deviceID", true}};
  conf["someFutureKey"] = {{"nested", 1}};
  conf["vhost"] = {{"mode", "server"}, {"futureVhostKey", true}};
  conf["runtimeConfig"]["portMappings"] = json::array();
  EXPECT_EQ(env_.run("ADD", conf).exitCode, 0);
}

TEST_F(PluginTest, VersionAndDecodeErrors) {
  testing::RunOutput out = env_.run("ADD", vhostConfig("0.2.0"));
  EXPECT_EQ(out.json["code"], 1);
  EXPECT_NE(out.text.find("supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0"), std::string::npos);

  json conf = vhostConfig();
  conf["prevResult"] = {{"ips", {{{"address", "not-an-ip"}}}}};
  out = env_.run("ADD", conf);
  EXPECT_EQ(out.json["code"], 6) << out.text;
  EXPECT_NE(out.text.find("prevResult.ips[0].address"), std::string::npos);

  std::ostringstream stdout_;
  PluginEnvironment environment{.env = env_.env("ADD")};
  std::ostringstream stderr_;
  EXPECT_EQ(dispatchCommand("ena-dpdk-cni", "ADD", "{not json", commandHandlers(environment),
                            stdout_, stderr_),
            1);
  EXPECT_EQ(json::parse(stdout_.str())["code"], 6);

  out = env_.run("CHECK", vhostConfig("0.3.1"));
  EXPECT_EQ(out.json["code"], 1);
  for (const char* command : {"GC", "STATUS"}) {
    out = env_.run(command, vhostConfig("1.0.0"));
    EXPECT_EQ(out.json["code"], 1) << command;
    EXPECT_EQ(out.json["cniVersion"], "1.0.0");
  }
}

TEST_F(PluginTest, EnvironmentErrorsAreCode4) {
  struct Case {
    std::string name;
    std::string command;
    std::map<std::string, std::string> env;
    std::string message;
  };
  const Case cases[] = {
      {"no container id", "ADD", {{"CNI_CONTAINERID", "<unset>"}}, "CNI_CONTAINERID"},
      {"container id with slash", "ADD", {{"CNI_CONTAINERID", "a/b"}}, "CNI_CONTAINERID"},
      {"container id with dots", "DEL", {{"CNI_CONTAINERID", ".."}}, "CNI_CONTAINERID"},
      {"no ifname", "DEL", {{"CNI_IFNAME", "<unset>"}}, "CNI_IFNAME"},
      {"ifname too long", "ADD", {{"CNI_IFNAME", "abcdefghijklmnop"}}, "CNI_IFNAME"},
      {"ifname with slash", "ADD", {{"CNI_IFNAME", "a/b"}}, "CNI_IFNAME"},
      {"ifname dotdot", "CHECK", {{"CNI_IFNAME", ".."}}, "CNI_IFNAME"},
      {"no netns on ADD", "ADD", {{"CNI_NETNS", "<unset>"}}, "CNI_NETNS"},
      {"relative netns", "ADD", {{"CNI_NETNS", "netns/x"}}, "CNI_NETNS"},
      {"malformed CNI_ARGS", "ADD", {{"CNI_ARGS", "K8S_POD_NAME"}}, "CNI_ARGS"},
      {"duplicate CNI_ARGS key", "DEL", {{"CNI_ARGS", "A=1;A=2"}}, "CNI_ARGS"},
      {"no CNI_PATH with IPAM", "ADD", {{"CNI_PATH", "<unset>"}}, "CNI_PATH"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    testing::RunOutput out = env_.run(vhostConfig(), env_.env(c.command, c.env));
    EXPECT_EQ(out.exitCode, 1);
    EXPECT_EQ(out.json["code"], 4) << out.text;
    EXPECT_NE(out.json["msg"].get<std::string>().find(c.message), std::string::npos) << out.text;
  }
  EXPECT_TRUE(env_.ipam().calls().empty());
  EXPECT_TRUE(env_.dataplane()->calls().empty());
  // DEL needs no netns.
  EXPECT_EQ(env_.run(vhostConfig(), env_.env("DEL", {{"CNI_NETNS", "<unset>"}})).exitCode, 0);
}

TEST_F(PluginTest, DataplaneDownOnAddIsTryAgainLater) {
  env_.stopDataplane();
  testing::RunOutput out = env_.run("ADD", vhostConfig());
  EXPECT_EQ(out.json["code"], 11) << out.text;
  EXPECT_NE(out.text.find("unreachable"), std::string::npos);
  EXPECT_TRUE(env_.ipam().calls().empty());
  EXPECT_FALSE(fs::exists(env_.stateDir() / "attachments" / "c0ffee01%2Fnet1.json"));
}

// Each failing step undoes everything before it; the error has the step's code.
struct RollbackCase {
  const char* name;
  void (*breakIt)(CniTestEnv& env, const fs::path& slot);
  int code;
  std::vector<std::string> ipamCalls;
  // The AddPort may have reached the dataplane: the port stays recorded as in doubt.
  bool inDoubt = false;
};

class RollbackTest : public PluginTest, public ::testing::WithParamInterface<RollbackCase> {};

TEST_P(RollbackTest, FailureAtEachStepUndoesTheEarlierOnes) {
  const RollbackCase& c = GetParam();
  c.breakIt(env_, slot());
  testing::RunOutput out = env_.run("ADD", vhostConfig());
  EXPECT_EQ(out.exitCode, 1);
  EXPECT_EQ(out.json["code"], c.code) << out.text;
  EXPECT_EQ(env_.ipam().calls(), c.ipamCalls);
  EXPECT_TRUE(env_.dataplane()->ports().empty());
  EXPECT_TRUE(env_.ipam().leases().empty());
  EXPECT_FALSE(fs::is_regular_file(infoFile()));
  EXPECT_FALSE(fs::is_regular_file(slot() / "ena-dpdk.json"));
  EXPECT_FALSE(fs::exists(env_.stateDir() / "attachments" / "c0ffee01%2Fnet1.json"));
  auto pending = listPendingPortDeletes(env_.stateDir());
  if (c.inDoubt) {
    ASSERT_TRUE(pending.ok());
    ASSERT_EQ(pending->size(), 1u);
    EXPECT_EQ((*pending)[0].portId, kPortId);
    EXPECT_EQ((*pending)[0].uid.size(), 32u);
  } else {
    EXPECT_TRUE(!pending.ok() || pending->empty());
  }
}

grpc::Status grpcError(grpc::StatusCode code) { return grpc::Status(code, "injected"); }
const std::vector<std::string> kAddThenDel = {"ADD c0ffee01 net1", "DEL c0ffee01 net1"};

INSTANTIATE_TEST_SUITE_P(
    Steps, RollbackTest,
    ::testing::Values(
        RollbackCase{"IpamAddFails",
                     [](CniTestEnv& e, const fs::path&) { e.ipam().failWith("ADD", 11, "busy"); },
                     11,
                     {"ADD c0ffee01 net1"}},
        RollbackCase{"IpamAddCrashes",
                     [](CniTestEnv& e, const fs::path&) { e.ipam().crash("ADD"); },
                     104,
                     {"ADD c0ffee01 net1"}},
        RollbackCase{"AddPortUnavailable",
                     [](CniTestEnv& e, const fs::path&) {
                       e.dataplane()->fail("AddPort", grpcError(grpc::StatusCode::UNAVAILABLE));
                     },
                     11, kAddThenDel, /*inDoubt=*/true},
        RollbackCase{"AddPortTimesOut",
                     [](CniTestEnv& e, const fs::path&) {
                       e.dataplane()->fail("AddPort",
                                           grpcError(grpc::StatusCode::DEADLINE_EXCEEDED));
                     },
                     11, kAddThenDel, /*inDoubt=*/true},
        RollbackCase{"AddPortExhausted",
                     [](CniTestEnv& e, const fs::path&) {
                       e.dataplane()->fail("AddPort",
                                           grpcError(grpc::StatusCode::RESOURCE_EXHAUSTED));
                     },
                     11, kAddThenDel},
        RollbackCase{"AddPortInvalid",
                     [](CniTestEnv& e, const fs::path&) {
                       e.dataplane()->fail("AddPort",
                                           grpcError(grpc::StatusCode::INVALID_ARGUMENT));
                     },
                     7, kAddThenDel},
        RollbackCase{"AddPortConflict",
                     [](CniTestEnv& e, const fs::path&) {
                       e.dataplane()->fail("AddPort", grpcError(grpc::StatusCode::ALREADY_EXISTS));
                     },
                     101, kAddThenDel},
        RollbackCase{"PodFileUnwritable",
                     [](CniTestEnv&, const fs::path& slot) {
                       fs::create_directories(slot / "ena-dpdk.json" / "x");
                     },
                     5, kAddThenDel},
        RollbackCase{"DeviceInfoUnwritable",
                     [](CniTestEnv& e, const fs::path&) {
                       std::ofstream(e.devinfoDir()) << "a file where a directory must be";
                     },
                     5, kAddThenDel},
        RollbackCase{"StateDirUnwritable",
                     [](CniTestEnv& e, const fs::path&) {
                       std::ofstream(e.stateDir()) << "a file where a directory must be";
                     },
                     5,
                     {}}),
    [](const ::testing::TestParamInfo<RollbackCase>& p) { return std::string(p.param.name); });

TEST_F(PluginTest, RollbackRecordsThePortWhenTheDataplaneGoesAwayMidway) {
  // The port is created, then the file write fails and DeletePort fails too: the port must be
  // recorded as a pending delete rather than forgotten.
  fs::create_directories(slot() / "ena-dpdk.json" / "x");
  env_.dataplane()->fail("DeletePort", grpc::Status(grpc::StatusCode::UNAVAILABLE, "gone"));
  testing::RunOutput out = env_.run("ADD", vhostConfig());
  EXPECT_EQ(out.json["code"], 5) << out.text;
  auto pending = listPendingPortDeletes(env_.stateDir());
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].portId, kPortId);
  EXPECT_EQ((*pending)[0].dataplaneSocket, env_.socket().string());
}

// Issue 20 item 1: the dataplane created the port, but its answer came after the deadline.
TEST_F(PluginTest, PortCreatedAfterTheDeadlineIsDeletedByItsUid) {
  env_.dataplane()->failAfterApplying("AddPort", grpcError(grpc::StatusCode::DEADLINE_EXCEEDED));
  testing::RunOutput out = env_.run("ADD", vhostConfig());
  EXPECT_EQ(out.json["code"], 11) << out.text;
  expectNothingLeft();
  EXPECT_TRUE(listPendingPortDeletes(env_.stateDir())->empty());
  // The retry of the same attachment works.
  env_.dataplane()->clearFailures();
  out = env_.run("ADD", vhostConfig());
  EXPECT_EQ(out.exitCode, 0) << out.text;
  EXPECT_EQ(env_.dataplane()->ports().size(), 1u);
}

// Issue 20 item 1: the port of a timed-out ADD appears only after its ADD gave up (and released
// its address). The next pod that gets the address finishes the in-doubt record and succeeds;
// a later incarnation of the same id is never touched by the old record.
TEST_F(PluginTest, PortInDoubtDoesNotPoisonTheNextAdd) {
  env_.dataplane()->fail("AddPort", grpcError(grpc::StatusCode::DEADLINE_EXCEEDED));
  ASSERT_EQ(env_.run("ADD", vhostConfig()).json["code"], 11);
  env_.dataplane()->clearFailures();
  auto pending = listPendingPortDeletes(env_.stateDir());
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  const std::string uid = (*pending)[0].uid;
  // The late port, with the address the next ADD will be given.
  dataplane::v1::Port late;
  late.set_id(kPortId);
  late.set_uid(uid);
  late.set_network("eni1");
  late.set_vhost_mode(dataplane::v1::VHOST_MODE_SERVER);
  late.set_socket_path((slot() / "vhost.sock").string());
  late.add_ips("10.99.0.11/24");  // what the fake IPAM hands out next
  env_.dataplane()->putPort(late);

  json other = env_.config("1.0.0", multus("eni1-02"));
  testing::RunOutput out = env_.run("ADD", other, {{"CNI_CONTAINERID", "beef02"}});
  ASSERT_EQ(out.exitCode, 0) << out.text;
  auto ports = env_.dataplane()->ports();
  EXPECT_EQ(ports.count(kPortId), 0u);
  ASSERT_EQ(ports.count("beef02/net1"), 1u);
  EXPECT_EQ(ports.at("beef02/net1").ips(0), "10.99.0.11/24");
  EXPECT_TRUE(listPendingPortDeletes(env_.stateDir())->empty());

  // An old record never deletes a newer incarnation of its id.
  ASSERT_EQ(env_.run("ADD", vhostConfig()).exitCode, 0);
  ASSERT_TRUE(recordPendingPortDelete(
                  env_.stateDir(),
                  {.portId = kPortId, .dataplaneSocket = env_.socket().string(), .uid = uid})
                  .ok());
  ASSERT_EQ(env_.run("ADD", vhostConfig()).exitCode, 0);  // a repeated ADD finishes own records
  EXPECT_EQ(env_.dataplane()->ports().count(kPortId), 1u);
  EXPECT_TRUE(listPendingPortDeletes(env_.stateDir())->empty());
}

TEST_F(PluginTest, DelUndoesEverythingAndIsIdempotent) {
  ASSERT_EQ(env_.run("ADD", vhostConfig()).exitCode, 0);
  ASSERT_TRUE(env_.dataplane()->ports().count(kPortId));
  testing::RunOutput out = env_.run("DEL", vhostConfig());
  EXPECT_EQ(out.exitCode, 0) << out.text;
  EXPECT_EQ(out.text, "");
  expectNothingLeft();
  EXPECT_TRUE(fs::is_directory(slot()));  // the device plugin's slot stays
  // Again, and with an empty prevResult, and without the slot directory.
  EXPECT_EQ(env_.run("DEL", vhostConfig()).exitCode, 0);
  json conf = vhostConfig();
  conf["prevResult"] = {{"cniVersion", "1.0.0"}};
  EXPECT_EQ(env_.run("DEL", conf).exitCode, 0);
  fs::remove_all(slot());
  EXPECT_EQ(env_.run("DEL", vhostConfig()).exitCode, 0);
  EXPECT_TRUE(listPendingPortDeletes(env_.stateDir())->empty());
}

TEST_F(PluginTest, DelWithoutDeviceIdFindsTheSlotFromTheRecord) {
  ASSERT_EQ(env_.run("ADD", vhostConfig()).exitCode, 0);
  // The runtime's DEL config has no runtimeConfig (e.g. a runtime that lost it).
  testing::RunOutput out = env_.run("DEL", env_.config("1.0.0"));
  EXPECT_EQ(out.exitCode, 0) << out.text;
  EXPECT_TRUE(env_.dataplane()->ports().empty());
  EXPECT_FALSE(fs::exists(slot() / "ena-dpdk.json"));
  EXPECT_FALSE(fs::exists(infoFile()));  // the record remembered the device-info file
  EXPECT_EQ(env_.ipam().lastInput("DEL")["ipam"]["network"], "eni1");
}

TEST_F(PluginTest, DelLeavesASlotReusedByAnotherPodAlone) {
  ASSERT_EQ(env_.run("ADD", vhostConfig()).exitCode, 0);
  // The attachment record is lost and the slot now belongs to a newer pod.
  fs::remove_all(env_.stateDir() / "attachments");
  const std::string newer = R"({"containerID": "newer", "ifname": "net1"})";
  ASSERT_TRUE(common::writeFileAtomic(slot() / "ena-dpdk.json", newer).ok());
  EXPECT_EQ(env_.run("DEL", vhostConfig()).exitCode, 0);
  EXPECT_EQ(*common::readFile(slot() / "ena-dpdk.json"), newer);
}

TEST_F(PluginTest, DelRemovesAStaleServerSocket) {
  ASSERT_EQ(env_.run("ADD", vhostConfig()).exitCode, 0);
  // The pod's app created the socket (server mode) and died.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = (slot() / "vhost.sock").string();
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);
  EXPECT_EQ(env_.run("DEL", vhostConfig()).exitCode, 0);
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(PluginTest, DelWithDataplaneDownRecordsThePortAndTheAddItBlocksFinishesIt) {
  ASSERT_EQ(env_.run("ADD", vhostConfig()).exitCode, 0);
  const auto port = env_.dataplane()->ports().at(kPortId);
  env_.stopDataplane();
  testing::RunOutput out = env_.run("DEL", vhostConfig());
  EXPECT_EQ(out.exitCode, 0) << out.text;
  // Everything local is gone; the port is recorded.
  EXPECT_FALSE(fs::exists(slot() / "ena-dpdk.json"));
  EXPECT_TRUE(env_.ipam().leases().empty());
  auto pending = listPendingPortDeletes(env_.stateDir());
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].portId, kPortId);
  EXPECT_EQ((*pending)[0].network, "eni1");
  // DEL again while still down: still fine.
  EXPECT_EQ(env_.run("DEL", vhostConfig()).exitCode, 0);

  // The dataplane comes back with the port restored from its state file (the real one finishes
  // the record itself as it starts; this fake does not), holding the address the next pod gets:
  // that ADD finishes the pending delete in its way and succeeds.
  env_.startDataplane();
  auto restored = port;
  restored.set_ips(0, "10.99.0.11/24");
  env_.dataplane()->putPort(restored);
  json other = env_.config("1.0.0", multus("eni1-02"));
  ASSERT_EQ(env_.run("ADD", other, {{"CNI_CONTAINERID", "beef02"}}).exitCode, 0);
  auto ports = env_.dataplane()->ports();
  EXPECT_EQ(ports.count(kPortId), 0u);
  EXPECT_EQ(ports.count("beef02/net1"), 1u);
  EXPECT_TRUE(listPendingPortDeletes(env_.stateDir())->empty());
}

TEST_F(PluginTest, CheckVerifiesPortSocketAndAddresses) {
  testing::RunOutput added = env_.run("ADD", vhostConfig("1.1.0"));
  ASSERT_EQ(added.exitCode, 0) << added.text;
  json conf = vhostConfig("1.1.0");
  conf["prevResult"] = added.json;
  testing::RunOutput out = env_.run("CHECK", conf);
  EXPECT_EQ(out.exitCode, 0) << out.text;
  EXPECT_EQ(env_.ipam().calls().back(), "CHECK c0ffee01 net1");

  // prevResult names another address.
  json wrongIp = conf;
  wrongIp["prevResult"]["ips"][0]["address"] = "10.99.0.99/24";
  out = env_.run("CHECK", wrongIp);
  EXPECT_EQ(out.json["code"], 103) << out.text;
  EXPECT_NE(out.text.find("10.99.0.99/24"), std::string::npos);
  // prevResult without our interface.
  json noIface = conf;
  noIface["prevResult"]["interfaces"][0]["name"] = "eth9";
  EXPECT_EQ(env_.run("CHECK", noIface).json["code"], 103);
  // The port has moved to another socket.
  auto port = env_.dataplane()->ports().at(kPortId);
  port.set_socket_path((env_.slotDir() / "eni1-00" / "vhost.sock").string());
  env_.dataplane()->putPort(port);
  out = env_.run("CHECK", conf);
  EXPECT_EQ(out.json["code"], 103);
  EXPECT_NE(out.text.find("uses socket"), std::string::npos);
  // The dataplane is down, then back without the port.
  env_.stopDataplane();
  EXPECT_EQ(env_.run("CHECK", conf).json["code"], 11);
  env_.startDataplane();
  out = env_.run("CHECK", conf);
  EXPECT_EQ(out.json["code"], 103);
  EXPECT_NE(out.text.find("has no port"), std::string::npos);
  // No prevResult.
  EXPECT_EQ(env_.run("CHECK", vhostConfig("1.1.0")).json["code"], 7);
}

TEST_F(PluginTest, StatusReportsDataplaneAvailability) {
  EXPECT_EQ(env_.run("STATUS", vhostConfig("1.1.0"), {{"CNI_CONTAINERID", "<unset>"}}).exitCode, 0);
  env_.dataplane()->setServing(false);
  testing::RunOutput out = env_.run("STATUS", vhostConfig("1.1.0"));
  EXPECT_EQ(out.json["code"], 50) << out.text;
  env_.stopDataplane();
  out = env_.run("STATUS", vhostConfig("1.1.0"));
  EXPECT_EQ(out.json["code"], 50) << out.text;
  // The IPAM plugin's STATUS error is passed on.
  env_.startDataplane();
  env_.ipam().failWith("STATUS", 51, "no addresses");
  out = env_.run("STATUS", vhostConfig("1.1.0"));
  EXPECT_EQ(out.json["code"], 51) << out.text;
}

// A dataplane that reports a network mode the plugin cannot read (unspecified, or a newer
// dataplane's) is not guessed at: ADD fails with CNI error JSON naming the network and the value,
// before it creates anything; STATUS says the dataplane is not usable.
TEST_F(PluginTest, AddRefusesANetworkModeItCannotRead) {
  for (int wire : {0, 7}) {
    SCOPED_TRACE(wire);
    env_.dataplane()->setNetworks(
        {{.name = "eni1", .vpc = true, .mtu = 9001, .wireMode = wire}, {.name = "local"}});
    env_.dataplane()->clearCalls();
    const std::vector<std::string> before = env_.files();
    testing::RunOutput out = env_.run("ADD", vhostConfig());
    EXPECT_EQ(out.exitCode, 1);
    EXPECT_EQ(out.json["code"], 101) << out.text;
    EXPECT_EQ(out.json["msg"],
              std::string("cannot read the dataplane's networks: UNKNOWN: ListNetworks: network "
                          "\"eni1\": unknown mode ") +
                  (wire == 0 ? "NETWORK_MODE_UNSPECIFIED" : "7") +
                  " from the dataplane (this client knows: vpc, l2)")
        << out.text;
    EXPECT_EQ(env_.dataplane()->callCount("AddPort"), 0u);
    for (const std::string& call : env_.ipam().calls()) {
      EXPECT_NE(call.rfind("ADD", 0), 0u) << "the IPAM plugin was asked: " << call;
    }
    EXPECT_EQ(env_.files(), before);
    expectNothingLeft();

    out = env_.run("STATUS", vhostConfig("1.1.0"));
    EXPECT_EQ(out.json["code"], 50) << out.text;
    EXPECT_NE(out.text.find("unknown mode"), std::string::npos) << out.text;
  }
  // The same network readable again: ADD works.
  env_.dataplane()->setNetworks({{.name = "eni1", .vpc = true, .mtu = 9001}, {.name = "local"}});
  EXPECT_EQ(env_.run("ADD", vhostConfig()).exitCode, 0);
}

TEST_F(PluginTest, GcRemovesWhatIsNotValid) {
  // Three attachments of this network, one port left without a record, one of another network.
  for (const auto& [cid, slotName] : std::vector<std::pair<std::string, std::string>>{
           {"aaa", "eni1-00"}, {"bbb", "eni1-01"}, {"ccc", "eni1-02"}}) {
    ASSERT_EQ(env_.run("ADD", env_.config("1.1.0", multus(slotName)), {{"CNI_CONTAINERID", cid}})
                  .exitCode,
              0);
  }
  json otherNet = env_.config("1.1.0", {{"name", "other-net"}, {"network", "local"}});
  ASSERT_EQ(env_.run("ADD", otherNet, {{"CNI_CONTAINERID", "ddd"}}).exitCode, 0);
  dataplane::v1::Port orphan;
  orphan.set_id("eee/net1");
  orphan.set_network("local");
  orphan.set_vhost_mode(dataplane::v1::VHOST_MODE_SERVER);
  orphan.set_socket_path(
      (env_.slotDir() / perAttachmentDirName("eee", "net1") / "vhost.sock").string());
  env_.dataplane()->putPort(orphan);
  dataplane::v1::Port foreign;  // not made by the CNI: id without a '/'
  foreign.set_id("operator-port");
  foreign.set_network("local");
  foreign.set_vhost_mode(dataplane::v1::VHOST_MODE_SERVER);
  foreign.set_socket_path((env_.slotDir() / "x.sock").string());
  env_.dataplane()->putPort(foreign);
  // A pending delete of an attachment that is gone.
  ASSERT_TRUE(recordPendingPortDelete(env_.stateDir(), {.portId = "fff/net1",
                                                        .containerId = "fff",
                                                        .ifname = "net1",
                                                        .dataplaneSocket = env_.socket().string()})
                  .ok());

  json gc = env_.config("1.1.0");
  gc["cni.dev/valid-attachments"] = {{{"containerID", "aaa"}, {"ifname", "net1"}}};
  testing::RunOutput out = env_.run(
      "GC", gc,
      {{"CNI_CONTAINERID", "<unset>"}, {"CNI_IFNAME", "<unset>"}, {"CNI_NETNS", "<unset>"}});
  EXPECT_EQ(out.exitCode, 0) << out.text;

  auto ports = env_.dataplane()->ports();
  std::vector<std::string> ids;
  for (const auto& [id, port] : ports) ids.push_back(id);
  EXPECT_EQ(ids, (std::vector<std::string>{"aaa/net1", "ddd/net1", "operator-port"}));
  EXPECT_TRUE(fs::exists(env_.slotDir() / "eni1-00" / "ena-dpdk.json"));
  EXPECT_FALSE(fs::exists(env_.slotDir() / "eni1-01" / "ena-dpdk.json"));
  EXPECT_FALSE(fs::exists(env_.slotDir() / "eni1-02" / "ena-dpdk.json"));
  EXPECT_TRUE(listPendingPortDeletes(env_.stateDir())->empty());
  // The IPAM plugin was asked to collect with the same valid list.
  EXPECT_EQ(env_.ipam().lastInput("GC")["cni.dev/valid-attachments"],
            gc["cni.dev/valid-attachments"]);
  EXPECT_EQ(env_.ipam().leases(), (std::vector<std::string>{"aaa:net1"}));

  // The spec's key name works too; a GC without either key is refused.
  json gc2 = env_.config("1.1.0", {{"name", "other-net"}, {"network", "local"}});
  gc2["cni.dev/attachments"] = json::array();
  EXPECT_EQ(env_.run("GC", gc2).exitCode, 0);
  EXPECT_EQ(env_.dataplane()->ports().count("ddd/net1"), 0u);
  EXPECT_EQ(env_.run("GC", env_.config("1.1.0")).json["code"], 7);
}

TEST_F(PluginTest, GcWithDataplaneDownRecordsPorts) {
  ASSERT_EQ(env_.run("ADD", env_.config("1.1.0", multus("eni1-03"))).exitCode, 0);
  env_.stopDataplane();
  json gc = env_.config("1.1.0");
  gc["cni.dev/valid-attachments"] = json::array();
  EXPECT_EQ(env_.run("GC", gc).exitCode, 0);
  auto pending = listPendingPortDeletes(env_.stateDir());
  ASSERT_EQ(pending->size(), 1u);
  env_.startDataplane();
  dataplane::v1::Port port;
  port.set_id(kPortId);
  port.set_network("eni1");
  port.set_vhost_mode(dataplane::v1::VHOST_MODE_SERVER);
  env_.dataplane()->putPort(port);
  EXPECT_EQ(env_.run("GC", gc).exitCode, 0);
  EXPECT_TRUE(env_.dataplane()->ports().empty());
  EXPECT_TRUE(listPendingPortDeletes(env_.stateDir())->empty());
}

class PciPluginTest : public PluginTest {
 protected:
  json pciConfig(const std::string& deviceId, const std::string& version = "1.1.0") {
    return env_.config(
        version,
        {{"mode", "pci"},
         {"hostRoot", host_.root().string()},
         {"dataplaneSocket", "/nonexistent/dp.sock"},
         {"runtimeConfig", {{"deviceID", deviceId}, {"CNIDeviceInfoFile", infoFile().string()}}}});
  }
  testing::FakeHost host_;
};

TEST_F(PciPluginTest, AddsADedicatedDevice) {
  host_.addPciDevice({.address = "0000:00:06.0", .driver = "vfio-pci", .iommu_group = 3});
  testing::RunOutput out = env_.run("ADD", pciConfig("0000:00:06.0"));
  ASSERT_EQ(out.exitCode, 0) << out.text;
  EXPECT_EQ(out.json["interfaces"][0],
            json::parse(
                R"({"name": "net1", "sandbox": "/var/run/netns/pod1", "pciID": "0000:00:06.0"})"));
  EXPECT_EQ(out.json["ips"][0]["address"], "10.99.0.10/24");
  EXPECT_EQ(readJson(infoFile()), json::parse(R"({"type": "pci", "version": "1.1.0",
    "pci": {"pci-address": "0000:00:06.0"}})"));
  // 1.0.0 has no pciID; the short address form is accepted.
  out = env_.run("ADD", pciConfig("00:06.0", "1.0.0"));
  ASSERT_EQ(out.exitCode, 0) << out.text;
  EXPECT_FALSE(out.json["interfaces"][0].contains("pciID"));

  json check = pciConfig("0000:00:06.0");
  check["prevResult"] = env_.run("ADD", pciConfig("0000:00:06.0")).json;
  EXPECT_EQ(env_.run("CHECK", check).exitCode, 0);
  host_.setDriver("0000:00:06.0", "ena");
  EXPECT_EQ(env_.run("CHECK", check).json["code"], 102);

  EXPECT_EQ(env_.run("DEL", pciConfig("0000:00:06.0")).exitCode, 0);
  EXPECT_FALSE(fs::exists(infoFile()));
  EXPECT_TRUE(env_.ipam().leases().empty());
}

TEST_F(PciPluginTest, RefusesUnusableDevices) {
  host_.addPciDevice({.address = "0000:00:05.0", .driver = "ena", .netdev = "eth0"});
  host_.addPciDevice({.address = "0000:00:07.0"});
  host_.addPciDevice({.address = "0000:00:08.0", .driver = "igb_uio"});
  struct Case {
    std::string device;
    int code;
    std::string message;
  };
  for (const Case& c : {Case{"0000:00:05.0", 102, "bound to \"ena\""},
                        Case{"0000:00:07.0", 102, "bound to no driver"},
                        Case{"0000:00:09.0", 102, "does not exist"}, Case{"zz:06.0", 7, "deviceID"},
                        Case{"", 7, "needs a device ID"}}) {
    SCOPED_TRACE(c.device);
    testing::RunOutput out = env_.run("ADD", pciConfig(c.device));
    EXPECT_EQ(out.json["code"], c.code) << out.text;
    EXPECT_NE(out.json["msg"].get<std::string>().find(c.message), std::string::npos) << out.text;
    EXPECT_TRUE(env_.ipam().calls().empty());
  }
  EXPECT_EQ(env_.run("ADD", pciConfig("0000:00:08.0")).exitCode, 0);
}

TEST_F(PluginTest, IpamPluginCrashOrHangIsCode104) {
  ASSERT_EQ(env_.run("ADD", vhostConfig()).exitCode, 0);
  env_.ipam().crash("DEL");
  testing::RunOutput out = env_.run("DEL", vhostConfig());
  EXPECT_EQ(out.json["code"], 104) << out.text;
  EXPECT_NE(out.text.find("exited with status 2"), std::string::npos);
  env_.ipam().behave();
  env_.ipam().hang("DEL");
  out = env_.run(vhostConfig(), env_.env("DEL"), std::chrono::milliseconds(300));
  EXPECT_EQ(out.json["code"], 104) << out.text;
  EXPECT_NE(out.text.find("did not finish within 300ms"), std::string::npos);
  // A failed DEL is retried by the runtime and then succeeds.
  env_.ipam().behave();
  EXPECT_EQ(env_.run("DEL", vhostConfig()).exitCode, 0);
  expectNothingLeft();
}

}  // namespace
}  // namespace enadpdk::cni
