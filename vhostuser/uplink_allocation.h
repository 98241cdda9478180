#pragma once

#include <map>
#include <string>
#include <vector>

#include "vhostuser/dataplane_config.h"

namespace enadpdk::vhostuser {

// The dataplane's PCI uplinks that the kubelet did not allocate to its container.
//
// The device plugin's <prefix>/ena-uplink resource announces the allocated devices in
// PCIDEVICE_<PREFIX>_ENA_UPLINK (comma-separated PCI addresses; the prefix is the device
// plugin's, which the dataplane's config section does not hold, so any variable
// "PCIDEVICE_*_ENA_UPLINK" counts). Returns the PCI uplinks of `config` in none of them, in
// config order; empty when every one was allocated, and also when no such variable is in `env`
// (the dataplane was not started by the kubelet with that resource: nothing to compare).
std::vector<std::string> unallocatedUplinks(const DataplaneConfig& config,
                                            const std::map<std::string, std::string>& env);

}  // namespace enadpdk::vhostuser
