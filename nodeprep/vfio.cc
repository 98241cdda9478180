#include "nodeprep/vfio.h"

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/pci.h"
#include "common/strings.h"
#include "nodeprep/kernel_args.h"

namespace enadpdk::nodeprep {
namespace {

using common::strCat;
using common::toStd;

constexpr char kPatMemtypeList[] = "/sys/kernel/debug/x86/pat_memtype_list";
constexpr char kWcHowTo[] =
    "for write combining use the WC-enabled vfio-pci built by amzn-drivers' "
    "userspace/dpdk/enav2-vfio-patch/get-vfio-with-wc.sh, or vfio.driver \"igb_uio\" (loaded with "
    "wc_activate=1); check with /sys/kernel/debug/x86/pat_memtype_list while DPDK runs";

bool parameterOn(std::string_view value) { return value == "Y" || value == "1"; }

std::string driverDir(std::string_view driver) { return strCat("/sys/bus/pci/drivers/", driver); }

// The start address of BAR `bar` from a device's resource file ("0x... 0x... 0x...").
std::optional<uint64_t> barStart(std::string_view resource, size_t bar) {
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::string_view(resource.data(), resource.size()), '\n');
  if (bar >= lines.size()) return std::nullopt;
  std::vector<absl::string_view> fields = absl::StrSplit(lines[bar], ' ', absl::SkipEmpty());
  uint64_t start = 0;
  if (fields.empty() || !absl::SimpleHexAtoi(fields[0], &start) || start == 0) return std::nullopt;
  return start;
}

// True when pat_memtype_list maps `address` write-combined ("PAT: [mem 0x...-0x...]
// write-combining").
bool writeCombined(std::string_view pat_list, uint64_t address) {
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(pat_list.data(), pat_list.size()), '\n')) {
    if (!absl::StrContains(line, "write-combining")) continue;
    const size_t open = line.find("mem ");
    const size_t dash = line.find('-', open);
    const size_t close = line.find(']', dash);
    if (open == absl::string_view::npos || dash == absl::string_view::npos ||
        close == absl::string_view::npos) {
      continue;
    }
    uint64_t start = 0;
    uint64_t end = 0;
    if (absl::SimpleHexAtoi(line.substr(open + 4, dash - open - 4), &start) &&
        absl::SimpleHexAtoi(line.substr(dash + 1, close - dash - 1), &end) && start <= address &&
        address < end) {
      return true;
    }
  }
  return false;
}

// Whether ENA LLQ gets write combining with `driver`, and what to say about it.
std::pair<ActionStatus, std::string> writeCombining(const common::HostRoot& root,
                                                    const std::string& driver, bool loaded) {
  if (driver == common::kIgbUioDriver) {
    if (!loaded) return {ActionStatus::Ok, "available: igb_uio is loaded with wc_activate=1"};
    absl::StatusOr<std::string> wc =
        readHostFile(root, "/sys/module/igb_uio/parameters/wc_activate");
    if (wc.ok() && (*wc == "1" || *wc == "Y")) {
      return {ActionStatus::Ok, "available: igb_uio has wc_activate=1"};
    }
    return {ActionStatus::Warning,
            "unavailable: igb_uio is loaded without wc_activate=1; reload it with "
            "\"modprobe -r igb_uio && modprobe igb_uio wc_activate=1\" while no device uses it"};
  }
  if (driver == common::kUioPciGenericDriver) {
    return {ActionStatus::Warning,
            "unavailable: uio_pci_generic cannot map the ENA LLQ BAR write-combined; use "
            "vfio.driver \"igb_uio\" (wc_activate=1) or the WC-enabled vfio-pci"};
  }
  // Stock vfio-pci maps BARs uncached; only a running DPDK mapping shows whether this host's
  // vfio-pci is the WC-enabled one.
  absl::StatusOr<std::string> pat = readHostFile(root, kPatMemtypeList);
  absl::StatusOr<std::vector<common::PciDevice>> devices = common::listPciDevices(root);
  if (pat.ok() && devices.ok()) {
    for (const common::PciDevice& device : *devices) {
      if (!device.isEna() || device.driver != driver) continue;
      absl::StatusOr<std::string> resource =
          readHostFile(root, strCat("/sys/bus/pci/devices/", device.address, "/resource"));
      if (!resource.ok()) continue;
      // BAR 2 is the ENA's prefetchable memory BAR that holds the LLQ.
      std::optional<uint64_t> bar = barStart(*resource, 2);
      if (bar && writeCombined(*pat, *bar)) {
        return {ActionStatus::Ok,
                strCat("available: ", device.address, " BAR 2 is mapped write-combining")};
      }
    }
  }
  return {ActionStatus::Warning, strCat("not confirmed: stock vfio-pci maps the ENA LLQ BAR "
                                        "uncached (slow LLQ, high CPU); ",
                                        kWcHowTo)};
}

