#include "nodeprep/undo.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <tuple>

#include "common/pci.h"
#include "nlohmann/json.hpp"
#include "nodeprep/kernel_args.h"
#include "nodeprep/node_state.h"
#include "tests/nodeprep/nodeprep_harness.h"

namespace enadpdk::testing {
namespace {

namespace fs = std::filesystem;

using nodeprep::Action;
using nodeprep::ActionStatus;
using nodeprep::kDefaultStateFile;
using nodeprep::NodeState;
using nodeprep::Report;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Every entry of the tree under `root`: relative path -> type, mode and the file's bytes or the
// link's target. Comparing two snapshots names each entry that differs.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> entries;
  for (fs::recursive_directory_iterator it(root), end; it != end; ++it) {
    const fs::file_status status = fs::symlink_status(it->path());
    std::ostringstream record;
    record << static_cast<int>(status.type()) << " " << std::oct
           << static_cast<unsigned>(status.permissions()) << " ";
    if (fs::is_symlink(status)) {
      record << fs::read_symlink(it->path()).string();
    } else if (fs::is_regular_file(status)) {
      std::ifstream in(it->path(), std::ios::binary);
      record << std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    entries[it->path().lexically_relative(root).string()] = record.str();
  }
  return entries;
}

// Runs the fake grub2-mkconfig once, so that grub.cfg is what /etc/default/grub renders to, as on
// a real host (the forward run and --undo regenerate it the same way).
void renderGrubCfg(Harness& h) {
  const std::string command = (h.commands.bin() / "grub2-mkconfig").string() + " -o '" +
                              h.host.path("/boot/grub2/grub.cfg").string() + "'";
  ASSERT_EQ(std::system(command.c_str()), 0);
  h.commands.clearLog();
}

bool hasStatus(const Report& report, ActionStatus status) {
  return std::any_of(report.actions.begin(), report.actions.end(),
                     [&](const Action& a) { return a.status == status; });
}

std::string actionsText(const Report& report) {
  std::string text;
  for (const Action& a : report.actions) {
    text += a.step + " " + a.target + " [" + std::string(nodeprep::statusName(a.status)) + "] " +
            a.change + "\n";
  }
  return text;
}

NodeState loadState(const Harness& h) {
  absl::StatusOr<NodeState> state = nodeprep::loadNodeState(h.host.hostRoot(), kDefaultStateFile);
  EXPECT_TRUE(state.ok()) << state.status();
  return state.ok() ? *state : NodeState{};
}

// An AL2 node whose kernel grants only 2 of the 4 1G pages: the forward run raises the runtime
// count, adds the hugepage arguments to /etc/default/grub and regenerates grub.cfg, mounts both
// hugetlbfs, loads vfio-pci, turns no-IOMMU mode on and binds eth1.
class UndoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    buildAl2Node(h_);
    renderGrubCfg(h_);
    h_.kernel.limitHugepages(HugepageSize::Size1G, 2);
    before_ = snapshot(h_.host.root());
    grub_before_ = h_.host.readFile("/etc/default/grub");
  }

  // The forward run; the test checks that it did everything undo has to revert.
  void prepare() {
    const Report report = h_.run(issueConfig());
    ASSERT_FALSE(report.failed()) << actionsText(report);
    ASSERT_TRUE(report.rebootRequired);
    ASSERT_NE(snapshot(h_.host.root()), before_);
    h_.commands.clearLog();
  }

  Harness h_;
  std::map<std::string, std::string> before_;
  std::string grub_before_;
};

