#include "tests/cni/cni_test_env.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "cni/path_policy.h"
#include "cni/plugin.h"
#include "common/atomic_file.h"

namespace enadpdk::testing {
namespace {

namespace fs = std::filesystem;

fs::path makeTempDir(const char* prefix) {
  std::string tmpl = (fs::temp_directory_path() / (std::string(prefix) + ".XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
  return tmpl;
}

void writeText(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

// The fake IPAM plugin; %STATE% is replaced by its state directory.
constexpr char kFakeIpamScript[] = R"SH(#!/bin/sh
PATH=/usr/sbin:/usr/bin:/sbin:/bin
S=%STATE%
input=$(cat)
echo "$CNI_COMMAND ${CNI_CONTAINERID:-} ${CNI_IFNAME:-}" >> "$S/calls"
printf '%s' "$input" > "$S/stdin.$CNI_COMMAND"
[ -e "$S/crash.$CNI_COMMAND" ] && exit 2
[ -e "$S/sleep.$CNI_COMMAND" ] && sleep 5
if [ -e "$S/fail.$CNI_COMMAND" ]; then cat "$S/fail.$CNI_COMMAND"; exit 1; fi
v=$(printf '%s' "$input" | jq -r .cniVersion)
key="$CNI_CONTAINERID:$CNI_IFNAME"
mkdir -p "$S/leases"
case $CNI_COMMAND in
ADD)
  if [ -e "$S/leases/$key" ]; then
    ip=$(cat "$S/leases/$key")
  else
    n=$(cat "$S/counter" 2>/dev/null || echo 10)
    echo $((n + 1)) > "$S/counter"
    ip=10.99.0.$n
    echo "$ip" > "$S/leases/$key"
  fi
  case $v in 0.*) ver=',"version":"4"' ver6=',"version":"6"' ;; *) ver='' ver6='' ;; esac
  ip6=''
  [ -e "$S/ipv6" ] && ip6=$(printf ',{"address":"2001:db8:99::c0:%s/64","gateway":"2001:db8:99::1"%s}' "${ip##*.}" "$ver6")
  printf '{"cniVersion":"%s","ips":[{"address":"%s/24","gateway":"10.99.0.1"%s}%s],"routes":[{"dst":"0.0.0.0/0"}],"dns":{"nameservers":["10.99.0.2"]}}\n' "$v" "$ip" "$ver" "$ip6"
  ;;
DEL) rm -f "$S/leases/$key" ;;
CHECK)
  [ -e "$S/leases/$key" ] || { printf '{"cniVersion":"%s","code":7,"msg":"no lease for %s"}\n' "$v" "$key"; exit 1; }
  ;;
