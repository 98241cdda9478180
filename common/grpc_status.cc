#include "common/grpc_status.h"

#include <string>

#include "common/strings.h"

namespace enadpdk::common {

grpc::Status toGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      clipped(toStd(status.message()), kMaxStatusMessageBytes));
}

absl::Status fromGrpcStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace enadpdk::common
