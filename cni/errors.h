#pragma once

// The CNI error codes of both plugins, ena-dpdk-cni and ena-dpdk-ipam, in one table, and how a
// code travels inside an absl::Status from where an error happens to the plugin's edge, where
// the skeleton (cni/skel.h) prints it as the spec's error JSON.
//
// The spec leaves codes 100 and above to plugins. ena-dpdk-cni passes an IPAM error's code on
// unchanged, so the two plugins' codes must not overlap: ena-dpdk-cni's own are 101-104,
// ena-dpdk-ipam's own 111-114, and 100 and 199 are the skeleton's. docs/cni.md and docs/ipam.md
// list them (tests/cni/errors_test.cc keeps the docs and this table in step).

#include <span>
#include <string_view>

#include "absl/status/status.h"

namespace enadpdk::cni {

// A CNI error code: the spec's (SPEC.md "Error codes") and ena-dpdk's own.
enum class CniError : int {
  // The spec's.
  kIncompatibleVersion = 1,
  kUnsupportedField = 2,
  kUnknownContainer = 3,
  kInvalidEnvironment = 4,
  kIoFailure = 5,
  kDecodeFailure = 6,
  kInvalidConfig = 7,
  kTryAgainLater = 11,
  kPluginNotAvailable = 50,
  // The skeleton's (both plugins).
  kNotSupportedYet = 100,
  // ena-dpdk-cni's.
  kDataplaneRefused = 101,
  kDeviceNotUsable = 102,
  kCheckFailed = 103,
  kIpamFailed = 104,
  // ena-dpdk-ipam's.
  kMetadataError = 111,
  kPoolExhausted = 112,
  kLeaseStoreError = 113,
  kLeaseMismatch = 114,
  // The skeleton's (both plugins): an unexpected exception reached the edge (a bug).
  kInternalError = 199,
};

// One row of the table of ena-dpdk's own codes.
struct CustomErrorCode {
  // The code.
  CniError code;
  // Which plugin returns it: "both", "ena-dpdk-cni" or "ena-dpdk-ipam".
  std::string_view plugin;
  // What it means, in one line.
  std::string_view meaning;
};

// ena-dpdk's own codes (100 and above), in increasing order.
inline constexpr CustomErrorCode kCustomErrorCodes[] = {
    {CniError::kNotSupportedYet, "both", "the command is not supported yet"},
    {CniError::kDataplaneRefused, "ena-dpdk-cni",
     "the dataplane refused the port for a reason other than the request (ALREADY_EXISTS for a "
     "conflicting port with the same id, an internal failure), or answered what the plugin cannot "
     "read (a network or vhost mode it does not know)"},
    {CniError::kDeviceNotUsable, "ena-dpdk-cni",
     "pci mode: the dedicated device does not exist or is not bound to a DPDK driver"},
    {CniError::kCheckFailed, "ena-dpdk-cni",
     "CHECK found the attachment different from prevResult, or gone"},
    {CniError::kIpamFailed, "ena-dpdk-cni",
     "the IPAM plugin failed without a CNI error of its own (crashed, printed no CNI JSON, timed "
     "out)"},
    {CniError::kMetadataError, "ena-dpdk-ipam",
     "the instance metadata service is unreachable, timed out, refused, or sent bad data"},
    {CniError::kPoolExhausted, "ena-dpdk-ipam",
     "every address of the network's pool is leased (or the pool is empty)"},
    {CniError::kLeaseStoreError, "ena-dpdk-ipam",
     "the lease directory cannot be created, locked, read or written"},
    {CniError::kLeaseMismatch, "ena-dpdk-ipam",
     "CHECK found no lease for the attachment, or prevResult lacks a leased address"},
    {CniError::kInternalError, "both",
     "internal error: an unexpected exception reached the plugin's edge (a bug)"},
};

// The row of `code` in kCustomErrorCodes; nullptr for the spec's codes and unknown ones.
const CustomErrorCode* findCustomErrorCode(CniError code);

// An absl::Status that carries the CNI error `code` to the edge of the plugin, where
// cniCodeOf() recovers it. The canonical code is chosen to match (InvalidArgument for config
// and decode errors, Unavailable for "try again later", ...) so that code which only looks at
// the canonical code still reads it sensibly.
absl::Status cniError(CniError code, std::string_view message);
// A status of canonical code `kind` with `message` and the CNI error `code` attached.
absl::Status cniError(absl::StatusCode kind, std::string_view message, CniError code);

// Returns `status` with the CNI error `code` attached (an OK status stays OK).
absl::Status withCniCode(absl::Status status, CniError code);

// Returns `status` with `prefix` put before its message, keeping its code and CNI code.
absl::Status withPrefix(const absl::Status& status, std::string_view prefix);

// The CNI error code of a failed `status`: the one cniError() attached, else mapped from the
// canonical code (InvalidArgument → 7 invalid config, Unavailable / DeadlineExceeded → 11 try
// again later, anything else → 5 I/O failure, which is what file and process errors are).
CniError cniCodeOf(const absl::Status& status);
// The CNI error code attached to `status`, or `fallback` when none is.
CniError cniCodeOf(const absl::Status& status, CniError fallback);

}  // namespace enadpdk::cni
