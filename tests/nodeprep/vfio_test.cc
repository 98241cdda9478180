#include "nodeprep/vfio.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/nodeprep/nodeprep_harness.h"

namespace enadpdk::testing {
namespace {

using nodeprep::Action;
using nodeprep::ActionStatus;
using nodeprep::Report;
using ::testing::AllOf;
using ::testing::Field;
using ::testing::HasSubstr;

// Runs the VFIO step on the harness's host with `config` and devices selected.
Report applyVfio(Harness& h, const nodeprep::VfioConfig& config) {
  EmulatedCommandRunner runner(nodeprep::HostExec::Direct, h.commands.path(), h.host.hostRoot(),
                               h.kernel);
  EmulatedKernelFiles files(h.kernel);
  const common::HostRoot root = h.host.hostRoot();
  Report report;
  absl::StatusOr<nodeprep::VfioPlan> plan =
      nodeprep::planVfio(root, config, /*devices_selected=*/true);
  EXPECT_TRUE(plan.ok()) << plan.status();
  if (!plan.ok()) return report;
  nodeprep::NodeState state;
  nodeprep::applyVfio(*plan, {.root = root, .commands = runner, .kernel = files}, state, report);
  return report;
}

const Action& writeCombining(const Report& report) {
  for (const Action& a : report.actions) {
    if (a.target == "write-combining") return a;
  }
  static const Action none;
  ADD_FAILURE() << "no write-combining action in " << nodeprep::reportJson(report);
  return none;
}

TEST(VfioTest, IommuGroupsOfVfioItselfDoNotCount) {
  FakeHost host;
  EXPECT_FALSE(nodeprep::hostHasIommu(host.hostRoot()));
  host.addPciDevice({.address = "0000:00:06.0", .iommu_group = 0, .noiommu = true});
  EXPECT_FALSE(nodeprep::hostHasIommu(host.hostRoot()));
  host.addPciDevice({.address = "0000:00:07.0", .iommu_group = 1});
  EXPECT_TRUE(nodeprep::hostHasIommu(host.hostRoot()));
}

TEST(VfioTest, NothingToBindNeedsNoDriver) {
  FakeHost host;
  absl::StatusOr<nodeprep::VfioPlan> plan = nodeprep::planVfio(host.hostRoot(), {}, false);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_FALSE(plan->needed);
  // Not needed, so "required" is not checked either.
  EXPECT_TRUE(
      nodeprep::planVfio(host.hostRoot(), {.iommu = nodeprep::IommuMode::Required}, false).ok());
  plan = nodeprep::planVfio(host.hostRoot(), {.noiommu = nodeprep::NoIommuMode::Always}, false);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->needed);
}

TEST(VfioTest, IgbUioIsLoadedWithWriteCombining) {
  Harness h;
  Report report = applyVfio(h, {.noiommu = nodeprep::NoIommuMode::Auto, .driver = "igb_uio"});
  EXPECT_FALSE(report.failed()) << report.error;
  EXPECT_THAT(h.commands.invocations(), ::testing::ElementsAre(std::vector<std::string>{
                                            "modprobe", "igb_uio", "wc_activate=1"}));
  // No-IOMMU mode is a vfio matter.
  EXPECT_FALSE(h.host.exists(nodeprep::kNoIommuParameter));
  h.host.writeFile("/sys/module/igb_uio/parameters/wc_activate", "1\n");
  Report again = applyVfio(h, {.driver = "igb_uio"});
  EXPECT_EQ(writeCombining(again).status, ActionStatus::Ok);
  h.host.writeFile("/sys/module/igb_uio/parameters/wc_activate", "0\n");
  Report without = applyVfio(h, {.driver = "igb_uio"});
  EXPECT_THAT(writeCombining(without),
              AllOf(Field(&Action::status, ActionStatus::Warning),
                    Field(&Action::change, HasSubstr("modprobe igb_uio wc_activate=1"))));
}

TEST(VfioTest, UioPciGenericHasNoWriteCombining) {
  Harness h;
  Report report = applyVfio(h, {.driver = "uio_pci_generic"});
  EXPECT_FALSE(report.failed()) << report.error;
  EXPECT_THAT(writeCombining(report), AllOf(Field(&Action::status, ActionStatus::Warning),
                                            Field(&Action::change, HasSubstr("igb_uio"))));
}

TEST(VfioTest, VfioWriteCombiningIsConfirmedFromThePatTable) {
  Harness h;
  h.host.addPciDevice({.address = "0000:00:06.0", .driver = "vfio-pci", .iommu_group = 3})
      .writeFile("/sys/bus/pci/devices/0000:00:06.0/resource",
                 "0x00000000febf8000 0x00000000febfbfff 0x0000000000040200\n"
                 "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                 "0x00000000fe800000 0x00000000fe8fffff 0x000000000014220c\n");
  Report unconfirmed = applyVfio(h, {});
  EXPECT_THAT(writeCombining(unconfirmed),
              AllOf(Field(&Action::status, ActionStatus::Warning),
                    Field(&Action::change, HasSubstr("get-vfio-with-wc.sh"))));

  h.host.writeFile(
      "/sys/kernel/debug/x86/pat_memtype_list",
      "PAT memtype list:\nPAT: [mem 0x00000000febf8000-0x00000000febfc000] uncached-minus\n"
      "PAT: [mem 0x00000000fe800000-0x00000000fe900000] write-combining\n");
  Report confirmed = applyVfio(h, {});
  EXPECT_THAT(writeCombining(confirmed),
              AllOf(Field(&Action::status, ActionStatus::Ok),
                    Field(&Action::change, HasSubstr("0000:00:06.0 BAR 2"))));
}

TEST(VfioTest, KernelWithoutNoIommuSupportFailsWithAdvice) {
  Harness h;
  h.host.loadModule("vfio-pci").removePath(nodeprep::kNoIommuParameter);
  Report report = applyVfio(h, {});
  EXPECT_TRUE(report.failed());
  EXPECT_THAT(report.error,
              AllOf(HasSubstr("CONFIG_VFIO_NOIOMMU"), HasSubstr("use vfio.driver \"igb_uio\"")));
}

}  // namespace
}  // namespace enadpdk::testing