TEST_F(UndoTest, ForwardRecordsEverythingUndoNeeds) {
  prepare();
  const NodeState state = loadState(h_);
  EXPECT_EQ(state.version, nodeprep::kNodeStateVersion);
  EXPECT_EQ(state.hugepages_raised,
            (std::map<std::string, nodeprep::HugepageRaise>{
                {"/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages",
                 {.before = 0, .raised_to = 2}}}));
  EXPECT_EQ(state.mounts_made,
            (std::map<std::string, nodeprep::MountRecord>{
                {"/dev/hugepages", {.created_directories = {"/dev/hugepages"}}},
                {"/dev/hugepages-1Gi", {.created_directories = {"/dev/hugepages-1Gi"}}}}));
  ASSERT_EQ(state.kernel_args_added.size(), 1u);
  EXPECT_EQ(state.kernel_args_added[0].via, "/etc/default/grub");
  EXPECT_EQ(state.kernel_args_added[0].added, "default_hugepagesz=1G hugepagesz=1G hugepages=4");
  EXPECT_EQ(state.kernel_args_added[0].replaced, "");
  EXPECT_EQ(state.kernel_args_added[0].grub_before, grub_before_);
  EXPECT_EQ(state.kernel_args_added[0].grub_after, h_.host.readFile("/etc/default/grub"));
  EXPECT_EQ(state.kernel_args_added[0].grub_cfg, "/boot/grub2/grub.cfg");
  EXPECT_EQ(
      state.bound_devices,
      (std::map<std::string, nodeprep::BoundDevice>{
          {"0000:00:06.0", {.driver = "ena", .driver_override = "", .bound_to = "vfio-pci"}}}));
  EXPECT_EQ(state.modules_loaded, (std::vector<std::string>{"vfio_pci", "vfio"}));
  EXPECT_EQ(state.noiommu_before, "N");
  EXPECT_EQ(state.state_directories,
            (std::vector<std::string>{"/var", "/var/lib", "/var/lib/ena-dpdk"}));
  struct stat st {};
  ASSERT_EQ(::stat(h_.host.path(kDefaultStateFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// The acceptance test of issue 17: run, --undo, every file of the fake host equals its original
// (path, mode, bytes); a second --undo is a no-op.
TEST_F(UndoTest, UndoRestoresTheHostByteForByteAndASecondUndoIsANoOp) {
  prepare();
  const Report report = h_.undo();

  EXPECT_FALSE(report.failed()) << actionsText(report);
  EXPECT_TRUE(report.ready);
  EXPECT_EQ(nodeprep::exitStatus(report), 0);
  EXPECT_FALSE(hasStatus(report, ActionStatus::Warning)) << actionsText(report);
  EXPECT_EQ(snapshot(h_.host.root()), before_);
  const std::string mkconfig_out = h_.host.path("/boot/grub2/grub.cfg").string();
  EXPECT_THAT(h_.commands.invocations(),
              ElementsAre(ElementsAre("rmmod", "vfio_pci"), ElementsAre("rmmod", "vfio"),
                          ElementsAre("umount", h_.host.path("/dev/hugepages").string()),
                          ElementsAre("umount", h_.host.path("/dev/hugepages-1Gi").string()),
                          ElementsAre("grub2-mkconfig", "-o", mkconfig_out)));
  EXPECT_THAT(actionsOf(report, "bind"),
              ElementsAre(AllOf(Field(&Action::target, "0000:00:06.0"),
                                Field(&Action::change, "vfio-pci -> ena"),
                                Field(&Action::status, ActionStatus::Changed))));
  EXPECT_THAT(actionsOf(report, "hugepages"),
              ElementsAre(AllOf(Field(&Action::change, "2 -> 0"),
                                Field(&Action::status, ActionStatus::Changed))));

  h_.commands.clearLog();
  const Report again = h_.undo();
  EXPECT_FALSE(again.failed());
  EXPECT_EQ(nodeprep::exitStatus(again), 0);
  EXPECT_THAT(again.actions, ElementsAre(AllOf(Field(&Action::step, "state"),
                                               Field(&Action::status, ActionStatus::Ok),
                                               Field(&Action::change, HasSubstr("nothing")))));
  EXPECT_THAT(h_.commands.invocations(), IsEmpty());
  EXPECT_EQ(snapshot(h_.host.root()), before_);
}

TEST_F(UndoTest, DryRunPlansEachStepAndChangesNothing) {
  prepare();
  const std::map<std::string, std::string> prepared = snapshot(h_.host.root());
  const Report report = h_.undo({.dry_run = true, .state_file = kDefaultStateFile});

  EXPECT_FALSE(report.failed()) << actionsText(report);
  EXPECT_EQ(snapshot(h_.host.root()), prepared);
  EXPECT_THAT(h_.commands.invocations(), IsEmpty());
  for (std::string_view step : {"bind", "vfio", "mounts", "hugepages", "kernel-args", "state"}) {
    EXPECT_THAT(actionsOf(report, step), Contains(Field(&Action::status, ActionStatus::Planned)))
        << step << "\n"
        << actionsText(report);
  }
  EXPECT_THAT(report.actions, Not(Contains(Field(&Action::status, ActionStatus::Changed))));
  // The plan is what the real undo then does.
  EXPECT_FALSE(h_.undo().failed());
  EXPECT_EQ(snapshot(h_.host.root()), before_);
}

TEST_F(UndoTest, PartialFailureKeepsWhatIsNotUndoneAndTheNextUndoFinishes) {
  prepare();
  h_.commands.add("umount", "echo 'umount: target is busy.' >&2; exit 32");
  const Report report = h_.undo();

  EXPECT_TRUE(report.failed());
  EXPECT_EQ(nodeprep::exitStatus(report), 1);
  EXPECT_THAT(actionsOf(report, "mounts"),
              Contains(AllOf(Field(&Action::status, ActionStatus::Failed),
                             Field(&Action::change, HasSubstr("target is busy")))));
  // The other steps went on.
  EXPECT_THAT(actionsOf(report, "bind"),
              ElementsAre(Field(&Action::status, ActionStatus::Changed)));
  EXPECT_THAT(actionsOf(report, "hugepages"),
              ElementsAre(Field(&Action::status, ActionStatus::Changed)));
  const NodeState left = loadState(h_);
  EXPECT_EQ(left.mounts_made.size(), 2u);
  EXPECT_THAT(left.bound_devices, IsEmpty());
  EXPECT_THAT(left.hugepages_raised, IsEmpty());
  EXPECT_THAT(left.kernel_args_added, IsEmpty());
  EXPECT_THAT(left.modules_loaded, IsEmpty());
  EXPECT_FALSE(left.noiommu_before.has_value());
  EXPECT_THAT(left.interfaces, IsEmpty());

  h_.commands.add("umount");
  const Report finished = h_.undo();
  EXPECT_FALSE(finished.failed()) << actionsText(finished);
  EXPECT_EQ(snapshot(h_.host.root()), before_);
}

TEST_F(UndoTest, RefusesWhileABoundDeviceIsOpenAndChangesNothing) {
  h_.host.addPciDevice(
      {.address = "0000:00:07.0", .driver = "ena", .iommu_group = 7, .netdev = "eth2"});
  before_ = snapshot(h_.host.root());
  nodeprep::NodeprepConfig config = issueConfig();
  config.bind.interfaces = {"eth2"};
  ASSERT_FALSE(h_.run(config).failed());
  ASSERT_TRUE(h_.host.exists("/dev/vfio/7"));
  // A DPDK process holds the device's vfio group open.
  h_.host.writeFile("/proc/4242/comm", "dpdk-testpmd\n");
  fs::create_directories(h_.host.path("/proc/4242/fd"));
  fs::create_symlink("/dev/vfio/7", h_.host.path("/proc/4242/fd/9"));
  const std::map<std::string, std::string> busy = snapshot(h_.host.root());
  h_.commands.clearLog();

  const Report report = h_.undo();
  EXPECT_TRUE(report.failed());
  EXPECT_EQ(nodeprep::exitStatus(report), 1);
  EXPECT_THAT(report.actions,
              ElementsAre(AllOf(
                  Field(&Action::step, "bind"), Field(&Action::target, "0000:00:07.0"),
                  Field(&Action::status, ActionStatus::Refused),
                  Field(&Action::change, HasSubstr("4242 (dpdk-testpmd) has /dev/vfio/7 open")))));
  EXPECT_EQ(snapshot(h_.host.root()), busy);
  EXPECT_THAT(h_.commands.invocations(), IsEmpty());

  h_.host.removePath("/proc/4242");
  const Report released = h_.undo();
  EXPECT_FALSE(released.failed()) << actionsText(released);
  EXPECT_EQ(snapshot(h_.host.root()), before_);
}

TEST_F(UndoTest, OldStateFileLoadsAndUndoesNothingButSaysSo) {
  // An older nodeprep bound eth1 and remembered only its interface.
  h_.host.loadModule("vfio-pci");
  h_.host.setDriver("0000:00:06.0", "vfio-pci");
  h_.host.writeFile(kDefaultStateFile, R"({"interfaces": {"eth1": "0000:00:06.0"}})");
  const std::map<std::string, std::string> old = snapshot(h_.host.root());

  const Report report = h_.undo();
  EXPECT_FALSE(report.failed()) << actionsText(report);
  EXPECT_EQ(nodeprep::exitStatus(report), 0);
  EXPECT_THAT(actionsOf(report, "state"),
              Contains(AllOf(Field(&Action::status, ActionStatus::Warning),
                             Field(&Action::change, HasSubstr("recorded nothing for --undo")))));
  EXPECT_THAT(actionsOf(report, "bind"),
              ElementsAre(AllOf(Field(&Action::target, "0000:00:06.0"),
                                Field(&Action::status, ActionStatus::Warning),
                                Field(&Action::change, HasSubstr("left as it is")))));
  EXPECT_THAT(h_.commands.invocations(), IsEmpty());
  // Nothing but the state file changed: the device stays on vfio-pci.
  std::map<std::string, std::string> expected = old;
  expected.erase(fs::path(kDefaultStateFile).relative_path().string());
  EXPECT_EQ(snapshot(h_.host.root()), expected);
  EXPECT_EQ(h_.undo().actions.size(), 1u);
}

TEST_F(UndoTest, LeavesACountSomeoneElseChangedAndGivesBackADeviceOnlyFromItsDriver) {
  prepare();
  // After nodeprep: someone raised the 1G pages further, and the device went back to ena.
  h_.host.setHugepages(0, HugepageSize::Size1G, 3, 3);
  ASSERT_TRUE(h_.kernel.write("/sys/bus/pci/drivers/vfio-pci/unbind", "0000:00:06.0").ok());
  ASSERT_TRUE(h_.kernel.write("/sys/bus/pci/devices/0000:00:06.0/driver_override", "\n").ok());
  ASSERT_TRUE(h_.kernel.write("/sys/bus/pci/drivers_probe", "0000:00:06.0").ok());

  const Report report = h_.undo();
  EXPECT_FALSE(report.failed()) << actionsText(report);
  EXPECT_THAT(actionsOf(report, "hugepages"),
              ElementsAre(AllOf(Field(&Action::status, ActionStatus::Warning),
                                Field(&Action::change, HasSubstr("reads 3, not the 2")))));
  EXPECT_THAT(actionsOf(report, "bind"),
              ElementsAre(AllOf(Field(&Action::status, ActionStatus::Ok),
                                Field(&Action::change, HasSubstr("on ena, not on the vfio-pci")))));
  EXPECT_EQ(h_.host.readFile("/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"), "3\n");
  EXPECT_FALSE(h_.host.exists(kDefaultStateFile));
}

TEST(UndoGrubbyTest, RemovesTheArgumentsGrubbyAddedAndPutsBackWhatTheyReplaced) {
  Harness h;
  buildAl2023Node(h);
  // The default kernel had a 2-page reservation of its own, which nodeprep's replaces.
  h.host.writeFile("/boot/loader/entries/al2023.conf",
                   "title Amazon Linux 2023\noptions root=UUID=1 ro hugepages=2\n");
  h.kernel.limitHugepages(HugepageSize::Size1G, 2);
  const std::map<std::string, std::string> before = snapshot(h.host.root());
  ASSERT_TRUE(h.run(issueConfig()).rebootRequired);
  ASSERT_THAT(h.host.readFile("/boot/loader/entries/al2023.conf"), HasSubstr("hugepages=4"));
  h.commands.clearLog();

  const Report report = h.undo();
  EXPECT_FALSE(report.failed()) << actionsText(report);
  EXPECT_THAT(
      h.commands.invocations(),
      Contains(ElementsAre("grubby", "--update-kernel=ALL",
                           "--remove-args=default_hugepagesz=1G hugepagesz=1G hugepages=4")));
  EXPECT_THAT(h.commands.invocations(),
              Contains(ElementsAre("grubby", "--update-kernel=ALL", "--args=hugepages=2")));
  EXPECT_EQ(h.host.readFile("/boot/loader/entries/al2023.conf"),
            "title Amazon Linux 2023\noptions root=UUID=1 ro hugepages=2\n");
  EXPECT_EQ(snapshot(h.host.root()), before);
}

TEST(UndoKernelArgsTest, RemovesOnlyTheAddedArgumentsFromAGrubFileThatChangedSince) {
  EXPECT_EQ(nodeprep::removeFromDefaultGrub(
                "GRUB_TIMEOUT=1\nGRUB_CMDLINE_LINUX=\"selinux=0 quiet default_hugepagesz=1G "
                "hugepagesz=1G hugepages=4\"\n",
                "default_hugepagesz=1G hugepagesz=1G hugepages=4", "hugepages=2"),
            "GRUB_TIMEOUT=1\nGRUB_CMDLINE_LINUX=\"selinux=0 quiet hugepages=2\"\n");
  const std::string untouched = "GRUB_CMDLINE_LINUX=\"selinux=0\"\n";
  EXPECT_EQ(nodeprep::removeFromDefaultGrub(untouched, "intel_iommu=on iommu=1", ""), untouched);
}

TEST(UndoStateTest, NoStateFileIsNothingToDo) {
  Harness h;
  buildAl2Node(h);
  const std::string digest = h.host.treeDigest();
  const Report report = h.undo();
  EXPECT_FALSE(report.failed());
  EXPECT_TRUE(report.ready);
  EXPECT_EQ(report.actions.size(), 1u);
  EXPECT_EQ(h.host.treeDigest(), digest);
}

TEST(UndoStateTest, NewKeysRoundTrip) {
  FakeHost host;
  const NodeState state{
      .version = nodeprep::kNodeStateVersion,
      .interfaces = {{"eth1", "0000:00:06.0"}},
      .hugepages_raised = {{"/sys/x/nr_hugepages", {.before = 1, .raised_to = 4}}},
      .mounts_made = {{"/dev/hugepages", {.created_directories = {"/dev/hugepages"}}}},
      .kernel_args_added = {{.via = "/etc/default/grub",
                             .added = "intel_iommu=on iommu=1",
                             .replaced = "iommu=pt",
                             .grub_before = "A=\"1\"\n",
                             .grub_after = "A=\"2\"\n",
                             .grub_cfg = "/boot/grub2/grub.cfg"},
                            {.via = "grubby", .added = "hugepages=4"}},
      .bound_devices = {{"0000:00:06.0", {.driver = "ena", .bound_to = "vfio-pci"}}},
      .modules_loaded = {"vfio_pci", "vfio"},
      .noiommu_before = "N",
      .state_directories = {"/var/lib/ena-dpdk"}};
  ASSERT_TRUE(nodeprep::saveNodeState(host.hostRoot(), kDefaultStateFile, state).ok());
  absl::StatusOr<NodeState> loaded = nodeprep::loadNodeState(host.hostRoot(), kDefaultStateFile);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*loaded, state);
  EXPECT_TRUE(loaded->recordsChanges());
}

TEST(UndoStateTest, OldFileHasVersionZeroAndBadRecordsAreRejected) {
  FakeHost host;
  host.writeFile(kDefaultStateFile, R"({"interfaces": {"eth1": "0000:00:06.0"}, "bootId": "b"})");
  absl::StatusOr<NodeState> old = nodeprep::loadNodeState(host.hostRoot(), kDefaultStateFile);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->version, 0);
  EXPECT_FALSE(old->recordsChanges());
  for (const char* bad : {R"({"hugepagesRaised": {"/x": {"before": -1, "raisedTo": 2}}})",
                          R"({"mountsMade": {"/x": {"createdDirectories": "/x"}}})",
                          R"({"kernelArgsAdded": [{"via": "grubby"}]})",
                          R"({"boundDevices": {"0000:00:06.0": {"driver": 1}}})",
                          R"({"modulesLoaded": "vfio"})", R"({"noiommuBefore": false})"}) {
    host.writeFile(kDefaultStateFile, bad);
    EXPECT_TRUE(absl::IsInvalidArgument(
        nodeprep::loadNodeState(host.hostRoot(), kDefaultStateFile).status()))
        << bad;
  }
}

// --undo through the command line: the JSON report, the exit status, and a refusal's one line.
TEST_F(UndoTest, CommandLineUndoPrintsTheReportAndExitsZero) {
  prepare();
  FakeHost config_dir;
  config_dir.writeFile("/config.json", R"({"nodeprep": {"hugepages": {"1G": 4}}})");
  const std::string config = config_dir.path("/config.json").string();
  const std::string root = h_.host.root().string();
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"ena-dpdk-nodeprep", "--config", config, "--root", root});
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    std::ostringstream out;
    std::ostringstream err;
    const int rc =
        nodeprep::nodeprepMain(static_cast<int>(argv.size()), argv.data(), out, err, h_.seams());
    return std::tuple(rc, nlohmann::json::parse(out.str()), err.str());
  };
  auto [dry_rc, dry, dry_err] = run({"--undo", "--dry-run"});
  EXPECT_EQ(dry_rc, 0) << dry_err;
  EXPECT_EQ(dry["actions"].back()["status"], "planned");
  auto [rc, doc, err] = run({"--undo"});
  EXPECT_EQ(rc, 0) << err;
  EXPECT_THAT(err, IsEmpty());
  EXPECT_EQ(doc["ready"], true);
  EXPECT_EQ(doc["actions"].back()["step"], "state");
  EXPECT_EQ(snapshot(h_.host.root()), before_);
  auto [again_rc, again, again_err] = run({"--undo"});
  EXPECT_EQ(again_rc, 0) << again_err;
  EXPECT_EQ(again["actions"].size(), 1u);
}

