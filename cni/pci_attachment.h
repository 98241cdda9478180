#pragma once

#include <functional>
#include <set>
#include <string>
#include <string_view>

#include "cni/attachment.h"

namespace enadpdk::cni {

// pci mode: a dedicated device (a dpdk.aws/ena-dedicated PCI address, bound to a DPDK driver)
// that the pod's DPDK app drives itself. Nothing is created on the dataplane; ADD records the
// attachment and writes the device-info file.
class PciAttachment : public Attachment {
 public:
  explicit PciAttachment(AttachmentContext context) : Attachment(context) {}

  std::string_view mode() const override { return kModePci; }
  absl::Status prepare() override;
  std::string network() const override { return ctx_.conf.network; }
  void describe(AttachmentRecord&) const override {}
  absl::Status createBeforeIpam(const AttachmentRecord&, Rollback&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<Interface> plug(const AttachmentRecord& record, const Result& ipam,
                                 Rollback& rollback) override;
  std::string deviceInfo() const override;
  std::string summary() const override;
  void rebuild(AttachmentRecord&) const override {}
  absl::Status teardown(const AttachmentRecord&) override { return absl::OkStatus(); }
  absl::Status check(const Interface& iface, const std::set<std::string>& expectedIps) override;
  std::string checkNetwork() const override { return ctx_.conf.network; }
  absl::StatusOr<unsigned> collectGarbage(
      const std::function<bool(const std::string&, const std::string&)>&,
      const std::set<std::string>&, std::set<std::string>&) override {
    return 0u;
  }
  // pci mode does not depend on the dataplane.
  absl::Status status(std::set<std::string>&) override { return absl::OkStatus(); }

 private:
  // Checks the dedicated device; returns its canonical PCI address.
  absl::StatusOr<std::string> checkDedicatedDevice() const;

  // Set by prepare(): the device's canonical PCI address.
  std::string address_;
};

}  // namespace enadpdk::cni
