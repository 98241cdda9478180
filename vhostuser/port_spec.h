#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/vhost.h"
#include "dataplane_client/types.h"
#include "vhostuser/dataplane_config.h"

namespace enadpdk::vhostuser {

// Which side creates the vhost-user socket, from the pod's side (NPWG device-info).
using common::VhostMode;

// What a caller asks for when it adds a port: the request fields of the control API, and what
// the state file stores. Compared as a whole to make AddPort idempotent. One struct with the
// control API's clients (dataplane_client/types.h).
using dataplane_client::PortSpec;

using common::kMaxPortQueues;
inline constexpr size_t kMaxPortIdLength = 253;
inline constexpr size_t kMaxPortUidLength = 64;

// InvalidArgument ("uid: ...") unless `uid` is empty or [A-Za-z0-9-] of at most
// kMaxPortUidLength bytes.
absl::Status checkPortUid(std::string_view uid);

inline constexpr size_t kMaxPodNamespaceLength = 63;
inline constexpr size_t kMaxPodNameLength = 253;

// InvalidArgument ("pod_namespace: ..." or "pod_name: ...", never quoting the value) unless each
// is empty or a name Kubernetes accepts: a namespace is a DNS-1123 label (at most
// kMaxPodNamespaceLength bytes of [a-z0-9-], starting and ending with a letter or digit), a pod
// name a DNS-1123 subdomain (at most kMaxPodNameLength bytes; such labels joined by '.'). Both
// end up in metric labels and log lines, so that a hostile name can break neither.
absl::Status checkPodRef(std::string_view pod_namespace, std::string_view pod_name);

// Checks a request against the config and normalises it in place (MAC case, CIDR text, default
// queues, MTU and socket permissions). InvalidArgument naming the field ("socket_path: ...").
// What needs the running switch (ENI MAC, IP conflicts) is checked by the switch.
absl::Status validatePortSpec(PortSpec& spec, const DataplaneConfig& config);

// The state-file form of a port.
nlohmann::json portSpecToJson(const PortSpec& spec);
// InvalidArgument naming the key ("queues: expected an integer 0..4294967295, got string") when
// `j` is not an object or a key has the wrong type or value; values are not echoed.
absl::StatusOr<PortSpec> portSpecFromJson(const nlohmann::json& j);

}  // namespace enadpdk::vhostuser