// The real binary on a fake root (no kernel emulation: control files are plain files there): a
// runtime reservation is given back by --undo, and a second --undo is a no-op.
TEST(UndoBinaryTest, RealBinaryGivesBackARuntimeReservationOnAFakeRoot) {
  Harness h;
  buildAl2Node(h);
  FakeHost config_dir;
  config_dir.writeFile("/config.json", R"({"nodeprep": {"hugepages": {"2M": 64}}})");
  const std::string nr = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";
  std::map<std::string, std::string> before = snapshot(h.host.root());
  nodeprep::HostCommandRunner runner(nodeprep::HostExec::Direct, h.commands.path(),
                                     common::HostRoot("/"));
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {NODEPREP_BINARY, "--config",
                                     config_dir.path("/config.json").string(), "--root",
                                     h.host.root().string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    absl::StatusOr<nodeprep::CommandResult> result = runner.run(argv);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : nodeprep::CommandResult{.exit_code = -1};
  };
  const nodeprep::CommandResult forward = run({});
  ASSERT_EQ(forward.exit_code, 0) << forward.err << forward.out;
  ASSERT_EQ(h.host.readFile(nr), "64");
  const nodeprep::CommandResult undo = run({"--undo"});
  EXPECT_EQ(undo.exit_code, 0) << undo.err << undo.out;
  EXPECT_THAT(undo.out, HasSubstr("\"64 -> 0\""));
  // sysfs has no file bytes: the binary writes "0" where the fake tree had "0\n".
  EXPECT_EQ(h.host.readFile(nr), "0");
  std::map<std::string, std::string> after = snapshot(h.host.root());
  const std::string key = fs::path(nr).relative_path().string();
  before.erase(key);
  after.erase(key);
  EXPECT_EQ(after, before);
  const nodeprep::CommandResult again = run({"--undo"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["actions"].size(), 1u) << again.out;
  std::map<std::string, std::string> after_again = snapshot(h.host.root());
  after_again.erase(key);
  EXPECT_EQ(after_again, after);
}

}  // namespace
}  // namespace enadpdk::testing
