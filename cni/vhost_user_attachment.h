#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "cni/attachment.h"
#include "cni/records.h"
#include "cni/slot_files.h"
#include "common/network_mode.h"

namespace enadpdk::cni {

// vhostuser mode: a port on the dataplane, its socket in a slot directory (the device plugin's,
// or one per attachment), ena-dpdk.json next to it for the pod. A port that cannot be deleted
// now is recorded as a pending delete (cni/records.h) and finished later.
class VhostUserAttachment : public Attachment {
 public:
  explicit VhostUserAttachment(AttachmentContext context) : Attachment(context) {}

  std::string_view mode() const override { return kModeVhostUser; }
  absl::Status prepare() override;
  std::string network() const override { return network_; }
  void describe(AttachmentRecord& record) const override;
  absl::Status createBeforeIpam(const AttachmentRecord& record, Rollback& rollback) override;
  absl::StatusOr<Interface> plug(const AttachmentRecord& record, const Result& ipam,
                                 Rollback& rollback) override;
  std::string deviceInfo() const override;
  std::string summary() const override { return summary_; }
  void rebuild(AttachmentRecord& record) const override;
  absl::Status teardown(const AttachmentRecord& record) override;
  absl::Status check(const Interface& iface, const std::set<std::string>& expectedIps) override;
  std::string checkNetwork() const override;
  absl::StatusOr<unsigned> collectGarbage(
      const std::function<bool(const std::string&, const std::string&)>& isValid,
      const std::set<std::string>& recordedElsewhere, std::set<std::string>& usedNetworks) override;
  absl::Status status(std::set<std::string>& networks) override;

 private:
  // The dataplane network of this attachment: "network", or the one its device ID names.
  absl::StatusOr<std::string> resolveNetwork(const std::string& deviceId) const;
  // Deletes pending ports of this dataplane accepted by `wanted`; stops at the first transient
  // dataplane error. Problems are logged, never returned (it is clean-up on someone's behalf).
  // Returns how many records it finished.
  unsigned finishPendingDeletes(const std::function<bool(const PendingPortDelete&)>& wanted);
  // After an AddPort that failed with `error`: when the port may exist anyway (a timeout, or an
  // answer the client could not read), records
  // it as a pending delete of incarnation `uid` and tries that delete once at once; the record
  // stays unless the port was found and deleted. Problems are logged.
  void settlePortInDoubt(const std::string& id, const std::string& uid, const std::string& network,
                         const absl::Status& error);

  // Set by prepare().
  std::string deviceId_;
  std::string network_;
  std::optional<Slot> slot_;
  common::NetworkMode networkMode_ = common::NetworkMode::L2;
  // Set by plug().
  std::string summary_;
};

}  // namespace enadpdk::cni
