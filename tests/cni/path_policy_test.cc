// The node path policy (cni/path_policy.h): resolution, defaults, the policy file and its
// ownership rule, the environment override, and ena-dpdk-cni refusing a NetworkAttachmentDefinition
// that names paths outside it (code 7, nothing done) in-process.

#include "cni/path_policy.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cni/netconf.h"
#include "cni/plugin.h"
#include "tests/cni/cni_test_env.h"

namespace enadpdk::cni {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path makeTempDir(const char* prefix) {
  std::string tmpl = (fs::temp_directory_path() / (std::string(prefix) + ".XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
  // Canonical, so that expected messages compare with resolved paths.
  return fs::canonical(tmpl);
}

std::string message(const absl::Status& s) { return std::string(s.message()); }

// A temporary directory with an "allowed" root and an "outside" directory next to it.
class PathPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = makeTempDir("path-policy");
    fs::create_directories(allowed());
    fs::create_directories(outside());
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path allowed() const { return dir_ / "allowed"; }
  fs::path outside() const { return dir_ / "outside"; }

  // A policy where `key` allows `roots` (the other keys keep their defaults).
  static PathPolicy policyWith(const std::string& key, const std::vector<std::string>& roots) {
    absl::StatusOr<PathPolicy> p = PathPolicy::parse(json{{key, roots}}.dump(), "test policy");
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : PathPolicy::defaults();
  }
  // Writes a policy file with `content` and `mode`.
  fs::path writePolicy(const std::string& name, const std::string& content, mode_t mode = 0644) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << content;
    fs::permissions(path, static_cast<fs::perms>(mode));
    return path;
  }

