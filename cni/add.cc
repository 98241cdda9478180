// ADD (docs/cni.md "What ADD produces"): the steps both modes share, in order, each with its undo
// step; the attachment (cni/attachment.h) does its mode's part.

#include <string>
#include <string_view>

#include "cni/errors.h"
#include "cni/plugin.h"
#include "cni/slot_files.h"
#include "common/strings.h"

namespace enadpdk::cni {
namespace {

using common::strCat;

// Writes the NPWG device-info file `path` (when the runtime asked for one) and registers its
// removal with `rollback`.
absl::Status writeDeviceInfoFile(const std::string& path, std::string_view content,
                                 Rollback& rollback) {
  if (path.empty()) return absl::OkStatus();
  if (absl::Status s = writeDeviceInfo(path, content); !s.ok()) {
    return withPrefix(s, "cannot write the device-info file: ");
  }
  rollback.push("remove the device-info file", [path] { return removeFileIfExists(path); });
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<nlohmann::json> CniPlugin::add() {
  log_->info("ADD container={} ifname={} netns={} network_name={} mode={} device={}",
             inv_.containerId, inv_.ifname, inv_.netns, conf_.name, attachment_->mode(),
             conf_.effectiveDeviceId());
  if (conf_.prevResult) {
    for (const Interface& i : conf_.prevResult->interfaces) {
      if (i.name == inv_.ifname && i.sandbox == inv_.netns) {
        return cniError(CniError::kInvalidConfig,
                        strCat("prevResult already has interface ", inv_.ifname, " in ", inv_.netns,
                               "; an earlier plugin in the chain made it"));
      }
    }
  }
  if (absl::Status s = attachment_->prepare(); !s.ok()) return s;

  Rollback rollback(*log_);
  AttachmentRecord record = newRecord();
  attachment_->describe(record);
  if (absl::Status s = store_.save(record); !s.ok()) {
    return withPrefix(s, "cannot record the attachment: ");
  }
  rollback.push("remove attachment record",
                [this, id = record.portId()] { return store_.remove(id); });
  if (absl::Status s = attachment_->createBeforeIpam(record, rollback); !s.ok()) return s;

  Result ipamResult;
  const nlohmann::json ipamConf = ipamConfig(attachment_->network());
  if (!conf_.ipamType.empty()) {
    absl::StatusOr<Result> r = ipam_.add(conf_.ipamType, ipamConf);
    if (!r.ok()) return r.status();
    ipamResult = *std::move(r);
    rollback.push("release the IPAM lease",
                  [this, ipamConf] { return ipam_.run("DEL", conf_.ipamType, ipamConf); });
  }

  absl::StatusOr<Interface> iface = attachment_->plug(record, ipamResult, rollback);
  if (!iface.ok()) return iface.status();
  if (absl::Status s =
          writeDeviceInfoFile(conf_.runtime.deviceInfoFile, attachment_->deviceInfo(), rollback);
      !s.ok()) {
    return s;
  }

  Result result = conf_.prevResult ? *conf_.prevResult : Result{};
  const unsigned index = static_cast<unsigned>(result.interfaces.size());
  result.interfaces.push_back(*std::move(iface));
  for (IpConfig ip : ipamResult.ips) {
    ip.interfaceIndex = index;
    result.ips.push_back(std::move(ip));
  }
  result.routes.insert(result.routes.end(), ipamResult.routes.begin(), ipamResult.routes.end());
  if (result.dns.empty()) result.dns = ipamResult.dns;
  absl::StatusOr<nlohmann::json> rendered = renderResult(result, conf_.cniVersion);
  if (!rendered.ok()) return rendered.status();
  rollback.commit();
  log_->info("ADD done id={} {}", inv_.portId(), attachment_->summary());
  return rendered;
}

}  // namespace enadpdk::cni
