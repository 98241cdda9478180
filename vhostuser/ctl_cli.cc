#include "vhostuser/ctl_cli.h"

#include <set>

#include "common/flags.h"
#include "common/strings.h"

namespace enadpdk::vhostuser {

int ctlMain(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  common::FlagParser flags("ena-dpdk-ctl", "[--socket PATH] [-o table|json] COMMAND [ARGS]",
                           "Operator CLI for ena-dpdk-dataplane's control API.");
  flags.addValue("socket", "PATH", "dataplane control socket", "/run/ena-dpdk/dataplane.sock")
      .addValue("output", "FORMAT", "output format: table or json", "table", 'o')
      .addCommonFlags(/*config=*/false, /*root=*/false)
      .addHelpSection("Commands",
                      "  health                 is the dataplane serving?\n"
                      "  networks               list networks and their uplinks\n"
                      "  ports                  list ports\n"
                      "  port add ...           add a vhost-user port\n"
                      "  port del ID            delete a port\n"
                      "  stats                  counters of ports, networks and workers\n");
  if (auto rc = flags.handleStandard(flags.parse(argc, argv), out, err)) return *rc;
  const std::string format = flags.value("output");
  if (format != "table" && format != "json") {
    return common::reportFatal(
        err, flags.program(),
        common::strCat("-o: expected \"table\" or \"json\", got \"", format, "\""), 2);
  }
  if (flags.positional().empty()) {
    return common::reportFatal(err, flags.program(), "missing command (see ena-dpdk-ctl --help)",
                               2);
  }
  static const std::set<std::string> kCommands = {"health", "networks", "ports", "port", "stats"};
  const std::string& command = flags.positional()[0];
  if (!kCommands.contains(command)) {
    return common::reportFatal(
        err, flags.program(),
        common::strCat("unknown command \"", command, "\" (see ena-dpdk-ctl --help)"), 2);
  }
  // TODO(issue 4): talk to the dataplane.
  return common::reportFatal(err, flags.program(),
                             common::strCat("\"", command, "\" is not supported yet (issue 4)"));
}

}  // namespace enadpdk::vhostuser