  fs::path dir_;
};

TEST_F(PathPolicyTest, ResolvesTheExistingPrefixAndKeepsTheRest) {
  fs::create_directories(allowed() / "a");
  EXPECT_EQ(*resolvePolicyPath((allowed() / "a" / "new" / "file").string(), "k"),
            allowed() / "a" / "new" / "file");
  // ".." between existing directories is the kernel's to apply, not a refusal.
  EXPECT_EQ(*resolvePolicyPath((allowed() / "a" / ".." / "x").string(), "k"), allowed() / "x");
  // "." and repeated slashes are harmless.
  EXPECT_EQ(*resolvePolicyPath(allowed().string() + "//./a/./y", "k"), allowed() / "a" / "y");
  // A file in the middle ends the existing prefix.
  std::ofstream(allowed() / "file") << "x";
  EXPECT_EQ(*resolvePolicyPath((allowed() / "file" / "below").string(), "k"),
            allowed() / "file" / "below");
  // Links are followed, wherever they are.
  fs::create_symlink(outside(), allowed() / "link");
  EXPECT_EQ(*resolvePolicyPath((allowed() / "link" / "x").string(), "k"), outside() / "x");
  EXPECT_EQ(*resolvePolicyPath((allowed() / "link").string(), "k"), outside());
}

TEST_F(PathPolicyTest, ResolutionRefusesWhatCannotBeChecked) {
  struct Case {
    std::string path;
    std::string message;
  };
  fs::create_symlink(outside() / "nothing-here", allowed() / "dangling");
  const Case cases[] = {
      {"relative/path", "k: \"relative/path\" is not an absolute path"},
      {"", "is not an absolute path"},
      {std::string("/tmp/a\0b", 8), "contains a NUL byte"},
      {"/" + std::string(5000, 'a'), "k: 5001 bytes, longer than the 4095 a path can have"},
      // ".." below a directory that does not exist: it would be applied to nothing.
      {(allowed() / "missing" / ".." / ".." / "outside" / "x").string(), "has \"..\" below"},
      // Creating below a dangling link would create wherever it points.
      {(allowed() / "dangling").string(), "is a symbolic link to nothing"},
      {(allowed() / "dangling" / "x").string(), "is a symbolic link to nothing"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path.substr(0, 100));
    absl::StatusOr<fs::path> r = resolvePolicyPath(c.path, "k");
    ASSERT_FALSE(r.ok()) << *r;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(message(r.status()).find(c.message), std::string::npos) << r.status();
  }
}

TEST_F(PathPolicyTest, ASymlinkOutOfARootIsRefused) {
  const PathPolicy policy = policyWith(kPolicyStateDir, {allowed().string()});
  fs::create_symlink(outside(), allowed() / "escape");
  fs::create_directories(allowed() / "real");
  fs::create_symlink(allowed() / "real", allowed() / "inside");

  EXPECT_TRUE(policy.check(kPolicyStateDir, "stateDir", (allowed() / "x").string()).ok());
  EXPECT_TRUE(policy.check(kPolicyStateDir, "stateDir", allowed().string()).ok());
  EXPECT_TRUE(
      policy.check(kPolicyStateDir, "stateDir", (allowed() / "inside" / "x").string()).ok());
  const absl::Status s =
      policy.check(kPolicyStateDir, "stateDir", (allowed() / "escape" / "x").string());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(message(s), "stateDir: \"" + (allowed() / "escape" / "x").string() +
                            "\" resolves to \"" + (outside() / "x").string() +
                            "\", outside the directories the node's path policy allows for "
                            "stateDir (" +
                            allowed().string() + "; test policy)");
  // The link itself, as a file to write, leads outside too.
  EXPECT_FALSE(policy.check(kPolicyStateDir, "stateDir", (allowed() / "escape").string()).ok());
  // A neighbour whose name starts with the root's is not below it.
  EXPECT_FALSE(policy.check(kPolicyStateDir, "stateDir", allowed().string() + "2/x").ok());
  // ".." through existing directories leaves the root: refused as resolved.
  EXPECT_FALSE(
      policy.check(kPolicyStateDir, "stateDir", (allowed() / ".." / "outside" / "x").string())
          .ok());
  // ".." below something missing is refused even when the text would stay inside.
  const absl::Status dots =
      policy.check(kPolicyStateDir, "stateDir", (allowed() / "new" / ".." / "x").string());
  EXPECT_NE(message(dots).find("has \"..\" below"), std::string::npos) << dots;
}

TEST_F(PathPolicyTest, ALogFileRootAllowsItsRotatedNamesAsResolved) {
  const std::string log = (allowed() / "cni.log").string();
  const PathPolicy policy = policyWith(kPolicyLogFile, {log});
  EXPECT_TRUE(policy.check(kPolicyLogFile, "logFile", log).ok());
  EXPECT_TRUE(policy.check(kPolicyLogFile, "logFile", log + ".1").ok());
  EXPECT_TRUE(policy.check(kPolicyLogFile, "logFile", log + ".100").ok());
  EXPECT_FALSE(policy.check(kPolicyLogFile, "logFile", log + ".1x").ok());
  EXPECT_FALSE(policy.check(kPolicyLogFile, "logFile", log + ".1/x").ok());
  EXPECT_FALSE(policy.check(kPolicyLogFile, "logFile", log + "1").ok());
  // A rotated name that is a link out of the root is refused as what it resolves to.
  fs::create_symlink(outside() / "evil", log + ".2");
  std::ofstream(outside() / "evil") << "x";
  EXPECT_FALSE(policy.check(kPolicyLogFile, "logFile", log + ".2").ok());
  // Only log files rotate.
  const PathPolicy state = policyWith(kPolicyStateDir, {log});
  EXPECT_FALSE(state.check(kPolicyStateDir, "stateDir", log + ".1").ok());

  EXPECT_TRUE(rotatedLogPaths({kPolicyLogFile, "f", log}, 0, 3).empty());
  const std::vector<PathUse> names = rotatedLogPaths({kPolicyLogFile, "f", log}, 100, 2);
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0].path, log + ".1");
  EXPECT_EQ(names[1].path, log + ".2");
  EXPECT_EQ(names[1].field, "f (rotated)");
  EXPECT_EQ(names[1].key, kPolicyLogFile);
  EXPECT_FALSE(policy.check(names).ok()) << "the .2 link leads outside";
}

