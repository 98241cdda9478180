// The ena-dpdk-cni binary as a runtime runs it: separate processes, config on stdin, result or
// error on stdout, logs on stderr; 100 concurrent ADDs then 100 concurrent DELs with the real
// ena-dpdk-ipam (static pool) against the stateful fake dataplane.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/atomic_file.h"
#include "nlohmann/json.hpp"
#include "tests/support/fake_dataplane.h"

namespace enadpdk::cni {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Child {
  pid_t pid = -1;
  fs::path out;
  fs::path err;
};

class CniBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "cni-binary.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ / "bin");
    fs::create_directories(root_ / "slots");
    fs::copy_file(ENA_DPDK_IPAM_BINARY, root_ / "bin" / "ena-dpdk-ipam");
    // The node path policy (cni/path_policy.h): every path key may name the temporary root.
    json policy = json::object();
    for (const char* key : {"logFile", "stateDir", "dataplaneSocket", "slotDir",
                            "CNIDeviceInfoFile", "hostRoot", "ipam.stateDir", "ipam.configFile"}) {
      policy[key] = {root_.string()};
    }
    std::ofstream(policyFile()) << policy.dump();
    fs::permissions(policyFile(), fs::perms(0644));
    dataplane_ = testing::FakeDataplane::start(root_ / "dp.sock", {{.name = "eni1", .vpc = true}},
                                               root_ / "slots");
    ASSERT_NE(dataplane_, nullptr);
  }
  void TearDown() override {
    dataplane_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  json config(unsigned poolSize) const {
    json addresses = json::array();
    for (unsigned i = 0; i < poolSize; ++i) {
      addresses.push_back("10.1." + std::to_string(i / 200) + "." + std::to_string(10 + i % 200) +
                          "/16");
    }
    return {{"cniVersion", "1.0.0"},
            {"name", "dpdk-net"},
            {"type", "ena-dpdk-cni"},
            {"network", "eni1"},
            {"dataplaneSocket", (root_ / "dp.sock").string()},
            // 100 plugin processes on a busy 2-core machine: this test is about correctness.
            {"dataplaneTimeoutMs", 30000},
            {"slotDir", (root_ / "slots").string()},
            {"stateDir", (root_ / "state").string()},
            {"logFile", (root_ / "cni.log").string()},
            {"ipam",
             {{"type", "ena-dpdk-ipam"},
              {"stateDir", (root_ / "ipam").string()},
              {"gateway", "10.1.0.1"},
              {"addresses", addresses}}}};
  }

  fs::path policyFile() const { return root_ / "policy.json"; }

  // Starts the plugin binary with `env` and `config` on stdin. ENA_DPDK_CNI_POLICY names
  // policyFile() unless `env` sets it ("<unset>": not at all).
  Child spawn(const std::string& name, const json& conf, std::map<std::string, std::string> env) {
    Child c{.out = root_ / (name + ".out"), .err = root_ / (name + ".err")};
    const fs::path in = root_ / (name + ".in");
    std::ofstream(in) << conf.dump();
    env["CNI_PATH"] = (root_ / "bin").string();
    env["PATH"] = "/usr/bin:/bin";
    env.emplace("ENA_DPDK_CNI_POLICY", policyFile().string());
    if (env["ENA_DPDK_CNI_POLICY"] == "<unset>") env.erase("ENA_DPDK_CNI_POLICY");
    std::vector<std::string> envStrings;
    for (const auto& [k, v] : env) envStrings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (std::string& s : envStrings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string program = ENA_DPDK_CNI_BINARY;
    char* argv[] = {program.data(), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, in.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, c.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&actions, 2, c.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    EXPECT_EQ(posix_spawn(&c.pid, program.c_str(), &actions, nullptr, argv, envp.data()), 0);
    posix_spawn_file_actions_destroy(&actions);
    return c;
  }

  // Waits for a child; returns its exit status.
  static int wait(const Child& c) {
    int status = 0;
    while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  static std::string read(const fs::path& p) {
    auto text = common::readFile(p);
    return text.ok() ? *text : "";
  }

  std::map<std::string, std::string> attachmentEnv(const std::string& command,
                                                   const std::string& cid) const {
    return {{"CNI_COMMAND", command},
            {"CNI_CONTAINERID", cid},
            {"CNI_NETNS", "/var/run/netns/" + cid},
            {"CNI_IFNAME", "net1"}};
  }

  size_t leaseCount() const {
    size_t n = 0;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root_ / "ipam", ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->path().extension() == ".lease") ++n;
    }
    return n;
  }

  fs::path root_;
  std::unique_ptr<testing::FakeDataplane> dataplane_;
};

TEST_F(CniBinaryTest, ResultAndErrorsOnStdoutLogsOnStderr) {
  Child add = spawn("add", config(4), attachmentEnv("ADD", "c1"));
  ASSERT_EQ(wait(add), 0) << read(add.out) << read(add.err);
  json result = json::parse(read(add.out));
  EXPECT_EQ(result["interfaces"][0]["name"], "net1");
  EXPECT_EQ(result["ips"][0]["address"], "10.1.0.10/16");
  EXPECT_NE(read(add.err).find("level=info component=cni msg=\"ADD done\" id=c1/net1"),
            std::string::npos);
  EXPECT_NE(read(root_ / "cni.log").find("msg=\"ADD done\" id=c1/net1"), std::string::npos);

  json bad = config(4);
  bad["mtu"] = "big";
  Child err = spawn("err", bad, attachmentEnv("ADD", "c2"));
  EXPECT_EQ(wait(err), 1);
  // stdout holds exactly the error JSON, nothing else.
  json error = json::parse(read(err.out));
  EXPECT_EQ(error["code"], 7);
  EXPECT_EQ(error["cniVersion"], "1.0.0");

  Child version = spawn("version", json{{"cniVersion", "0.4.0"}}, {{"CNI_COMMAND", "VERSION"}});
  EXPECT_EQ(wait(version), 0);
  EXPECT_EQ(json::parse(read(version.out))["supportedVersions"],
            json::parse(R"(["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])"));

  Child del = spawn("del", config(4), attachmentEnv("DEL", "c1"));
  EXPECT_EQ(wait(del), 0) << read(del.err);
  EXPECT_EQ(read(del.out), "");
  EXPECT_TRUE(dataplane_->ports().empty());
}

// An IPAM plugin that prints what the spec does not allow (keys of the wrong type, in a result or
// in an error): ena-dpdk-cni answers with the spec's error JSON (code 104, naming the plugin),
// exit status 1, never a crash, an uncaught exception (code 199) or a partial attachment.
TEST_F(CniBinaryTest, AnIpamResultWithWrongTypesIsACniErrorNotACrash) {
  struct Case {
    std::string name;
    // What the IPAM plugin prints on stdout for ADD, and its exit status.
    std::string output;
    int exitCode;
    // The CNI code and a part of the message ena-dpdk-cni answers with.
    int code;
    std::string message;
  };
  for (const Case& c : {
           Case{"IpsNotAList", R"({"cniVersion": "1.0.0", "ips": "x"})", 0, 104,
                "ipam plugin wrong-ipam: ADD printed an unusable result"},
           Case{"AddressNotAString", R"({"cniVersion": "1.0.0", "ips": [{"address": 5}]})", 0, 104,
                "ipam plugin wrong-ipam: ADD printed an unusable result"},
           Case{"RoutesNotAList",
                R"({"cniVersion": "1.0.0", "ips": [{"address": "10.1.0.9/16"}], "routes": 1})", 0,
                104, "ipam plugin wrong-ipam: ADD printed an unusable result"},
           Case{"ResultNotAnObject", R"(["10.1.0.9/16"])", 0, 104,
                "ipam plugin wrong-ipam: ADD printed an unusable result"},
           Case{"ErrorMsgIsANumber", R"({"cniVersion": "1.0.0", "code": 7, "msg": 5})", 1, 104,
                "ipam plugin wrong-ipam: ADD exited with status 1 and printed a CNI error whose "
                "\"msg\" is not a string"},
           Case{"ErrorCodeIsAString", R"({"cniVersion": "1.0.0", "code": "7", "msg": "m"})", 1, 104,
                "ipam plugin wrong-ipam: ADD exited with status 1 and printed a CNI error whose "
                "\"code\" is not a code"},
           Case{"ErrorCodeIsNegative", R"({"cniVersion": "1.0.0", "code": -1, "msg": "m"})", 1, 104,
                "\"code\" is not a code"},
           Case{"ErrorCodeIsHuge", R"({"cniVersion": "1.0.0", "code": 1e300, "msg": "m"})", 1, 104,
                "\"code\" is not a code"},
           // Details of the wrong type are left out; the error itself is the plugin's.
           Case{"ErrorDetailsIsANumber",
                R"({"cniVersion": "1.0.0", "code": 7, "msg": "bad pool", "details": 5})", 1, 7,
                "ipam plugin wrong-ipam: bad pool"},
       }) {
    SCOPED_TRACE(c.name);
    const fs::path script = root_ / "bin" / "wrong-ipam";
    {
      std::ofstream out(script, std::ios::trunc);
      out << "#!/bin/sh\ncat >/dev/null\ncat <<'EOF'\n"
          << c.output << "\nEOF\nexit " << c.exitCode << "\n";
    }
    fs::permissions(script, fs::perms(0755));
    json conf = config(4);
    conf["ipam"] = {{"type", "wrong-ipam"}};
    Child add = spawn("wrong", conf, attachmentEnv("ADD", "c1"));
    EXPECT_EQ(wait(add), 1) << read(add.out) << read(add.err);
    const std::string out = read(add.out);
    json error = json::parse(out, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(error.is_object()) << out;
    EXPECT_EQ(error["cniVersion"], "1.0.0") << out;
    EXPECT_EQ(error["code"], c.code) << out;
    ASSERT_TRUE(error["msg"].is_string()) << out;
    EXPECT_NE(error["msg"].get<std::string>().find(c.message), std::string::npos) << out;
    EXPECT_EQ(read(add.err).find("internal error"), std::string::npos) << read(add.err);
    // Nothing of the attachment is left behind.
    EXPECT_TRUE(dataplane_->ports().empty());
  }
}

// Everything under `dir`, except what spawn() itself writes (<name>.in, .out, .err).
std::set<std::string> treeOf(const fs::path& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string ext = it->path().extension().string();
    if (ext == ".in" || ext == ".out" || ext == ".err") continue;
    out.insert(it->path().string());
  }
  return out;
}

// A NetworkAttachmentDefinition (written by a namespace user) naming paths the node's policy does
// not allow: code 7 for every command, and nothing created, written or connected to anywhere.
TEST_F(CniBinaryTest, PathsOutsideTheNodePolicyAreRefused) {
  std::string tmpl = (fs::temp_directory_path() / "cni-outside.XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const fs::path outside = tmpl;
  const bool tmpXExisted = fs::exists("/tmp/x");
  ASSERT_FALSE(fs::exists("/etc/evil.log")) << "remove /etc/evil.log left by someone else";
  auto outsideConfig = [&](const json& extra) {
    json conf = config(4);
    for (const auto& [key, value] : extra.items()) conf[key] = value;
    return conf;
  };
  const json devinfo = {{"deviceID", "eni1-07"},
                        {"CNIDeviceInfoFile", (outside / "devinfo" / "net1.json").string()}};
  struct Case {
    json conf;
    std::string field;
  };
  const Case cases[] = {
      {outsideConfig({{"logFile", "/etc/evil.log"}}), "logFile"},
      {outsideConfig({{"stateDir", "/tmp/x"}}), "stateDir"},
      {outsideConfig({{"stateDir", (outside / "state").string()}}), "stateDir"},
      {outsideConfig({{"dataplaneSocket", (outside / "dp.sock").string()}}), "dataplaneSocket"},
      {outsideConfig({{"runtimeConfig", devinfo}}), "runtimeConfig.CNIDeviceInfoFile"},
      {outsideConfig({{"slotDir", (outside / "slots").string()}}), "slotDir"},
      {outsideConfig({{"ipam",
                       {{"type", "ena-dpdk-ipam"},
                        {"stateDir", (outside / "ipam").string()},
                        {"addresses", {"10.1.0.10/16"}}}}}),
       "ipam.stateDir"},
      // All of them at once, as one NAD: the log file is named first, and not opened.
      {outsideConfig({{"logFile", "/etc/evil.log"},
                      {"stateDir", "/tmp/x"},
                      {"dataplaneSocket", (outside / "dp.sock").string()},
                      {"slotDir", (outside / "slots").string()},
                      {"runtimeConfig", devinfo}}),
       "logFile"},
  };
  const std::set<std::string> before = treeOf(root_);
  int n = 0;
  for (const Case& c : cases) {
    for (const char* command : {"ADD", "DEL"}) {
      SCOPED_TRACE(c.conf.dump() + " " + command);
      Child child = spawn("refused" + std::to_string(n++), c.conf, attachmentEnv(command, "c9"));
      EXPECT_EQ(wait(child), 1);
      const json error = json::parse(read(child.out), nullptr, false);
      if (!error.is_object()) {
        ADD_FAILURE() << "not a CNI error: " << read(child.out);
        continue;
      }
      EXPECT_EQ(error.value("code", 0), 7) << read(child.out);
      const std::string msg = error.value("msg", "");
      EXPECT_TRUE(msg.starts_with(c.field + ": ")) << msg;
      EXPECT_NE(msg.find("outside the directories the node's path policy allows for"),
                std::string::npos)
          << msg;
      EXPECT_NE(msg.find("(" + root_.string() + "; policy file " + policyFile().string() + ")"),
                std::string::npos)
          << msg;
      EXPECT_NE(read(child.err).find("refused by the node path policy"), std::string::npos)
          << read(child.err);
    }
  }
  EXPECT_EQ(treeOf(root_), before);
  EXPECT_TRUE(fs::is_empty(outside));
  EXPECT_FALSE(fs::exists("/etc/evil.log"));
  EXPECT_EQ(fs::exists("/tmp/x"), tmpXExisted);
  EXPECT_TRUE(dataplane_->calls().empty());
  std::error_code ec;
  fs::remove_all(outside, ec);
  fs::remove("/etc/evil.log", ec);  // only there if the test failed
  if (!tmpXExisted) fs::remove_all("/tmp/x", ec);
}

// Without ENA_DPDK_CNI_POLICY the built-in defaults apply (no /etc/ena-dpdk/cni-policy.json on a
// test machine): the temporary paths are refused; a policy file that others may write is an
// error for every command.
TEST_F(CniBinaryTest, DefaultsAndInsecurePolicyFile) {
  if (fs::exists("/etc/ena-dpdk/cni-policy.json")) GTEST_SKIP() << "the machine has a policy";
  std::map<std::string, std::string> env = attachmentEnv("ADD", "c3");
  env["ENA_DPDK_CNI_POLICY"] = "<unset>";
  Child defaults = spawn("defaults", config(4), env);
  EXPECT_EQ(wait(defaults), 1);
  json error = json::parse(read(defaults.out), nullptr, false);
  ASSERT_TRUE(error.is_object()) << read(defaults.out);
  EXPECT_EQ(error["code"], 7) << read(defaults.out);
  EXPECT_TRUE(
      error.value("msg", "").ends_with("(/var/log/ena-dpdk-cni.log, "
                                       "/var/log/ena-dpdk-ipam.log, /var/log/ena-dpdk; "
                                       "built-in defaults)"))
      << read(defaults.out);
  EXPECT_FALSE(fs::exists(root_ / "cni.log"));

  fs::permissions(policyFile(), fs::perms(0666));
  Child insecure = spawn("insecure", config(4), attachmentEnv("ADD", "c3"));
  EXPECT_EQ(wait(insecure), 1);
  error = json::parse(read(insecure.out), nullptr, false);
  ASSERT_TRUE(error.is_object()) << read(insecure.out);
  EXPECT_EQ(error["code"], 7) << read(insecure.out);
  EXPECT_EQ(error.value("msg", ""),
            "policy file " + policyFile().string() + " is writable by group or others (mode 0666)");
  EXPECT_FALSE(fs::exists(root_ / "cni.log"));
  EXPECT_FALSE(fs::exists(root_ / "state"));
  EXPECT_TRUE(dataplane_->calls().empty());
}

TEST_F(CniBinaryTest, HundredConcurrentAddsThenHundredDels) {
  constexpr int kCount = 100;
  const json conf = config(kCount);
  std::vector<Child> children;
  for (int i = 0; i < kCount; ++i) {
    const std::string cid = "pod" + std::to_string(i);
    children.push_back(spawn("add" + std::to_string(i), conf, attachmentEnv("ADD", cid)));
  }
  std::set<std::string> addresses;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(wait(children[i]), 0) << read(children[i].out) << read(children[i].err);
    addresses.insert(json::parse(read(children[i].out))["ips"][0]["address"]);
  }
  EXPECT_EQ(addresses.size(), static_cast<size_t>(kCount)) << "every pod got its own address";
  EXPECT_EQ(dataplane_->ports().size(), static_cast<size_t>(kCount));
  EXPECT_EQ(leaseCount(), static_cast<size_t>(kCount));

  children.clear();
  for (int i = 0; i < kCount; ++i) {
    const std::string cid = "pod" + std::to_string(i);
    children.push_back(spawn("del" + std::to_string(i), conf, attachmentEnv("DEL", cid)));
  }
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(wait(children[i]), 0) << read(children[i].out) << read(children[i].err);
  }
  EXPECT_TRUE(dataplane_->ports().empty());
  EXPECT_EQ(leaseCount(), 0u);
  std::error_code ec;
  EXPECT_TRUE(fs::is_empty(root_ / "state" / "attachments", ec));
  // Only the slot root is left: every per-attachment directory is gone.
  EXPECT_TRUE(fs::is_empty(root_ / "slots"));
}

