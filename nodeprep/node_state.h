#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/host_root.h"

namespace enadpdk::nodeprep {

// Where nodeprep keeps what it must remember between runs (a host path, under the host root).
inline constexpr char kDefaultStateFile[] = "/var/lib/ena-dpdk/nodeprep-state.json";

// The state file version that records what --undo needs (the keys below from hugepagesRaised
// on). A file without "version" was written by a nodeprep that recorded none of it.
inline constexpr int kNodeStateVersion = 2;

// A runtime hugepage count nodeprep raised ("hugepagesRaised": {FILE: {"before", "raisedTo"}}).
struct HugepageRaise {
  // The count before nodeprep first raised it: what --undo writes back.
  uint64_t before = 0;
  // The count the kernel granted at nodeprep's last raise: --undo lowers only a count that still
  // reads this (anything else means someone changed it since).
  uint64_t raised_to = 0;

  // Field-wise comparison.
  bool operator==(const HugepageRaise&) const = default;
};

// A hugetlbfs mount nodeprep made ("mountsMade": {PATH: {"createdDirectories": [...]}}).
struct MountRecord {
  // Host paths of the directories nodeprep created for the mount point, outermost first;
  // --undo removes them (innermost first) once they are empty.
  std::vector<std::string> created_directories{};

  // Field-wise comparison.
  bool operator==(const MountRecord&) const = default;
};

// Kernel arguments nodeprep put on the command line ("kernelArgsAdded": [{...}], in order).
struct KernelArgsEdit {
  // How: "grubby", or "/etc/default/grub" (then grub_cfg was regenerated).
  std::string via{};
  // The arguments added, space-separated ("default_hugepagesz=1G hugepagesz=1G hugepages=4").
  std::string added{};
  // Earlier arguments with the same keys that the addition replaced; --undo puts them back.
  std::string replaced{};
  // /etc/default/grub: the file before and after nodeprep's edit. --undo restores `before` byte
  // for byte when the file still reads `after`, and otherwise removes `added` from it.
  std::string grub_before{};
  std::string grub_after{};
  // /etc/default/grub: the host path of the grub.cfg nodeprep regenerated.
  std::string grub_cfg{};

  // Field-wise comparison.
  bool operator==(const KernelArgsEdit&) const = default;
};

// A device nodeprep bound ("boundDevices": {ADDRESS: {"driver", "driverOverride", "boundTo"}}).
struct BoundDevice {
  // The driver it had before ("ena"; empty for none): --undo binds it back to that.
  std::string driver{};
  // Its driver_override before (empty for "(null)"): --undo puts it back.
  std::string driver_override{};
  // The DPDK driver nodeprep bound it to.
  std::string bound_to{};

  // Field-wise comparison.
  bool operator==(const BoundDevice&) const = default;
};

// What nodeprep remembers between runs:
//   {"version": 2, "bootId": "...", "hugepagesRaisedAt": 12.5,
//    "interfaces": {"eth1": "0000:00:06.0"}, "macs": {"02:00:00:00:06:01": "0000:00:06.0"},
//    "hugepagesRaised": {...}, "mountsMade": {...}, "kernelArgsAdded": [...],
//    "boundDevices": {...}, "modulesLoaded": ["vfio_pci", "vfio"], "noiommuBefore": "N",
//    "stateDirectories": ["/var/lib/ena-dpdk"]}
// Everything from hugepagesRaised on is the record of what nodeprep changed, for --undo; each key
// is written only when it records something.
struct NodeState {
  // The file's "version": kNodeStateVersion once written by this nodeprep, 0 when the file has
  // none (an older nodeprep's, which recorded nothing for --undo) or there is no file.
  int version = 0;
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
  // nr_hugepages host path -> the raise nodeprep made there.
  std::map<std::string, HugepageRaise> hugepages_raised{};
  // Mount point host path -> the mount nodeprep made there.
  std::map<std::string, MountRecord> mounts_made{};
  // Kernel argument additions, in the order they were made (--undo reverts them last first).
  std::vector<KernelArgsEdit> kernel_args_added{};
  // PCI address -> the driver it had before nodeprep bound it.
  std::map<std::string, BoundDevice> bound_devices{};
  // Kernel modules nodeprep's modprobe loaded (they were not in /proc/modules before), in the
  // order to unload them (most recently loaded first, as /proc/modules lists them).
  std::vector<std::string> modules_loaded{};
  // vfio's enable_unsafe_noiommu_mode before nodeprep turned it on ("N"); nullopt when nodeprep
  // did not change it.
  std::optional<std::string> noiommu_before{};
  // Host paths of the directories nodeprep created for the state file itself, outermost first.
  std::vector<std::string> state_directories{};

  // True when the state records a change --undo reverts.
  bool recordsChanges() const;

  // Field-wise comparison.
  bool operator==(const NodeState&) const = default;
};

// Reads the state file at host path `file`; an empty state when it does not exist.
// InvalidArgument, naming the file, when it is not a state document.
absl::StatusOr<NodeState> loadNodeState(const common::HostRoot& root, const std::string& file);

// Writes the state file atomically with mode 0600 and "version": kNodeStateVersion, creating its
// directory (0755).
absl::Status saveNodeState(const common::HostRoot& root, const std::string& file,
                           const NodeState& state);

// Host paths of the directories that do not exist yet on the way to host directory `dir`,
// outermost first: what makeDirectories() would create, for a record --undo can remove.
std::vector<std::string> missingDirectories(const common::HostRoot& root, const std::string& dir);

}  // namespace enadpdk::nodeprep
