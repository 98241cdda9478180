#include "cni/pci_attachment.h"

#include "cni/errors.h"
#include "cni/slot_files.h"
#include "common/host_root.h"
#include "common/pci.h"
#include "common/strings.h"

namespace enadpdk::cni {

using common::strCat;
using common::toStd;

absl::StatusOr<std::string> PciAttachment::checkDedicatedDevice() const {
  const std::string& deviceId = ctx_.conf.effectiveDeviceId();
  if (deviceId.empty()) {
    return cniError(CniError::kInvalidConfig,
                    "pci mode needs a device ID: the PCI address of a dpdk.aws/ena-dedicated "
                    "device, passed by Multus (capability deviceID) or as \"deviceID\"");
  }
  absl::StatusOr<std::string> address = common::normalizePciAddress(deviceId);
  if (!address.ok()) {
    return cniError(CniError::kInvalidConfig,
                    strCat("deviceID: ", toStd(address.status().message())));
  }
  absl::StatusOr<common::PciDevice> device =
      common::readPciDevice(common::HostRoot(ctx_.conf.hostRoot), *address);
  if (!device.ok()) {
    if (absl::IsNotFound(device.status())) {
      return cniError(CniError::kDeviceNotUsable,
                      strCat("PCI device ", *address, " does not exist on this node"));
    }
    return cniError(CniError::kIoFailure, strCat("cannot read PCI device ", *address, ": ",
                                                 toStd(device.status().message())));
  }
  if (!device->isDpdkBound()) {
    return cniError(CniError::kDeviceNotUsable,
                    strCat("PCI device ", *address, " is bound to ",
                           device->driver.empty() ? "no driver" : "\"" + device->driver + "\"",
                           ", not to vfio-pci, igb_uio or uio_pci_generic"));
  }
  return *address;
}

absl::Status PciAttachment::prepare() {
  absl::StatusOr<std::string> address = checkDedicatedDevice();
  if (!address.ok()) return address.status();
  address_ = *address;
  return absl::OkStatus();
}

absl::StatusOr<Interface> PciAttachment::plug(const AttachmentRecord&, const Result&, Rollback&) {
  Interface iface{.name = ctx_.inv.ifname, .sandbox = ctx_.inv.netns, .pciID = address_};
  if (ctx_.conf.mtu != 0) iface.mtu = ctx_.conf.mtu;
  return iface;
}

std::string PciAttachment::deviceInfo() const { return pciDeviceInfo(address_); }

std::string PciAttachment::summary() const { return strCat("pci=", address_); }

absl::Status PciAttachment::check(const Interface& iface, const std::set<std::string>&) {
  absl::StatusOr<std::string> address = checkDedicatedDevice();
  if (!address.ok()) return address.status();
  if (!iface.pciID.empty() && iface.pciID != *address) {
    return cniError(CniError::kCheckFailed, strCat("prevResult names PCI device ", iface.pciID,
                                                   ", the attachment has ", *address));
  }
  return absl::OkStatus();
}

}  // namespace enadpdk::cni
