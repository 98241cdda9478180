#include "nodeprep/nodeprep_config.h"
#include "tests/support/config_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace enadpdk::testing {
namespace {

using common::HugepageSize;
using nodeprep::BindConfig;
using nodeprep::HostExec;
using nodeprep::HugepagesConfig;
using nodeprep::HugetlbfsMount;
using nodeprep::IommuMode;
using nodeprep::NodeprepConfig;
using nodeprep::NoIommuMode;
using nodeprep::PersistMode;
using nodeprep::VfioConfig;

// ---- the examples from the issues, and defaults

TEST(ConfigTest, NodeprepExampleFromTheIssue) {
  absl::StatusOr<NodeprepConfig> config = nodeprep::parseNodeprepConfig(parse(R"({"nodeprep": {
      "hugepages": {"1G": 4, "2M": 0, "perNumaNode": false, "persist": "auto"},
      "mounts": [{"path": "/dev/hugepages-1Gi", "pageSize": "1G"},
                 {"path": "/dev/hugepages", "pageSize": "2M"}],
      "vfio": {"noiommu": "auto", "driver": "vfio-pci"},
      "bind": {"pciAddresses": [], "interfaces": ["eth1"], "allExceptPrimary": false},
      "hostExec": "direct"}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  NodeprepConfig expected{
      .hugepages = HugepagesConfig{.pages1G = 4},
      .mounts = {HugetlbfsMount{.path = "/dev/hugepages-1Gi",
                                .pageSize = common::HugepageSize::Size1G},
                 HugetlbfsMount{.path = "/dev/hugepages",
                                .pageSize = common::HugepageSize::Size2M}},
      .bind = BindConfig{.interfaces = {"eth1"}},
  };
  EXPECT_EQ(*config, expected);
}

TEST(ConfigTest, NodeprepOverrides) {
  absl::StatusOr<NodeprepConfig> config = nodeprep::parseNodeprepConfig(parse(R"({"nodeprep": {
      "hugepages": {"1G": 2, "2M": 1024, "perNumaNode": true, "persist": "always"},
      "vfio": {"iommu": "noiommu", "noiommu": "never", "driver": "igb_uio"},
      "bind": {"pciAddresses": ["0000:00:06.0"], "allExceptPrimary": true,
               "force": ["eth0", "0000:00:05.0"]},
      "hostExec": "nsenter"}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  NodeprepConfig expected{
      .hugepages =
          HugepagesConfig{
              .pages1G = 2, .pages2M = 1024, .perNumaNode = true, .persist = PersistMode::Always},
      .vfio =
          VfioConfig{
              .iommu = IommuMode::NoIommu, .noiommu = NoIommuMode::Never, .driver = "igb_uio"},
      .bind = BindConfig{.pciAddresses = {"0000:00:06.0"},
                         .allExceptPrimary = true,
                         .force = {"eth0", "0000:00:05.0"}},
      .hostExec = HostExec::Nsenter,
  };
  EXPECT_EQ(*config, expected);
}

TEST(NodeprepConfigTest, MissingOrEmptySectionGivesTheDefaults) {
  for (std::string_view text :
       {R"({})", R"({"dataplane": {}, "deviceplugin": {}, "nodeprep": {}, "ipam": {}})"}) {
    EXPECT_EQ(nodeprep::parseNodeprepConfig(parse(text)).value(), NodeprepConfig{}) << text;
  }
}

// ---- malformed configs

class MalformedConfigTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedConfigTest, IsRejectedWithItsPath) {
  absl::Status status = nodeprep::parseNodeprepConfig(parse(GetParam().json)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(message(status), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedConfigTest,
    ::testing::Values(
        // nodeprep.
        MalformedCase{"BadPersist", R"({"nodeprep": {"hugepages": {"persist": "sometimes"}}})",
                      "nodeprep.hugepages.persist: expected \"auto\", \"always\" or \"never\", got "
                      R"("sometimes")"},
        MalformedCase{"NegativeHugepages", R"({"nodeprep": {"hugepages": {"1G": -1}}})",
                      "nodeprep.hugepages.1G: expected an integer between 0 and 16384, got -1"},
        MalformedCase{"BadPageSize", R"({"nodeprep": {"mounts": [
                          {"path": "/dev/hugepages", "pageSize": "2M"},
                          {"path": "/mnt/huge", "pageSize": "4K"}]}})",
                      R"(nodeprep.mounts[1].pageSize: expected "1G" or "2M", got "4K")"},
        MalformedCase{"MountWithoutPath", R"({"nodeprep": {"mounts": [{"pageSize": "1G"}]}})",
                      "nodeprep.mounts[0].path: missing required key"},
        MalformedCase{"DuplicateMount", R"({"nodeprep": {"mounts": [
                          {"path": "/mnt/huge", "pageSize": "2M"},
                          {"path": "/mnt/huge", "pageSize": "1G"}]}})",
                      R"(nodeprep.mounts[1].path: duplicate mount point "/mnt/huge")"},
        MalformedCase{"BadVfioDriver", R"({"nodeprep": {"vfio": {"driver": "vfio"}}})",
                      R"(nodeprep.vfio.driver: expected "vfio-pci", "igb_uio" or )"
                      R"("uio_pci_generic", got "vfio")"},
        MalformedCase{"BadIommu", R"({"nodeprep": {"vfio": {"iommu": "on"}}})",
                      R"(nodeprep.vfio.iommu: expected "auto", "noiommu" or "required", )"
                      R"(got "on")"},
        MalformedCase{"IommuRequiredWithNoIommuAlways",
                      R"({"nodeprep": {"vfio": {"iommu": "required", "noiommu": "always"}}})",
                      R"(nodeprep.vfio.iommu: "required" excludes "noiommu": "always")"},
        MalformedCase{"IommuRequiredWithIgbUio",
                      R"({"nodeprep": {"vfio": {"iommu": "required", "driver": "igb_uio"}}})",
                      R"(nodeprep.vfio.iommu: "required" needs driver "vfio-pci" (igb_uio )"
                      "does not use the IOMMU)"},
        MalformedCase{"BadInterface", R"({"nodeprep": {"bind": {"interfaces": ["eth 1"]}}})",
                      R"(nodeprep.bind.interfaces[0]: expected an interface name, got "eth 1")"},
        MalformedCase{"BadForce", R"({"nodeprep": {"bind": {"force": ["a/b"]}}})",
                      "nodeprep.bind.force[0]: expected a PCI address or an interface name, got "
                      R"("a/b")"},
        MalformedCase{"BadHostExec", R"({"nodeprep": {"hostExec": "chroot"}})",
                      R"(nodeprep.hostExec: expected "direct" or "nsenter", got "chroot")"}),
    [](const ::testing::TestParamInfo<MalformedCase>& testCase) { return testCase.param.name; });

}  // namespace
}  // namespace enadpdk::testing
