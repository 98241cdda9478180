// DEL (docs/cni.md "DEL, CHECK, GC, STATUS"): never fails because something is already gone or
// the dataplane is down (the attachment records the port as a pending delete).

#include <optional>
#include <string>

#include "cni/plugin.h"
#include "cni/slot_files.h"
#include "common/logging.h"
#include "common/strings.h"

namespace enadpdk::cni {

absl::Status CniPlugin::del() {
  log_->info("DEL container={} ifname={} network_name={}", inv_.containerId, inv_.ifname,
             conf_.name);
  const std::string id = inv_.portId();
  absl::StatusOr<std::optional<AttachmentRecord>> stored = store_.load(id);
  if (!stored.ok()) {
    log_->warn("unreadable attachment record id={} error={}", id,
               common::logValue(common::toStd(stored.status().message())));
  }
  AttachmentRecord record;
  if (stored.ok() && stored->has_value()) {
    record = **stored;
  } else {
    // No record (ADD never ran here, or a DEL already finished): rebuild what ADD would have
    // made from the configuration, so a DEL after a lost record still cleans up.
    record = newRecord();
    attachment_->rebuild(record);
  }
  if (record.mode == attachment_->mode()) {
    if (absl::Status s = attachment_->teardown(record); !s.ok()) return s;
  }
  for (const std::string& file : {conf_.runtime.deviceInfoFile, record.deviceInfoFile}) {
    if (file.empty()) continue;
    if (absl::Status s = removeFileIfExists(file); !s.ok()) return s;
  }
  if (!conf_.ipamType.empty()) {
    if (absl::Status s = ipam_.run("DEL", conf_.ipamType, ipamConfig(record.network)); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = store_.remove(id); !s.ok()) return s;
  log_->info("DEL done id={}", id);
  return absl::OkStatus();
}

}  // namespace enadpdk::cni
