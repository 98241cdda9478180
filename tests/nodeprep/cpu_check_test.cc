#include "nodeprep/cpu_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/fake_host.h"

namespace enadpdk::testing {
namespace {

using nodeprep::ActionStatus;
using nodeprep::checkCpu;
using nodeprep::Report;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CpuCheckTest, ReadsTheFlagsOfTheFirstProcessor) {
  const std::string cpuinfo =
      "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu pse pdpe1gb lm\n\n"
      "processor\t: 1\nflags\t\t: fpu\n";
  EXPECT_THAT(nodeprep::cpuFlags(cpuinfo), ElementsAre("fpu", "lm", "pdpe1gb", "pse"));
  EXPECT_TRUE(nodeprep::cpuFlags("processor\t: 0\nFeatures\t: fp asimd\n").empty());
}

TEST(CpuCheckTest, ChecksEverySizeTheConfigUses) {
  struct Case {
    std::string name;
    std::vector<std::string> flags;
    nodeprep::NodeprepConfig config;
    bool ok;
    std::string message;  // of the last action
  };
  const std::vector<nodeprep::HugetlbfsMount> mount1G = {
      {.path = "/dev/hugepages-1Gi", .pageSize = common::HugepageSize::Size1G}};
  const Case cases[] = {
      {"1G asked, supported",
       {"pse", "pdpe1gb"},
       {.hugepages = {.pages1G = 4}},
       true,
       "none: supported (CPU flag pdpe1gb)"},
      {"1G asked, no pdpe1gb",
       {"pse"},
       {.hugepages = {.pages1G = 4}},
       false,
       "1G hugepages are asked for but the CPU lacks the pdpe1gb flag: set nodeprep.hugepages.1G "
       "to 0 and use 2M pages"},
      {"1G mount only, no pdpe1gb", {"pse"}, {.mounts = mount1G}, false, "lacks the pdpe1gb flag"},
      {"2M asked, no pse",
       {"pdpe1gb"},
       {.hugepages = {.pages2M = 64}},
       false,
       "2M hugepages are asked for but the CPU lacks the pse flag"},
      {"nothing asked, no flags needed", {"fpu"}, {}, true, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FakeHost host;
    host.setCpuFlags(c.flags);
    Report report;
    EXPECT_EQ(checkCpu(host.hostRoot(), c.config, report), c.ok);
    EXPECT_EQ(report.failed(), !c.ok);
    if (c.message.empty()) {
      EXPECT_TRUE(report.actions.empty());
    } else {
      ASSERT_FALSE(report.actions.empty());
      EXPECT_THAT(report.actions.back().change, HasSubstr(c.message));
      EXPECT_EQ(report.actions.back().status, c.ok ? ActionStatus::Ok : ActionStatus::Failed);
    }
  }
}

TEST(CpuCheckTest, WithoutX86FlagsTheKernelDecides) {
  FakeHost host;
  host.writeFile("/proc/cpuinfo", "processor\t: 0\nFeatures\t: fp asimd evtstrm\n");
  const nodeprep::NodeprepConfig config{.hugepages = {.pages1G = 2}};
  Report report;
  EXPECT_TRUE(checkCpu(host.hostRoot(), config, report));
  EXPECT_THAT(report.actions.back().change, HasSubstr("hugepages-1048576kB"));

  host.removePath("/sys/kernel/mm/hugepages/hugepages-1048576kB");
  Report missing;
  EXPECT_FALSE(checkCpu(host.hostRoot(), config, missing));
  EXPECT_THAT(missing.error, HasSubstr("the kernel does not offer them"));
}

}  // namespace
}  // namespace enadpdk::testing
