#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "common/host_root.h"
#include "nodeprep/command_runner.h"
#include "nodeprep/eni_metadata.h"
#include "nodeprep/interface_addresses.h"
#include "nodeprep/kernel_files.h"
#include "nodeprep/node_state.h"
#include "nodeprep/nodeprep_config.h"
#include "nodeprep/report.h"
#include "nodeprep/routing_tables.h"

namespace enadpdk::nodeprep {

// How one run behaves, beyond the config.
struct NodeprepOptions {
  // Plan and report only: nothing is written and no command that changes the host runs.
  bool dry_run = false;
  // The address the node is registered with (IPv4 or IPv6); the interface holding it is treated
  // as the primary ENI. Empty when unknown.
  std::string node_address{};
  // Host path of the state file.
  std::string state_file = kDefaultStateFile;
};

// One idempotent node preparation, in the order of the design: CPU check, hugepages (runtime
// reservation, then kernel arguments when needed, then whether the kubelet must restart),
// hugetlbfs mounts, VFIO, ENA binding. Everything that can refuse the run (unsupported page
// size, a mount point in the way, an unknown device, a selected primary ENI or VPC CNI ENI, a
// device not on the allow list, allExceptPrimary beside the VPC CNI) is checked before
// the first write, so a refused run changes nothing. A failing step stops the run; what ran
// before it stays done (every step is idempotent, so the next run resumes). Not thread-safe; one
// run at a time per host.
class Nodeprep {
 public:
  // The referenced seams outlive the object. `routing` is read whenever devices are selected,
  // `metadata` only when the config names ENIs by device index or ENI ID.
  Nodeprep(NodeprepConfig config, NodeprepOptions options, common::HostRoot root,
           CommandRunner& commands, KernelFiles& kernel, const InterfaceAddresses& addresses,
           const RoutingTables& routing, const EniMetadata& metadata,
           std::shared_ptr<spdlog::logger> logger);

  // Runs (or, with dry_run, plans) the preparation and returns the report. Never throws.
  Report run();

 private:
  NodeprepConfig config_;
  NodeprepOptions options_;
  common::HostRoot root_;
  CommandRunner& commands_;
  KernelFiles& kernel_;
  const InterfaceAddresses& addresses_;
  const RoutingTables& routing_;
  const EniMetadata& metadata_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace enadpdk::nodeprep
