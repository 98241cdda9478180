#include "cni/netconf.h"

#include <gtest/gtest.h>

#include "cni/errors.h"

namespace enadpdk::cni {
namespace {

using nlohmann::json;

TEST(NetConfTest, DefaultsAndEveryKey) {
  absl::StatusOr<NetConf> minimal =
      parseNetConf(R"({"cniVersion": "1.0.0", "name": "n", "type": "ena-dpdk-cni"})");
  ASSERT_TRUE(minimal.ok()) << minimal.status();
  EXPECT_EQ(minimal->mode, AttachMode::VhostUser);
  EXPECT_EQ(minimal->dataplaneSocket, "/run/ena-dpdk/dataplane.sock");
  EXPECT_EQ(minimal->slotDir, "/var/run/ena-dpdk/vhost");
  EXPECT_EQ(minimal->podSlotDir, "/var/run/vhost-user");
  EXPECT_EQ(minimal->stateDir, "/var/lib/ena-dpdk/cni");
  EXPECT_EQ(minimal->hostRoot, "/");
  EXPECT_EQ(minimal->dataplaneTimeoutMs, kDefaultDataplaneTimeoutMs);
  EXPECT_EQ(minimal->vhost.queues, 1u);
  EXPECT_EQ(minimal->logLevel, "info");
  EXPECT_EQ(minimal->logFormat, common::LogFormat::Logfmt);
  EXPECT_EQ(minimal->logMaxBytes, 10u * 1024 * 1024);
  EXPECT_EQ(minimal->logMaxFiles, 3u);
  EXPECT_TRUE(minimal->ipamType.empty());
  EXPECT_FALSE(minimal->prevResult);
  EXPECT_FALSE(minimal->validAttachments);
  EXPECT_EQ(minimal->slotGroup, std::nullopt);

  absl::StatusOr<NetConf> full = parseNetConf(R"({
    "cniVersion": "1.1.0", "name": "n", "type": "ena-dpdk-cni", "mode": "pci", "network": "eni1",
    "vhost": {"mode": "client", "queues": 2, "owner": "1000:1000", "perm": "0660"},
    "mtu": 9001, "mac": "02:00:00:00:00:01", "deviceID": "eni1-01",
    "dataplaneSocket": "/run/x.sock", "dataplaneTimeoutMs": 500, "slotDir": "/s",
    "podSlotDir": "/p", "slotGroup": 1500, "stateDir": "/st", "hostRoot": "/h",
    "logFile": "/l.log", "logLevel": "debug", "logFormat": "json", "logMaxBytes": 0,
    "logMaxFiles": 7,
    "runtimeConfig": {"deviceID": "eni1-02", "CNIDeviceInfoFile": "/d.json", "mac": "02:00:00:00:00:02"},
    "ipam": {"type": "ena-dpdk-ipam", "network": "eni1"},
    "cni.dev/valid-attachments": [{"containerID": "a", "ifname": "net1"}],
    "prevResult": {"interfaces": [{"name": "eth0"}], "ips": [{"address": "10.0.0.2/24"}]}})");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->mode, AttachMode::Pci);
  EXPECT_EQ(full->vhost.mode, VhostMode::Client);
  EXPECT_EQ(full->vhost.queues, 2u);
  EXPECT_EQ(full->vhost.owner, "1000:1000");
  EXPECT_EQ(full->mtu, 9001u);
  EXPECT_EQ(full->effectiveDeviceId(), "eni1-02");
  EXPECT_EQ(full->deviceId, "eni1-01");
  EXPECT_EQ(full->effectiveMac(), "02:00:00:00:00:02");
  EXPECT_EQ(full->runtime.deviceInfoFile, "/d.json");
  EXPECT_EQ(full->dataplaneTimeoutMs, 500u);
  EXPECT_EQ(full->slotGroup, 1500u);
  EXPECT_EQ(full->logFormat, common::LogFormat::Json);
  EXPECT_EQ(full->logMaxBytes, 0u);
  EXPECT_EQ(full->logMaxFiles, 7u);
  EXPECT_EQ(full->ipamType, "ena-dpdk-ipam");
  ASSERT_TRUE(full->validAttachments);
  EXPECT_EQ(*full->validAttachments, (std::vector<AttachmentKey>{{"a", "net1"}}));
  ASSERT_TRUE(full->prevResult);
  // prevResult without its own version is read in the config's.
  EXPECT_EQ(full->prevResult->cniVersion, "1.1.0");
  EXPECT_EQ(full->prevResult->ips[0].address, "10.0.0.2/24");
  EXPECT_EQ(full->raw["ipam"]["network"], "eni1");
}

TEST(NetConfTest, PciBusIdIsADeviceIdFallback) {
  auto conf = parseNetConf(
      R"({"cniVersion": "1.0.0", "name": "n", "mode": "pci", "pciBusID": "0000:00:06.0"})");
  ASSERT_TRUE(conf.ok());
  EXPECT_EQ(conf->effectiveDeviceId(), "0000:00:06.0");
}

TEST(NetConfTest, SpecAttachmentsKeyIsAccepted) {
  auto conf = parseNetConf(R"({"cniVersion": "1.1.0", "name": "n",
    "cni.dev/attachments": [{"containerID": "a", "ifname": "net1"}, {"containerID": "b", "ifname": "net2"}]})");
  ASSERT_TRUE(conf.ok()) << conf.status();
  ASSERT_TRUE(conf->validAttachments);
  EXPECT_EQ(conf->validAttachments->size(), 2u);
}

