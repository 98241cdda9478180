// CHECK (cniVersion ≥ 0.4.0): the attachment still matches prevResult.

#include <algorithm>
#include <set>
#include <string>

#include "cni/errors.h"
#include "cni/plugin.h"
#include "cni/text_util.h"
#include "common/strings.h"

namespace enadpdk::cni {

using common::strCat;

absl::Status CniPlugin::check() {
  log_->info("CHECK container={} ifname={}", inv_.containerId, inv_.ifname);
  if (!versionAtLeast(conf_.cniVersion, "0.4.0")) {
    return cniError(CniError::kIncompatibleVersion,
                    strCat("CHECK needs cniVersion 0.4.0 or later, not ", conf_.cniVersion));
  }
  if (!conf_.prevResult) {
    return cniError(CniError::kInvalidConfig, "CHECK needs prevResult");
  }
  const Result& prev = *conf_.prevResult;
  auto iface = std::find_if(prev.interfaces.begin(), prev.interfaces.end(),
                            [&](const Interface& i) { return i.name == inv_.ifname; });
  if (iface == prev.interfaces.end()) {
    return cniError(CniError::kCheckFailed,
                    strCat("prevResult has no interface named ", inv_.ifname));
  }
  if (iface->sandbox != inv_.netns) {
    return cniError(CniError::kCheckFailed, strCat("interface ", inv_.ifname, " is in sandbox \"",
                                                   iface->sandbox, "\", not ", inv_.netns));
  }
  const unsigned index = static_cast<unsigned>(iface - prev.interfaces.begin());
  std::set<std::string> expectedIps;
  for (const IpConfig& ip : prev.ips) {
    if (!ip.interfaceIndex || *ip.interfaceIndex == index) expectedIps.insert(lower(ip.address));
  }
  if (absl::Status s = attachment_->check(*iface, expectedIps); !s.ok()) return s;
  if (!conf_.ipamType.empty()) {
    if (absl::Status s =
            ipam_.run("CHECK", conf_.ipamType, ipamConfig(attachment_->checkNetwork()));
        !s.ok()) {
      return s;
    }
  }
  log_->info("CHECK ok id={}", inv_.portId());
  return absl::OkStatus();
}

}  // namespace enadpdk::cni
