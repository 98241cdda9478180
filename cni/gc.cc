// GC (cniVersion ≥ 1.1.0): removes what belongs to attachments not in the valid list.

#include <set>
#include <string>
#include <vector>

#include "cni/errors.h"
#include "cni/plugin.h"
#include "cni/slot_files.h"
#include "common/logging.h"
#include "common/strings.h"

namespace enadpdk::cni {

using common::strCat;

absl::Status CniPlugin::gc() {
  if (!versionAtLeast(conf_.cniVersion, "1.1.0")) {
    return cniError(CniError::kIncompatibleVersion,
                    strCat("GC needs cniVersion 1.1.0 or later, not ", conf_.cniVersion));
  }
  if (!conf_.validAttachments) {
    return cniError(CniError::kInvalidConfig,
                    "GC needs the valid attachments (cni.dev/valid-attachments or "
                    "cni.dev/attachments)");
  }
  const std::set<AttachmentKey> valid(conf_.validAttachments->begin(),
                                      conf_.validAttachments->end());
  auto isValid = [&](const std::string& cid, const std::string& ifname) {
    return valid.count(AttachmentKey{cid, ifname}) > 0;
  };
  log_->info("GC network_name={} valid={}", conf_.name, valid.size());

  std::vector<std::string> problems;
  absl::StatusOr<std::vector<AttachmentRecord>> records = store_.list(&problems);
  for (const std::string& p : problems)
    log_->warn("unreadable attachment record problem={}", common::logValue(p));
  if (!records.ok()) return records.status();
  std::set<std::string> recordedElsewhere;
  // The dataplane networks this CNI network has used: where the IPAM plugin has leases of ours.
  std::set<std::string> usedNetworks;
  unsigned removed = 0;
  for (const AttachmentRecord& record : *records) {
    if (record.cniNetwork != conf_.name) {
      recordedElsewhere.insert(record.portId());
      continue;
    }
    if (!record.network.empty()) usedNetworks.insert(record.network);
    if (isValid(record.containerId, record.ifname)) continue;
    if (record.mode == attachment_->mode()) {
      if (absl::Status s = attachment_->teardown(record); !s.ok()) return s;
    }
    if (!record.deviceInfoFile.empty()) {
      if (absl::Status s = removeFileIfExists(record.deviceInfoFile); !s.ok()) return s;
    }
    if (absl::Status s = store_.remove(record.portId()); !s.ok()) return s;
    log_->info("GC removed attachment id={}", record.portId());
    ++removed;
  }
  absl::StatusOr<unsigned> orphans =
      attachment_->collectGarbage(isValid, recordedElsewhere, usedNetworks);
  if (!orphans.ok()) return orphans.status();
  removed += *orphans;

  if (!conf_.ipamType.empty()) {
    for (const std::string& network : ipamNetworks(usedNetworks)) {
      if (absl::Status s = ipam_.run("GC", conf_.ipamType, ipamConfig(network)); !s.ok()) {
        return s;
      }
    }
  }
  log_->info("GC done removed={}", removed);
  return absl::OkStatus();
}

}  // namespace enadpdk::cni
