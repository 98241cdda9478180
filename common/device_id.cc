#include "common/device_id.h"

#include "absl/strings/str_format.h"
#include "common/config.h"

namespace enadpdk::common {

std::string formatDeviceId(std::string_view network, unsigned slot) {
  return absl::StrFormat("%s-%02u", network, slot);
}

std::optional<DeviceId> parseDeviceId(std::string_view id) {
  const size_t dash = id.rfind('-');
  if (dash == std::string_view::npos || id.size() - dash != 3) return std::nullopt;
  const char tens = id[dash + 1];
  const char ones = id[dash + 2];
  if (tens < '0' || tens > '9' || ones < '0' || ones > '9') return std::nullopt;
  const std::string_view network = id.substr(0, dash);
  if (!isNetworkName(network)) return std::nullopt;
  return DeviceId{.network = std::string(network),
                  .slot = static_cast<unsigned>((tens - '0') * 10 + (ones - '0'))};
}

}  // namespace enadpdk::common
