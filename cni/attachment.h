#pragma once

// One pod attachment in one of ena-dpdk-cni's two modes: a vhost-user port on the dataplane
// (VhostUserAttachment, cni/vhost_user_attachment.h) or a dedicated DPDK-bound device
// (PciAttachment, cni/pci_attachment.h). The commands (cni/add.cc, del.cc, check.cc, gc.cc,
// status.cc) run the steps both modes share and ask the attachment for the steps of its mode.

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cni/attachment_store.h"
#include "cni/netconf.h"
#include "cni/result.h"
#include "cni/rollback.h"
#include "dataplane_client/dataplane_client.h"

namespace enadpdk::cni {

// The mode names of attachment records (AttachmentRecord::mode).
inline constexpr char kModeVhostUser[] = "vhostuser";
inline constexpr char kModePci[] = "pci";

// What an attachment works with: the invocation's configuration and state, owned by CniPlugin,
// which outlives the attachment.
struct AttachmentContext {
  // The network configuration.
  const NetConf& conf;
  // The CNI_* parameters.
  const Invocation& inv;
  // The dataplane client; null in pci mode.
  const dataplane_client::DataplaneClient* dataplane;
  // The attachment records.
  const AttachmentStore& store;
  // The plugin's logger.
  spdlog::logger& log;
};

// The steps of one mode. One object per invocation; not thread-safe.
class Attachment {
 public:
  explicit Attachment(AttachmentContext context) : ctx_(context) {}
  virtual ~Attachment() = default;
  Attachment(const Attachment&) = delete;
  Attachment& operator=(const Attachment&) = delete;

  // The mode's name in attachment records (kModeVhostUser, kModePci).
  virtual std::string_view mode() const = 0;

  // ADD, before anything is created: the mode's checks (the dataplane network and the slot
  // directory, or the dedicated device).
  virtual absl::Status prepare() = 0;
  // ADD, after prepare(): the network the IPAM plugin is asked about.
  virtual std::string network() const = 0;
  // ADD, after prepare(): fills the mode's fields of the record ADD writes.
  virtual void describe(AttachmentRecord& record) const = 0;
  // ADD, after the record is saved: what the mode creates before the IPAM plugin runs, with its
  // undo steps in `rollback`.
  virtual absl::Status createBeforeIpam(const AttachmentRecord& record, Rollback& rollback) = 0;
  // ADD: connects the attachment, with the IPAM plugin's addresses `ipam`, and registers the undo
  // steps; returns the interface of the result.
  virtual absl::StatusOr<Interface> plug(const AttachmentRecord& record, const Result& ipam,
                                         Rollback& rollback) = 0;
  // ADD, after plug(): the NPWG device-info document of the attachment.
  virtual std::string deviceInfo() const = 0;
  // ADD, after plug(): what the "ADD done" log line says about the attachment.
  virtual std::string summary() const = 0;

  // DEL without a stored record: fills the mode's fields of `record` as ADD would have.
  virtual void rebuild(AttachmentRecord& record) const = 0;
  // DEL and GC: removes what the mode made for `record` (a record of this mode).
  virtual absl::Status teardown(const AttachmentRecord& record) = 0;

  // CHECK: the mode's part, for prevResult's interface `iface` and its addresses `expectedIps`
  // (lowercase).
  virtual absl::Status check(const Interface& iface, const std::set<std::string>& expectedIps) = 0;
  // CHECK: the network the IPAM plugin is asked about.
  virtual std::string checkNetwork() const = 0;

  // GC, after the records: removes what the mode left without a record for attachments that
  // `isValid` rejects and that are not in `recordedElsewhere` (port ids of other CNI networks'
  // records); adds the networks it touched to `usedNetworks`; returns how many it removed.
  virtual absl::StatusOr<unsigned> collectGarbage(
      const std::function<bool(const std::string&, const std::string&)>& isValid,
      const std::set<std::string>& recordedElsewhere, std::set<std::string>& usedNetworks) = 0;

  // STATUS: OK when the mode can take ADDs now (else CNI code 50); adds the networks the IPAM
  // plugin is asked about to `networks`.
  virtual absl::Status status(std::set<std::string>& networks) = 0;

 protected:
  AttachmentContext ctx_;
};

// The attachment of `context.conf.mode`.
std::unique_ptr<Attachment> makeAttachment(AttachmentContext context);

}  // namespace enadpdk::cni
