#pragma once

// The files ena-dpdk-cni leaves for the pod: the slot directory with the vhost-user socket and
// ena-dpdk.json, and the NPWG device-info file. Pure path logic and small file writers; the
// plugin decides when to call them.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cni/netconf.h"
#include "common/device_info.h"

namespace enadpdk::cni {

// Where one vhostuser attachment's socket lives.
struct Slot {
  // The device ID from Multus; empty when none was passed.
  std::string deviceId{};
  // Host directory of the socket: `<slotDir>/<deviceID>`, or `<slotDir>/<per-attachment name>`.
  std::filesystem::path hostDir{};
  // True for the per-attachment directory (no device ID): the CNI creates and removes it.
  bool ownsDir = false;
  // Host path of the socket (`<hostDir>/vhost.sock`), at most 107 bytes.
  std::string socketPath{};
  // The socket's path as the pod sees it: `<podSlotDir>/<deviceID>/vhost.sock` (the device
  // plugin mounts the slot there), or the host path when there is no device ID.
  std::string podSocketPath{};
};

// The per-attachment directory name used without a device ID:
// "cni_<first 12 bytes of the container ID>_<ifname>_<8 hex digits of FNV-1a of portId>".
// The '_' keeps it apart from device IDs ("<network>-<NN>", no '_').
std::string perAttachmentDirName(std::string_view containerId, std::string_view ifname);

// The slot of a vhostuser attachment. `deviceId` must already be checked (networkOfDeviceId);
// InvalidConfig (7) when the socket path would not fit 107 bytes.
absl::StatusOr<Slot> resolveSlot(const NetConf& conf, const Invocation& inv,
                                 const std::string& deviceId);

// What the pod's app needs to open its port: the content of ena-dpdk.json.
struct PodAttachmentInfo {
  // CNI_CONTAINERID and CNI_IFNAME of the attachment (DEL checks them before removing the file).
  std::string containerId{};
  std::string ifname{};
  // CNI network name.
  std::string cniNetwork{};
  // Device ID ("eni1-07"); empty without one.
  std::string deviceId{};
  // Dataplane network.
  std::string network{};
  // Socket path as the pod sees it.
  std::string socketPath{};
  // "server" (the app creates the socket: virtio_user server=1) or "client".
  std::string vhostMode{};
  // MAC the app must use.
  std::string mac{};
  // Addresses in CIDR form.
  std::vector<std::string> ips{};
  // First IPv4 gateway (else first gateway); empty when none.
  std::string gateway{};
  // MTU and queue pairs of the port.
  unsigned mtu = 0;
  unsigned queues = 1;
  // On a vpc network with an IPv6 address: the link-local address the pod must use
  // (podLinkLocal() of its first IPv6 address); empty otherwise (then not written).
  std::string linkLocal{};
};

// The link-local address, with /64, of a pod that owns the IPv6 address `cidr`
// ("2001:db8::c0:10/64" → "fe80::c0:10/64") on a vpc network, where every pod carries the ENI's MAC
// so that EUI-64 link-locals would collide: fe80::/64 followed by the low 64 bits of the address.
// The dataplane applies the same rule (vhostuser/packet.h podLinkLocal) to accept the pod's NDP.
// Empty for an IPv4 or unparsable `cidr`.
std::string podLinkLocal(std::string_view cidr);

// The JSON text of ena-dpdk.json (docs/cni.md shows it).
std::string renderPodAttachmentInfo(const PodAttachmentInfo& info);
// Writes `<dir>/ena-dpdk.json` atomically, mode 0644 (the pod's app reads it).
absl::Status writePodAttachmentInfo(const std::filesystem::path& dir,
                                    const PodAttachmentInfo& info);
// True when `<dir>/ena-dpdk.json` exists and names this container ID and ifname; false when it is
// absent, unreadable or names another attachment (a slot reused by a newer pod).
bool podAttachmentInfoIsFor(const std::filesystem::path& dir, std::string_view containerId,
                            std::string_view ifname);

// NPWG device-info v1.1.0 documents.
// {"type":"vhost-user","version":"1.1.0","vhost-user":{"mode":"server","path":"..."}}
std::string vhostUserDeviceInfo(VhostMode mode, std::string_view path);
// {"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:00:06.0"}} (shared with the device
// plugin).
using common::pciDeviceInfo;
// Writes a device-info file atomically (mode 0644), creating its directory (0700) if needed.
absl::Status writeDeviceInfo(const std::filesystem::path& path, std::string_view content);

// Replaces `path` with `content` atomically (common::replaceFileAtomic: a temporary file in the
// same directory, mode `mode`, renamed over it) but without fsync: readers see the old or the new
// file, never a torn one, and the plugin does not wait for the disk. For files that live on tmpfs
// (/var/run) or that DEL and GC can do without after a power loss (attachment records); pending
// deletes, which must survive one, use common::writeFileAtomic.
absl::Status replaceFile(const std::filesystem::path& path, std::string_view content, mode_t mode);

// Removes a file; OK when it does not exist.
absl::Status removeFileIfExists(const std::filesystem::path& path);

}  // namespace enadpdk::cni