TEST(NetConfTest, ErrorsCarryTheirCniCode) {
  struct Case {
    std::string text;
    CniError code;
    std::string message;
  };
  const Case cases[] = {
      {"[1, 2]", CniError::kDecodeFailure, "not a JSON object"},
      {"{", CniError::kDecodeFailure, "not a JSON object"},
      {R"({"name": "n"})", CniError::kInvalidConfig, "cniVersion: missing"},
      {R"({"cniVersion": 1, "name": "n"})", CniError::kInvalidConfig, "cniVersion"},
      {R"({"cniVersion": "0.2.0", "name": "n"})", CniError::kIncompatibleVersion,
       "cniVersion \"0.2.0\" is not supported"},
      {R"({"cniVersion": "2.0.0", "name": "n"})", CniError::kIncompatibleVersion, "2.0.0"},
      {R"({"cniVersion": "1.0.0"})", CniError::kInvalidConfig, "name: missing required key"},
      {R"({"cniVersion": "1.0.0", "name": ""})", CniError::kInvalidConfig, "name"},
      {R"({"cniVersion": "1.0.0", "name": "n", "network": "ENI_1"})", CniError::kInvalidConfig,
       "network"},
      {R"({"cniVersion": "1.0.0", "name": "n", "mtu": 10000})", CniError::kInvalidConfig, "mtu"},
      {R"({"cniVersion": "1.0.0", "name": "n", "mtu": "1500"})", CniError::kInvalidConfig, "mtu"},
      {R"({"cniVersion": "1.0.0", "name": "n", "dataplaneSocket": "rel.sock"})",
       CniError::kInvalidConfig, "dataplaneSocket"},
      {R"({"cniVersion": "1.0.0", "name": "n", "dataplaneSocket": "/)" + std::string(120, 'x') +
           R"("})",
       CniError::kInvalidConfig, "dataplaneSocket"},
      {R"({"cniVersion": "1.0.0", "name": "n", "dataplaneTimeoutMs": 0})", CniError::kInvalidConfig,
       "dataplaneTimeoutMs"},
      {R"({"cniVersion": "1.0.0", "name": "n", "logLevel": "loud"})", CniError::kInvalidConfig,
       "logLevel"},
      {R"({"cniVersion": "1.0.0", "name": "n", "logFile": "x.log"})", CniError::kInvalidConfig,
       "logFile"},
      {R"({"cniVersion": "1.0.0", "name": "n", "logFormat": "text"})", CniError::kInvalidConfig,
       "logFormat"},
      {R"({"cniVersion": "1.0.0", "name": "n", "logMaxBytes": -1})", CniError::kInvalidConfig,
       "logMaxBytes"},
      {R"({"cniVersion": "1.0.0", "name": "n", "logMaxFiles": 0})", CniError::kInvalidConfig,
       "logMaxFiles"},
      {R"({"cniVersion": "1.0.0", "name": "n", "logMaxFiles": 101})", CniError::kInvalidConfig,
       "logMaxFiles"},
      {R"({"cniVersion": "1.0.0", "name": "n", "vhost": {"perm": "999", "mode": "client"}})",
       CniError::kInvalidConfig, "vhost.perm"},
      {R"({"cniVersion": "1.0.0", "name": "n", "vhost": {"owner": "a:b:c", "mode": "client"}})",
       CniError::kInvalidConfig, "vhost.owner"},
      {R"({"cniVersion": "1.0.0", "name": "n", "vhost": []})", CniError::kInvalidConfig, "vhost"},
      {R"({"cniVersion": "1.0.0", "name": "n", "slotGroup": 0})", CniError::kInvalidConfig,
       "slotGroup: expected an integer between 1 and 2147483647, got 0"},
      {R"({"cniVersion": "1.0.0", "name": "n", "slotGroup": -1})", CniError::kInvalidConfig,
       "slotGroup: expected an integer between 1 and 2147483647, got -1"},
      {R"({"cniVersion": "1.0.0", "name": "n", "slotGroup": 2147483648})", CniError::kInvalidConfig,
       "slotGroup: expected an integer between 1 and 2147483647"},
      {R"({"cniVersion": "1.0.0", "name": "n", "slotGroup": "1500"})", CniError::kInvalidConfig,
       "slotGroup: expected an integer"},
      {R"({"cniVersion": "1.0.0", "name": "n", "slotGroup": 1.5})", CniError::kInvalidConfig,
       "slotGroup: expected an integer"},
      {R"({"cniVersion": "1.0.0", "name": "n", "runtimeConfig": {"CNIDeviceInfoFile": "rel"}})",
       CniError::kInvalidConfig, "runtimeConfig.CNIDeviceInfoFile"},
      {R"({"cniVersion": "1.0.0", "name": "n", "runtimeConfig": {"mac": "zz"}})",
       CniError::kInvalidConfig, "runtimeConfig.mac"},
      {R"({"cniVersion": "1.1.0", "name": "n", "cni.dev/valid-attachments": [{"containerID": "a"}]})",
       CniError::kInvalidConfig, "ifname: missing"},
      {R"({"cniVersion": "1.0.0", "name": "n", "prevResult": {"ips": [{"address": "1.2.3.4"}]}})",
       CniError::kDecodeFailure, "prevResult.ips[0].address"},
      {R"({"cniVersion": "1.0.0", "name": "n", "prevResult": {"cniVersion": "0.1.0"}})",
       CniError::kDecodeFailure, "prevResult.cniVersion"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<NetConf> conf = parseNetConf(c.text);
    ASSERT_FALSE(conf.ok());
    EXPECT_EQ(cniCodeOf(conf.status()), c.code) << conf.status();
    EXPECT_NE(conf.status().message().find(c.message), absl::string_view::npos) << conf.status();
  }
}

