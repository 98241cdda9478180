#pragma once

#include <cstddef>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace enadpdk::common {

// The longest status message a server of ours sends (it travels in the grpc-message header: an
// unbounded one, quoting a huge request field, makes the client fail with RESOURCE_EXHAUSTED
// instead of seeing the status). Longer messages are cut and end in "…".
inline constexpr size_t kMaxStatusMessageBytes = 1024;

// The one mapping of absl::Status to grpc::Status, used by every gRPC service we serve (the
// dataplane's control API, the device plugin, the test fakes): the same code (the two code sets
// are numerically identical) and the message cut to kMaxStatusMessageBytes.
grpc::Status toGrpcStatus(const absl::Status& status);

// The reverse, for clients: the same code and message.
absl::Status fromGrpcStatus(const grpc::Status& status);

}  // namespace enadpdk::common