// Names of the loaded modules, as /proc/modules lists them (most recently loaded first).
std::vector<std::string> loadedModules(const common::HostRoot& root) {
  std::vector<std::string> names;
  absl::StatusOr<std::string> modules = readHostFile(root, "/proc/modules");
  if (!modules.ok()) return names;
  for (absl::string_view line : absl::StrSplit(*modules, '\n', absl::SkipEmpty())) {
    names.emplace_back(toStd(line.substr(0, line.find(' '))));
  }
  return names;
}

// The value no-IOMMU mode had before enableNoIommu() turned it on; nullopt when it was on.
using PreviousValue = std::optional<std::string>;

// Enables no-IOMMU mode; the error says what is missing.
absl::StatusOr<PreviousValue> enableNoIommu(const Host& host) {
  absl::StatusOr<std::string> value = readHostFile(host.root, kNoIommuParameter);
  if (absl::IsNotFound(value.status())) {
    return absl::FailedPreconditionError(
        strCat("the host has no IOMMU and its vfio lacks no-IOMMU mode (no ", kNoIommuParameter,
               "; kernel built without CONFIG_VFIO_NOIOMMU): use vfio.driver \"igb_uio\""));
  }
  if (!value.ok()) return value.status();
  if (parameterOn(*value)) return PreviousValue{};
  if (absl::Status written = host.kernel.write(kNoIommuParameter, "1"); !written.ok()) {
    return written;
  }
  absl::StatusOr<std::string> after = readHostFile(host.root, kNoIommuParameter);
  if (!after.ok()) return after.status();
  if (!parameterOn(*after)) {
    return absl::InternalError(
        strCat(kNoIommuParameter, " still reads \"", *after, "\" after writing 1"));
  }
  return PreviousValue(*value);
}

std::string noIommuNotWanted(const VfioPlan& plan) {
  switch (plan.iommu.mode) {
    case VfioMode::Iommu:
      return "none: the host has an IOMMU";
    case VfioMode::PendingReboot:
      return "none: the IOMMU is on after the reboot, and the devices are bound then";
    case VfioMode::NoIommu:
      break;
  }
  return "none: vfio.noiommu is \"never\"";
}

void recordMode(const VfioPlan& plan, Report& report) {
  report.vfio =
      VfioStatus{.mode = std::string(vfioModeName(plan.iommu.mode)), .reason = plan.iommu.reason};
}

}  // namespace

absl::StatusOr<VfioPlan> planVfio(const common::HostRoot& root, const VfioConfig& config,
                                  bool devices_selected) {
  VfioPlan plan;
  plan.driver = config.driver;
  plan.needed = devices_selected || config.noiommu == NoIommuMode::Always;
  plan.loaded = hostPathExists(root, driverDir(config.driver));
  plan.modprobe = {"modprobe", config.driver};
  if (config.driver == common::kIgbUioDriver) plan.modprobe.push_back("wc_activate=1");
  if (!plan.needed) return plan;
  absl::StatusOr<IommuPlan> iommu = planIommu(readIommuFacts(root), config);
  if (!iommu.ok()) return iommu.status();
  plan.iommu = *std::move(iommu);
  plan.noiommu = config.driver == common::kVfioPciDriver &&
                 (config.noiommu == NoIommuMode::Always ||
                  (config.noiommu == NoIommuMode::Auto && plan.iommu.mode == VfioMode::NoIommu));
  return plan;
}

