#include "nodeprep/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nlohmann/json.hpp"

namespace enadpdk::testing {
namespace {

using nodeprep::ActionStatus;
using nodeprep::exitStatus;
using nodeprep::Report;
using nodeprep::reportJson;

TEST(ReportTest, JsonHasExactlyTheContractKeysInOrder) {
  Report report;
  report.add("hugepages", "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", "0 -> 4",
             ActionStatus::Changed);
  report.add("bind", "0000:00:06.0 (eth1)", "ena -> vfio-pci", ActionStatus::Planned);
  report.rebootRequired = true;
  report.kubeletRestartRequired = false;
  report.ready = false;

  const std::string text = reportJson(report);

  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  const nlohmann::ordered_json doc = nlohmann::ordered_json::parse(text);
  std::vector<std::string> keys;
  for (const auto& item : doc.items()) keys.push_back(item.key());
  EXPECT_THAT(
      keys, ::testing::ElementsAre("actions", "rebootRequired", "kubeletRestartRequired", "ready"));
  ASSERT_EQ(doc["actions"].size(), 2u);
  EXPECT_EQ(doc["actions"][0],
            nlohmann::ordered_json(
                {{"step", "hugepages"},
                 {"target", "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"},
                 {"change", "0 -> 4"},
                 {"status", "changed"}}));
  EXPECT_EQ(doc["actions"][1]["status"], "planned");
  EXPECT_EQ(doc["rebootRequired"], true);
  EXPECT_EQ(doc["kubeletRestartRequired"], false);
  EXPECT_EQ(doc["ready"], false);
}

TEST(ReportTest, StatusNames) {
  EXPECT_EQ(nodeprep::statusName(ActionStatus::Ok), "ok");
  EXPECT_EQ(nodeprep::statusName(ActionStatus::Planned), "planned");
  EXPECT_EQ(nodeprep::statusName(ActionStatus::Changed), "changed");
  EXPECT_EQ(nodeprep::statusName(ActionStatus::Warning), "warning");
  EXPECT_EQ(nodeprep::statusName(ActionStatus::Failed), "failed");
  EXPECT_EQ(nodeprep::statusName(ActionStatus::Refused), "refused");
}

TEST(ReportTest, ExitStatusFollowsTheContract) {
  Report ready;
  EXPECT_EQ(exitStatus(ready), 0);
  Report reboot;
  reboot.rebootRequired = true;
  EXPECT_EQ(exitStatus(reboot), 3);
  Report failed;
  failed.rebootRequired = true;
  failed.fail("bind", "0000:00:05.0 (eth0)", "refusing to bind", ActionStatus::Refused);
  EXPECT_EQ(exitStatus(failed), 1);
}

TEST(ReportTest, FirstFailureIsTheError) {
  Report report;
  report.add("cpu", "1G pages", "none", ActionStatus::Ok);
  EXPECT_FALSE(report.failed());
  report.fail("bind", "a", "first");
  report.fail("bind", "b", "second", ActionStatus::Refused);
  EXPECT_TRUE(report.failed());
  EXPECT_EQ(report.error, "first");
  EXPECT_EQ(report.actions.back().status, ActionStatus::Refused);
}

TEST(ReportTest, ChangedAnythingCountsChangedAndPlanned) {
  Report report;
  report.add("cpu", "1G pages", "none", ActionStatus::Ok);
  report.add("vfio", "write-combining", "not confirmed", ActionStatus::Warning);
  EXPECT_FALSE(report.changedAnything());
  report.add("mounts", "/dev/hugepages", "mount", ActionStatus::Planned);
  EXPECT_TRUE(report.changedAnything());
}

}  // namespace
}  // namespace enadpdk::testing
