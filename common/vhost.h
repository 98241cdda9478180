#pragma once

#include <cstdint>

namespace enadpdk::common {

// Which side creates the vhost-user socket, from the pod's side (NPWG device-info). The one
// definition used by the dataplane, its client, ena-dpdk-ctl and the CNI.
enum class VhostMode {
  Server,  // the pod app creates the socket; the dataplane connects and reconnects
  Client,  // the dataplane creates the socket; the pod app connects
};

// Largest queue-pair count of one vhost-user port: the dataplane refuses more, the CNI's network
// config accepts no more.
inline constexpr uint32_t kMaxPortQueues = 8;

}  // namespace enadpdk::common
