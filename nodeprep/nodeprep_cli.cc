#include "nodeprep/nodeprep_cli.h"

#include "common/config.h"
#include "common/flags.h"
#include "common/strings.h"

namespace enadpdk::nodeprep {

int nodeprepMain(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  common::FlagParser flags(
      "ena-dpdk-nodeprep", "[--config PATH] [--root DIR] [--dry-run]",
      "Prepares a node for DPDK: hugepages, GRUB kernel arguments, hugetlbfs mounts, vfio\n"
      "no-IOMMU mode and ENA binding. Idempotent. Reads the \"nodeprep\" config section.\n"
      "Exit status: 0 node ready, 3 reboot required, 1 error, 2 bad usage.");
  flags.addCommonFlags().addSwitch("dry-run", "print the plan as JSON and change nothing");
  if (auto rc = flags.handleStandard(flags.parse(argc, argv), out, err)) return *rc;
  if (!flags.positional().empty()) {
    return common::reportFatal(
        err, flags.program(), common::strCat("unexpected argument \"", flags.positional()[0], "\""),
        2);
  }
  absl::StatusOr<common::NodeprepConfig> config = common::loadNodeprepConfig(flags.value("config"));
  if (!config.ok()) {
    return common::reportFatal(err, flags.program(), common::toStd(config.status().message()));
  }
  // TODO(issue 7): the preparation steps.
  return common::reportFatal(
      err, flags.program(),
      "config is valid, but preparing the node is not supported yet (issue 7)");
}

}  // namespace enadpdk::nodeprep
