#pragma once

#include <rte_eal.h>
#include <rte_errno.h>
#include <sched.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace enadpdk::testing {

// Initialises DPDK's EAL for a unit test that needs no root and no hugepage setup:
// "--no-huge --no-shconf" (anonymous memory; the runtime directory DPDK creates all the same is
// removed at exit), no PCI, no telemetry, a file prefix of `name` and the PID. `lcores` lcores
// (0 is the main one), each allowed on every CPU the process may use: a busy-polling worker
// pinned to one CPU would take it from the test's own threads. Once per process.
inline absl::Status initTestEal(const std::string& name, unsigned lcores,
                                unsigned memory_mb = 256) {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::string cpus;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) cpus += (cpus.empty() ? "" : ",") + std::to_string(c);
    }
  }
  if (cpus.empty()) cpus = "0";
  std::string map;
  for (unsigned l = 0; l < lcores; ++l) {
    map += (map.empty() ? "" : ",") + std::to_string(l) + "@(" + cpus + ")";
  }
  std::vector<std::string> args = {name,
                                   "--no-huge",
                                   "-m",
                                   std::to_string(memory_mb),
                                   "--no-pci",
                                   "--no-shconf",
                                   "--no-telemetry",
                                   "--file-prefix",
                                   name + "-" + std::to_string(::getpid()),
                                   "--lcores",
                                   map,
                                   "--main-lcore",
                                   "0",
                                   "--log-level",
                                   "1"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    return absl::InternalError(std::string("rte_eal_init: ") + rte_strerror(rte_errno));
  }
  return absl::OkStatus();
}

}  // namespace enadpdk::testing
