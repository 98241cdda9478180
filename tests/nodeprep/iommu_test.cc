#include "nodeprep/iommu.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/fake_host.h"

namespace enadpdk::testing {
namespace {

using nodeprep::IommuFacts;
using nodeprep::IommuHardware;
using nodeprep::IommuMode;
using nodeprep::NoIommuMode;
using nodeprep::VfioConfig;
using nodeprep::VfioMode;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kPlainCmdline[] = "BOOT_IMAGE=/boot/vmlinuz root=UUID=1 ro selinux=0";

TEST(IommuTest, ReadsTheAcpiTablesTheGroupsAndTheCommandLine) {
  FakeHost host;
  host.setKernelCmdline(kPlainCmdline);
  IommuFacts facts = nodeprep::readIommuFacts(host.hostRoot());
  EXPECT_EQ(facts.hardware, IommuHardware::None);
  EXPECT_FALSE(facts.enabled());
  EXPECT_EQ(facts.cmdline, kPlainCmdline);

  host.writeFile("/sys/firmware/acpi/tables/IVRS", "IVRS");
  EXPECT_EQ(nodeprep::readIommuFacts(host.hostRoot()).hardware, IommuHardware::AmdVi);
  host.removePath("/sys/firmware/acpi/tables/IVRS")
      .writeFile("/sys/firmware/acpi/tables/DMAR", "DMAR");
  EXPECT_EQ(nodeprep::readIommuFacts(host.hostRoot()).hardware, IommuHardware::IntelVtd);

  // vfio's own no-IOMMU groups say nothing about the hardware.
  host.addPciDevice({.address = "0000:00:06.0", .iommu_group = 0, .noiommu = true});
  EXPECT_FALSE(nodeprep::readIommuFacts(host.hostRoot()).enabled());
  // An IOMMU class device (dmar0) says the kernel enabled it, as does a hardware group.
  host.writeFile("/sys/class/iommu/dmar0/uevent", "");
  EXPECT_EQ(nodeprep::readIommuFacts(host.hostRoot()).enabled_by, "/sys/class/iommu/dmar0");
  host.addPciDevice({.address = "0000:00:07.0", .iommu_group = 1});
  EXPECT_EQ(nodeprep::readIommuFacts(host.hostRoot()).enabled_by, "/sys/kernel/iommu_groups/1");
}

struct PlanCase {
  std::string name;
  IommuHardware hardware;
  bool enabled;
  std::string cmdline;
  VfioConfig config;
  // The mode, or nullopt when planning fails.
  std::optional<VfioMode> mode;
  // A part of the reason (or of the error).
  std::string reason;
};

void PrintTo(const PlanCase& c, std::ostream* out) { *out << c.name; }

class IommuPlanTest : public ::testing::TestWithParam<PlanCase> {};

TEST_P(IommuPlanTest, DecidesTheMode) {
  const PlanCase& c = GetParam();
  const IommuFacts facts{.hardware = c.hardware,
                         .enabled_by = c.enabled ? "/sys/kernel/iommu_groups/5" : "",
                         .cmdline = c.cmdline};
  absl::StatusOr<nodeprep::IommuPlan> plan = nodeprep::planIommu(facts, c.config);
  if (!c.mode) {
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(plan.status().message(),
                AllOf(HasSubstr("vfio.iommu is \"required\""), HasSubstr(c.reason)));
    return;
  }
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->mode, *c.mode);
  EXPECT_THAT(plan->reason, HasSubstr(c.reason));
  // Arguments exactly when a reboot is pending, and then the Intel ones.
  EXPECT_EQ(plan->args.has_value(), *c.mode == VfioMode::PendingReboot);
  if (plan->args) {
    EXPECT_EQ(plan->args->args, "intel_iommu=on iommu=1");
  }
}

const VfioConfig kAuto{};
constexpr auto kIntel = IommuHardware::IntelVtd;
constexpr auto kAmd = IommuHardware::AmdVi;
constexpr auto kNone = IommuHardware::None;

INSTANTIATE_TEST_SUITE_P(
    Cases, IommuPlanTest,
    ::testing::Values(
        PlanCase{"Virtualised", kNone, false, kPlainCmdline, kAuto, VfioMode::NoIommu,
                 "the instance has no IOMMU (no ACPI DMAR or IVRS table)"},
        PlanCase{"IntelEnabled", kIntel, true, kPlainCmdline, kAuto, VfioMode::Iommu,
                 "the kernel has an IOMMU enabled (/sys/kernel/iommu_groups/5)"},
        // Groups without an ACPI table (another firmware interface) count as well.
        PlanCase{"GroupsWithoutTable", kNone, true, kPlainCmdline, kAuto, VfioMode::Iommu,
                 "IOMMU enabled"},
        PlanCase{"IntelNotEnabled", kIntel, false, kPlainCmdline, kAuto, VfioMode::PendingReboot,
                 "Intel VT-d (ACPI DMAR table) is present but the kernel has not enabled it"},
        PlanCase{"IntelOnButStillOff", kIntel, false,
                 std::string(kPlainCmdline) + " intel_iommu=on iommu=1", kAuto, VfioMode::NoIommu,
                 "a reboot will not help"},
        PlanCase{"IntelTurnedOff", kIntel, false, std::string(kPlainCmdline) + " intel_iommu=off",
                 kAuto, VfioMode::NoIommu, "turns it off (intel_iommu=off)"},
        PlanCase{"IntelOffThenOn", kIntel, false, "intel_iommu=off intel_iommu=on", kAuto,
                 VfioMode::NoIommu, "a reboot will not help"},
        PlanCase{"IommuOff", kIntel, false, "iommu=off", kAuto, VfioMode::NoIommu,
                 "turns it off (iommu=off)"},
        PlanCase{"AmdNotEnabled", kAmd, false, kPlainCmdline, kAuto, VfioMode::NoIommu,
                 "AMD-Vi (ACPI IVRS table) is present but the kernel has not enabled it although "
                 "it does so by default"},
        PlanCase{"AmdTurnedOff", kAmd, false, "amd_iommu=off", kAuto, VfioMode::NoIommu,
                 "turns it off (amd_iommu=off)"},
        PlanCase{"AmdEnabled", kAmd, true, kPlainCmdline, kAuto, VfioMode::Iommu, "enabled"},
        PlanCase{"NoIommuKey",
                 kIntel,
                 false,
                 kPlainCmdline,
                 {.iommu = IommuMode::NoIommu},
                 VfioMode::NoIommu,
                 "vfio.iommu is \"noiommu\"; Intel VT-d"},
        // An IOMMU the kernel has is used whatever the key says: vfio-pci cannot bypass it.
        PlanCase{"NoIommuKeyWithIommu",
                 kIntel,
                 true,
                 kPlainCmdline,
                 {.iommu = IommuMode::NoIommu},
                 VfioMode::Iommu,
                 "enabled"},
        PlanCase{"NoIommuAlways",
                 kIntel,
                 false,
                 kPlainCmdline,
                 {.noiommu = NoIommuMode::Always},
                 VfioMode::NoIommu,
                 "vfio.noiommu is \"always\""},
        PlanCase{"IgbUio",
                 kIntel,
                 false,
                 kPlainCmdline,
                 {.driver = "igb_uio"},
                 VfioMode::NoIommu,
                 "vfio.driver \"igb_uio\" does not use one"},
        PlanCase{"RequiredAndEnabled",
                 kIntel,
                 true,
                 kPlainCmdline,
                 {.iommu = IommuMode::Required},
                 VfioMode::Iommu,
                 "enabled"},
        PlanCase{"RequiredOnVirtualised",
                 kNone,
                 false,
                 kPlainCmdline,
                 {.iommu = IommuMode::Required},
                 std::nullopt,
                 "the instance has no IOMMU"},
        PlanCase{"RequiredIntelNotEnabled",
                 kIntel,
                 false,
                 kPlainCmdline,
                 {.iommu = IommuMode::Required},
                 std::nullopt,
                 "boot with \"intel_iommu=on iommu=1\", or set vfio.iommu \"auto\""},
        PlanCase{"RequiredAmdNotEnabled",
                 kAmd,
                 false,
                 kPlainCmdline,
                 {.iommu = IommuMode::Required},
                 std::nullopt,
                 "AMD-Vi (ACPI IVRS table)"}),
    [](const ::testing::TestParamInfo<PlanCase>& param) { return param.param.name; });

TEST(IommuTest, ModeNames) {
  EXPECT_EQ(nodeprep::vfioModeName(VfioMode::Iommu), "iommu");
  EXPECT_EQ(nodeprep::vfioModeName(VfioMode::NoIommu), "noiommu");
  EXPECT_EQ(nodeprep::vfioModeName(VfioMode::PendingReboot), "pending-reboot");
}

}  // namespace
}  // namespace enadpdk::testing
