#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/support/fake_dataplane.h"

namespace enadpdk::testing {

// A fake IPAM plugin: a shell script "fake-ipam" in its own bin directory (put bin() into
// CNI_PATH) that keeps leases in a state directory and answers like a CNI IPAM plugin in the
// cniVersion of its stdin: ADD hands out 10.99.0.N/24 (gateway 10.99.0.1, a default route and a
// name server; the same address again for the same container ID and ifname), DEL releases, CHECK
// fails with code 7 without a lease, GC keeps the leases in cni.dev/valid-attachments (or
// cni.dev/attachments), STATUS succeeds. Every run is logged with its command and stdin. A test
// can make a command print an error, crash or hang. Not thread-safe.
class FakeIpam {
 public:
  FakeIpam();
  ~FakeIpam();
  FakeIpam(const FakeIpam&) = delete;
  FakeIpam& operator=(const FakeIpam&) = delete;

  // The directory holding the "fake-ipam" executable.
  std::filesystem::path bin() const { return dir_ / "bin"; }
  // Makes `command` print the CNI error {code, msg} and exit 1.
  void failWith(const std::string& command, int code, const std::string& msg);
  // Makes `command` exit 2 without printing anything.
  void crash(const std::string& command);
  // Makes `command` sleep 5 s before answering.
  void hang(const std::string& command);
  // Undoes failWith, crash and hang.
  void behave();
  // Makes ADD also hand out 2001:db8:99::c0:N/64 (gateway 2001:db8:99::1) with 10.99.0.N.
  void handOutIpv6(bool on);
  // Every run as "COMMAND CONTAINERID IFNAME", in order.
  std::vector<std::string> calls() const;
  // The stdin of the last run of `command`, parsed.
  nlohmann::json lastInput(const std::string& command) const;
  // Leases held, as "containerID:ifname".
  std::vector<std::string> leases() const;

 private:
  std::filesystem::path dir_;
};

// What one plugin run printed.
struct RunOutput {
  // Exit status of runCommand.
  int exitCode = 0;
  // stdout, parsed (null when empty).
  nlohmann::json json{};
  // stdout as text.
  std::string text{};
};

// A node for ena-dpdk-cni unit tests under a temporary directory: a FakeDataplane with a vpc
// network "eni1" and an l2 network "local", a slot directory with slots eni1-00..eni1-03, a state
// directory, a FakeIpam, and the CNI_* environment of a default attachment. run() executes the
// plugin in-process through runCommand() with the real gRPC client.
class CniTestEnv {
 public:
  CniTestEnv();
  ~CniTestEnv();

  // The temporary root.
  const std::filesystem::path& root() const { return root_; }
  // Host slot directory, state directory, control socket, device-info directory.
  std::filesystem::path slotDir() const { return root_ / "slots"; }
  std::filesystem::path stateDir() const { return root_ / "state"; }
  std::filesystem::path socket() const { return root_ / "dp.sock"; }
  std::filesystem::path devinfoDir() const { return root_ / "devinfo"; }
  // The node path-policy file the plugin runs use (ENA_DPDK_CNI_POLICY in env()).
  std::filesystem::path policyFile() const { return root_ / "path-policy.json"; }
  // The policy written at construction: every key allows the temporary root; hostRoot also the
  // system temporary directory (FakeHost trees), slotDir also the never-existing directory of
  // plugin_test's socket-length case ("/" followed by 100 'd').
  nlohmann::json defaultPolicy() const;
  // Replaces the policy file's content with `policy` (mode 0644).
  void setPolicy(const nlohmann::json& policy) const;
  // The fake dataplane (null after stopDataplane()).
  FakeDataplane* dataplane() { return dataplane_.get(); }
  // Stops the fake dataplane: its socket goes away.
  void stopDataplane();
  // Starts it again, with an empty port table.
  void startDataplane();
  FakeIpam& ipam() { return ipam_; }

  // A network configuration: cniVersion `version`, type ena-dpdk-cni, name "dpdk-net", paths of
  // this env, IPAM fake-ipam; `extra` keys are merged over it (null values remove keys).
  nlohmann::json config(const std::string& version = "1.0.0",
                        const nlohmann::json& extra = nlohmann::json::object()) const;
  // The environment of the default attachment for `command` (container "c0ffee01", ifname
  // "net1", netns "/var/run/netns/pod1", ENA_DPDK_CNI_POLICY = policyFile()); `overrides`
  // replace or (with the value "<unset>") drop variables.
  std::map<std::string, std::string> env(
      const std::string& command, const std::map<std::string, std::string>& overrides = {}) const;
  // Runs the plugin.
  RunOutput run(const nlohmann::json& config, const std::map<std::string, std::string>& env,
                std::chrono::milliseconds delegateTimeout = std::chrono::seconds(20)) const;
  // Runs `command` for the default attachment with `config`.
  RunOutput run(const std::string& command, const nlohmann::json& config,
                const std::map<std::string, std::string>& overrides = {}) const;
  // Files under the root, relative, sorted, excluding the fake IPAM, the control socket and the
  // policy file.
  std::vector<std::string> files() const;

 private:
  std::filesystem::path root_;
  FakeIpam ipam_;
  std::unique_ptr<FakeDataplane> dataplane_;
};

}  // namespace enadpdk::testing
