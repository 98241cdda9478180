#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace enadpdk::cni {

// Subdirectory of the CNI state directory holding one record per live attachment.
inline constexpr char kAttachmentsDir[] = "attachments";

// What ena-dpdk-cni made for one attachment, written before the first side effect of ADD and
// removed as the last step of DEL. DEL uses it to find what to undo when the runtime no longer
// passes the device ID, and GC to find the attachments of its CNI network that are no longer
// valid. Every member has an initializer.
struct AttachmentRecord {
  // CNI_CONTAINERID.
  std::string containerId{};
  // CNI_IFNAME.
  std::string ifname{};
  // The CNI network name ("name" of the network configuration).
  std::string cniNetwork{};
  // "vhostuser" or "pci".
  std::string mode{};
  // Dataplane network (vhostuser).
  std::string network{};
  // Device ID from Multus (attachment or PCI address); empty when none was passed.
  std::string deviceId{};
  // Host directory holding the socket and ena-dpdk.json (vhostuser).
  std::string slotDir{};
  // True when the CNI created slotDir (no device ID) and DEL removes it.
  bool ownsSlotDir = false;
  // Host path of the vhost-user socket (vhostuser).
  std::string socketPath{};
  // The dataplane's control socket (vhostuser).
  std::string dataplaneSocket{};
  // Where the NPWG device-info went; empty when the runtime passed no CNIDeviceInfoFile.
  std::string deviceInfoFile{};
  // The uid of the dataplane port (vhostuser): a repeated ADD asks for the same incarnation.
  std::string portUid{};

  // "<containerID>/<ifname>": the dataplane port id and the record's key.
  std::string portId() const { return containerId + "/" + ifname; }
  // Field-wise comparison.
  bool operator==(const AttachmentRecord&) const = default;
};

// The attachment records under `<stateDir>/attachments/` (mode 0700), one JSON file per record
// named by recordFileName(portId), written atomically (mode 0600, not fsynced: see save()).
// Safe to use from concurrent plugin processes: distinct attachments use distinct files, the
// runtime never runs two commands for one attachment at once, and readers skip records that vanish.
class AttachmentStore {
 public:
  explicit AttachmentStore(std::filesystem::path stateDir);

  // Writes (or replaces) `record`.
  absl::Status save(const AttachmentRecord& record) const;
  // The record of `portId`; nullopt when there is none. An unreadable record is an error that
  // names its file.
  absl::StatusOr<std::optional<AttachmentRecord>> load(std::string_view portId) const;
  // Every record, sorted by port id; files that are not records are skipped and described in
  // `problems` when non-null. An absent directory is an empty list.
  absl::StatusOr<std::vector<AttachmentRecord>> list(
      std::vector<std::string>* problems = nullptr) const;
  // Removes the record of `portId`; OK when there is none.
  absl::Status remove(std::string_view portId) const;

 private:
  std::filesystem::path pathOf(std::string_view portId) const;

  std::filesystem::path dir_;
};

}  // namespace enadpdk::cni
