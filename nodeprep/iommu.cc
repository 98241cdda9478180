#include "nodeprep/iommu.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/strings.h"
#include "nodeprep/host.h"

namespace enadpdk::nodeprep {
namespace {

using common::strCat;
using common::toStd;

constexpr char kIommuGroups[] = "/sys/kernel/iommu_groups";
constexpr char kIommuClass[] = "/sys/class/iommu";
constexpr char kDmarTable[] = "/sys/firmware/acpi/tables/DMAR";
constexpr char kIvrsTable[] = "/sys/firmware/acpi/tables/IVRS";

// The names in a directory under the root, sorted (so that reports do not depend on the order
// the file system lists them in); empty when it does not exist.
std::vector<std::string> entries(const common::HostRoot& root, std::string_view host_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(root.path(host_dir), ec), end; !ec && it != end;
       it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The first group of /sys/kernel/iommu_groups that is not vfio's own, as a host path; empty when
// there is none.
std::string firstHardwareGroup(const common::HostRoot& root) {
  for (const std::string& name : entries(root, kIommuGroups)) {
    const std::string group = strCat(kIommuGroups, "/", name);
    absl::StatusOr<std::string> group_name = readHostFile(root, strCat(group, "/name"));
    if (!group_name.ok() || *group_name != "vfio-noiommu") return group;
  }
  return "";
}

// The comma-separated options of each `key=` argument of `cmdline`, in order.
std::vector<std::string> optionsOf(std::string_view cmdline, std::string_view key) {
  std::vector<std::string> options;
  for (absl::string_view arg : absl::StrSplit(absl::string_view(cmdline.data(), cmdline.size()),
                                              absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
    const size_t eq = arg.find('=');
    if (eq == absl::string_view::npos || toStd(arg.substr(0, eq)) != key) continue;
    for (absl::string_view option : absl::StrSplit(arg.substr(eq + 1), ',', absl::SkipEmpty())) {
      options.emplace_back(toStd(option));
    }
  }
  return options;
}

// The argument of `cmdline` that turns the vendor's IOMMU off, if any: iommu=off for both,
// intel_iommu=off (unless a later intel_iommu=on undoes it, as the kernel parses them in order)
// or amd_iommu=off.
std::optional<std::string> offSwitch(std::string_view cmdline, IommuHardware hardware) {
  for (const std::string& option : optionsOf(cmdline, "iommu")) {
    if (option == "off") return "iommu=off";
  }
  if (hardware == IommuHardware::IntelVtd) {
    std::optional<std::string> off;
    for (const std::string& option : optionsOf(cmdline, "intel_iommu")) {
      if (option == "off") off = "intel_iommu=off";
      if (option == "on") off.reset();
    }
    return off;
  }
  for (const std::string& option : optionsOf(cmdline, "amd_iommu")) {
    if (option == "off") return "amd_iommu=off";
  }
  return std::nullopt;
}

bool intelIommuOn(std::string_view cmdline) {
  bool on = false;
  for (const std::string& option : optionsOf(cmdline, "intel_iommu")) {
    if (option == "on") on = true;
    if (option == "off") on = false;
  }
  return on;
}

std::string hardwareName(IommuHardware hardware) {
  switch (hardware) {
    case IommuHardware::None:
      return "no IOMMU";
    case IommuHardware::IntelVtd:
      return "Intel VT-d (ACPI DMAR table)";
    case IommuHardware::AmdVi:
      return "AMD-Vi (ACPI IVRS table)";
  }
  return "no IOMMU";
}

}  // namespace

bool hostHasIommu(const common::HostRoot& root) { return !firstHardwareGroup(root).empty(); }

IommuFacts readIommuFacts(const common::HostRoot& root) {
  IommuFacts facts;
  if (hostPathExists(root, kDmarTable)) {
    facts.hardware = IommuHardware::IntelVtd;
  } else if (hostPathExists(root, kIvrsTable)) {
    facts.hardware = IommuHardware::AmdVi;
  }
  facts.enabled_by = firstHardwareGroup(root);
  if (facts.enabled_by.empty()) {
    const std::vector<std::string> devices = entries(root, kIommuClass);
    if (!devices.empty()) facts.enabled_by = strCat(kIommuClass, "/", devices.front());
  }
  absl::StatusOr<std::string> cmdline = readHostFile(root, "/proc/cmdline");
  if (cmdline.ok()) facts.cmdline = *std::move(cmdline);
  return facts;
}

std::string_view vfioModeName(VfioMode mode) {
  switch (mode) {
    case VfioMode::Iommu:
      return "iommu";
    case VfioMode::NoIommu:
      return "noiommu";
    case VfioMode::PendingReboot:
      return "pending-reboot";
  }
  return "noiommu";
}

KernelArgSet intelIommuArgSet() {
  return {.keys = {"intel_iommu", "iommu"}, .args = "intel_iommu=on iommu=1"};
}

absl::StatusOr<IommuPlan> planIommu(const IommuFacts& facts, const VfioConfig& config) {
  if (facts.enabled()) {
    return IommuPlan{.mode = VfioMode::Iommu,
                     .reason = strCat("the kernel has an IOMMU enabled (", facts.enabled_by, ")"),
                     .args = std::nullopt};
  }
  if (config.driver != common::kVfioPciDriver) {
    // (Config parsing refuses "required" with these drivers.)
    return IommuPlan{.mode = VfioMode::NoIommu,
                     .reason = strCat("the kernel has no IOMMU enabled, and vfio.driver \"",
                                      config.driver, "\" does not use one"),
                     .args = std::nullopt};
  }
  // Why the kernel has none, and whether a kernel argument changes that.
  const std::string hardware = hardwareName(facts.hardware);
  const KernelArgSet args = intelIommuArgSet();
  std::string why;
  bool args_help = false;
  const std::optional<std::string> off = offSwitch(facts.cmdline, facts.hardware);
  switch (facts.hardware) {
    case IommuHardware::None:
      why = "the instance has no IOMMU (no ACPI DMAR or IVRS table)";
      break;
    case IommuHardware::AmdVi:
      why = off ? strCat(hardware, " is present but the kernel command line turns it off (", *off,
                         "); nodeprep does not override that")
                : strCat(hardware,
                         " is present but the kernel has not enabled it although it does so by "
                         "default (a kernel without AMD IOMMU support?): no kernel argument "
                         "changes that");
      break;
    case IommuHardware::IntelVtd:
      if (off) {
        why = strCat(hardware, " is present but the kernel command line turns it off (", *off,
                     "); nodeprep does not override that");
      } else if (intelIommuOn(facts.cmdline)) {
        why = strCat(hardware,
                     " is present but the kernel booted with intel_iommu=on and has not enabled "
                     "it (a kernel without CONFIG_INTEL_IOMMU?): a reboot will not help");
      } else {
        why = strCat(hardware, " is present but the kernel has not enabled it");
        args_help = true;
      }
      break;
  }
  switch (config.iommu) {
    case IommuMode::Required:
      return absl::FailedPreconditionError(
          strCat("vfio.iommu is \"required\" but the kernel has no IOMMU enabled: ", why,
                 args_help ? strCat("; boot with \"", args.args,
                                    "\", or set vfio.iommu \"auto\" to have nodeprep add them")
                           : ""));
    case IommuMode::NoIommu:
      return IommuPlan{.mode = VfioMode::NoIommu,
                       .reason = strCat("vfio.iommu is \"noiommu\"; ", why),
                       .args = std::nullopt};
    case IommuMode::Auto:
      break;
  }
  if (config.noiommu == NoIommuMode::Always) {
    return IommuPlan{.mode = VfioMode::NoIommu,
                     .reason = strCat("vfio.noiommu is \"always\"; ", why),
                     .args = std::nullopt};
  }
  if (!args_help) return IommuPlan{.mode = VfioMode::NoIommu, .reason = why, .args = std::nullopt};
  return IommuPlan{.mode = VfioMode::PendingReboot,
                   .reason = strCat(why, ": \"", args.args,
                                    "\" go on the kernel command line, and the devices are bound "
                                    "after the reboot"),
                   .args = args};
}

}  // namespace enadpdk::nodeprep
