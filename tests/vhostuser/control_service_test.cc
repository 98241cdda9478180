// The control API's argument checks (issue 20 item 8): an oversized id is refused up front. The
// status mapping (no status message can outgrow the gRPC header) is tested in
// tests/common/grpc_status_test.cc.

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

}  // namespace
}  // namespace enadpdk::vhostuser