GC)
  for f in "$S"/leases/*; do
    [ -e "$f" ] || continue
    k=$(basename "$f")
    keep=$(printf '%s' "$input" | jq --arg k "$k" '[(."cni.dev/valid-attachments" // ."cni.dev/attachments" // [])[] | "\(.containerID):\(.ifname)"] | index($k) != null')
    [ "$keep" = true ] || rm -f "$f"
  done
  ;;
esac
exit 0
)SH";

}  // namespace

void FakeIpam::handOutIpv6(bool on) {
  if (on) {
    writeText(dir_ / "state" / "ipv6", "");
  } else {
    fs::remove(dir_ / "state" / "ipv6");
  }
}

FakeIpam::FakeIpam() : dir_(makeTempDir("fake-ipam")) {
  fs::create_directories(bin());
  fs::create_directories(dir_ / "state");
  std::string script = kFakeIpamScript;
  script.replace(script.find("%STATE%"), 7, (dir_ / "state").string());
  writeText(bin() / "fake-ipam", script);
  fs::permissions(bin() / "fake-ipam", fs::perms::owner_all);
}

FakeIpam::~FakeIpam() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void FakeIpam::failWith(const std::string& command, int code, const std::string& msg) {
  writeText(dir_ / "state" / ("fail." + command),
            nlohmann::json{{"cniVersion", "1.0.0"}, {"code", code}, {"msg", msg}}.dump());
}
void FakeIpam::crash(const std::string& command) {
  writeText(dir_ / "state" / ("crash." + command), "");
}
void FakeIpam::hang(const std::string& command) {
  writeText(dir_ / "state" / ("sleep." + command), "");
}
void FakeIpam::behave() {
  for (const auto& e : fs::directory_iterator(dir_ / "state")) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("fail.") || name.starts_with("crash.") || name.starts_with("sleep.")) {
      fs::remove(e.path());
    }
  }
}

std::vector<std::string> FakeIpam::calls() const {
  std::vector<std::string> out;
  std::ifstream in(dir_ / "state" / "calls");
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out.push_back(line);
  }
  return out;
}

nlohmann::json FakeIpam::lastInput(const std::string& command) const {
  auto text = common::readFile(dir_ / "state" / ("stdin." + command));
  if (!text.ok()) return nullptr;
  return nlohmann::json::parse(*text, nullptr, false);
}

std::vector<std::string> FakeIpam::leases() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ / "state" / "leases", ec)) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

CniTestEnv::CniTestEnv() : root_(makeTempDir("cni-test")) {
  for (int i = 0; i < 4; ++i) {
    fs::create_directories(slotDir() / ("eni1-0" + std::to_string(i)));
  }
  setPolicy(defaultPolicy());
  startDataplane();
}

nlohmann::json CniTestEnv::defaultPolicy() const {
  nlohmann::json policy = nlohmann::json::object();
  for (const std::string& key : cni::PathPolicy::keys()) policy[key] = {root_.string()};
  policy[cni::kPolicyHostRoot].push_back(fs::temp_directory_path().string());
  policy[cni::kPolicySlotDir].push_back("/" + std::string(100, 'd'));
  return policy;
}

void CniTestEnv::setPolicy(const nlohmann::json& policy) const {
  ASSERT_TRUE(common::writeFileAtomic(policyFile(), policy.dump(), 0644).ok());
}

CniTestEnv::~CniTestEnv() {
  dataplane_.reset();
  std::error_code ec;
  fs::remove_all(root_, ec);
}

void CniTestEnv::stopDataplane() { dataplane_.reset(); }

void CniTestEnv::startDataplane() {
  dataplane_ = FakeDataplane::start(
      socket(), {{.name = "eni1", .vpc = true, .mtu = 9001}, {.name = "local", .mtu = 1500}},
      slotDir());
}

nlohmann::json CniTestEnv::config(const std::string& version, const nlohmann::json& extra) const {
  nlohmann::json c = {{"cniVersion", version},          {"name", "dpdk-net"},
                      {"type", "ena-dpdk-cni"},         {"dataplaneSocket", socket().string()},
                      {"slotDir", slotDir().string()},  {"stateDir", stateDir().string()},
                      {"ipam", {{"type", "fake-ipam"}}}};
  for (const auto& [key, value] : extra.items()) {
    if (value.is_null()) {
      c.erase(key);
    } else {
      c[key] = value;
    }
  }
  return c;
}

std::map<std::string, std::string> CniTestEnv::env(
    const std::string& command, const std::map<std::string, std::string>& overrides) const {
  std::map<std::string, std::string> e = {{"CNI_COMMAND", command},
                                          {"CNI_CONTAINERID", "c0ffee01"},
                                          {"CNI_NETNS", "/var/run/netns/pod1"},
                                          {"CNI_IFNAME", "net1"},
                                          {"CNI_ARGS", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=p"},
                                          {"CNI_PATH", ipam_.bin().string()},
                                          {"PATH", "/usr/bin:/bin"},
                                          {cni::kPathPolicyEnv, policyFile().string()}};
  for (const auto& [key, value] : overrides) {
    if (value == "<unset>") {
      e.erase(key);
    } else {
      e[key] = value;
    }
  }
  return e;
}

RunOutput CniTestEnv::run(const nlohmann::json& config,
                          const std::map<std::string, std::string>& env,
                          std::chrono::milliseconds delegateTimeout) const {
  std::ostringstream out;
  cni::PluginEnvironment environment{.env = env, .delegateTimeout = delegateTimeout};
  RunOutput result;
  std::ostringstream err;
  const auto command = env.find("CNI_COMMAND");
  result.exitCode =
      cni::dispatchCommand("ena-dpdk-cni", command == env.end() ? "" : command->second,
                           config.dump(), cni::commandHandlers(environment), out, err);
  result.text = out.str();
  if (!result.text.empty()) {
    result.json = nlohmann::json::parse(result.text, nullptr, false);
    EXPECT_FALSE(result.json.is_discarded()) << "stdout is not JSON: " << result.text;
  }
  return result;
}

RunOutput CniTestEnv::run(const std::string& command, const nlohmann::json& config,
                          const std::map<std::string, std::string>& overrides) const {
  return run(config, env(command, overrides));
}

std::vector<std::string> CniTestEnv::files() const {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root_)) {
    if (e.path() == socket() || e.path() == policyFile()) continue;
    out.push_back(e.path().lexically_relative(root_).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace enadpdk::testing
