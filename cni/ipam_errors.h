#pragma once

// How ena-dpdk-ipam carries a CNI error code inside an absl::Status, so that the library returns
// plain statuses and only the command handlers turn them into the spec's error JSON.

#include <string_view>

#include "absl/status/status.h"
#include "cni/skel.h"

namespace enadpdk::cni::ipam {

// ena-dpdk-ipam's own error codes (the spec leaves codes ≥ 100 to plugins).
// The instance metadata service is unreachable, timed out, refused, or sent bad data.
inline constexpr CniError kMetadataError = static_cast<CniError>(101);
// Every address of the network's pool is leased (or the pool is empty).
inline constexpr CniError kPoolExhausted = static_cast<CniError>(102);
// The lease directory cannot be created, locked, read or written.
inline constexpr CniError kLeaseStoreError = static_cast<CniError>(103);
// CHECK found no lease for the attachment, or prevResult lacks a leased address.
inline constexpr CniError kLeaseMismatch = static_cast<CniError>(104);

// Returns `status` with `code` attached (an OK status stays OK).
absl::Status withCniCode(absl::Status status, CniError code);
// Returns a status of `kind` with `message` and `code` attached.
absl::Status cniError(absl::StatusCode kind, std::string_view message, CniError code);
// The CNI code attached to `status`, or `fallback` when none is.
CniError cniCodeOf(const absl::Status& status, CniError fallback);

}  // namespace enadpdk::cni::ipam
