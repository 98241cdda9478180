// Seeded, bounded fuzzing of ena-dpdk-cni and ena-dpdk-ipam as a runtime runs them: separate
// processes with random and mutated stdin and CNI_* environment values (invalid UTF-8, very long
// values), and for the IPAM plugin metadata-service bodies with such bytes. Every run must end
// with exit status 0 or 1 (no signal), print at most one well-formed JSON object, carrying `code`
// and `msg` when it failed, and write nothing outside the temporary root. Deterministic: the
// seed is fixed (ENA_DPDK_FUZZ_SEED overrides it to explore), so a failure repeats.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/atomic_file.h"
#include "nlohmann/json.hpp"
#include "tests/support/fake_imds.h"

namespace enadpdk::cni {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Env = std::map<std::string, std::string>;

constexpr int kCasesPerBinary = 2000;
constexpr int kParallel = 4;

// One finished plugin run.
struct PluginRun {
  int exitCode = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out;
};

// Where nothing may appear: the plugins' default paths.
const std::vector<fs::path> kForbiddenRoots = {"/var/lib/ena-dpdk", "/run/ena-dpdk",
                                               "/var/run/ena-dpdk", "/var/log/ena-dpdk-cni.log",
                                               "/etc/ena-dpdk"};

std::set<std::string> listing(const std::vector<fs::path>& roots) {
  std::set<std::string> out;
  for (const fs::path& root : roots) {
    std::error_code ec;
    if (!fs::exists(root, ec)) continue;
    out.insert(root.string());
    for (auto it = fs::recursive_directory_iterator(root, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      out.insert(it->path().string());
    }
  }
  return out;
}

class PluginFuzzTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "cni-fuzz.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    for (const char* d : {"bin", "io", "slots", "slots/eni1-07", "cwd"}) {
      fs::create_directories(root_ / d);
    }
    fs::create_symlink(ENA_DPDK_IPAM_BINARY, root_ / "bin" / "ena-dpdk-ipam");
    std::ofstream(root_ / "config.json")
        << json{{"ipam", {{"stateDir", (root_ / "ipam-from-file").string()}}}}.dump();
    // The node path policy (cni/path_policy.h) allows this test's root for every key, so that
    // the fuzzing reaches past the policy check; some runs go without it (the defaults refuse).
    json policy = json::object();
    for (const char* key : {"logFile", "stateDir", "dataplaneSocket", "slotDir",
                            "CNIDeviceInfoFile", "hostRoot", "ipam.stateDir", "ipam.configFile"}) {
      policy[key] = {root_.string()};
    }
    std::ofstream(root_ / "cni-policy.json") << policy.dump();
    fs::permissions(root_ / "cni-policy.json", fs::perms(0644));
    absl::StatusOr<std::unique_ptr<testing::FakeImds>> imds = testing::FakeImds::start();
    ASSERT_TRUE(imds.ok()) << imds.status();
    imds_ = std::move(*imds);
    imds_->addEni({.mac = "0a:00:00:00:00:01",
                   .deviceNumber = 1,
                   .localIpv4s = {"10.0.1.10", "10.0.1.11", "10.0.1.12"},
                   .subnetIpv4Cidr = "10.0.1.0/24"});
    const char* seed = std::getenv("ENA_DPDK_FUZZ_SEED");
    rng_.seed(seed != nullptr ? std::strtoull(seed, nullptr, 10) : 20261205);
    before_ = listing(kForbiddenRoots);
  }
  void TearDown() override {
    EXPECT_EQ(listing(kForbiddenRoots), before_) << "a plugin wrote outside the temporary root";
    imds_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // The IPAM section with every path and endpoint inside the temporary root.
  json ipamSection() const {
    return {{"type", "ena-dpdk-ipam"},
            {"network", "eni1"},
            {"configFile", (root_ / "config.json").string()},
            {"stateDir", (root_ / "ipam").string()},
            {"imds", {{"endpoint", imds_->endpoint()}, {"timeoutMs", 500}, {"ttlSeconds", 0}}},
            {"gateway", "10.1.0.1"},
            {"addresses", {"10.1.0.10/16", "10.1.0.11/16"}}};
  }
  json cniConfig() const {
    return {{"cniVersion", "1.1.0"},
            {"name", "fuzz-net"},
            {"type", "ena-dpdk-cni"},
            {"network", "eni1"},
            {"dataplaneSocket", (root_ / "dp.sock").string()},
            {"dataplaneTimeoutMs", 200},
            {"slotDir", (root_ / "slots").string()},
            {"stateDir", (root_ / "state").string()},
            {"hostRoot", (root_ / "host").string()},
            {"runtimeConfig", {{"CNIDeviceInfoFile", (root_ / "devinfo" / "d.json").string()}}},
            {"ipam", ipamSection()}};
  }
  // Puts every path key back inside the root, whatever a mutation did to it, so that the plugins
  // cannot be sent to their default (real) directories.
  void confine(json& j, bool cni) const {
    if (!j.is_object()) return;
    const json base = cni ? cniConfig() : json{{"ipam", ipamSection()}};
    const std::vector<std::string> keys = {"dataplaneSocket", "slotDir", "stateDir", "hostRoot"};
    if (cni) {
      for (const std::string& key : keys) j[key] = base[key];
      j["runtimeConfig"] = base["runtimeConfig"];
    }
    j.erase("logFile");
    if (!j.contains("ipam") || !j["ipam"].is_object()) return;
    json& ipam = j["ipam"];
    for (const char* key : {"configFile", "stateDir", "imds"}) ipam[key] = base["ipam"][key];
    if (cni) ipam["type"] = "ena-dpdk-ipam";
    ipam.erase("logFile");
  }

  std::string randomBytes(size_t n) {
    std::string s(n, '\0');
    for (char& c : s) {
      // Mostly bytes that are not ASCII, never NUL (the environment cannot carry it).
      const unsigned v = rng_() % 4 == 0 ? 1 + rng_() % 127 : 128 + rng_() % 128;
      c = static_cast<char>(v);
    }
    return s;
  }
  size_t randomLength() {
    switch (rng_() % 8) {
      case 0:
        return 5000 + rng_() % 15000;  // very long
      case 1:
      case 2:
        return rng_() % 300;
      default:
        return rng_() % 16;
    }
  }
  // `text` with a few random byte edits (insert, replace, delete), sometimes made very long.
  std::string mutate(std::string text) {
    const int edits = 1 + static_cast<int>(rng_() % 4);
    for (int i = 0; i < edits; ++i) {
      const size_t at = text.empty() ? 0 : rng_() % (text.size() + 1);
      switch (rng_() % 5) {
        case 0:
          text.insert(at, randomBytes(1 + rng_() % 3));
          break;
        case 1:
          if (at < text.size()) text[at] = randomBytes(1)[0];
          break;
        case 2:
          if (at < text.size()) text.erase(at, 1 + rng_() % 4);
          break;
        case 3:
          text.insert(at, std::string(1 + rng_() % 3, static_cast<char>(0xff)));
          break;
        default:
          text.insert(at, std::string(randomLength(), 'a'));
          break;
      }
    }
    return text;
  }
  std::string pick(const std::vector<std::string>& from) { return from[rng_() % from.size()]; }

  // A CNI_* value: valid, mutated valid, random bytes, or absent (empty string = unset).
  std::string envValue(const std::vector<std::string>& valid) {
    switch (rng_() % 6) {
      case 0:
      case 1:
        return pick(valid);
      case 2:
      case 3:
        return mutate(pick(valid));
      case 4:
        return randomBytes(randomLength());
      default:
        return "";
    }
  }
  Env randomEnv() {
    Env env = {{"PATH", "/usr/bin:/bin"}};
    const std::map<std::string, std::vector<std::string>> valid = {
        {"CNI_COMMAND", {"ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"}},
        {"CNI_CONTAINERID", {"c0ffee", "abc.def-1", "x"}},
        {"CNI_NETNS", {"/var/run/netns/pod", "/proc/1/ns/net"}},
        {"CNI_IFNAME", {"net1", "eth0", "a"}},
        {"CNI_ARGS", {"IgnoreUnknown=1;K8S_POD_NAME=p;K8S_POD_NAMESPACE=default", "A=b"}},
        {"CNI_PATH", {(root_ / "bin").string()}}};
    for (const auto& [key, values] : valid) {
      std::string value = envValue(values);
      if (key == "CNI_PATH" && rng_() % 4 != 0) value = (root_ / "bin").string();
      if (!value.empty()) env[key] = value;
    }
    if (rng_() % 8 != 0) env["ENA_DPDK_CNI_POLICY"] = (root_ / "cni-policy.json").string();
    return env;
  }
  // Stdin: the valid config, a mutation of its text, a config with one value replaced, or noise.
  std::string randomConfig(bool cni) {
    json base = cni ? cniConfig()
                    : json{{"cniVersion", "1.1.0"},
                           {"name", "fuzz-net"},
                           {"type", "ena-dpdk-cni"},
                           {"ipam", ipamSection()}};
    if (rng_() % 3 == 0) base["ipam"].erase("addresses");  // metadata source
    if (rng_() % 4 == 0) {
      base["prevResult"] = {{"cniVersion", "1.1.0"},
                            {"interfaces", {{{"name", "net1"}, {"sandbox", "/var/run/netns/pod"}}}},
                            {"ips", {{{"address", "10.1.0.10/16"}, {"interface", 0}}}}};
    }
    std::string text;
    switch (rng_() % 6) {
      case 0:
        text = base.dump();
        break;
      case 1:
      case 2: {
        // Replace one value (at top level or in ipam) with a random string, number or object.
        json& where = rng_() % 2 == 0 ? base : base["ipam"];
        std::vector<std::string> keys;
        for (const auto& item : where.items()) keys.push_back(item.key());
        const std::string key = rng_() % 5 == 0 ? mutate("cniVersion") : pick(keys);
        switch (rng_() % 4) {
          case 0:
            where[key] = std::string(randomLength(), 'z');
            break;
          case 1:
            where[key] = static_cast<int64_t>(rng_()) - (int64_t{1} << 62);
            break;
          case 2:
            where[key] = json::object({{mutate("k"), json::array()}});
            break;
          default:
            where[key] = json(nullptr);
            break;
        }
        text = base.dump(-1, ' ', false, json::error_handler_t::replace);
        break;
      }
      case 3:
      case 4:
        text = mutate(base.dump());
        break;
      default:
        text = rng_() % 2 == 0 ? randomBytes(randomLength()) : "";
        break;
    }
    json parsed = json::parse(text, nullptr, false);
    if (!parsed.is_discarded() && parsed.is_object()) {
      confine(parsed, cni);
      text = parsed.dump();
    }
    return text;
  }
  // Metadata bodies for the next batch: valid, mutated or noise.
  void randomizeImds() {
    const std::string eni = "network/interfaces/macs/0a:00:00:00:00:01/";
    switch (rng_() % 4) {
      case 0:
        imds_->set("network/interfaces/macs/", "0a:00:00:00:00:01/\n");
        imds_->set(eni + "local-ipv4s", "10.0.1.10\n10.0.1.11");
        imds_->set(eni + "subnet-ipv4-cidr-block", "10.0.1.0/24");
        break;
      case 1:
        imds_->set("network/interfaces/macs/", mutate("0a:00:00:00:00:01/\n"));
        break;
      case 2:
        imds_->set(eni + "local-ipv4s", mutate("10.0.1.10\n10.0.1.11"));
        break;
      default:
        imds_->set(eni + "subnet-ipv4-cidr-block", randomBytes(randomLength()));
        imds_->set(eni + "device-number", randomBytes(3));
        break;
    }
  }

  pid_t spawn(const char* binary, const Env& env, const std::string& input, int slot) {
    const fs::path in = root_ / "io" / (std::to_string(slot) + ".in");
    const fs::path out = root_ / "io" / (std::to_string(slot) + ".out");
    std::ofstream(in, std::ios::binary) << input;
    std::vector<std::string> strings;
    for (const auto& [k, v] : env) strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (std::string& s : strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string program = binary;
    char* argv[] = {program.data(), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, in.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addchdir_np(&actions, (root_ / "cwd").c_str());
    pid_t pid = -1;
    EXPECT_EQ(posix_spawn(&pid, program.c_str(), &actions, nullptr, argv, envp.data()), 0);
    posix_spawn_file_actions_destroy(&actions);
    return pid;
  }
  PluginRun finish(pid_t pid, int slot) {
    PluginRun run;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) run.exitCode = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) run.signal = WTERMSIG(status);
    auto text = common::readFile(root_ / "io" / (std::to_string(slot) + ".out"));
    run.out = text.ok() ? *text : "";
    return run;
  }
  PluginRun runOnce(const char* binary, const Env& env, const std::string& input) {
    return finish(spawn(binary, env, input, 0), 0);
  }

  // The contract every run must keep; returns a description of the breach, or "".
  static std::string breach(const PluginRun& run) {
    if (run.signal != 0) return "killed by signal " + std::to_string(run.signal);
    if (run.exitCode != 0 && run.exitCode != 1) {
      return "exit status " + std::to_string(run.exitCode);
    }
    std::string trimmed = run.out;
    while (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
    if (run.exitCode == 0 && trimmed.empty()) return "";
    if (trimmed.find('\n') != std::string::npos) return "more than one line on stdout";
    json j = json::parse(trimmed, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return "stdout is not one JSON object";
    if (run.exitCode == 1 && (!j.contains("code") || !j["code"].is_number_integer() ||
                              !j.contains("msg") || !j["msg"].is_string())) {
      return "error without integer code and string msg";
    }
    return "";
  }

  // Runs kCasesPerBinary random cases of `binary`, kParallel at a time.
  void fuzz(const char* binary, bool cni) {
    int failures = 0;
    for (int done = 0; done < kCasesPerBinary; done += kParallel) {
      if (!cni) randomizeImds();
      std::vector<std::pair<Env, std::string>> cases;
      std::vector<pid_t> pids;
      for (int slot = 0; slot < kParallel; ++slot) {
        cases.emplace_back(randomEnv(), randomConfig(cni));
        pids.push_back(spawn(binary, cases.back().first, cases.back().second, slot));
      }
      for (int slot = 0; slot < kParallel; ++slot) {
        const PluginRun run = finish(pids[slot], slot);
        const std::string why = breach(run);
        if (why.empty()) continue;
        std::string envText;
        for (const auto& [k, v] : cases[slot].first) {
          envText += k + "=" + json(v).dump(-1, ' ', true, json::error_handler_t::replace) + " ";
        }
        ADD_FAILURE() << "case " << done + slot << ": " << why << "\n  env: " << envText
                      << "\n  stdin: "
                      << json(cases[slot].second)
                             .dump(-1, ' ', true, json::error_handler_t::replace)
                             .substr(0, 2000)
                      << "\n  stdout: " << run.out.substr(0, 2000);
        if (++failures >= 5) return;
      }
    }
  }

  fs::path root_;
  std::unique_ptr<testing::FakeImds> imds_;
  std::mt19937_64 rng_;
  std::set<std::string> before_;
};

TEST_F(PluginFuzzTest, CniSurvivesRandomInput) { fuzz(ENA_DPDK_CNI_BINARY, /*cni=*/true); }

TEST_F(PluginFuzzTest, IpamSurvivesRandomInput) { fuzz(ENA_DPDK_IPAM_BINARY, /*cni=*/false); }

// Issue 20 item 2: a byte that is not UTF-8 in any CNI_* variable aborted both plugins (exit 134,
// nothing on stdout). Now each answers the spec's error JSON.
TEST_F(PluginFuzzTest, NonUtf8EnvironmentValueIsAnErrorJsonNotAnAbort) {
  const Env valid = {{"CNI_COMMAND", "ADD"},
                     {"CNI_CONTAINERID", "c0ffee"},
                     {"CNI_NETNS", "/var/run/netns/pod"},
                     {"CNI_IFNAME", "net1"},
                     {"CNI_ARGS", "IgnoreUnknown=1"},
                     {"CNI_PATH", (root_ / "bin").string()},
                     {"PATH", "/usr/bin:/bin"}};
  for (const char* binary : {ENA_DPDK_CNI_BINARY, ENA_DPDK_IPAM_BINARY}) {
    for (const char* key :
         {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS"}) {
      for (const std::string& bad :
           {std::string("\xff"), std::string("/a\xc3\x28"), std::string(10000, '\xfe')}) {
        Env env = valid;
        env[key] = bad;
        const PluginRun run = runOnce(binary, env, cniConfig().dump());
        EXPECT_EQ(breach(run), "") << binary << " " << key;
        // ena-dpdk-ipam writes the namespace path nowhere, so it need not refuse it.
        if (binary == std::string(ENA_DPDK_IPAM_BINARY) && key == std::string("CNI_NETNS")) {
          continue;
        }
        EXPECT_EQ(run.exitCode, 1) << binary << " " << key;
        json j = json::parse(run.out, nullptr, false);
        ASSERT_TRUE(j.is_object()) << run.out;
        EXPECT_EQ(j.value("code", 0), 4) << binary << " " << key << ": " << run.out;
        // Echoes are clipped: a 10,000-byte value does not come back whole.
        EXPECT_LT(run.out.size(), 1024u) << binary << " " << key;
      }
    }
  }
}

// Issue 20 item 2: a metadata answer with bytes that are not UTF-8 aborted ena-dpdk-ipam.
TEST_F(PluginFuzzTest, NonUtf8MetadataIsAnErrorJsonNotAnAbort) {
  const std::string eni = "network/interfaces/macs/0a:00:00:00:00:01/";
  json config = {{"cniVersion", "1.0.0"}, {"name", "n"}, {"ipam", ipamSection()}};
  config["ipam"].erase("addresses");
  config["ipam"].erase("gateway");
  config["ipam"]["eniMac"] = "0a:00:00:00:00:01";
  const Env env = {{"CNI_COMMAND", "ADD"},
                   {"CNI_CONTAINERID", "c0ffee"},
                   {"CNI_NETNS", "/var/run/netns/pod"},
                   {"CNI_IFNAME", "net1"},
                   {"PATH", "/usr/bin:/bin"},
                   {"ENA_DPDK_CNI_POLICY", (root_ / "cni-policy.json").string()}};
  for (const auto& [path, body] : std::vector<std::pair<std::string, std::string>>{
           {eni + "local-ipv4s", "10.0.1.\xff"}, {eni + "subnet-ipv4-cidr-block", "\xff"}}) {
    imds_->addEni({.mac = "0a:00:00:00:00:01",
                   .deviceNumber = 1,
                   .localIpv4s = {"10.0.1.10", "10.0.1.11"},
                   .subnetIpv4Cidr = "10.0.1.0/24"});
    imds_->set(path, body);
    const PluginRun run = runOnce(ENA_DPDK_IPAM_BINARY, env, config.dump());
    EXPECT_EQ(breach(run), "") << path << ": " << run.out;
    EXPECT_EQ(run.exitCode, 1) << path;
    json j = json::parse(run.out, nullptr, false);
    ASSERT_TRUE(j.is_object()) << run.out;
    EXPECT_EQ(j.value("code", 0), 111) << run.out;
  }
}

}  // namespace
}  // namespace enadpdk::cni
