// The control API's argument checks and status mapping (issue 20 item 8): an oversized id is
// refused up front, and no status message can outgrow the gRPC header it travels in.

#include "vhostuser/control_service.h"

#include <gtest/gtest.h>

#include <string>

namespace enadpdk::vhostuser {
namespace {

TEST(ControlServiceTest, PortIdIsCheckedBeforeItIsEchoed) {
  EXPECT_TRUE(checkPortIdArgument("c0ffee/net1").ok());
  EXPECT_TRUE(checkPortIdArgument(std::string(kMaxPortIdLength, 'a')).ok());
  const absl::Status empty = checkPortIdArgument("");
  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.message(), "id: must not be empty");
  const absl::Status huge = checkPortIdArgument(std::string(10000, 'x'));
  EXPECT_EQ(huge.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(huge.message(), "id: longer than 253 bytes (10000 bytes)");
}

TEST(ControlServiceTest, StatusMessagesAreClippedForTheGrpcHeader) {
  const std::string id(10000, 'x');
  const grpc::Status status = toGrpcStatus(absl::NotFoundError("id: no port \"" + id + "\""));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_LE(status.error_message().size(), kMaxStatusMessageBytes + 3);
  EXPECT_TRUE(status.error_message().ends_with("\u2026")) << status.error_message();
  EXPECT_EQ(toGrpcStatus(absl::NotFoundError("short")).error_message(), "short");
  EXPECT_TRUE(toGrpcStatus(absl::OkStatus()).ok());
}

}  // namespace
}  // namespace enadpdk::vhostuser
