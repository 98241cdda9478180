#include "vhostuser/dataplane_cli.h"

#include "common/config.h"
#include "common/flags.h"
#include "common/strings.h"

namespace enadpdk::vhostuser {

int dataplaneMain(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  common::FlagParser flags(
      "ena-dpdk-dataplane", "[--config PATH] [--log-level LEVEL]",
      "The DPDK switching dataplane: owns the ENA uplinks and switches between pods' vhost-user\n"
      "ports and the VPC. Reads the \"dataplane\" section of the config file.");
  flags.addCommonFlags(/*config=*/true, /*root=*/false);
  if (auto rc = flags.handleStandard(flags.parse(argc, argv), out, err)) return *rc;
  if (!flags.positional().empty()) {
    return common::reportFatal(
        err, flags.program(), common::strCat("unexpected argument \"", flags.positional()[0], "\""),
        2);
  }
  absl::StatusOr<common::DataplaneConfig> config =
      common::loadDataplaneConfig(flags.value("config"));
  if (!config.ok())
    return common::reportFatal(err, flags.program(), common::toStd(config.status().message()));
  // TODO(issue 4): EAL init, uplinks, workers, control API.
  return common::reportFatal(
      err, flags.program(),
      "config is valid, but running the switch is not supported yet (issue 4)");
}

}  // namespace enadpdk::vhostuser