// The paths the node path policy checks, per mode, with their policy keys and fields.
TEST(NetConfTest, PolicedPathsFollowTheMode) {
  auto describe = [](const std::vector<PathUse>& uses) {
    std::vector<std::string> out;
    for (const PathUse& u : uses) out.push_back(u.key + " " + u.field + "=" + u.path);
    return out;
  };
  using V = std::vector<std::string>;
  absl::StatusOr<NetConf> minimal = parseNetConf(R"({"cniVersion": "1.0.0", "name": "n"})");
  ASSERT_TRUE(minimal.ok()) << minimal.status();
  EXPECT_EQ(describe(policedPaths(*minimal)),
            (V{"stateDir stateDir=/var/lib/ena-dpdk/cni",
               "dataplaneSocket dataplaneSocket=/run/ena-dpdk/dataplane.sock",
               "slotDir slotDir=/var/run/ena-dpdk/vhost"}));

  absl::StatusOr<NetConf> vhost = parseNetConf(R"({"cniVersion": "1.0.0", "name": "n",
    "logFile": "/l.log", "stateDir": "/st", "dataplaneSocket": "/d.sock", "slotDir": "/s",
    "podSlotDir": "/p", "hostRoot": "/h", "runtimeConfig": {"CNIDeviceInfoFile": "/d.json"},
    "ipam": {"type": "ena-dpdk-ipam", "stateDir": "/i", "logFile": "/il.log",
             "configFile": "/c.json"}})");
  ASSERT_TRUE(vhost.ok()) << vhost.status();
  EXPECT_EQ(
      describe(policedPaths(*vhost)),
      (V{"logFile logFile=/l.log", "logFile logFile (rotated)=/l.log.1",
         "logFile logFile (rotated)=/l.log.2", "logFile logFile (rotated)=/l.log.3",
         "stateDir stateDir=/st", "dataplaneSocket dataplaneSocket=/d.sock", "slotDir slotDir=/s",
         "CNIDeviceInfoFile runtimeConfig.CNIDeviceInfoFile=/d.json",
         "logFile ipam.logFile=/il.log", "logFile ipam.logFile (rotated)=/il.log.1",
         "logFile ipam.logFile (rotated)=/il.log.2", "logFile ipam.logFile (rotated)=/il.log.3",
         "ipam.stateDir ipam.stateDir=/i", "ipam.configFile ipam.configFile=/c.json"}));

  // Rotation by the plugin's own keys; ena-dpdk-ipam's section may rotate its file differently,
  // and a file that is never rotated has no rotated names.
  absl::StatusOr<NetConf> rotated = parseNetConf(R"({"cniVersion": "1.0.0", "name": "n",
    "mode": "pci", "logFile": "/l.log", "logMaxFiles": 1,
    "ipam": {"type": "ena-dpdk-ipam", "logFile": "/il.log", "logMaxBytes": 0}})");
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ(describe(policedPaths(*rotated)),
            (V{"logFile logFile=/l.log", "logFile logFile (rotated)=/l.log.1",
               "stateDir stateDir=/var/lib/ena-dpdk/cni", "hostRoot hostRoot=/",
               "logFile ipam.logFile=/il.log"}));

  // pci mode uses hostRoot, not the dataplane; another IPAM plugin's keys are its own business,
  // and values that are not strings are left to ena-dpdk-ipam to refuse.
  absl::StatusOr<NetConf> pci = parseNetConf(R"({"cniVersion": "1.0.0", "name": "n",
    "mode": "pci", "hostRoot": "/h", "dataplaneSocket": "/d.sock", "slotDir": "/s",
    "ipam": {"type": "host-local", "dataDir": "/x", "stateDir": "/y"}})");
  ASSERT_TRUE(pci.ok()) << pci.status();
  EXPECT_EQ(describe(policedPaths(*pci)),
            (V{"stateDir stateDir=/var/lib/ena-dpdk/cni", "hostRoot hostRoot=/h"}));
  absl::StatusOr<NetConf> odd = parseNetConf(R"({"cniVersion": "1.0.0", "name": "n",
    "mode": "pci", "ipam": {"type": "ena-dpdk-ipam", "stateDir": 5}})");
  ASSERT_TRUE(odd.ok()) << odd.status();
  EXPECT_EQ(describe(policedPaths(*odd)),
            (V{"stateDir stateDir=/var/lib/ena-dpdk/cni", "hostRoot hostRoot=/"}));
}

