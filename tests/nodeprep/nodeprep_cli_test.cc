#include "nodeprep/nodeprep_cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "common/pci.h"
#include "nlohmann/json.hpp"
#include "tests/nodeprep/nodeprep_harness.h"

namespace enadpdk::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

// The example of the issue, as a config file.
constexpr char kIssueConfig[] = R"({"nodeprep": {
  "hugepages": {"1G": 4, "2M": 0, "perNumaNode": false, "persist": "auto"},
  "mounts": [{"path": "/dev/hugepages-1Gi", "pageSize": "1G"}, {"path": "/dev/hugepages", "pageSize": "2M"}],
  "vfio": {"noiommu": "auto", "driver": "vfio-pci"},
  "bind": {"pciAddresses": [], "interfaces": ["eth1"], "allExceptPrimary": false},
  "hostExec": "direct"}})";

constexpr char kPrimaryConfig[] = R"({"nodeprep": {
  "hugepages": {"1G": 4},
  "bind": {"interfaces": ["eth0"]}}})";

struct Outcome {
  int exit_code = 0;
  std::string out{};
  std::string err{};
};

size_t lineCount(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

class NodeprepCliTest : public ::testing::Test {
 protected:
  // Writes `json` as the config file (outside the fake root, so digests do not see it).
  std::string writeConfig(std::string_view json) {
    const std::string path = config_dir_.path("/config.json").string();
    config_dir_.writeFile("/config.json", json);
    return path;
  }

  // nodeprepMain() in this process, on the harness with kernel emulation.
  Outcome runInProcess(std::vector<std::string> args) {
    args.insert(args.begin(), "ena-dpdk-nodeprep");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    std::ostringstream out;
    std::ostringstream err;
    const int rc =
        nodeprep::nodeprepMain(static_cast<int>(argv.size()), argv.data(), out, err, h_.seams());
    return {rc, out.str(), err.str()};
  }

  // The real binary, with the fake commands as its whole PATH and no kernel emulation.
  Outcome runBinary(std::vector<std::string> args) {
    args.insert(args.begin(), NODEPREP_BINARY);
    nodeprep::HostCommandRunner runner(nodeprep::HostExec::Direct, h_.commands.path(),
                                       common::HostRoot("/"));
    absl::StatusOr<nodeprep::CommandResult> result = runner.run(args);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return {-1, "", ""};
    return {result->exit_code, result->out, result->err};
  }

  std::string root() const { return h_.host.root().string(); }

  Harness h_;
  FakeHost config_dir_;  // only its directory is used
};

TEST_F(NodeprepCliTest, ReadyNodeExitsZeroWithTheJsonDocument) {
  buildAl2Node(h_);
  Outcome o = runInProcess({"--config", writeConfig(kIssueConfig), "--root", root()});

  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_THAT(o.err, IsEmpty());
  const nlohmann::json doc = nlohmann::json::parse(o.out);
  EXPECT_EQ(doc["ready"], true);
  EXPECT_EQ(doc["rebootRequired"], false);
  EXPECT_EQ(doc["kubeletRestartRequired"], false);
  EXPECT_FALSE(doc["actions"].empty());
  for (const auto& action : doc["actions"]) {
    EXPECT_EQ(action.size(), 4u) << action;
    EXPECT_TRUE(action.contains("step") && action.contains("target") && action.contains("change") &&
                action.contains("status"))
        << action;
  }
}

TEST_F(NodeprepCliTest, RebootRequiredExitsThree) {
  buildAl2Node(h_);
  h_.kernel.limitHugepages(HugepageSize::Size1G, 2);
  Outcome o = runInProcess({"--config", writeConfig(kIssueConfig), "--root", root()});

  EXPECT_EQ(o.exit_code, 3) << o.err;
  EXPECT_THAT(o.err, IsEmpty());
  const nlohmann::json doc = nlohmann::json::parse(o.out);
  EXPECT_EQ(doc["rebootRequired"], true);
  EXPECT_EQ(doc["ready"], false);
}

TEST_F(NodeprepCliTest, RefusalExitsOneWithOneLineOnStderrAndTheReport) {
  buildAl2Node(h_);
  Outcome o = runInProcess({"--config", writeConfig(kPrimaryConfig), "--root", root()});

  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(lineCount(o.err), 1u) << o.err;
  EXPECT_THAT(o.err, StartsWith("ena-dpdk-nodeprep: refusing to bind 0000:00:05.0 (eth0)"));
  const nlohmann::json doc = nlohmann::json::parse(o.out);
  EXPECT_EQ(doc["ready"], false);
  EXPECT_EQ(doc["actions"].back()["status"], "refused");
}

TEST_F(NodeprepCliTest, BadUsageExitsTwo) {
  buildAl2Node(h_);
  const std::string config = writeConfig(kIssueConfig);
  const std::vector<std::vector<std::string>> cases = {
      {"--config", config, "--node-address", "10.0.0"},
      {"--config", config, "--state-file", "relative/state.json"},
      {"--config", config, "extra"},
  };
  for (const auto& args : cases) {
    Outcome o = runInProcess(args);
    EXPECT_EQ(o.exit_code, 2) << args.back();
    EXPECT_EQ(lineCount(o.err), 1u) << o.err;
    EXPECT_THAT(o.out, IsEmpty());
  }
}

TEST_F(NodeprepCliTest, BinaryDryRunChangesNothing) {
  buildAl2Node(h_);
  const std::string config = writeConfig(kIssueConfig);
  const std::string digest = h_.host.treeDigest();

  Outcome o = runBinary({"--config", config, "--root", root(), "--dry-run"});

  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(h_.host.treeDigest(), digest);
  EXPECT_THAT(h_.commands.invocations(), IsEmpty());
  const nlohmann::json doc = nlohmann::json::parse(o.out);
  EXPECT_EQ(doc["ready"], false);
  EXPECT_THAT(o.out, HasSubstr("\"status\": \"planned\""));
}

TEST_F(NodeprepCliTest, BinaryOnAPreparedNodeIsANoOp) {
  buildAl2Node(h_);
  const std::string config = writeConfig(kIssueConfig);
  ASSERT_EQ(runInProcess({"--config", config, "--root", root()}).exit_code, 0);
  h_.commands.clearLog();
  const std::string digest = h_.host.treeDigest();

  // The real binary has no kernel emulation: on a prepared node it needs none.
  Outcome o = runBinary({"--config", config, "--root", root()});

  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_THAT(o.err, IsEmpty());
  EXPECT_EQ(h_.host.treeDigest(), digest);
  EXPECT_THAT(h_.commands.invocations(), IsEmpty());
  EXPECT_THAT(o.out, Not(HasSubstr("\"changed\"")));
  EXPECT_THAT(o.out, Not(HasSubstr("\"planned\"")));
  EXPECT_EQ(nlohmann::json::parse(o.out)["ready"], true);
}

TEST_F(NodeprepCliTest, BinaryRefusesThePrimaryEniAndWritesNothing) {
  buildAl2Node(h_);
  const std::string config = writeConfig(kPrimaryConfig);
  const std::string digest = h_.host.treeDigest();

  Outcome o = runBinary({"--config", config, "--root", root()});

  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(lineCount(o.err), 1u) << o.err;
  EXPECT_THAT(o.err, HasSubstr("refusing to bind 0000:00:05.0 (eth0)"));
  EXPECT_EQ(h_.host.treeDigest(), digest);
  absl::StatusOr<common::PciDevice> eth0 =
      common::readPciDevice(h_.host.hostRoot(), "0000:00:05.0");
  ASSERT_TRUE(eth0.ok());
  EXPECT_EQ(eth0->driver, "ena");
}

TEST_F(NodeprepCliTest, BinaryRejectsABadConfigWithTheJsonPath) {
  const std::string config = writeConfig(R"({"nodeprep": {"hugepages": {"1G": -1}}})");
  Outcome o = runBinary({"--config", config, "--root", root()});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(lineCount(o.err), 1u) << o.err;
  EXPECT_THAT(o.err, HasSubstr("nodeprep.hugepages.1G"));
  EXPECT_THAT(o.out, IsEmpty());
}

}  // namespace
}  // namespace enadpdk::testing