TEST_F(PathPolicyTest, RootsAreResolvedToo) {
  // A root that is a link (like /var/run -> /run) allows what its target holds, both ways.
  fs::create_symlink(allowed(), dir_ / "root-link");
  const PathPolicy policy = policyWith(kPolicySlotDir, {(dir_ / "root-link").string()});
  EXPECT_TRUE(policy.check(kPolicySlotDir, "slotDir", (allowed() / "slots").string()).ok());
  EXPECT_TRUE(
      policy.check(kPolicySlotDir, "slotDir", (dir_ / "root-link" / "slots").string()).ok());
  EXPECT_FALSE(policy.check(kPolicySlotDir, "slotDir", (outside() / "slots").string()).ok());
  // A root that does not exist yet still allows what will be created below it.
  const PathPolicy future = policyWith(kPolicySlotDir, {(dir_ / "future" / "root").string()});
  EXPECT_TRUE(
      future.check(kPolicySlotDir, "slotDir", (dir_ / "future" / "root" / "slots").string()).ok());
  EXPECT_FALSE(future.check(kPolicySlotDir, "slotDir", (dir_ / "future" / "x").string()).ok());
}

TEST_F(PathPolicyTest, SlashAllowsOnlyItself) {
  const PathPolicy policy = policyWith(kPolicyStateDir, {"/"});
  EXPECT_TRUE(policy.check(kPolicyStateDir, "stateDir", "/").ok());
  EXPECT_FALSE(policy.check(kPolicyStateDir, "stateDir", "/tmp").ok());
  EXPECT_FALSE(policy.check(kPolicyStateDir, "stateDir", (allowed() / "x").string()).ok());
  // An empty list allows nothing.
  EXPECT_FALSE(
      policyWith(kPolicyStateDir, {}).check(kPolicyStateDir, "stateDir", "/var/lib/ena-dpdk").ok());
}

