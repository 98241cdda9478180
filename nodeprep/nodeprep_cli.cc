#include "nodeprep/nodeprep_cli.h"

#include "common/flags.h"
#include "common/logging.h"
#include "common/strings.h"
#include "nodeprep/nodeprep.h"
#include "nodeprep/nodeprep_config.h"
#include "nodeprep/report.h"
#include "nodeprep/undo.h"

namespace enadpdk::nodeprep {

using common::reportFatal;
using common::strCat;
using common::toStd;

HostSeams hostSeams(std::string search_path) {
  return {
      .commands =
          [search_path](const common::HostRoot& root, HostExec mode) {
            return std::make_unique<HostCommandRunner>(mode, search_path, root);
          },
      .kernel =
          [](const common::HostRoot& root) { return std::make_unique<HostKernelFiles>(root); },
      .addresses = [] { return std::make_unique<SystemInterfaceAddresses>(); },
      .routing = [] { return std::make_unique<NetlinkRoutingTables>(); },
      .metadata = [](const ImdsConfig& imds) { return std::make_unique<ImdsEniMetadata>(imds); },
  };
}

int nodeprepMain(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
                 const HostSeams& seams) {
  common::FlagParser flags(
      "ena-dpdk-nodeprep", "[--config PATH] [--root DIR] [--dry-run] [--undo] [--node-address IP]",
      "Prepares a node for DPDK, idempotently and in this order: CPU check, hugepages (runtime\n"
      "reservation, else GRUB kernel arguments and a reboot), hugetlbfs mounts, vfio (the IOMMU\n"
      "where the instance has one, turned on with kernel arguments and a reboot when the kernel\n"
      "left it off; else no-IOMMU mode), binding the selected ENAs (by PCI address, interface,\n"
      "MAC, or EC2 device index / ENI ID from the instance metadata). Never binds the primary\n"
      "ENI unless nodeprep.bind.force names it, nor an ENI with the AWS VPC CNI's policy\n"
      "routing; beside the VPC CNI only ENIs named by MAC, device index or ENI ID, and no\n"
      "allExceptPrimary. Reads the \"nodeprep\" config section and prints\n"
      "{\"actions\": [...], \"rebootRequired\", \"kubeletRestartRequired\", \"ready\",\n"
      "\"vfio\": {\"mode\", \"reason\"}} as JSON.\n"
      "--undo gives the node back: it reverts only what the state file records nodeprep did\n"
      "(bound ENAs back to their driver, no-IOMMU mode, modules it loaded, its hugetlbfs mounts\n"
      "and directories, the hugepage counts it raised, the kernel arguments it added), refuses\n"
      "while a bound ENA is open in a process, and removes the state file when all is undone.\n"
      "Exit status: 0 node ready (--dry-run: plan made; --undo: all undone, or nothing to do),\n"
      "3 reboot required, 1 error (--undo: something could not be undone), 2 bad usage.");
  flags.addCommonFlags()
      .addSwitch("dry-run", "print the plan as JSON and change nothing")
      .addSwitch("undo",
                 "revert what the state file records nodeprep did (with --dry-run: the plan)")
      .addValue("node-address", "IP",
                "address the node is registered with; the interface holding it is never bound")
      .addValue("state-file", "PATH",
                "host path (under --root) of the file nodeprep remembers bound interfaces in",
                kDefaultStateFile);
  if (auto rc = flags.handleStandard(flags.parse(argc, argv), out, err)) return *rc;
  if (!flags.positional().empty()) {
    return reportFatal(err, flags.program(),
                       strCat("unexpected argument \"", flags.positional()[0], "\""), 2);
  }
  const std::string node_address = flags.value("node-address");
  if (!node_address.empty() && !common::isIpAddress(node_address)) {
    return reportFatal(
        err, flags.program(),
        strCat("--node-address: expected an IPv4 or IPv6 address, got \"", node_address, "\""), 2);
  }
  const std::string state_file = flags.value("state-file");
  if (state_file.empty() || state_file.front() != '/') {
    return reportFatal(err, flags.program(),
                       strCat("--state-file: expected an absolute path, got \"", state_file, "\""),
                       2);
  }
  absl::StatusOr<NodeprepConfig> config = loadNodeprepConfig(flags.value("config"));
  if (!config.ok()) return reportFatal(err, flags.program(), toStd(config.status().message()));
  // handleStandard() has validated the level already.
  absl::StatusOr<spdlog::level::level_enum> level = common::parseLogLevel(flags.value("log-level"));
  absl::StatusOr<std::shared_ptr<spdlog::logger>> logger =
      common::makeLogger("nodeprep", level.ok() ? *level : spdlog::level::info, flags.logOutput());
  if (!logger.ok()) return reportFatal(err, flags.program(), toStd(logger.status().message()));

  const common::HostRoot root(flags.value("root"));
  std::unique_ptr<CommandRunner> commands = seams.commands(root, config->hostExec);
  std::unique_ptr<KernelFiles> kernel = seams.kernel(root);
  std::unique_ptr<InterfaceAddresses> addresses = seams.addresses();
  std::unique_ptr<RoutingTables> routing = seams.routing();
  if (flags.has("undo")) {
    const Host host{.root = root, .commands = *commands, .kernel = *kernel};
    const Report report =
        undoNodeprep(host, {.dry_run = flags.has("dry-run"), .state_file = state_file});
    for (const Action& a : report.actions) {
      (*logger)->debug("action step={} target={} status={} change=\"{}\"", a.step, a.target,
                       statusName(a.status), a.change);
    }
    out << reportJson(report) << std::flush;
    if (report.failed()) reportFatal(err, flags.program(), report.error);
    return exitStatus(report);
  }
  std::unique_ptr<EniMetadata> metadata = seams.metadata(config->imds);
  Nodeprep nodeprep(
      *std::move(config),
      {.dry_run = flags.has("dry-run"), .node_address = node_address, .state_file = state_file},
      root, *commands, *kernel, *addresses, *routing, *metadata, *logger);
  const Report report = nodeprep.run();
  out << reportJson(report) << std::flush;
  if (report.failed()) reportFatal(err, flags.program(), report.error);
  return exitStatus(report);
}

}  // namespace enadpdk::nodeprep
