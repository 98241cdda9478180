#pragma once

#include "dataplane_client/types.h"
#include "enadpdk/dataplane/v1/dataplane.pb.h"

namespace enadpdk::dataplane_client {

// The one mapping between the control API's proto messages (enadpdk.dataplane.v1) and the
// library types of dataplane_client/types.h, used by the client (DataplaneClient) and the server
// (the dataplane's ControlService). Unspecified enums read as the proto documents them
// (VHOST_MODE_UNSPECIFIED = server; NETWORK_MODE_UNSPECIFIED, which the dataplane never sends,
// as l2); socket_permissions is written only when owner or mode is set.

// The request fields of `port` (the read-only ones are ignored).
PortSpec portSpecFromProto(const dataplane::v1::Port& port);
// A Port with the request fields of `spec` (read-only fields at their defaults).
dataplane::v1::Port portSpecToProto(const PortSpec& spec);

Counters countersFromProto(const dataplane::v1::Counters& counters);
void countersToProto(const Counters& counters, dataplane::v1::Counters* out);

PortInfo portInfoFromProto(const dataplane::v1::Port& port);
dataplane::v1::Port portInfoToProto(const PortInfo& port);

NetworkInfo networkInfoFromProto(const dataplane::v1::Network& network);
dataplane::v1::Network networkInfoToProto(const NetworkInfo& network);

WorkerInfo workerInfoFromProto(const dataplane::v1::WorkerStats& worker);

dataplane::v1::VhostMode vhostModeToProto(VhostMode mode);
dataplane::v1::NetworkMode networkModeToProto(common::NetworkMode mode);

}  // namespace enadpdk::dataplane_client