TEST_F(PathPolicyTest, DefaultsMatchWhatTheChartInstalls) {
  const PathPolicy d = PathPolicy::defaults();
  EXPECT_EQ(d.source(), "built-in defaults");
  using V = std::vector<std::string>;
  EXPECT_EQ(d.roots(kPolicyLogFile),
            (V{"/var/log/ena-dpdk-cni.log", "/var/log/ena-dpdk-ipam.log", "/var/log/ena-dpdk"}));
  EXPECT_EQ(d.roots(kPolicyStateDir), (V{"/var/lib/ena-dpdk"}));
  EXPECT_EQ(d.roots(kPolicyDataplaneSocket),
            (V{"/run/ena-dpdk/dataplane.sock", "/var/run/ena-dpdk/dataplane.sock"}));
  EXPECT_EQ(d.roots(kPolicySlotDir), (V{"/run/ena-dpdk/vhost", "/var/run/ena-dpdk/vhost"}));
  EXPECT_EQ(d.roots(kPolicyDeviceInfoFile),
            (V{"/run/k8s.cni.cncf.io/devinfo", "/var/run/k8s.cni.cncf.io/devinfo"}));
  EXPECT_EQ(d.roots(kPolicyHostRoot), (V{"/"}));
  EXPECT_EQ(d.roots(kPolicyIpamStateDir), (V{"/var/lib/ena-dpdk"}));
  EXPECT_EQ(d.roots(kPolicyIpamConfigFile), (V{"/etc/ena-dpdk/config.json"}));
  EXPECT_TRUE(d.roots("nope").empty());

  // The configuration defaults and the chart's NetworkAttachmentDefinitions pass.
  for (const char* text :
       {R"({"cniVersion": "1.0.0", "name": "n", "type": "ena-dpdk-cni"})",
        R"({"cniVersion": "1.0.0", "name": "n", "type": "ena-dpdk-cni", "mode": "pci"})",
        R"({"cniVersion": "1.0.0", "name": "ena-dpdk-shared", "type": "ena-dpdk-cni",
               "mode": "vhostuser", "dataplaneSocket": "/run/ena-dpdk/dataplane.sock",
               "slotDir": "/var/run/ena-dpdk/vhost", "podSlotDir": "/var/run/vhost-user",
               "logFile": "/var/log/ena-dpdk-cni.log", "slotGroup": 1500,
               "runtimeConfig": {"deviceID": "eni1-07",
                 "CNIDeviceInfoFile": "/var/run/k8s.cni.cncf.io/devinfo/cni/x-net1-device-info.json"},
               "ipam": {"type": "ena-dpdk-ipam", "stateDir": "/var/lib/ena-dpdk/ipam",
                        "configFile": "/etc/ena-dpdk/config.json",
                        "logFile": "/var/log/ena-dpdk-ipam.log"}})",
        R"({"cniVersion": "1.0.0", "name": "ena-dpdk-dedicated", "type": "ena-dpdk-cni",
               "mode": "pci", "hostRoot": "/", "logFile": "/var/log/ena-dpdk/cni.log"})"}) {
    absl::StatusOr<NetConf> conf = parseNetConf(text);
    ASSERT_TRUE(conf.ok()) << conf.status();
    EXPECT_TRUE(d.check(policedPaths(*conf)).ok()) << d.check(policedPaths(*conf)) << text;
  }

  // What a namespace user might try.
  struct Case {
    std::string key;
    std::string path;
  };
  for (const Case& c : {
           Case{kPolicyLogFile, "/etc/evil.log"},
           Case{kPolicyLogFile, "/var/log/ena-dpdk-cni.log2"},
           Case{kPolicyLogFile, "/var/log/ena-dpdk-cni.log.x"},
           Case{kPolicyLogFile, "/var/log/ena-dpdk-cni.log.1/x"},
           Case{kPolicyLogFile, "/var/log/ena-dpdk-cni.log."},
           Case{kPolicyLogFile, "/var/log/../../etc/evil.log"},
           Case{kPolicyLogFile, "/var/log/syslog"},
           Case{kPolicyStateDir, "/tmp/x"},
           Case{kPolicyStateDir, "/var/lib/kubelet"},
           // A pod's own slot holds sockets it created: never the control socket.
           Case{kPolicyDataplaneSocket, "/var/run/ena-dpdk/vhost/eni1-07/vhost.sock"},
           Case{kPolicyDataplaneSocket, "/tmp/dp.sock"},
           Case{kPolicySlotDir, "/etc"},
           Case{kPolicySlotDir, "/var/run/ena-dpdk"},
           Case{kPolicyDeviceInfoFile, "/etc/cron.d/x"},
           Case{kPolicyHostRoot, "/tmp"},
           Case{kPolicyIpamStateDir, "/etc"},
           Case{kPolicyIpamConfigFile, "/etc/shadow"},
       }) {
    SCOPED_TRACE(c.key + " " + c.path);
    const absl::Status s = d.check(c.key, "field", c.path);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(message(s).find("outside the directories the node's path policy allows for " + c.key +
                              " ("),
              std::string::npos)
        << s;
    EXPECT_NE(message(s).find("built-in defaults"), std::string::npos) << s;
  }
}

TEST_F(PathPolicyTest, MessagesQuoteLongValuesClipped) {
  const std::string longPath = "/etc/" + std::string(1000, 'x');
  const absl::Status s = PathPolicy::defaults().check(kPolicyLogFile, "logFile", longPath);
  ASSERT_FALSE(s.ok());
  EXPECT_LT(message(s).size(), 700u) << s;
  EXPECT_NE(message(s).find("\u2026"), std::string::npos) << s;
}

