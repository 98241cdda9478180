#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/host_root.h"

namespace enadpdk::nodeprep {

// The host's boot and its clock, for ordering events within one boot.
struct BootClock {
  // /proc/sys/kernel/random/boot_id; empty when unreadable.
  std::string boot_id{};
  // Seconds since boot (first field of /proc/uptime); nullopt when unreadable.
  std::optional<double> uptime{};
};

// Reads the boot ID and uptime under the host root.
BootClock readBootClock(const common::HostRoot& root);

// The start time in seconds since boot of a process, from the text of /proc/<pid>/stat (field
// 22, in clock ticks of `ticks_per_second`). nullopt when the text is malformed.
std::optional<double> processStartSeconds(std::string_view stat, long ticks_per_second);

// Start times (seconds since boot) of the running kubelet processes: every /proc/<pid> under the
// host root whose comm is "kubelet". Empty when none runs (e.g. nodeprep runs from EC2 user data
// before the kubelet starts). The kubelet reads hugepage capacity once at start, so one that
// started before pages were reserved does not offer them until it restarts.
std::vector<double> kubeletStartTimes(const common::HostRoot& root);

}  // namespace enadpdk::nodeprep