void applyVfio(const VfioPlan& plan, const Host& host, NodeState& state, Report& report) {
  if (!plan.needed) {
    report.add("vfio", plan.driver, "none: no device is selected for binding", ActionStatus::Ok);
    return;
  }
  recordMode(plan, report);
  if (plan.iommu.mode == VfioMode::PendingReboot) {
    // Nothing else until the reboot: no-IOMMU mode now would let DPDK drive the devices without
    // the IOMMU they are about to get.
    if (persistKernelArgs(host, *plan.iommu.args, /*dry_run=*/false, report, &state) ==
        KernelArgsResult::Failed) {
      return;
    }
    report.rebootRequired = true;
    report.add("vfio", kNoIommuParameter, noIommuNotWanted(plan), ActionStatus::Ok);
    return;
  }
  if (plan.loaded) {
    report.add("vfio", plan.driver, strCat("none: ", driverDir(plan.driver), " exists"),
               ActionStatus::Ok);
  } else {
    const std::vector<std::string> before = loadedModules(host.root);
    absl::Status status = runChecked(host.commands, plan.modprobe).status();
    if (status.ok() && !hostPathExists(host.root, driverDir(plan.driver))) {
      status = absl::InternalError(strCat(describeCommand(plan.modprobe), " succeeded but ",
                                          driverDir(plan.driver), " does not exist"));
    }
    if (!status.ok()) {
      report.fail("vfio", plan.driver, std::string(toStd(status.message())));
      return;
    }
    // Only the modules this modprobe brought in are nodeprep's to unload later; newest first.
    std::vector<std::string> loaded;
    for (std::string& module : loadedModules(host.root)) {
      if (std::find(before.begin(), before.end(), module) == before.end()) {
        loaded.push_back(std::move(module));
      }
    }
    state.modules_loaded.insert(state.modules_loaded.begin(), loaded.begin(), loaded.end());
    report.add("vfio", plan.driver, describeCommand(plan.modprobe), ActionStatus::Changed);
  }
  if (plan.noiommu) {
    absl::StatusOr<PreviousValue> enabled = enableNoIommu(host);
    if (!enabled.ok()) {
      report.fail("vfio", kNoIommuParameter, std::string(toStd(enabled.status().message())));
      return;
    }
    const bool changed = enabled->has_value();
    if (changed && !state.noiommu_before) state.noiommu_before = **enabled;
    report.add("vfio", kNoIommuParameter,
               changed ? "N -> Y (the host has no IOMMU)" : "none: already Y",
               changed ? ActionStatus::Changed : ActionStatus::Ok);
  } else if (plan.driver == common::kVfioPciDriver) {
    report.add("vfio", kNoIommuParameter, noIommuNotWanted(plan), ActionStatus::Ok);
  }
  auto [status, text] = writeCombining(host.root, plan.driver, true);
  report.add("vfio", "write-combining", text, status);
}