TEST_F(PathPolicyTest, PolicyTextReplacesTheKeysItNames) {
  absl::StatusOr<PathPolicy> p = PathPolicy::parse(
      R"({"stateDir": ["/srv/cni", "/data/cni/"], "ipam.stateDir": []})", "policy file /x.json");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->source(), "policy file /x.json");
  EXPECT_EQ(p->roots(kPolicyStateDir), (std::vector<std::string>{"/srv/cni", "/data/cni/"}));
  EXPECT_TRUE(p->roots(kPolicyIpamStateDir).empty());
  EXPECT_EQ(p->roots(kPolicyLogFile), PathPolicy::defaults().roots(kPolicyLogFile));
  EXPECT_TRUE(p->check(kPolicyStateDir, "stateDir", "/data/cni/x").ok());
  EXPECT_FALSE(p->check(kPolicyStateDir, "stateDir", "/var/lib/ena-dpdk/cni").ok());

  struct Case {
    std::string text;
    std::string message;
  };
  for (const Case& c : {
           Case{"[]", "/x.json: not a JSON object"},
           Case{"{", "/x.json: not a JSON object"},
           Case{R"({"statedir": ["/a"]})", "/x.json: statedir: unknown key"},
           Case{R"({"stateDir": "/a"})", "/x.json: stateDir: expected an array of strings"},
           Case{R"({"stateDir": ["a"]})", "stateDir[0]: expected an absolute path without"},
           Case{R"({"stateDir": ["/a/../b"]})", "stateDir[0]: expected an absolute path without"},
           Case{R"({"stateDir": ["/a", "/a"]})", "stateDir[1]: duplicate entry"},
           Case{R"({"logFile": [1]})", "logFile[0]: expected an absolute path"},
       }) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<PathPolicy> bad = PathPolicy::parse(c.text, "policy file /x.json");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(message(bad.status()).find(c.message), std::string::npos) << bad.status();
  }
}

TEST_F(PathPolicyTest, PolicyFileMustBeRootOwnedAndNotWritableByOthers) {
  const std::string content = json{{"stateDir", {allowed().string()}}}.dump();
  const fs::path good = writePolicy("good.json", content, 0644);
  absl::StatusOr<PathPolicy> p = PathPolicy::readFile(good);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->source(), "policy file " + good.string());
  EXPECT_EQ(p->roots(kPolicyStateDir), std::vector<std::string>{allowed().string()});
  // A link to a good file is read (the file's owner and mode are what count).
  fs::create_symlink(good, dir_ / "link.json");
  EXPECT_TRUE(PathPolicy::readFile(dir_ / "link.json").ok());

  struct Case {
    fs::path file;
    std::string message;
  };
  const Case cases[] = {
      {writePolicy("group.json", content, 0664), "is writable by group or others (mode 0664)"},
      {writePolicy("world.json", content, 0646), "is writable by group or others (mode 0646)"},
      {dir_, "is not a regular file"},
      {writePolicy("big.json", std::string(2 << 20, ' ')), "is larger than 1048576 bytes"},
      {writePolicy("broken.json", "{\"stateDir\": "), "not a JSON object"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    absl::StatusOr<PathPolicy> bad = PathPolicy::readFile(c.file);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(message(bad.status()).find("policy file " + c.file.string()), std::string::npos)
        << bad.status();
    EXPECT_NE(message(bad.status()).find(c.message), std::string::npos) << bad.status();
  }
  EXPECT_TRUE(absl::IsNotFound(PathPolicy::readFile(dir_ / "missing.json").status()));

  if (::geteuid() != 0) GTEST_SKIP() << "giving a file another owner needs root";
  const fs::path foreign = writePolicy("foreign.json", content, 0644);
  ASSERT_EQ(::chown(foreign.c_str(), 65534, 65534), 0);
  absl::StatusOr<PathPolicy> bad = PathPolicy::readFile(foreign);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(message(bad.status()).find("is owned by uid 65534, not by root"), std::string::npos)
      << bad.status();
}

