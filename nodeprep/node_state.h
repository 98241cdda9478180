#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/host_root.h"

namespace enadpdk::nodeprep {

// Where nodeprep keeps what it must remember between runs (a host path, under the host root).
inline constexpr char kDefaultStateFile[] = "/var/lib/ena-dpdk/nodeprep-state.json";

// What nodeprep remembers between runs:
//   {"bootId": "...", "hugepagesRaisedAt": 12.5, "interfaces": {"eth1": "0000:00:06.0"},
//    "macs": {"02:00:00:00:06:01": "0000:00:06.0"}}
struct NodeState {
  // /proc/sys/kernel/random/boot_id of the boot in which hugepagesRaisedAt was taken.
  std::string boot_id{};
  // Seconds since boot (/proc/uptime) when nodeprep last raised a hugepage count; a kubelet
  // started before that does not know about the pages.
  std::optional<double> hugepages_raised_at{};
  // Kernel interface name -> PCI address of the devices nodeprep bound: once bound, the
  // interface is gone, and a later run still has to know which device "eth1" meant.
  std::map<std::string, std::string> interfaces{};
  // MAC address (lowercase) -> PCI address of the devices nodeprep bound: a bound device has no
  // interface, so no MAC in sysfs, and a later run selecting it by MAC, device index or ENI ID
  // (all found through the MAC) still has to find it.
  std::map<std::string, std::string> macs{};

  // Field-wise comparison.
  bool operator==(const NodeState&) const = default;
};

// Reads the state file at host path `file`; an empty state when it does not exist.
// InvalidArgument, naming the file, when it is not a state document.
absl::StatusOr<NodeState> loadNodeState(const common::HostRoot& root, const std::string& file);

// Writes the state file atomically with mode 0600, creating its directory (0755).
absl::Status saveNodeState(const common::HostRoot& root, const std::string& file,
                           const NodeState& state);

}  // namespace enadpdk::nodeprep
