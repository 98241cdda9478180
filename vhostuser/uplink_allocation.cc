#include "vhostuser/uplink_allocation.h"

#include <set>
#include <string_view>

#include "absl/strings/str_split.h"
#include "common/pci.h"

namespace enadpdk::vhostuser {

std::vector<std::string> unallocatedUplinks(const DataplaneConfig& config,
                                            const std::map<std::string, std::string>& env) {
  constexpr std::string_view kPrefix = "PCIDEVICE_";
  constexpr std::string_view kSuffix = "_ENA_UPLINK";
  bool announced = false;
  std::set<std::string, std::less<>> allocated;
  for (const auto& [name, value] : env) {
    if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) continue;
    announced = true;
    for (absl::string_view address : absl::StrSplit(value, ',', absl::SkipEmpty())) {
      allocated.emplace(address.data(), address.size());
    }
  }
  std::vector<std::string> missing;
  if (!announced) return missing;
  for (const NetworkConfig& network : config.networks) {
    if (network.uplink && common::isPciAddress(network.uplink->device) &&
        !allocated.contains(network.uplink->device)) {
      missing.push_back(network.uplink->device);
    }
  }
  return missing;
}

}  // namespace enadpdk::vhostuser
