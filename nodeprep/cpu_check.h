#pragma once

#include <set>
#include <string>
#include <string_view>

#include "common/host_root.h"
#include "nodeprep/nodeprep_config.h"
#include "nodeprep/report.h"

namespace enadpdk::nodeprep {

// The flags of the first processor in /proc/cpuinfo (its "flags" line, as x86 kernels write it);
// empty when there is none (other architectures write "Features" instead).
std::set<std::string, std::less<>> cpuFlags(std::string_view cpuinfo);

// Step 1: checks that the CPU and the kernel support every hugepage size the config uses (pages
// asked for, or a hugetlbfs mount of that size): on x86 the CPU flag (pse for 2M, pdpe1gb for 1G),
// everywhere the kernel's /sys/kernel/mm/hugepages/hugepages-<kB>kB directory. Adds one "cpu"
// action per size used; on an unsupported size adds a failed action whose reason says what to
// change, and returns false. Reads only.
bool checkCpu(const common::HostRoot& root, const NodeprepConfig& config, Report& report);

}  // namespace enadpdk::nodeprep
