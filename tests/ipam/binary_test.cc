// ena-dpdk-ipam as a CNI runtime runs it: a separate process with CNI_* variables, the network
// config on stdin, the answer on stdout and its exit status.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/support/fake_imds.h"

namespace enadpdk::testing {
namespace {

using Env = std::map<std::string, std::string>;

// What one run of the plugin left.
struct PluginRun {
  int exitCode = -1;
  std::string out;
  std::string err;
  // The process's peak resident set size (getrusage's ru_maxrss), in KiB.
  long maxRssKiB = 0;
  nlohmann::json json() const { return nlohmann::json::parse(out); }
};

std::string slurp(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Starts the plugin with exactly `env`, stdin from a file holding `config`, stdout and stderr to
// files under `dir` (so that many runs can go at once); finish() collects it.
class Process {
 public:
  Process(const std::filesystem::path& dir, const std::string& name, const Env& env,
          const std::string& config)
      : dir_(dir), name_(name) {
    std::ofstream(dir / (name + ".in")) << config;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, (dir / (name + ".in")).c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, (dir / (name + ".out")).c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, (dir / (name + ".err")).c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<std::string> entries;
    for (const auto& [k, v] : env) entries.push_back(k + "=" + v);
    // The node path policy the runtime would name (cni/path_policy.h): the test's directory.
    if (!env.contains("ENA_DPDK_CNI_POLICY")) {
      entries.push_back("ENA_DPDK_CNI_POLICY=" + (dir.parent_path() / "cni-policy.json").string());
    }
    std::vector<char*> envp;
    for (std::string& e : entries) envp.push_back(e.data());
    envp.push_back(nullptr);
    char* argv[] = {const_cast<char*>(IPAM_BINARY), nullptr};
    spawned_ = posix_spawn(&pid_, IPAM_BINARY, &actions, nullptr, argv, envp.data()) == 0;
    posix_spawn_file_actions_destroy(&actions);
  }

  PluginRun finish() {
    PluginRun run;
    if (!spawned_) return run;
    int status = 0;
    rusage usage{};
    while (::wait4(pid_, &status, 0, &usage) < 0 && errno == EINTR) {
    }
    run.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    run.maxRssKiB = usage.ru_maxrss;
    run.out = slurp(dir_ / (name_ + ".out"));
    run.err = slurp(dir_ / (name_ + ".err"));
    return run;
  }

 private:
  std::filesystem::path dir_;
  std::string name_;
  pid_t pid_ = -1;
  bool spawned_ = false;
};

class IpamBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ipam-bin-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    std::filesystem::create_directories(dir_ / "io");
    // The node config file: the state directory and one static network.
    std::ofstream(dir_ / "config.json")
        << nlohmann::json{{"ipam",
                           {{"stateDir", (dir_ / "state").string()},
                            {"networks",
                             {{"local",
                               {{"addresses", {"10.0.5.0/26", "fd00:5::/120"}},
                                {"gateway", "10.0.5.1"},
                                {"routes", {{{"dst", "0.0.0.0/0"}}}}}}}}}}};
    // The node path policy: everything a network configuration names is in this directory.
    std::ofstream(dir_ / "cni-policy.json") << nlohmann::json{{"logFile", {dir_.string()}},
                                                              {"ipam.stateDir", {dir_.string()}},
                                                              {"ipam.configFile", {dir_.string()}}};
    std::filesystem::permissions(dir_ / "cni-policy.json", std::filesystem::perms(0644));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A network config for `network`, with `ipam` keys merged in.
  nlohmann::json netconf(const std::string& version, nlohmann::json ipam = nlohmann::json::object(),
                         const std::string& network = "local") const {
    nlohmann::json config = {{"cniVersion", version},
                             {"name", "test-net"},
                             {"type", "ena-dpdk-cni"},
                             {"ipam",
                              {{"type", "ena-dpdk-ipam"},
                               {"network", network},
                               {"configFile", (dir_ / "config.json").string()}}}};
    config["ipam"].update(ipam);
    return config;
  }

  Env env(const std::string& command, const std::string& id = "",
          const std::string& ifname = "net1") const {
    Env e = {{"CNI_COMMAND", command}, {"CNI_PATH", "/opt/cni/bin"}, {"PATH", "/usr/bin:/bin"}};
    if (!id.empty()) {
      e["CNI_CONTAINERID"] = id;
      e["CNI_IFNAME"] = ifname;
      e["CNI_NETNS"] = "/var/run/netns/" + id;
      e["CNI_ARGS"] = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=" + id;
    }
    return e;
  }

  PluginRun run(const Env& e, const nlohmann::json& config) {
    return Process(dir_ / "io", "run" + std::to_string(runs_++), e, config.dump()).finish();
  }
  PluginRun runText(const Env& e, const std::string& config) {
    return Process(dir_ / "io", "run" + std::to_string(runs_++), e, config).finish();
  }

  std::vector<std::string> leases(const std::string& network = "local") const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_ / "state" / network)) {
      std::string name = entry.path().filename().string();
      if (name != "lock") names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::filesystem::path dir_;
  int runs_ = 0;
};

TEST_F(IpamBinaryTest, Version) {
  PluginRun r = run(env("VERSION"), {{"cniVersion", "1.0.0"}});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_EQ(r.json(), nlohmann::json::parse(R"({"cniVersion": "1.0.0",
      "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]})"));
}

TEST_F(IpamBinaryTest, AddCheckDelInEveryVersion) {
  for (const std::string version : {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}) {
    SCOPED_TRACE(version);
    PluginRun add = run(env("ADD", "ctr1"), netconf(version));
    ASSERT_EQ(add.exitCode, 0) << add.out << add.err;
    nlohmann::json expected = {
        {"cniVersion", version},
        {"ips",
         {{{"address", "10.0.5.2/26"}, {"gateway", "10.0.5.1"}}, {{"address", "fd00:5::1/120"}}}},
        {"routes", {{{"dst", "0.0.0.0/0"}}}}};
    if (version < "1.0.0") {
      expected["ips"][0]["version"] = "4";
      expected["ips"][1]["version"] = "6";
    }
    EXPECT_EQ(add.json(), expected);
    // Logs go to stderr, never stdout.
    EXPECT_THAT(add.err, ::testing::HasSubstr("msg=\"lease added\" network=local container=ctr1"));

    PluginRun again = run(env("ADD", "ctr1"), netconf(version));
    EXPECT_EQ(again.exitCode, 0);
    EXPECT_EQ(again.json(), expected);

    if (version >= "0.4.0") {
      nlohmann::json check = netconf(version);
      check["prevResult"] = add.json();
      PluginRun checked = run(env("CHECK", "ctr1"), check);
      EXPECT_EQ(checked.exitCode, 0) << checked.out << checked.err;
      EXPECT_EQ(checked.out, "");
    }

    PluginRun del = run(env("DEL", "ctr1"), netconf(version));
    EXPECT_EQ(del.exitCode, 0) << del.out << del.err;
    EXPECT_EQ(del.out, "");
    EXPECT_TRUE(leases().empty());
    PluginRun delAgain = run(env("DEL", "ctr1"), netconf(version));
    EXPECT_EQ(delAgain.exitCode, 0) << delAgain.out;
  }
}

TEST_F(IpamBinaryTest, ErrorsAreJsonOnStdoutWithTheirCodes) {
  struct Case {
    std::string name;
    Env env;
    std::string config;
    int code;
    std::string msg;
  };
  const std::string good = netconf("1.0.0").dump();
  nlohmann::json exhausted = netconf("1.0.0", {{"addresses", {"10.0.9.9"}}}, "tiny");
  ASSERT_EQ(run(env("ADD", "first"), exhausted).exitCode, 0);
  for (const Case& c : std::vector<Case>{
           {"NotJson", env("ADD", "c"), "{", 6,
            "cannot decode the network configuration on stdin: not a JSON object"},
           {"NoCommand", {}, good, 4, "CNI_COMMAND is not set"},
           {"MissingNetns",
            [&] {
              Env e = env("ADD", "c");
              e.erase("CNI_NETNS");
              return e;
            }(),
            good, 4, "required environment variables missing: CNI_NETNS"},
           {"BadArgs",
            [&] {
              Env e = env("DEL", "c");
              e["CNI_ARGS"] = "K8S_POD_NAME";
              return e;
            }(),
            good, 4, "CNI_ARGS: invalid pair \"K8S_POD_NAME\" (expected KEY=VALUE)"},
           {"BadContainerId", env("ADD", "x..y"), good, 4,
            "CNI_CONTAINERID: invalid container ID \"x..y\" (expected [a-zA-Z0-9][a-zA-Z0-9_.-]* "
            "without \"..\")"},
           {"OldVersion", env("ADD", "c"), netconf("0.2.0").dump(), 1,
            "incompatible CNI versions: config is \"0.2.0\", plugin supports 0.3.0, 0.3.1, "
            "0.4.0, 1.0.0, 1.1.0"},
           {"GcOn100", env("GC"), netconf("1.0.0").dump(), 1,
            "config version \"1.0.0\" does not allow GC"},
           {"NoNetwork", env("ADD", "c"),
            R"({"cniVersion": "1.0.0", "ipam": {"type": "ena-dpdk-ipam"}})", 7,
            "ipam.network: missing: set ipam.network (or the top-level \"network\")"},
           {"UnknownNetwork", env("ADD", "c"),
            netconf("1.0.0", nlohmann::json::object(), "nope").dump(), 7,
            "network \"nope\" has no address source: set ipam.addresses, ipam.eniMac or "
            "ipam.deviceNumber, or ipam.networks.nope in " +
                (dir_ / "config.json").string()},
           {"Exhausted", env("ADD", "second"), exhausted.dump(), 112,
            "network \"tiny\": address pool exhausted: the static pool has 1 IPv4 address and it "
            "is leased"},
           {"CheckWithoutLease", env("CHECK", "ghost"), good, 114,
            "network \"local\": no lease for container ghost interface net1"},
       }) {
    SCOPED_TRACE(c.name);
    PluginRun r = runText(c.env, c.config);
    EXPECT_EQ(r.exitCode, 1);
    nlohmann::json error = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_TRUE(error.is_object()) << r.out;
    EXPECT_EQ(error["code"], c.code);
    EXPECT_EQ(error["msg"], c.msg);
    EXPECT_TRUE(error.contains("cniVersion"));
  }
}

TEST_F(IpamBinaryTest, LogFileGetsTheLinesToo) {
  nlohmann::json config = netconf("1.1.0", {{"logFile", (dir_ / "ipam.log").string()}});
  ASSERT_EQ(run(env("ADD", "logged"), config).exitCode, 0);
  EXPECT_THAT(
      slurp(dir_ / "ipam.log"),
      ::testing::HasSubstr("msg=\"lease added\" network=local container=logged ifname=net1"));
}

TEST_F(IpamBinaryTest, GcAndStatus) {
  for (const char* id : {"a", "b", "c"})
    ASSERT_EQ(run(env("ADD", id), netconf("1.1.0")).exitCode, 0);
  nlohmann::json gc = netconf("1.1.0");
  gc["cni.dev/valid-attachments"] = {{{"containerID", "b"}, {"ifname", "net1"}}};
  PluginRun r = run(env("GC"), gc);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_THAT(leases(), ::testing::ElementsAre("b@net1.lease"));

  PluginRun status = run(env("STATUS"), netconf("1.1.0"));
  EXPECT_EQ(status.exitCode, 0) << status.out;
  EXPECT_EQ(status.out, "");
  nlohmann::json full = netconf("1.1.0", {{"addresses", {"10.7.0.1"}}}, "full");
  ASSERT_EQ(run(env("ADD", "only"), full).exitCode, 0);
  status = run(env("STATUS"), full);
  EXPECT_EQ(status.exitCode, 1);
  EXPECT_EQ(status.json()["code"], 50);
}

TEST_F(IpamBinaryTest, ConcurrentProcessesGetDistinctAddresses) {
  // 40 plugin processes at once on a 61-address pool, then 40 DELs at once.
  constexpr int kProcesses = 40;
  std::vector<std::unique_ptr<Process>> adds;
  for (int i = 0; i < kProcesses; ++i) {
    adds.push_back(std::make_unique<Process>(dir_ / "io", "add" + std::to_string(i),
                                             env("ADD", "p" + std::to_string(i)),
                                             netconf("1.0.0").dump()));
  }
  std::set<std::string> v4, v6;
  for (auto& p : adds) {
    PluginRun r = p->finish();
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
    v4.insert(r.json()["ips"][0]["address"].get<std::string>());
    v6.insert(r.json()["ips"][1]["address"].get<std::string>());
  }
  EXPECT_EQ(v4.size(), static_cast<std::size_t>(kProcesses));
  EXPECT_EQ(v6.size(), static_cast<std::size_t>(kProcesses));
  EXPECT_EQ(leases().size(), static_cast<std::size_t>(kProcesses));

  std::vector<std::unique_ptr<Process>> dels;
  for (int i = 0; i < kProcesses; ++i) {
    dels.push_back(std::make_unique<Process>(dir_ / "io", "del" + std::to_string(i),
                                             env("DEL", "p" + std::to_string(i)),
                                             netconf("1.0.0").dump()));
  }
  for (auto& p : dels) EXPECT_EQ(p->finish().exitCode, 0);
  EXPECT_TRUE(leases().empty());
}

TEST_F(IpamBinaryTest, EniFromTheFakeMetadataServiceIsCachedAcrossProcesses) {
  absl::StatusOr<std::unique_ptr<FakeImds>> imds = FakeImds::start();
  ASSERT_TRUE(imds.ok()) << imds.status();
  (*imds)->addEni({.mac = "0a:1b:2c:3d:4e:5f",
                   .deviceNumber = 1,
                   .localIpv4s = {"172.31.8.10", "172.31.8.11", "172.31.8.12"},
                   .subnetIpv4Cidr = "172.31.0.0/20"});
  nlohmann::json config = netconf(
      "1.1.0",
      {{"deviceNumber", 1}, {"imds", {{"endpoint", (*imds)->endpoint()}, {"ttlSeconds", 600}}}},
      "eni1");
  PluginRun a = run(env("ADD", "a"), config);
  ASSERT_EQ(a.exitCode, 0) << a.out << a.err;
  EXPECT_EQ(a.json()["ips"],
            nlohmann::json::parse(R"([{"address": "172.31.8.11/20", "gateway": "172.31.0.1"}])"));
  PluginRun b = run(env("ADD", "b"), config);
  ASSERT_EQ(b.exitCode, 0) << b.out << b.err;
  EXPECT_EQ(b.json()["ips"][0]["address"], "172.31.8.12/20");
  EXPECT_EQ((*imds)->tokenRequests(), 1u);
  EXPECT_EQ(std::filesystem::status(dir_ / "state" / "imds" / "device-1.json").permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  PluginRun c = run(env("ADD", "c"), config);
  EXPECT_EQ(c.exitCode, 1);
  EXPECT_EQ(c.json()["code"], 112);

  config["ipam"]["imds"]["endpoint"] = "http://127.0.0.1:1";
  PluginRun down = run(env("ADD", "d"), config);
  EXPECT_EQ(down.exitCode, 1);
  EXPECT_EQ(down.json()["code"], 111);
}

// ---- faults of the metadata service

std::int64_t msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

TEST_F(IpamBinaryTest, ParallelAddsAgainstAHungMetadataServiceEndWithinOneBudget) {
  // Eight plugin processes, eight containers, one network, a service that never answers. Each
  // gives up after its own 500 ms timeout: the lease lock is not held while waiting, so they do
  // not queue behind each other (8 × 500 ms).
  absl::StatusOr<std::unique_ptr<FakeImds>> imds = FakeImds::start();
  ASSERT_TRUE(imds.ok()) << imds.status();
  (*imds)->hang(true);
  constexpr int kProcesses = 8;
  constexpr int kTimeoutMs = 500;
  constexpr int kBudgetMs = 3 * kTimeoutMs;
  const nlohmann::json config = netconf(
      "1.1.0",
      {{"eniMac", "0a:1b:2c:3d:4e:5f"},
       {"imds", {{"endpoint", (*imds)->endpoint()}, {"timeoutMs", kTimeoutMs}, {"ttlSeconds", 0}}}},
      "eni1");
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<Process>> adds;
  for (int i = 0; i < kProcesses; ++i) {
    adds.push_back(std::make_unique<Process>(dir_ / "io", "hung" + std::to_string(i),
                                             env("ADD", "h" + std::to_string(i)), config.dump()));
  }
  for (auto& p : adds) {
    PluginRun r = p->finish();
    EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
    nlohmann::json error = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_TRUE(error.is_object()) << r.out;
    EXPECT_EQ(error["code"], 111);
    EXPECT_THAT(error["msg"].get<std::string>(), ::testing::HasSubstr("timed out after 500 ms"));
  }
  const std::int64_t elapsed = msSince(start);
  EXPECT_LT(elapsed, 2 * kBudgetMs) << elapsed << " ms";
  EXPECT_TRUE(leases("eni1").empty());
}

TEST_F(IpamBinaryTest, EndlessMetadataBodyIsRefusedWithBoundedMemory) {
  absl::StatusOr<std::unique_ptr<FakeImds>> imds = FakeImds::start();
  ASSERT_TRUE(imds.ok()) << imds.status();
  (*imds)->addEni({.mac = "0a:1b:2c:3d:4e:5f",
                   .deviceNumber = 1,
                   .localIpv4s = {"172.31.8.10", "172.31.8.11"},
                   .subnetIpv4Cidr = "172.31.0.0/20"});
  const std::string path = "network/interfaces/macs/0a:1b:2c:3d:4e:5f/local-ipv4s";
  (*imds)->endlessBody(path);
  const nlohmann::json config = netconf(
      "1.1.0",
      {{"eniMac", "0a:1b:2c:3d:4e:5f"},
       {"imds", {{"endpoint", (*imds)->endpoint()}, {"timeoutMs", 3000}, {"ttlSeconds", 0}}}},
      "eni1");
  const auto start = std::chrono::steady_clock::now();
  PluginRun r = run(env("ADD", "a"), config);
  const std::int64_t elapsed = msSince(start);
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_EQ(r.json()["code"], 111);
  EXPECT_EQ(r.json()["msg"], "instance metadata service " + (*imds)->endpoint() +
                                 ": GET /latest/meta-data/" + path +
                                 ": the answer's body is larger than 65536 bytes (refused)");
  // The body is cut at 64 KiB as it arrives, not read until the 3 s timeout.
  EXPECT_LT(elapsed, 2000) << elapsed << " ms";
  EXPECT_LT(r.maxRssKiB, 64 * 1024) << r.maxRssKiB << " KiB";
}

TEST_F(IpamBinaryTest, SpentMetadataBudgetIsTryAgainLater) {
  // Fifteen ENIs answered slowly (each request 120 ms, well under the 400 ms timeout): finding
  // device-number 15 needs 20 requests (2.4 s), but the command's budget is 1200 ms.
  absl::StatusOr<std::unique_ptr<FakeImds>> imds = FakeImds::start();
  ASSERT_TRUE(imds.ok()) << imds.status();
  for (unsigned n = 1; n <= 15; ++n) {
    char mac[18];
    std::snprintf(mac, sizeof mac, "0a:00:00:00:00:%02x", n);
    (*imds)->addEni({.mac = mac,
                     .deviceNumber = n,
                     .localIpv4s = {"172.31.8.10", "172.31.8.11"},
                     .subnetIpv4Cidr = "172.31.0.0/20"});
  }
  (*imds)->delayEach(std::chrono::milliseconds(120));
  const nlohmann::json config = netconf(
      "1.1.0",
      {{"deviceNumber", 15},
       {"imds", {{"endpoint", (*imds)->endpoint()}, {"timeoutMs", 400}, {"ttlSeconds", 0}}}},
      "eni1");
  const auto start = std::chrono::steady_clock::now();
  PluginRun r = run(env("ADD", "a"), config);
  const std::int64_t elapsed = msSince(start);
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_EQ(r.json()["code"], 11);
  EXPECT_THAT(r.json()["msg"].get<std::string>(),
              ::testing::HasSubstr(": the 1200 ms budget of this command's metadata requests is "
                                   "spent ("));
  EXPECT_THAT(r.json()["msg"].get<std::string>(), ::testing::EndsWith("); try again later"));
  EXPECT_LT(elapsed, 2000) << elapsed << " ms";
}

// Issue 20 item 9: a NetworkAttachmentDefinition names the IPAM's paths too, and another main
// plugin may delegate to ena-dpdk-ipam: the node path policy is checked here as well, before
// anything is read or created.
TEST_F(IpamBinaryTest, PathsOutsideTheNodePolicyAreRefusedAndNothingIsCreated) {
  const std::filesystem::path outside = dir_.parent_path() / (dir_.filename().string() + "-out");
  const nlohmann::json kNone = nlohmann::json::object();
  struct Case {
    const char* field;
    nlohmann::json ipam;
    nlohmann::json top;
  };
  for (const Case& c :
       std::vector<Case>{{"ipam.stateDir", {{"stateDir", (outside / "state").string()}}, kNone},
                         {"ipam.logFile", {{"logFile", (outside / "evil.log").string()}}, kNone},
                         {"logFile", kNone, {{"logFile", (outside / "evil.log").string()}}},
                         {"ipam.configFile", {{"configFile", "/etc/shadow"}}, kNone}}) {
    nlohmann::json config = netconf("1.0.0", c.ipam);
    config.update(c.top);
    for (const char* command : {"ADD", "DEL"}) {
      PluginRun r = run(env(command, "ctr1"), config);
      EXPECT_EQ(r.exitCode, 1) << c.field << " " << r.out;
      const nlohmann::json answer = nlohmann::json::parse(r.out, nullptr, false);
      EXPECT_EQ(answer.value("code", 0), 7) << c.field << " " << r.out;
      EXPECT_NE(answer.value("msg", "").find(c.field), std::string::npos) << r.out;
    }
    EXPECT_FALSE(std::filesystem::exists(outside)) << c.field;
    EXPECT_FALSE(std::filesystem::exists(dir_ / "state")) << c.field;
  }
  // Without the variable the built-in defaults apply: this test's paths are not among them.
  Env bare = env("ADD", "ctr1");
  bare["ENA_DPDK_CNI_POLICY"] = "";
  PluginRun r = run(bare, netconf("1.0.0"));
  EXPECT_EQ(nlohmann::json::parse(r.out, nullptr, false).value("code", 0), 7) << r.out;
}

}  // namespace
}  // namespace enadpdk::testing
