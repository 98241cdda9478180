// STATUS (cniVersion ≥ 1.1.0): OK when the dataplane (and the IPAM plugin) can take ADDs.

#include <set>
#include <string>

#include "cni/errors.h"
#include "cni/plugin.h"
#include "common/strings.h"

namespace enadpdk::cni {

absl::Status CniPlugin::status() {
  if (!versionAtLeast(conf_.cniVersion, "1.1.0")) {
    return cniError(
        CniError::kIncompatibleVersion,
        common::strCat("STATUS needs cniVersion 1.1.0 or later, not ", conf_.cniVersion));
  }
  std::set<std::string> networks;
  if (absl::Status s = attachment_->status(networks); !s.ok()) return s;
  if (!conf_.ipamType.empty() && !inv_.path.empty()) {
    for (const std::string& network : ipamNetworks(networks)) {
      if (absl::Status s = ipam_.run("STATUS", conf_.ipamType, ipamConfig(network)); !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace enadpdk::cni
