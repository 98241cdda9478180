#pragma once

#include <cstdint>
#include <string_view>

#include "common/json_reader.h"

namespace enadpdk::common {

// Which side creates the vhost-user socket, from the pod's side (NPWG device-info). The one
// definition used by the dataplane, its client, ena-dpdk-ctl and the CNI.
enum class VhostMode {
  Server,  // the pod app creates the socket; the dataplane connects and reconnects
  Client,  // the dataplane creates the socket; the pod app connects
};

// Every mode with its name in configs, device-info files and messages, for parsing
// (JsonReader::readEnum()), naming and listing. A new mode goes here (and into
// dataplane_client/convert.cc's vhostModeToProto(), whose switch the compiler checks).
inline constexpr EnumName<VhostMode> kVhostModeNames[] = {
    {"server", VhostMode::Server},
    {"client", VhostMode::Client},
};

// The name of `mode` ("server", "client").
constexpr std::string_view vhostModeName(VhostMode mode) {
  for (const auto& [name, value] : kVhostModeNames) {
    if (value == mode) return name;
  }
  return "?";  // Not in kVhostModeNames.
}

// Largest queue-pair count of one vhost-user port: the dataplane refuses more, the CNI's network
// config accepts no more.
inline constexpr uint32_t kMaxPortQueues = 8;

}  // namespace enadpdk::common
