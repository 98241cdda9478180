#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "cni/skel.h"

namespace enadpdk::cni {

// ena-dpdk-cni's own error codes (the spec reserves 100 and above for plugins).
// The dataplane refused the port for a reason other than the request (ALREADY_EXISTS for a
// conflicting port with the same id, an internal failure).
inline constexpr CniError kErrDataplaneRefused = static_cast<CniError>(101);
// The dedicated device (pci mode) does not exist or is not bound to a DPDK driver.
inline constexpr CniError kErrDeviceNotUsable = static_cast<CniError>(102);
// CHECK found the attachment different from prevResult, or gone.
inline constexpr CniError kErrCheckFailed = static_cast<CniError>(103);
// The IPAM plugin failed without a CNI error of its own (crashed, printed no JSON, timed out).
inline constexpr CniError kErrIpamFailed = static_cast<CniError>(104);

// An absl::Status that carries the CNI error `code` to the edge of the plugin, where
// cniCodeOf() recovers it. The canonical code is chosen to match (InvalidArgument for config
// and decode errors, Unavailable for "try again later", ...) so that code which only looks at
// the canonical code still reads it sensibly.
absl::Status cniError(CniError code, std::string_view message);

// Returns `status` with `prefix` put before its message, keeping its code and CNI code.
absl::Status withPrefix(const absl::Status& status, std::string_view prefix);

// The CNI error code of a failed `status`: the one cniError() attached, else mapped from the
// canonical code (InvalidArgument → 7 invalid config, Unavailable / DeadlineExceeded → 11 try
// again later, anything else → 5 I/O failure, which is what file and process errors are).
CniError cniCodeOf(const absl::Status& status);

}  // namespace enadpdk::cni