void undoVfio(const Host& host, bool dry_run, NodeState& state, Report& report) {
  if (state.noiommu_before) {
    absl::StatusOr<std::string> value = readHostFile(host.root, kNoIommuParameter);
    const std::string change = strCat("Y -> ", *state.noiommu_before);
    if (absl::IsNotFound(value.status())) {
      report.add("vfio", kNoIommuParameter, "none: vfio is not loaded", ActionStatus::Ok);
      if (!dry_run) state.noiommu_before.reset();
    } else if (!value.ok()) {
      report.fail("vfio", kNoIommuParameter, toStd(value.status().message()));
    } else if (!parameterOn(*value)) {
      report.add("vfio", kNoIommuParameter, strCat("none: already ", *value), ActionStatus::Ok);
      if (!dry_run) state.noiommu_before.reset();
    } else if (dry_run) {
      report.add("vfio", kNoIommuParameter, change, ActionStatus::Planned);
    } else {
      const std::string previous = parameterOn(*state.noiommu_before) ? "1" : "0";
      absl::Status written = host.kernel.write(kNoIommuParameter, previous);
      absl::StatusOr<std::string> after = written.ok() ? readHostFile(host.root, kNoIommuParameter)
                                                       : absl::StatusOr<std::string>(written);
      if (!after.ok()) {
        report.fail("vfio", kNoIommuParameter, toStd(after.status().message()));
      } else if (parameterOn(*after)) {
        report.fail("vfio", kNoIommuParameter,
                    strCat(kNoIommuParameter, " still reads \"", *after, "\" after writing 0"));
      } else {
        report.add("vfio", kNoIommuParameter, change, ActionStatus::Changed);
        state.noiommu_before.reset();
      }
    }
  }
  std::vector<std::string> kept;
  const std::vector<std::string> loaded = loadedModules(host.root);
  for (const std::string& module : state.modules_loaded) {
    if (std::find(loaded.begin(), loaded.end(), module) == loaded.end()) {
      report.add("vfio", module, "none: not loaded", ActionStatus::Ok);
      continue;
    }
    // A PCI driver module's name is its driver's with '_' for '-' (vfio_pci: vfio-pci).
    std::string driver = module;
    std::replace(driver.begin(), driver.end(), '_', '-');
    std::vector<std::string> users;
    absl::StatusOr<std::vector<common::PciDevice>> devices = common::listPciDevices(host.root);
    if (devices.ok()) {
      for (const common::PciDevice& device : *devices) {
        // A dry run plans to give nodeprep's own devices back first.
        const bool given_back = dry_run && state.bound_devices.contains(device.address);
        if ((device.driver == driver || device.driver == module) && !given_back) {
          users.push_back(device.address);
        }
      }
    }
    if (!users.empty()) {
      // A device nodeprep bound and could not give back keeps the module for the next --undo;
      // anyone else's device keeps it for good.
      const bool ours = std::any_of(users.begin(), users.end(), [&](const std::string& address) {
        return state.bound_devices.contains(address);
      });
      if (ours) {
        report.fail("vfio", module,
                    strCat("not unloaded: ", absl::StrJoin(users, ", "),
                           " is bound to it, and nodeprep could not give it back"));
        kept.push_back(module);
      } else {
        report.add("vfio", module,
                   strCat("none: left loaded, ", absl::StrJoin(users, ", "),
                          " is bound to it (unloading would take it away from whoever uses it)"),
                   ActionStatus::Warning);
      }
      continue;
    }
    const std::vector<std::string> rmmod = {"rmmod", module};
    if (dry_run) {
      report.add("vfio", module, describeCommand(rmmod), ActionStatus::Planned);
      kept.push_back(module);
      continue;
    }
    if (absl::Status removed = runChecked(host.commands, rmmod).status(); !removed.ok()) {
      report.fail("vfio", module, toStd(removed.message()));
      kept.push_back(module);
      continue;
    }
    report.add("vfio", module, describeCommand(rmmod), ActionStatus::Changed);
  }
  if (!dry_run) state.modules_loaded = std::move(kept);
}

void describeVfio(const VfioPlan& plan, const Host& host, Report& report) {
  if (!plan.needed) {
    report.add("vfio", plan.driver, "none: no device is selected for binding", ActionStatus::Ok);
    return;
  }
  recordMode(plan, report);
  if (plan.iommu.mode == VfioMode::PendingReboot) {
    persistKernelArgs(host, *plan.iommu.args, /*dry_run=*/true, report);
    report.add("vfio", kNoIommuParameter, noIommuNotWanted(plan), ActionStatus::Ok);
    return;
  }
  const common::HostRoot& root = host.root;
  report.add("vfio", plan.driver,
             plan.loaded ? strCat("none: ", driverDir(plan.driver), " exists")
                         : describeCommand(plan.modprobe),
             plan.loaded ? ActionStatus::Ok : ActionStatus::Planned);
  if (plan.noiommu) {
    absl::StatusOr<std::string> value = readHostFile(root, kNoIommuParameter);
    const bool on = value.ok() && parameterOn(*value);
    report.add("vfio", kNoIommuParameter, on ? "none: already Y" : "N -> Y (the host has no IOMMU)",
               on ? ActionStatus::Ok : ActionStatus::Planned);
  } else if (plan.driver == common::kVfioPciDriver) {
    report.add("vfio", kNoIommuParameter, noIommuNotWanted(plan), ActionStatus::Ok);
  }
  auto [status, text] = writeCombining(root, plan.driver, plan.loaded);
  report.add("vfio", "write-combining", text, status);
}

}  // namespace enadpdk::nodeprep
