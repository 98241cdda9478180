#include "deviceplugin/hugepage_layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace enadpdk::deviceplugin {
namespace {

using common::HugepageSize;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// One allocation and where DPDK 22.11's EAL looks for its pages.
struct LayoutCase {
  const char* description;
  HugepageSize size;
  PagesPerNode pages;
  std::vector<EalHugepageFile> files;
  const char* socketMem;
};

class EalLayoutTest : public ::testing::TestWithParam<LayoutCase> {};

TEST_P(EalLayoutTest, FilesAndArgumentsFollowDpdk2211) {
  const LayoutCase& c = GetParam();
  absl::StatusOr<std::vector<EalHugepageFile>> files = ealHugepageFiles(c.size, "enaP", c.pages);
  ASSERT_TRUE(files.ok()) << c.description << ": " << files.status();
  EXPECT_THAT(*files, ElementsAreArray(c.files)) << c.description;
  EXPECT_EQ(ealArguments(c.size, "/dev/hp", "enaP", c.pages),
            std::string("--huge-dir /dev/hp --file-prefix enaP --huge-unlink=never "
                        "--single-file-segments --socket-mem ") +
                c.socketMem)
      << c.description;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EalLayoutTest,
    ::testing::Values(LayoutCase{"1G on node 0: the first list of socket 0",
                                 HugepageSize::Size1G,
                                 {{0, 2}},
                                 {{.name = "enaPmap_0", .pages = 2, .node = 0}},
                                 "2048"},
                      LayoutCase{"1G on node 1: two lists per socket, so socket 1 starts at list 2",
                                 HugepageSize::Size1G,
                                 {{1, 1}},
                                 {{.name = "enaPmap_2", .pages = 1, .node = 1}},
                                 "0"},
                      LayoutCase{"1G on two nodes: only socket 0 in --socket-mem",
                                 HugepageSize::Size1G,
                                 {{0, 2}, {1, 1}},
                                 {{.name = "enaPmap_0", .pages = 2, .node = 0},
                                  {.name = "enaPmap_2", .pages = 1, .node = 1}},
                                 "2048"},
                      LayoutCase{"1G without NUMA: socket 0, no binding",
                                 HugepageSize::Size1G,
                                 {{-1, 3}},
                                 {{.name = "enaPmap_0", .pages = 3}},
                                 "3072"},
                      LayoutCase{"1G beyond one list (32 segments) continues in the next",
                                 HugepageSize::Size1G,
                                 {{0, 40}},
                                 {{.name = "enaPmap_0", .pages = 32, .node = 0},
                                  {.name = "enaPmap_1", .pages = 8, .node = 0}},
                                 "40960"},
                      LayoutCase{"2M on node 0",
                                 HugepageSize::Size2M,
                                 {{0, 3}},
                                 {{.name = "enaPmap_0", .pages = 3, .node = 0}},
                                 "6"},
                      LayoutCase{
                          "2M on node 1: four lists per socket, so socket 1 starts at list 4",
                          HugepageSize::Size2M,
                          {{1, 8193}},
                          {{.name = "enaPmap_4", .pages = 8192, .node = 1},
                           {.name = "enaPmap_5", .pages = 1, .node = 1}},
                          "0"},
                      LayoutCase{"2M on nodes 0 and 2",
                                 HugepageSize::Size2M,
                                 {{0, 512}, {2, 4}},
                                 {{.name = "enaPmap_0", .pages = 512, .node = 0},
                                  {.name = "enaPmap_8", .pages = 4, .node = 2}},
                                 "1024"}));

TEST(EalLayoutTest, MoreThanDpdkMapsPerSocketIsRefused) {
  absl::StatusOr<std::vector<EalHugepageFile>> files =
      ealHugepageFiles(HugepageSize::Size1G, "enaP", {{0, 65}});
  EXPECT_EQ(files.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(files.status().message()), HasSubstr("at most 64 per socket"));
  EXPECT_TRUE(ealHugepageFiles(HugepageSize::Size1G, "enaP", {{0, 64}}).ok());
  EXPECT_FALSE(ealHugepageFiles(HugepageSize::Size2M, "enaP", {{1, 32769}}).ok());
}

TEST(EalLayoutTest, NamesOfPrefixAndEnvironmentVariable) {
  EXPECT_EQ(ealFilePrefix("1a2b3c4d5e6f7a8b"), "ena1a2b3c4d5e6f7a8b");
  EXPECT_EQ(ealEnvName("hugepages-1Gi"), "ENA_DPDK_HUGEPAGES_1GI_EAL");
  EXPECT_EQ(ealEnvName("hugepages-2Mi"), "ENA_DPDK_HUGEPAGES_2MI_EAL");
}

TEST(HugepageKindTest, DescribesBothSizes) {
  const HugepageKind& big = hugepageKind(HugepageSize::Size1G);
  EXPECT_EQ(big.bytes, 1ull << 30);
  EXPECT_EQ(big.resource, "hugepages-1Gi");
  EXPECT_EQ(big.sysfsDir, "hugepages-1048576kB");
  EXPECT_EQ(big.cgroupName, "1GB");
  const HugepageKind& small = hugepageKind(HugepageSize::Size2M);
  EXPECT_EQ(small.bytes, 2ull << 20);
  EXPECT_EQ(small.resource, "hugepages-2Mi");
  EXPECT_EQ(small.sysfsDir, "hugepages-2048kB");
  EXPECT_EQ(small.cgroupName, "2MB");
}

}  // namespace
}  // namespace enadpdk::deviceplugin
