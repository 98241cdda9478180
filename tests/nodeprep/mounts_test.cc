#include "nodeprep/mounts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/fake_host.h"

namespace enadpdk::testing {
namespace {

using nodeprep::hugetlbfsPageKib;
using nodeprep::MountEntry;
using nodeprep::parseMountTable;

TEST(MountsTest, ParsesTheMountTableAndDecodesEscapes) {
  const std::vector<MountEntry> table = parseMountTable(
      "sysfs /sys sysfs rw,nosuid 0 0\n"
      "nodev /mnt/huge\\040pages hugetlbfs rw,relatime,pagesize=1024M 0 0\n"
      "broken line\n");
  ASSERT_EQ(table.size(), 2u);
  EXPECT_EQ(table[1].source, "nodev");
  EXPECT_EQ(table[1].target, "/mnt/huge pages");
  EXPECT_EQ(table[1].fstype, "hugetlbfs");
  EXPECT_EQ(table[1].options, "rw,relatime,pagesize=1024M");
}

TEST(MountsTest, PageSizeOfAHugetlbfsMount) {
  struct Case {
    std::string options;
    std::optional<uint64_t> kib;
  };
  const Case cases[] = {
      {"rw,relatime,pagesize=1024M", 1048576},
      {"rw,pagesize=2M", 2048},
      {"rw,pagesize=1G", 1048576},
      {"rw,relatime", 2048},
      {"rw,pagesize=2048K", 2048},
      {"rw,pagesize=huge", std::nullopt},
      {"rw,pagesize=", std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(hugetlbfsPageKib({.options = c.options}), c.kib) << c.options;
  }
}

TEST(MountsTest, PrefersTheMountTableOfTheHostsInit) {
  FakeHost host;
  host.writeFile("/proc/1/mounts", "nodev /dev/hugepages hugetlbfs rw,pagesize=2M 0 0\n");
  absl::StatusOr<std::vector<MountEntry>> table = nodeprep::readMountTable(host.hostRoot());
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->size(), 1u);
  EXPECT_EQ((*table)[0].target, "/dev/hugepages");
}

TEST(MountsTest, PlansOnlyMissingMounts) {
  FakeHost host;
  host.addMount({.source = "nodev",
                 .target = "/dev/hugepages",
                 .fstype = "hugetlbfs",
                 .options = "rw,relatime,pagesize=2M"})
      // Stacked mounts: the last one listed is the visible one.
      .addMount({.source = "tmpfs", .target = "/mnt/x", .fstype = "tmpfs"})
      .addMount({.source = "nodev",
                 .target = "/mnt/x",
                 .fstype = "hugetlbfs",
                 .options = "rw,pagesize=1024M"});
  absl::StatusOr<std::vector<nodeprep::MountPlan>> plans = nodeprep::planMounts(
      host.hostRoot(), {{.path = "/dev/hugepages", .pageSize = common::HugepageSize::Size2M},
                        {.path = "/mnt/x", .pageSize = common::HugepageSize::Size1G},
                        {.path = "/dev/hugepages-1Gi", .pageSize = common::HugepageSize::Size1G}});
  ASSERT_TRUE(plans.ok()) << plans.status();
  ASSERT_EQ(plans->size(), 3u);
  EXPECT_TRUE((*plans)[0].present);
  EXPECT_TRUE((*plans)[1].present);
  EXPECT_FALSE((*plans)[2].present);
}

}  // namespace
}  // namespace enadpdk::testing
