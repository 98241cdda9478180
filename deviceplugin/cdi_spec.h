#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/host_root.h"
#include "deviceplugin/device.h"

namespace enadpdk::deviceplugin {

// The CDI spec version the plugin writes (device nodes with hostPath need 0.5.0).
inline constexpr char kCdiVersion[] = "0.5.0";

// The CDI device name of a PCI device: its address with ':' replaced by '-' ("0000-00-06.0"),
// since CDI device names of spec 0.5.0 allow only letters, digits, '-', '_' and '.'.
std::string cdiDeviceName(const std::string& pciAddress);

// The fully qualified CDI name ("dpdk.aws/ena-dedicated=0000-00-06.0"); the resource name is the
// CDI kind.
std::string cdiQualifiedName(const std::string& resourceName, const std::string& pciAddress);

// The path of the spec file of one device: <specDir>/<kind with '/' replaced by '_'>_<name>.json.
std::filesystem::path cdiSpecPath(const std::string& specDir, const std::string& resourceName,
                                  const std::string& pciAddress);

// The CDI spec JSON of one device whose container edits are `nodes`:
// {"cdiVersion": "0.5.0", "kind": <resourceName>, "devices": [{"name": ..., "containerEdits":
// {"deviceNodes": [{"path": <container path>, "hostPath": <host path>, "permissions": "rw"}]}}]}.
std::string cdiSpec(const std::string& resourceName, const std::string& pciAddress,
                    const std::vector<DeviceNode>& nodes);

// Writes the spec of one device (under `root`) atomically with mode 0644, creating specDir (0755)
// when missing.
absl::Status writeCdiSpec(const common::HostRoot& root, const std::string& specDir,
                          const std::string& resourceName, const std::string& pciAddress,
                          const std::vector<DeviceNode>& nodes);

}  // namespace enadpdk::deviceplugin
