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

TEST(NodeprepConfigTest, EnisNamedByWhatEc2SaysAboutThem) {
  absl::StatusOr<NodeprepConfig> config = nodeprep::parseNodeprepConfig(parse(R"({"nodeprep": {
      "bind": {"deviceIndices": [1, 3], "eniIds": ["eni-0123456789abcdef0", "eni-01234567"],
               "macs": ["0A:1B:2C:3D:4E:5F"]},
      "imds": {"endpoint": "http://127.0.0.1:8080", "timeoutMs": 250}}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  NodeprepConfig expected{
      .bind = BindConfig{.deviceIndices = {1, 3},
                         .eniIds = {"eni-0123456789abcdef0", "eni-01234567"},
                         .macs = {"0a:1b:2c:3d:4e:5f"}},
      .imds = nodeprep::ImdsConfig{.endpoint = "http://127.0.0.1:8080", .timeoutMs = 250},
  };
  EXPECT_EQ(*config, expected);
  EXPECT_EQ(NodeprepConfig{}.imds.endpoint, "http://169.254.169.254");
  EXPECT_EQ(NodeprepConfig{}.imds.timeoutMs, 1000u);
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
        MalformedCase{"DeviceIndexTooHigh", R"({"nodeprep": {"bind": {"deviceIndices": [128]}}})",
                      "nodeprep.bind.deviceIndices[0]: expected an integer between 0 and 127, "
                      "got 128"},
        MalformedCase{"DuplicateDeviceIndex",
                      R"({"nodeprep": {"bind": {"deviceIndices": [2, 2]}}})",
                      "nodeprep.bind.deviceIndices: duplicate device index 2"},
        MalformedCase{"BadEniId", R"({"nodeprep": {"bind": {"eniIds": ["eni-XYZ"]}}})",
                      "nodeprep.bind.eniIds[0]: expected an ENI ID like eni-0123456789abcdef0, "
                      R"(got "eni-XYZ")"},
        MalformedCase{"BadMac", R"({"nodeprep": {"bind": {"macs": ["0a:1b:2c"]}}})",
                      "nodeprep.bind.macs[0]: expected a unicast MAC address like "
                      R"(02:00:00:00:00:01, got "0a:1b:2c")"},
        MalformedCase{
            "DuplicateMacInAnotherCase",
            R"({"nodeprep": {"bind": {"macs": ["0a:1b:2c:3d:4e:5f", "0A:1B:2C:3D:4E:5F"]}}})",
            "nodeprep.bind.macs: duplicate MAC 0a:1b:2c:3d:4e:5f"},
        MalformedCase{"HttpsImds",
                      R"({"nodeprep": {"imds": {"endpoint": "https://169.254.169.254"}}})",
                      "nodeprep.imds.endpoint: expected http://host or http://host:port, got "
                      R"("https://169.254.169.254")"},
        MalformedCase{"ImdsTimeoutZero", R"({"nodeprep": {"imds": {"timeoutMs": 0}}})",
                      "nodeprep.imds.timeoutMs: expected an integer between 1 and 60000, got 0"},
        MalformedCase{"BadHostExec", R"({"nodeprep": {"hostExec": "chroot"}})",
                      R"(nodeprep.hostExec: expected "direct" or "nsenter", got "chroot")"}),
    [](const ::testing::TestParamInfo<MalformedCase>& testCase) { return testCase.param.name; });

}  // namespace
}  // namespace enadpdk::testing