TEST_F(PathPolicyTest, TheEnvironmentNamesAnotherFile) {
  const fs::path file = writePolicy("env.json", json{{"slotDir", {allowed().string()}}}.dump());
  const fs::path noDefault = dir_ / "no-default.json";
  using Env = std::map<std::string, std::string>;

  absl::StatusOr<PathPolicy> p = PathPolicy::load(Env{{kPathPolicyEnv, file.string()}}, noDefault);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->source(), "policy file " + file.string());
  EXPECT_TRUE(p->check(kPolicySlotDir, "slotDir", (allowed() / "slots").string()).ok());
  EXPECT_FALSE(p->check(kPolicySlotDir, "slotDir", "/var/run/ena-dpdk/vhost").ok());

  // No variable (or an empty one) and no default file: the defaults.
  for (const Env& env : {Env{}, Env{{kPathPolicyEnv, ""}}}) {
    p = PathPolicy::load(env, noDefault);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->source(), "built-in defaults");
  }
  // The default file when it exists.
  p = PathPolicy::load(Env{}, file);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->source(), "policy file " + file.string());

  // A named file must exist and be absolute; a bad default file is an error, not the defaults.
  p = PathPolicy::load(Env{{kPathPolicyEnv, (dir_ / "missing.json").string()}}, noDefault);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(message(p.status())
                .find("ENA_DPDK_CNI_POLICY names \"" + (dir_ / "missing.json").string() +
                      "\", which does not exist"),
            std::string::npos)
      << p.status();
  p = PathPolicy::load(Env{{kPathPolicyEnv, "policy.json"}}, noDefault);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(message(p.status()).find("is not an absolute path"), std::string::npos);
  const fs::path insecure = writePolicy("insecure.json", "{}", 0666);
  p = PathPolicy::load(Env{}, insecure);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(message(p.status()).find("writable by group or others"), std::string::npos);
}

// ena-dpdk-cni in-process: a NetworkAttachmentDefinition naming paths the node does not allow.
class PluginPathPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    outside_ = makeTempDir("cni-outside");
    // The policy of the env allows its temporary root, not outside_.
    env_.dataplane()->clearCalls();
  }
  void TearDown() override {
    outsideDataplane_.reset();
    std::error_code ec;
    fs::remove_all(outside_, ec);
  }

  json nadConfig(const json& extra) const {
    json conf = env_.config("1.1.0", {{"runtimeConfig", {{"deviceID", "eni1-03"}}}});
    for (const auto& [key, value] : extra.items()) conf[key] = value;
    return conf;
  }

  // Runs every command on `conf` and checks each is refused with code 7 naming `field`, and that
  // nothing was done: no file in the env's root or outside_, no dataplane or IPAM call.
  void expectRefused(const json& conf, const std::string& field) {
    const std::vector<std::string> before = env_.files();
    for (const char* command : {"ADD", "DEL", "CHECK", "GC", "STATUS"}) {
      SCOPED_TRACE(command);
      json c = conf;
      if (std::string(command) == "GC") c["cni.dev/valid-attachments"] = json::array();
      testing::RunOutput out = env_.run(command, c);
      EXPECT_EQ(out.exitCode, 1);
      EXPECT_EQ(out.json["code"], 7) << out.text;
      const std::string msg = out.json.value("msg", "");
      EXPECT_TRUE(msg.starts_with(field + ": ")) << msg;
      EXPECT_NE(msg.find("outside the directories the node's path policy allows for"),
                std::string::npos)
          << msg;
      EXPECT_NE(msg.find(env_.root().string()), std::string::npos) << "names the roots: " << msg;
    }
    EXPECT_EQ(env_.files(), before);
    EXPECT_TRUE(env_.ipam().calls().empty());
    EXPECT_TRUE(env_.dataplane()->calls().empty());
    if (outsideDataplane_) {
      EXPECT_TRUE(outsideDataplane_->calls().empty());
    }
    std::vector<std::string> outsideFiles;
    for (const auto& e : fs::recursive_directory_iterator(outside_)) {
      if (e.path() != outside_ / "dp.sock") outsideFiles.push_back(e.path().string());
    }
    EXPECT_TRUE(outsideFiles.empty()) << outsideFiles.front();
  }

  testing::CniTestEnv env_;
  fs::path outside_;
  std::unique_ptr<testing::FakeDataplane> outsideDataplane_;
};

