#pragma once

// A dataplane network's forwarding mode: the "dataplane" config section's networks
// (vhostuser/dataplane_config.h), the dataplane's switch and the control API's clients
// (dataplane_client/types.h) all use this one enum.

#include <string_view>

#include "common/json_reader.h"

namespace enadpdk::common {

// How a network forwards (docs/design.md, "Data path"). Every place that acts on the mode is a
// `switch` over it without `default:`, so that -Wswitch (an error) lists each place a new mode
// must be handled; docs/design.md, "Adding a network mode", has the checklist.
enum class NetworkMode {
  // AWS VPC semantics: pods share the ENI's MAC, ingress is demultiplexed by destination IP.
  Vpc,
  // A MAC-learning bridge.
  L2,
};

// The name of `mode` in the config file and in messages ("vpc", "l2"): the one place a mode is
// spelled.
constexpr std::string_view networkModeName(NetworkMode mode) {
  switch (mode) {
    case NetworkMode::Vpc:
      return "vpc";
    case NetworkMode::L2:
      return "l2";
  }
  return "?";  // Not a NetworkMode value; -Wswitch catches a mode left out above.
}

// Every mode with its name, for parsing (JsonReader::readEnum()) and listing.
inline constexpr EnumName<NetworkMode> kNetworkModeNames[] = {
    {networkModeName(NetworkMode::Vpc), NetworkMode::Vpc},
    {networkModeName(NetworkMode::L2), NetworkMode::L2},
};

}  // namespace enadpdk::common
