// The one absl::Status <-> grpc::Status mapping (common/grpc_status.h): codes carried over
// unchanged, messages kept, and no status message can outgrow the gRPC header it travels in
// (issue 20 item 8).

#include "common/grpc_status.h"

#include <gtest/gtest.h>

#include <string>

namespace enadpdk::common {
namespace {

TEST(GrpcStatusTest, StatusMessagesAreClippedForTheGrpcHeader) {
  const std::string id(10000, 'x');
  const grpc::Status status = toGrpcStatus(absl::NotFoundError("id: no port \"" + id + "\""));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_LE(status.error_message().size(), kMaxStatusMessageBytes + 3);
  EXPECT_TRUE(status.error_message().ends_with("\u2026")) << status.error_message();
  EXPECT_EQ(toGrpcStatus(absl::NotFoundError("short")).error_message(), "short");
  EXPECT_TRUE(toGrpcStatus(absl::OkStatus()).ok());
}

TEST(GrpcStatusTest, EveryCodeMapsToTheSameCodeBothWays) {
  const absl::StatusCode codes[] = {
      absl::StatusCode::kCancelled,          absl::StatusCode::kUnknown,
      absl::StatusCode::kInvalidArgument,    absl::StatusCode::kDeadlineExceeded,
      absl::StatusCode::kNotFound,           absl::StatusCode::kAlreadyExists,
      absl::StatusCode::kPermissionDenied,   absl::StatusCode::kResourceExhausted,
      absl::StatusCode::kFailedPrecondition, absl::StatusCode::kAborted,
      absl::StatusCode::kOutOfRange,         absl::StatusCode::kUnimplemented,
      absl::StatusCode::kInternal,           absl::StatusCode::kUnavailable,
      absl::StatusCode::kDataLoss,           absl::StatusCode::kUnauthenticated};
  for (absl::StatusCode code : codes) {
    const absl::Status in(code, "why");
    const grpc::Status out = toGrpcStatus(in);
    EXPECT_EQ(static_cast<int>(out.error_code()), static_cast<int>(code))
        << absl::StatusCodeToString(code);
    EXPECT_EQ(out.error_message(), "why");
    EXPECT_EQ(fromGrpcStatus(out), in) << absl::StatusCodeToString(code);
  }
  EXPECT_TRUE(fromGrpcStatus(grpc::Status::OK).ok());
}

}  // namespace
}  // namespace enadpdk::common