TEST_F(PluginPathPolicyTest, LogFileOutsideIsRefusedBeforeItIsOpened) {
  ASSERT_FALSE(fs::exists("/etc/evil.log")) << "remove /etc/evil.log left by someone else";
  expectRefused(nadConfig({{"logFile", "/etc/evil.log"}}), "logFile");
  EXPECT_FALSE(fs::exists("/etc/evil.log"));
  std::error_code ec;
  fs::remove("/etc/evil.log", ec);
  expectRefused(nadConfig({{"logFile", (outside_ / "cni.log").string()}}), "logFile");
}

TEST_F(PluginPathPolicyTest, EveryPathKeyOutsideIsRefused) {
  outsideDataplane_ = testing::FakeDataplane::start(outside_ / "dp.sock",
                                                    {{.name = "eni1", .vpc = true}}, outside_);
  ASSERT_NE(outsideDataplane_, nullptr);
  fs::create_symlink(outside_, env_.root() / "escape");
  struct Case {
    json extra;
    std::string field;
  };
  const Case cases[] = {
      {{{"stateDir", (outside_ / "x").string()}}, "stateDir"},
      {{{"stateDir", "/tmp/x"}}, "stateDir"},
      {{{"dataplaneSocket", (outside_ / "dp.sock").string()}}, "dataplaneSocket"},
      {{{"runtimeConfig",
         {{"deviceID", "eni1-03"}, {"CNIDeviceInfoFile", (outside_ / "dev.json").string()}}}},
       "runtimeConfig.CNIDeviceInfoFile"},
      {{{"slotDir", (outside_ / "slots").string()}}, "slotDir"},
      // Through a link inside the allowed root.
      {{{"slotDir", (env_.root() / "escape" / "slots").string()}}, "slotDir"},
      {{{"stateDir", (env_.root() / "escape").string()}}, "stateDir"},
      // ".." that the kernel would take outside.
      {{{"stateDir", (env_.slotDir() / ".." / ".." / outside_.filename() / "x").string()}},
       "stateDir"},
      {{{"mode", "pci"}, {"hostRoot", "/etc"}}, "hostRoot"},
      // The paths ena-dpdk-cni hands to ena-dpdk-ipam.
      {{{"ipam", {{"type", "ena-dpdk-ipam"}, {"stateDir", (outside_ / "ipam").string()}}}},
       "ipam.stateDir"},
      {{{"ipam", {{"type", "ena-dpdk-ipam"}, {"logFile", (outside_ / "ipam.log").string()}}}},
       "ipam.logFile"},
      {{{"ipam", {{"type", "ena-dpdk-ipam"}, {"configFile", "/etc/shadow"}}}}, "ipam.configFile"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.extra.dump());
    expectRefused(nadConfig(c.extra), c.field);
  }
}

TEST_F(PluginPathPolicyTest, EnvironmentErrorsComeFirstWithoutOpeningTheLogFile) {
  const json conf = nadConfig({{"logFile", (outside_ / "cni.log").string()}});
  testing::RunOutput out = env_.run("ADD", conf, {{"CNI_IFNAME", "<unset>"}});
  EXPECT_EQ(out.json["code"], 4) << out.text;
  EXPECT_FALSE(fs::exists(outside_ / "cni.log"));
  out = env_.run("ADD", conf);
  EXPECT_EQ(out.json["code"], 7) << out.text;
  EXPECT_FALSE(fs::exists(outside_ / "cni.log"));
}

TEST_F(PluginPathPolicyTest, DelDoesNotRemoveAFileOutside) {
  std::ofstream(outside_ / "victim") << "precious";
  const json conf = nadConfig(
      {{"runtimeConfig",
        {{"deviceID", "eni1-03"}, {"CNIDeviceInfoFile", (outside_ / "victim").string()}}}});
  testing::RunOutput out = env_.run("DEL", conf);
  EXPECT_EQ(out.json["code"], 7) << out.text;
  EXPECT_TRUE(fs::exists(outside_ / "victim"));
}