// Both plugins of many concurrent commands append to one log file, in JSON (the top-level
// logFormat reaches ena-dpdk-ipam too), rotated by size: every line of every process is whole and
// present, and no file passes the limit.
TEST_F(CniBinaryTest, ConcurrentPluginsShareOneRotatedJsonLog) {
  constexpr int kCount = 30;
  constexpr uint64_t kMaxBytes = 2048;
  json conf = config(kCount);
  conf["logFormat"] = "json";
  conf["logMaxBytes"] = kMaxBytes;
  conf["logMaxFiles"] = 100;  // every line kept, so that every line can be counted
  std::vector<Child> children;
  for (int i = 0; i < kCount; ++i) {
    children.push_back(
        spawn("add" + std::to_string(i), conf, attachmentEnv("ADD", "pod" + std::to_string(i))));
  }
  for (const Child& c : children) ASSERT_EQ(wait(c), 0) << read(c.out) << read(c.err);

  std::map<std::string, int> events;  // "<component> <msg>" -> count
  int files = 0;
  for (unsigned n = 0; n <= 100; ++n) {
    const fs::path file = n == 0 ? root_ / "cni.log" : root_ / ("cni.log." + std::to_string(n));
    if (!fs::exists(file)) continue;
    ++files;
    const std::string text = read(file);
    EXPECT_LE(text.size(), kMaxBytes) << file;
    ASSERT_FALSE(text.empty()) << file;
    EXPECT_EQ(text.back(), '\n') << file;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      const json event = json::parse(line, nullptr, /*allow_exceptions=*/false);
      ASSERT_TRUE(event.is_object()) << file << ": torn line: " << line;
      for (const char* key : {"ts", "level", "component", "msg"}) {
        EXPECT_TRUE(event.contains(key)) << key << " missing: " << line;
      }
      ++events[event.value("component", "") + " " + event.value("msg", "")];
    }
  }
  EXPECT_GT(files, 3) << "the test should rotate";
  EXPECT_EQ(events["cni ADD"], kCount);
  EXPECT_EQ(events["cni ADD done"], kCount);
  EXPECT_EQ(events["ipam lease added"], kCount);
}

}  // namespace
}  // namespace enadpdk::cni
