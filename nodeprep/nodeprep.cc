#include "nodeprep/nodeprep.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <vector>

#include "common/logging.h"
#include "common/pci.h"
#include "common/strings.h"
#include "nodeprep/binding.h"
#include "nodeprep/cpu_check.h"
#include "nodeprep/host.h"
#include "nodeprep/hugepages.h"
#include "nodeprep/kernel_args.h"
#include "nodeprep/kubelet.h"
#include "nodeprep/mounts.h"
#include "nodeprep/primary_eni.h"
#include "nodeprep/vfio.h"

namespace enadpdk::nodeprep {
namespace {

using common::strCat;
using common::toStd;

// Everything the steps need to know before the first write.
struct Plans {
  NodeState state{};
  HugepagesPlan hugepages{};
  std::vector<MountPlan> mounts{};
  VfioPlan vfio{};
  BindPlan bind{};
};

constexpr char kKubeletRestart[] =
    "restart required: it started before these hugepages were reserved and does not offer them "
    "until it restarts";

}  // namespace

Nodeprep::Nodeprep(NodeprepConfig config, NodeprepOptions options, common::HostRoot root,
                   CommandRunner& commands, KernelFiles& kernel,
                   const InterfaceAddresses& addresses, const RoutingTables& routing,
                   const EniMetadata& metadata, std::shared_ptr<spdlog::logger> logger)
    : config_(std::move(config)),
      options_(std::move(options)),
      root_(std::move(root)),
      commands_(commands),
      kernel_(kernel),
      addresses_(addresses),
      routing_(routing),
      metadata_(metadata),
      logger_(std::move(logger)) {}

Report Nodeprep::run() {
  Report report;
  const Host host{.root = root_, .commands = commands_, .kernel = kernel_};
  std::optional<NodeState> loaded_state;
  Plans plans;

  // Saves the state when the run changed it and settles the verdict; every exit goes through it.
  auto finish = [&]() -> Report {
    if (!options_.dry_run && loaded_state && plans.state != *loaded_state) {
      if (!hostPathExists(root_, options_.state_file)) {
        // The first save: what it creates on the way is nodeprep's, for --undo to remove.
        plans.state.state_directories = missingDirectories(
            root_, std::filesystem::path(options_.state_file).parent_path().string());
      }
      absl::Status saved = saveNodeState(root_, options_.state_file, plans.state);
      if (saved.ok()) {
        report.add("state", options_.state_file, "updated", ActionStatus::Changed);
      } else {
        report.fail("state", options_.state_file, std::string(toStd(saved.message())));
      }
    }
    report.ready = !report.failed() && !report.rebootRequired &&
                   !(options_.dry_run && report.changedAnything());
    for (const Action& a : report.actions) {
      logger_->debug("action step={} target={} status={} change={}", a.step, a.target,
                     statusName(a.status), common::logValue(a.change));
    }
    return report;
  };

  // ---- Step 1 and the plans of the others: reads only, so a refusal leaves the host untouched.
  if (!checkCpu(root_, config_, report)) return finish();
  absl::StatusOr<NodeState> state = loadNodeState(root_, options_.state_file);
  if (!state.ok()) {
    report.fail("state", options_.state_file, std::string(toStd(state.status().message())));
    return finish();
  }
  loaded_state = *state;
  plans.state = *std::move(state);
  absl::StatusOr<HugepagesPlan> hugepages = planHugepages(root_, config_.hugepages);
  if (!hugepages.ok()) {
    report.fail("hugepages", "/sys/kernel/mm/hugepages",
                std::string(toStd(hugepages.status().message())));
    return finish();
  }
  plans.hugepages = *std::move(hugepages);
  absl::StatusOr<std::vector<MountPlan>> mounts = planMounts(root_, config_.mounts);
  if (!mounts.ok()) {
    report.fail("mounts", "/proc/mounts", std::string(toStd(mounts.status().message())));
    return finish();
  }
  plans.mounts = *std::move(mounts);
  if (selectsDevices(config_.bind)) {
    absl::StatusOr<std::vector<common::PciDevice>> devices = common::listPciDevices(root_);
    absl::StatusOr<PrimaryEniFacts> facts =
        devices.ok() ? gatherPrimaryEniFacts(root_, *devices, options_.node_address, addresses_)
                     : devices.status();
    EniSelectionFacts enis;
    absl::StatusOr<VpcCniFacts> vpc_cni = gatherVpcCniFacts(root_, routing_);
    if (!vpc_cni.ok()) {
      report.fail("bind", "routing tables", std::string(toStd(vpc_cni.status().message())));
      return finish();
    }
    enis.vpc_cni = *std::move(vpc_cni);
    if (needsInstanceMetadata(config_.bind)) {
      absl::StatusOr<EniFactsByMac> attached = metadata_.attachedEnis();
      if (!attached.ok()) {
        report.fail("bind", "instance metadata",
                    strCat("cannot find the ENIs nodeprep.bind.deviceIndices or eniIds name: ",
                           toStd(attached.status().message())));
        return finish();
      }
      enis.imds = *std::move(attached);
    }
    absl::StatusOr<BindPlan> bind = facts.ok()
                                        ? planBinding(root_, config_.bind, config_.vfio.driver,
                                                      plans.state, *facts, *devices, enis)
                                        : facts.status();
    if (!bind.ok()) {
      report.fail("bind", "/sys/bus/pci/devices", std::string(toStd(bind.status().message())));
      return finish();
    }
    plans.bind = *std::move(bind);
    for (const BindSkip& refusal : plans.bind.refused) {
      report.fail("bind", refusal.label, refusal.reason, ActionStatus::Refused);
    }
    if (report.failed()) return finish();
  }
  absl::StatusOr<VfioPlan> vfio = planVfio(root_, config_.vfio, selectsDevices(config_.bind));
  if (!vfio.ok()) {
    report.fail("vfio", "/sys/kernel/iommu_groups", std::string(toStd(vfio.status().message())));
    return finish();
  }
  plans.vfio = *std::move(vfio);
  // Devices that get the IOMMU after a reboot are not bound before it (see applyVfio()).
  const bool bind_after_reboot = plans.vfio.iommu.mode == VfioMode::PendingReboot;
  const std::vector<double> kubelets = kubeletStartTimes(root_);
  const BootClock clock = readBootClock(root_);
  const uint64_t total1G = plans.hugepages.total1G;
  const PersistMode persist = config_.hugepages.persist;
  // A running kubelet misses pages raised in this run, or earlier in this boot after it started.
  auto checkKubelet = [&](bool raised_now) {
    const bool raised_this_boot = plans.state.hugepages_raised_at && !clock.boot_id.empty() &&
                                  plans.state.boot_id == clock.boot_id;
    if (std::any_of(kubelets.begin(), kubelets.end(), [&](double started) {
          return raised_now || (raised_this_boot && started < *plans.state.hugepages_raised_at);
        })) {
      report.kubeletRestartRequired = true;
      report.add("kubelet", "kubelet", kKubeletRestart, ActionStatus::Warning);
    }
  };

  if (options_.dry_run) {
    describeHugepages(plans.hugepages, report);
    const bool raises1G =
        std::any_of(plans.hugepages.targets.begin(), plans.hugepages.targets.end(),
                    [](const HugepageTarget& t) {
                      return t.size == common::HugepageSize::Size1G && t.needsRaise();
                    });
    if (total1G > 0 && persist == PersistMode::Always) {
      persistHugepageArgs(host, total1G, /*dry_run=*/true, report);
    } else if (raises1G && persist == PersistMode::Auto) {
      report.add("kernel-args", "kernel command line",
                 strCat("if the kernel grants fewer than ", total1G, " 1G pages: add ",
                        hugepageArgs(total1G)),
                 ActionStatus::Planned);
    }
    checkKubelet(plans.hugepages.raises());
    describeMounts(plans.mounts, report);
    describeVfio(plans.vfio, host, report);
    if (bind_after_reboot) {
      deferBinding(plans.bind, report);
    } else {
      describeBinding(plans.bind, report);
    }
    return finish();
  }

  // ---- Step 2: hugepages.
  const HugepagesOutcome reserved =
      reserveHugepages(plans.hugepages, persist, host, plans.state, report);
  if (report.failed()) return finish();
  if (total1G > 0 && (persist == PersistMode::Always || reserved.short1G)) {
    if (persistHugepageArgs(host, total1G, /*dry_run=*/false, report, &plans.state) ==
        KernelArgsResult::Failed) {
      return finish();
    }
    if (reserved.short1G) {
      absl::StatusOr<std::string> cmdline = readHostFile(root_, "/proc/cmdline");
      if (cmdline.ok() && hasHugepageArgs(*cmdline, total1G)) {
        // Rebooting again would loop: the boot-time reservation itself came up short.
        report.fail("kernel-args", "/proc/cmdline",
                    strCat("the running kernel already booted with \"", hugepageArgs(total1G),
                           "\" and still has fewer pages: a reboot will not help; lower "
                           "hugepages.1G or use an instance with more memory"));
        return finish();
      }
      report.rebootRequired = true;
    }
  }
  if (reserved.raised) {
    plans.state.boot_id = clock.boot_id;
    plans.state.hugepages_raised_at = clock.uptime;
  }
  checkKubelet(reserved.raised);

  // ---- Steps 3 to 5.
  applyMounts(plans.mounts, host, plans.state, report);
  if (report.failed()) return finish();
  applyVfio(plans.vfio, host, plans.state, report);
  if (report.failed()) return finish();
  if (bind_after_reboot) {
    deferBinding(plans.bind, report);
  } else {
    applyBinding(plans.bind, host, plans.state, report);
  }
  return finish();
}

}  // namespace enadpdk::nodeprep