TEST_F(PluginPathPolicyTest, AWholeNadOfBadPathsNamesTheLogFileFirst) {
  const json conf = nadConfig(
      {{"logFile", "/etc/evil.log"},
       {"stateDir", "/tmp/x"},
       {"dataplaneSocket", (outside_ / "dp.sock").string()},
       {"slotDir", (outside_ / "slots").string()},
       {"runtimeConfig",
        {{"deviceID", "eni1-03"}, {"CNIDeviceInfoFile", (outside_ / "dev.json").string()}}}});
  expectRefused(conf, "logFile");
  EXPECT_FALSE(fs::exists("/etc/evil.log"));
}

TEST_F(PluginPathPolicyTest, AnAllowedLogFileIsNotOpenedWhenAnotherPathIsRefused) {
  expectRefused(nadConfig({{"logFile", (env_.root() / "cni.log").string()},
                           {"stateDir", (outside_ / "x").string()}}),
                "stateDir");
  EXPECT_FALSE(fs::exists(env_.root() / "cni.log"));
  // Allowed, it is used.
  ASSERT_EQ(env_.run("ADD", nadConfig({{"logFile", (env_.root() / "cni.log").string()}})).exitCode,
            0);
  EXPECT_TRUE(fs::exists(env_.root() / "cni.log"));
}

TEST_F(PluginPathPolicyTest, AWiderPolicyAllowsWhatTheDefaultOneRefuses) {
  const json conf = nadConfig({{"stateDir", (outside_ / "state").string()}});
  ASSERT_EQ(env_.run("ADD", conf).json["code"], 7);
  json policy = env_.defaultPolicy();
  policy[kPolicyStateDir].push_back(outside_.string());
  env_.setPolicy(policy);
  testing::RunOutput out = env_.run("ADD", conf);
  ASSERT_EQ(out.exitCode, 0) << out.text;
  EXPECT_TRUE(fs::exists(outside_ / "state" / "attachments" / "c0ffee01%2Fnet1.json"));
  EXPECT_EQ(env_.run("DEL", conf).exitCode, 0);
}

TEST_F(PluginPathPolicyTest, ABadPolicyFileFailsEveryCommand) {
  const json conf = nadConfig({});
  ASSERT_EQ(::chmod(env_.policyFile().c_str(), 0664), 0);
  testing::RunOutput out = env_.run("ADD", conf);
  EXPECT_EQ(out.json["code"], 7) << out.text;
  EXPECT_TRUE(out.json.value("msg", "").starts_with("policy file " + env_.policyFile().string() +
                                                    " is writable by group or others (mode 0664)"))
      << out.text;
  ASSERT_EQ(::chmod(env_.policyFile().c_str(), 0644), 0);

  out = env_.run("ADD", conf, {{kPathPolicyEnv, (outside_ / "none.json").string()}});
  EXPECT_EQ(out.json["code"], 7) << out.text;
  EXPECT_NE(out.text.find("which does not exist"), std::string::npos) << out.text;
  EXPECT_TRUE(env_.dataplane()->calls().empty());
  EXPECT_TRUE(env_.ipam().calls().empty());
}

TEST_F(PluginPathPolicyTest, WithoutTheVariableTheDefaultsApply) {
  if (fs::exists(kPathPolicyFile)) GTEST_SKIP() << kPathPolicyFile << " exists on this machine";
  testing::RunOutput out = env_.run("ADD", nadConfig({}), {{kPathPolicyEnv, "<unset>"}});
  EXPECT_EQ(out.json["code"], 7) << out.text;
  const std::string msg = out.json.value("msg", "");
  EXPECT_TRUE(msg.starts_with("stateDir: \"" + env_.stateDir().string() + "\" is outside")) << msg;
  EXPECT_TRUE(msg.ends_with("(/var/lib/ena-dpdk; built-in defaults)")) << msg;
  EXPECT_TRUE(env_.dataplane()->calls().empty());
}

}  // namespace
}  // namespace enadpdk::cni
