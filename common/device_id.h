#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace enadpdk::common {

// Device IDs of the shared-dataplane resource (dpdk.aws/ena): "<network>-<NN>", a dataplane
// network name and a two-digit slot number. The device plugin advertises them; the CNI reads the
// network back from the deviceID the runtime passes it. Both sides use these two functions.

// Slots per network that a two-digit number can name (00..99).
inline constexpr unsigned kMaxDeviceSlots = 100;

// A parsed device ID.
struct DeviceId {
  // The dataplane network (common::isNetworkName).
  std::string network{};
  // The slot, 0..kMaxDeviceSlots-1.
  unsigned slot = 0;

  friend bool operator==(const DeviceId&, const DeviceId&) = default;
};

// "<network>-<NN>"; `slot` must be below kMaxDeviceSlots.
std::string formatDeviceId(std::string_view network, unsigned slot);

// The network and slot of `id`; nullopt unless it is a network name, '-' and exactly two digits.
std::optional<DeviceId> parseDeviceId(std::string_view id);

}  // namespace enadpdk::common
