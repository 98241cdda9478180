#include "vhostuser/uplink_allocation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace enadpdk::vhostuser {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

DataplaneConfig twoPciUplinksAndAVdev() {
  DataplaneConfig config;
  config.networks = {{.name = "eni1", .uplink = UplinkConfig{.device = "0000:00:06.0"}},
                     {.name = "eni2", .uplink = UplinkConfig{.device = "0000:00:07.0"}},
                     {.name = "test", .uplink = UplinkConfig{.device = "net_null0"}},
                     {.name = "local"}};
  return config;
}

struct Case {
  const char* description;
  std::map<std::string, std::string> env;
  std::vector<std::string> missing;
};

class UnallocatedUplinksTest : public ::testing::TestWithParam<Case> {};

TEST_P(UnallocatedUplinksTest, ComparesThePciUplinksWithTheKubeletsAllocation) {
  const Case& c = GetParam();
  EXPECT_EQ(unallocatedUplinks(twoPciUplinksAndAVdev(), c.env), c.missing) << c.description;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, UnallocatedUplinksTest,
    ::testing::Values(
        Case{"not started by the kubelet with the resource: nothing to compare",
             {{"PCIDEVICE_DPDK_AWS_ENA_DEDICATED", "0000:00:08.0"}},
             {}},
        Case{"both allocated (vdev uplinks are no device)",
             {{"PCIDEVICE_DPDK_AWS_ENA_UPLINK", "0000:00:07.0,0000:00:06.0"},
              {"PCIDEVICE_DPDK_AWS_ENA_UPLINK_INFO", "{}"}},
             {}},
        Case{"one missing", {{"PCIDEVICE_DPDK_AWS_ENA_UPLINK", "0000:00:06.0"}}, {"0000:00:07.0"}},
        Case{"another resource prefix",
             {{"PCIDEVICE_EXAMPLE_COM_ENA_UPLINK", "0000:00:07.0"}},
             {"0000:00:06.0"}},
        Case{"announced but empty",
             {{"PCIDEVICE_DPDK_AWS_ENA_UPLINK", ""}},
             {"0000:00:06.0", "0000:00:07.0"}}));

TEST(UnallocatedUplinksVdevTest, AConfigWithoutPciUplinksMissesNothing) {
  DataplaneConfig config;
  config.networks = {{.name = "test", .uplink = UplinkConfig{.device = "net_null0"}}};
  EXPECT_THAT(unallocatedUplinks(config, {{"PCIDEVICE_DPDK_AWS_ENA_UPLINK", ""}}), IsEmpty());
}

}  // namespace
}  // namespace enadpdk::vhostuser