TEST(NetConfTest, DeviceIdNamesTheNetwork) {
  EXPECT_EQ(networkOfDeviceId("eni1-07"), "eni1");
  EXPECT_EQ(networkOfDeviceId("my-net-99"), "my-net");
  for (const char* bad : {"eni1", "eni1-7", "eni1-007", "-07", "ENI1-07", "0000:00:06.0", "eni1-0a",
                          "a/b-01", "abcdefghijklmnop-01"}) {
    EXPECT_FALSE(networkOfDeviceId(bad)) << bad;
  }
}

TEST(InvocationTest, ReadsAndChecksTheEnvironment) {
  std::map<std::string, std::string> env = {{"CNI_COMMAND", "ADD"},
                                            {"CNI_CONTAINERID", "abc-1.2_3"},
                                            {"CNI_NETNS", "/proc/1/ns/net"},
                                            {"CNI_IFNAME", "net1"},
                                            {"CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=p"},
                                            {"CNI_PATH", "/opt/cni/bin::/usr/lib/cni"}};
  absl::StatusOr<Invocation> inv = parseInvocation(env, true);
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->portId(), "abc-1.2_3/net1");
  EXPECT_EQ(inv->args.at("K8S_POD_NAME"), "p");
  EXPECT_EQ(inv->path, (std::vector<std::string>{"/opt/cni/bin", "/usr/lib/cni"}));

  // GC and STATUS need no attachment.
  EXPECT_TRUE(parseInvocation({{"CNI_COMMAND", "GC"}, {"CNI_PATH", "/x"}}, true).ok());
  EXPECT_TRUE(parseInvocation({{"CNI_COMMAND", "STATUS"}}, true).ok());
  absl::StatusOr<Invocation> gc = parseInvocation({{"CNI_COMMAND", "GC"}}, true);
  ASSERT_FALSE(gc.ok());
  EXPECT_EQ(cniCodeOf(gc.status()), CniError::kInvalidEnvironment);
  // Without IPAM no CNI_PATH is needed.
  env.erase("CNI_PATH");
  EXPECT_TRUE(parseInvocation(env, false).ok());
}

}  // namespace
}  // namespace enadpdk::cni
