#pragma once

// Records of dataplane ports that ena-dpdk-cni still has to delete.
//
// A CNI DEL must succeed even when the dataplane is down (SPEC.md: DEL is idempotent and must not
// fail because a resource is already gone or unreachable). When ena-dpdk-cni cannot reach the
// dataplane during DEL it writes a *pending port delete* record instead, and whoever reaches the
// dataplane next finishes it:
//   - ena-dpdk-cni itself, at the start of every ADD, after its own port in DEL, and in GC;
//   - ena-dpdk-dataplane at its start, after it restored its port table from the state file and
//     before it serves the control API (so that a port recorded here never comes back to life),
//     and then every few seconds while it runs (so that no record outlives a running dataplane).
// ADD also writes one, with the port's uid, for a port *in doubt*: an AddPort that timed out may
// have created the port after all (docs/cni.md, "Ports in doubt"). A record with a uid deletes
// only that incarnation of the port, so a newer ADD of the same id is never undone by it.
//
// On disk: one JSON file per port in `<stateDir>/pending-deletes/` (stateDir defaults to
// kDefaultCniStateDir), named after the port id by recordFileName(), mode 0600, written atomically
// (write temp + fsync + rename):
//
//   {"portId": "4f0c.../net1", "containerID": "4f0c...", "ifname": "net1", "network": "eni1",
//    "dataplaneSocket": "/run/ena-dpdk/dataplane.sock", "recordedAt": "2026-11-25T01:02:03Z",
//    "uid": "9f1c..."}   (uid: optional)
//
// Every function is safe to call from several processes at once: records are only ever created
// whole (rename) and removed whole (unlink), a record that vanishes while being listed is skipped,
// and removing a missing record succeeds. Finishing a record is therefore always: delete the port
// (idempotent in the dataplane), then clearPendingPortDelete().

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace enadpdk::cni {

// Default state directory of ena-dpdk-cni (network config key "stateDir").
inline constexpr char kDefaultCniStateDir[] = "/var/lib/ena-dpdk/cni";
// Subdirectory of the state directory holding the pending port deletes.
inline constexpr char kPendingDeletesDir[] = "pending-deletes";

// One port the CNI could not delete. Every member has an initializer (GCC's
// -Wmissing-field-initializers with designated initializers).
struct PendingPortDelete {
  // Dataplane port id ("<containerID>/<ifname>" for ports the CNI made). Required, non-empty.
  std::string portId{};
  // CNI_CONTAINERID of the attachment (informational; GC matches it against valid attachments).
  std::string containerId{};
  // CNI_IFNAME of the attachment.
  std::string ifname{};
  // Dataplane network of the port; empty when unknown.
  std::string network{};
  // Control socket of the dataplane that holds the port: a dataplane finishes only the records
  // whose socket is its own controlSocket, the CNI only those of its dataplaneSocket.
  std::string dataplaneSocket{};
  // When the record was written, RFC 3339 UTC ("2026-11-25T01:02:03Z"); set by
  // recordPendingPortDelete() when empty.
  std::string recordedAt{};
  // The uid of the port incarnation to delete (DeletePort's precondition); empty: any.
  std::string uid{};

  // Field-wise comparison.
  bool operator==(const PendingPortDelete&) const = default;
};

// The file name (not path) of the record of `portId`: the id with every byte outside
// [A-Za-z0-9._-] written as %XX, plus ".json" ("4f0c%2Fnet1.json"). Ids whose escaped form is
// longer than 200 bytes are shortened to their first 180 escaped bytes, "~" and a 16-digit FNV-1a
// hash of the whole id, so that every id maps to one file name within NAME_MAX. Deterministic
// across processes and builds.
std::string recordFileName(std::string_view portId);

// Writes (or replaces) the record of `record.portId` under `stateDir`, creating
// `<stateDir>/pending-deletes/` (mode 0700) when missing. InvalidArgument for an empty portId;
// file-system failures name the path.
absl::Status recordPendingPortDelete(const std::filesystem::path& stateDir,
                                     PendingPortDelete record);

// Every pending record under `stateDir`, sorted by portId. An absent directory is an empty list.
// A file that is not a valid record (torn by a crash of a pre-rename writer cannot happen, but a
// hand-edited one can) is skipped and described in `problems` when it is non-null
// ("<path>: <why>"); temporary files of writers in progress are ignored. Fails only when the
// directory exists but cannot be read.
absl::StatusOr<std::vector<PendingPortDelete>> listPendingPortDeletes(
    const std::filesystem::path& stateDir, std::vector<std::string>* problems = nullptr);

// Removes the record of `portId`. OK when there is none. With a non-empty `uid`, a record of
// another uid (written since by a newer ADD of the same id) is left in place.
absl::Status clearPendingPortDelete(const std::filesystem::path& stateDir, std::string_view portId,
                                    std::string_view uid = {});

}  // namespace enadpdk::cni
