#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "common/host_root.h"
#include "nodeprep/command_runner.h"
#include "nodeprep/eni_metadata.h"
#include "nodeprep/interface_addresses.h"
#include "nodeprep/kernel_files.h"
#include "nodeprep/nodeprep_config.h"
#include "nodeprep/routing_tables.h"

namespace enadpdk::nodeprep {

// How nodeprepMain() reaches the host once it knows the host root and the config. main() passes
// hostSeams(); tests pass seams that emulate the kernel on a fake host.
struct HostSeams {
  // Makes the runner of host commands for a root and config.hostExec.
  std::function<std::unique_ptr<CommandRunner>(const common::HostRoot&, HostExec)> commands{};
  // Makes the writer of kernel control files for a root.
  std::function<std::unique_ptr<KernelFiles>(const common::HostRoot&)> kernel{};
  // Makes the source of interface addresses.
  std::function<std::unique_ptr<InterfaceAddresses>()> addresses{};
  // Makes the reader of the routing rules and tables.
  std::function<std::unique_ptr<RoutingTables>()> routing{};
  // Makes the reader of the instance metadata for config.imds.
  std::function<std::unique_ptr<EniMetadata>(const ImdsConfig&)> metadata{};
};

// The real host: HostCommandRunner searching `search_path` (the PATH nodeprep was started with),
// HostKernelFiles, SystemInterfaceAddresses, NetlinkRoutingTables and ImdsEniMetadata.
HostSeams hostSeams(std::string search_path);

// Entry point of ena-dpdk-nodeprep: parses flags and the "nodeprep" config section, runs (or
// plans, with --dry-run) the preparation and prints the report as one JSON document on `out`.
// Exit status: 0 node ready (with --dry-run: the plan could be made), 3 reboot required, 1 error
// (with a one-line reason on `err`), 2 bad usage.
int nodeprepMain(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
                 const HostSeams& seams);

}  // namespace enadpdk::nodeprep
