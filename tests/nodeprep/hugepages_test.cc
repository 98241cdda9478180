#include "nodeprep/hugepages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/nodeprep/nodeprep_harness.h"

namespace enadpdk::testing {
namespace {

using nodeprep::ActionStatus;
using nodeprep::HugepagesPlan;
using nodeprep::HugepageTarget;
using nodeprep::planHugepages;
using nodeprep::Report;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;

constexpr char k1G[] = "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages";
constexpr char k2M[] = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";

TEST(HugepagesTest, PlansTheSystemWideFilesOfTheSizesAsked) {
  FakeHost host;
  host.addNumaNode(0, {.nr_1g = 1, .free_1g = 1});
  absl::StatusOr<HugepagesPlan> plan =
      planHugepages(host.hostRoot(), {.pages1G = 4, .pages2M = 0, .perNumaNode = false});
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->targets.size(), 1u);
  EXPECT_EQ(plan->targets[0].file, k1G);
  EXPECT_EQ(plan->targets[0].current, 1u);
  EXPECT_EQ(plan->targets[0].wanted, 4u);
  EXPECT_FALSE(plan->targets[0].numa_node.has_value());
  EXPECT_EQ(plan->total1G, 4u);
  EXPECT_TRUE(plan->raises());
}

TEST(HugepagesTest, PlansEveryNumaNodeWhenAskedPerNode) {
  FakeHost host;
  host.addNumaNode(0, {}).addNumaNode(1, {.nr_2m = 512, .free_2m = 512});
  absl::StatusOr<HugepagesPlan> plan =
      planHugepages(host.hostRoot(), {.pages1G = 2, .pages2M = 256, .perNumaNode = true});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(
      plan->targets,
      ElementsAre(
          Field(&HugepageTarget::file,
                "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages"),
          Field(&HugepageTarget::file,
                "/sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"),
          Field(&HugepageTarget::file,
                "/sys/devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages"),
          Field(&HugepageTarget::file,
                "/sys/devices/system/node/node1/hugepages/hugepages-1048576kB/nr_hugepages")));
  EXPECT_FALSE(plan->targets[1].needsRaise());  // 512 >= 256
  EXPECT_EQ(plan->total1G, 4u);
}

TEST(HugepagesTest, PerNodeWithoutNumaNodesIsAnError) {
  FakeHost host;
  absl::StatusOr<HugepagesPlan> plan =
      planHugepages(host.hostRoot(), {.pages1G = 2, .perNumaNode = true});
  EXPECT_TRUE(absl::IsNotFound(plan.status()));
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("no NUMA nodes"));
}

TEST(HugepagesTest, NothingAskedPlansNothing) {
  FakeHost host;
  absl::StatusOr<HugepagesPlan> plan = planHugepages(host.hostRoot(), {});
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->targets.empty());
  EXPECT_FALSE(plan->raises());
}

TEST(HugepagesTest, ReservesAndReportsWhatTheKernelGranted) {
  Harness h;
  h.host.addNumaNode(0, {});
  h.kernel.limitHugepages(HugepageSize::Size1G, 3);
  EmulatedKernelFiles files(h.kernel);
  nodeprep::HostCommandRunner runner(nodeprep::HostExec::Direct, h.commands.path(),
                                     h.host.hostRoot());
  const common::HostRoot root = h.host.hostRoot();
  const nodeprep::Host host{.root = root, .commands = runner, .kernel = files};
  absl::StatusOr<HugepagesPlan> plan =
      planHugepages(root, {.pages1G = 4, .pages2M = 128, .perNumaNode = false});
  ASSERT_TRUE(plan.ok());

  Report report;
  nodeprep::NodeState state;
  nodeprep::HugepagesOutcome outcome =
      nodeprep::reserveHugepages(*plan, nodeprep::PersistMode::Auto, host, state, report);

  EXPECT_TRUE(outcome.raised);
  EXPECT_TRUE(outcome.short1G);
  EXPECT_FALSE(report.failed());
  EXPECT_THAT(report.actions,
              ElementsAre(nodeprep::Action{.step = "hugepages",
                                           .target = k2M,
                                           .change = "0 -> 128",
                                           .status = ActionStatus::Changed},
                          Field(&nodeprep::Action::change,
                                HasSubstr("0 -> 3: the kernel granted only 3 of 4 1G pages"))));
  EXPECT_EQ(report.actions[1].status, ActionStatus::Warning);
}

TEST(HugepagesTest, DescribeSaysWhatWouldChange) {
  FakeHost host;
  host.addNumaNode(0, {.nr_2m = 64, .free_2m = 64});
  absl::StatusOr<HugepagesPlan> plan =
      planHugepages(host.hostRoot(), {.pages1G = 1, .pages2M = 64});
  ASSERT_TRUE(plan.ok());
  Report report;
  nodeprep::describeHugepages(*plan, report);
  EXPECT_THAT(report.actions,
              ElementsAre(nodeprep::Action{.step = "hugepages",
                                           .target = k2M,
                                           .change = "none: 64 2M pages reserved, 64 asked",
                                           .status = ActionStatus::Ok},
                          nodeprep::Action{.step = "hugepages",
                                           .target = k1G,
                                           .change = "0 -> 1",
                                           .status = ActionStatus::Planned}));
}

}  // namespace
}  // namespace enadpdk::testing
