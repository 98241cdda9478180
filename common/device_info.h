#pragma once

#include <string>
#include <string_view>

namespace enadpdk::common {

// NPWG device-info documents (spec v1.1.0), written by the device plugin (PCI devices) and the
// CNI (PCI and vhost-user attachments).

// {"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:00:06.0"}}
std::string pciDeviceInfo(std::string_view pciAddress);

}  // namespace enadpdk::common
