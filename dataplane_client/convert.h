#pragma once

#include "absl/status/statusor.h"
#include "dataplane_client/types.h"
#include "enadpdk/dataplane/v1/dataplane.pb.h"

namespace enadpdk::dataplane_client {

// The one mapping between the control API's proto messages (enadpdk.dataplane.v1) and the
// library types of dataplane_client/types.h, used by the client (DataplaneClient) and the server
// (the dataplane's ControlService). socket_permissions is written only when owner or mode is set.
//
// Enums read from the wire are never guessed. In a request (the server reading AddPort),
// VHOST_MODE_UNSPECIFIED is server, as the proto documents; any other value but SERVER and CLIENT
// is refused with INVALID_ARGUMENT naming the field. In an answer (a client reading what the
// dataplane reports), where the dataplane always fills the modes in, NETWORK_MODE_UNSPECIFIED,
// VHOST_MODE_UNSPECIFIED and any value this build does not know (a newer dataplane's) are refused
// with UNKNOWN naming the network or port and the value:
//   network "eni1": unknown mode 7 from the dataplane (this client knows vpc and l2)
// UNKNOWN because the call itself reached the dataplane and did its work (an AddPort answered that
// way may have created its port); callers treat it like an answer lost on the way.

// The request fields of `port` as the dataplane reads an AddPort request (the read-only ones are
// ignored).
absl::StatusOr<PortSpec> portSpecFromProto(const dataplane::v1::Port& port);
// A Port with the request fields of `spec` (read-only fields at their defaults).
dataplane::v1::Port portSpecToProto(const PortSpec& spec);

Counters countersFromProto(const dataplane::v1::Counters& counters);
void countersToProto(const Counters& counters, dataplane::v1::Counters* out);

// A port the dataplane reported.
absl::StatusOr<PortInfo> portInfoFromProto(const dataplane::v1::Port& port);
dataplane::v1::Port portInfoToProto(const PortInfo& port);

// A network the dataplane reported.
absl::StatusOr<NetworkInfo> networkInfoFromProto(const dataplane::v1::Network& network);
dataplane::v1::Network networkInfoToProto(const NetworkInfo& network);

WorkerInfo workerInfoFromProto(const dataplane::v1::WorkerStats& worker);

dataplane::v1::VhostMode vhostModeToProto(VhostMode mode);
dataplane::v1::NetworkMode networkModeToProto(common::NetworkMode mode);

}  // namespace enadpdk::dataplane_client
