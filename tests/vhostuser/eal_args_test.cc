#include "vhostuser/eal_args.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace enadpdk::vhostuser {
namespace {

using ::testing::HasSubstr;
using Args = std::vector<std::string>;

NetworkConfig network(std::string name, std::string device,
                      std::map<std::string, std::string> devargs = {}) {
  NetworkConfig n{.name = std::move(name)};
  n.uplink = UplinkConfig{.device = std::move(device), .devargs = std::move(devargs)};
  return n;
}

const std::map<std::string, std::string> kEnaArgs = {{"large_llq_hdr", "1"}, {"miss_txc_to", "3"}};

struct Case {
  std::string description;
  Args eal;
  std::vector<NetworkConfig> networks;
  Args want;
};

class EalArgsTest : public ::testing::TestWithParam<Case> {};

TEST_P(EalArgsTest, Composes) {
  absl::StatusOr<Args> got = ealArgsForUplinks(GetParam().eal, GetParam().networks);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EalArgsTest,
    ::testing::Values(
        Case{"-a X",
             {"-l", "0,1", "-a", "0000:00:06.0"},
             {network("eni1", "0000:00:06.0", kEnaArgs)},
             {"-l", "0,1", "-a", "0000:00:06.0,large_llq_hdr=1,miss_txc_to=3"}},
        Case{"-aX",
             {"-a0000:00:06.0"},
             {network("eni1", "0000:00:06.0", kEnaArgs)},
             {"-a0000:00:06.0,large_llq_hdr=1,miss_txc_to=3"}},
        Case{"--allow X",
             {"--allow", "0000:00:06.0"},
             {network("eni1", "0000:00:06.0", kEnaArgs)},
             {"--allow", "0000:00:06.0,large_llq_hdr=1,miss_txc_to=3"}},
        Case{"--allow=X short form",
             {"--allow=00:06.0"},
             {network("eni1", "0000:00:06.0", kEnaArgs)},
             {"--allow=00:06.0,large_llq_hdr=1,miss_txc_to=3"}},
        Case{"uppercase address",
             {"-a", "0000:00:0A.0"},
             {network("eni1", "0000:00:0a.0", kEnaArgs)},
             {"-a", "0000:00:0A.0,large_llq_hdr=1,miss_txc_to=3"}},
        Case{"same arguments already there (any order)",
             {"-a", "0000:00:06.0,miss_txc_to=3,large_llq_hdr=1"},
             {network("eni1", "0000:00:06.0", kEnaArgs)},
             {"-a", "0000:00:06.0,miss_txc_to=3,large_llq_hdr=1"}},
        Case{"uplink missing from an allow list is added",
             {"-a", "0000:00:05.0"},
             {network("eni1", "0000:00:06.0", kEnaArgs), network("eni2", "0000:00:07.0")},
             {"-a", "0000:00:05.0", "-a", "0000:00:06.0,large_llq_hdr=1,miss_txc_to=3", "-a",
              "0000:00:07.0"}},
        Case{"no allow list and no devargs: unchanged",
             {"-l", "0,1"},
             {network("eni1", "0000:00:06.0"), network("veth", "net_af_packet0,iface=veth0")},
             {"-l", "0,1"}},
        Case{"vdev uplinks are not PCI devices",
             {"-a", "0000:00:06.0", "--vdev", "net_null0"},
             {network("n", "net_null0")},
             {"-a", "0000:00:06.0", "--vdev", "net_null0"}},
        Case{"a blocked device without devargs is left to the probe",
             {"-b", "0000:00:06.0"},
             {network("eni1", "0000:00:06.0")},
             {"-b", "0000:00:06.0"}}),
    [](const ::testing::TestParamInfo<Case>& param) {
      return "Case" + std::to_string(param.index);
    });

struct ErrorCase {
  std::string description;
  Args eal;
  std::vector<NetworkConfig> networks;
  std::string error;
};

class EalArgsErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(EalArgsErrorTest, Refuses) {
  absl::StatusOr<Args> got = ealArgsForUplinks(GetParam().eal, GetParam().networks);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(got.status().message(), HasSubstr(GetParam().error));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EalArgsErrorTest,
    ::testing::Values(
        ErrorCase{"other arguments in the allow list",
                  {"-a", "0000:00:06.0,large_llq_hdr=0"},
                  {network("eni1", "0000:00:06.0", kEnaArgs)},
                  "dataplane.networks[eni1].uplink.devargs: dataplane.eal gives 0000:00:06.0 "
                  "device arguments of its own (\"0000:00:06.0,large_llq_hdr=0\")"},
        ErrorCase{"no allow list",
                  {"-l", "0,1"},
                  {network("eni1", "0000:00:06.0", kEnaArgs)},
                  "dataplane.networks[eni1].uplink.devargs: dataplane.eal has no allow list"},
        ErrorCase{"blocked",
                  {"--block", "0000:00:06.0"},
                  {network("eni1", "0000:00:06.0", kEnaArgs)},
                  "0000:00:06.0 is blocked"},
        ErrorCase{
            "--no-pci", {"--no-pci"}, {network("eni1", "0000:00:06.0", kEnaArgs)}, "--no-pci"}),
    [](const ::testing::TestParamInfo<ErrorCase>& param) {
      return "Case" + std::to_string(param.index);
    });

}  // namespace
}  // namespace enadpdk::vhostuser
