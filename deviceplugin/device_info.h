#pragma once

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "common/host_root.h"

namespace enadpdk::deviceplugin {

// The NPWG device-info file (spec 1.1.0) a device plugin leaves for the CNI:
// <kDeviceInfoDir>/<resource with '/' replaced by '-'>-<deviceID>-device.json.
std::filesystem::path deviceInfoPath(const std::string& resourceName, const std::string& deviceId);

// Writes the "pci" device-info file of `pciAddress` (under `root`) atomically with mode 0444,
// as the NPWG reference implementation does, creating the directory (0700) when missing.
absl::Status writePciDeviceInfo(const common::HostRoot& root, const std::string& resourceName,
                                const std::string& pciAddress);

}  // namespace enadpdk::deviceplugin
