// The one client of the dataplane's control API (dataplane_client/): library types over real
// gRPC against the shared fake (tests/support/fake_dataplane.h), the error texts every caller
// shows, and the proto <-> library mapping the dataplane's server shares.

#include "dataplane_client/dataplane_client.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "dataplane_client/convert.h"
#include "tests/support/fake_dataplane.h"

namespace enadpdk::dataplane_client {
namespace {

namespace fs = std::filesystem;
namespace dp = dataplane::v1;
using google::protobuf::util::MessageDifferencer;
using std::chrono::milliseconds;

class DataplaneClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // ctest runs each test as its own process, in parallel: one directory per process.
    dir_ = fs::path(::testing::TempDir()) / ("dataplane_client_test." + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "slots");
    fake_ = testing::FakeDataplane::start(
        dir_ / "dp.sock", {{.name = "eni1", .vpc = true, .mtu = 9001}, {.name = "local"}},
        dir_ / "slots");
    ASSERT_NE(fake_, nullptr);
  }
  void TearDown() override {
    fake_.reset();
    fs::remove_all(dir_);
  }
  DataplaneClient client(milliseconds timeout = milliseconds(5000)) const {
    return DataplaneClient::forSocket(dir_ / "dp.sock", timeout, nullptr);
  }

  fs::path dir_;
  std::unique_ptr<testing::FakeDataplane> fake_;
};

TEST_F(DataplaneClientTest, PortsRoundTripInLibraryTypes) {
  const PortSpec spec{.id = "c0ffee/net1",
                      .network = "eni1",
                      .socket_path = (dir_ / "slots" / "eni1-00" / "vhost.sock").string(),
                      .vhost_mode = VhostMode::Client,
                      .ips = {"10.0.1.23/24"},
                      .queues = 2,
                      .owner = "1000:1000",
                      .perm = "0660",
                      .uid = "abc"};
  absl::StatusOr<PortInfo> added = client().addPort(spec);
  ASSERT_TRUE(added.ok()) << added.status();
  PortSpec want = spec;
  want.mac = "02:00:00:00:aa:01";  // the fake fills in the ENI's MAC and the network's MTU
  want.mtu = 9001;
  EXPECT_EQ(added->spec, want);

  absl::StatusOr<PortInfo> got = client().getPort("c0ffee/net1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, *added);
  absl::StatusOr<std::vector<PortInfo>> listed = client().listPorts("eni1");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front(), *added);
  EXPECT_TRUE(client().listPorts("local")->empty());

  absl::StatusOr<std::vector<NetworkInfo>> networks = client().listNetworks();
  ASSERT_TRUE(networks.ok()) << networks.status();
  ASSERT_EQ(networks->size(), 2u);
  EXPECT_EQ((*networks)[0].name, "eni1");
  EXPECT_EQ((*networks)[0].mode, common::NetworkMode::Vpc);
  EXPECT_EQ((*networks)[0].mtu, 9001u);
  EXPECT_EQ((*networks)[0].port_count, 1u);
  EXPECT_EQ((*networks)[1].mode, common::NetworkMode::L2);

  EXPECT_EQ(client().deletePort("c0ffee/net1", "other-uid").value(), false);
  EXPECT_EQ(client().deletePort("c0ffee/net1", "abc").value(), true);
  EXPECT_EQ(client().deletePort("c0ffee/net1").value(), false);
  EXPECT_EQ(fake_->callCount("DeletePort"), 3u);
  EXPECT_EQ(fake_->lastRequest<dp::DeletePortRequest>("DeletePort").id(), "c0ffee/net1");
}

TEST_F(DataplaneClientTest, ServerErrorsKeepTheirCodeAndNameTheMethod) {
  absl::StatusOr<PortInfo> missing = client().getPort("nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "GetPort: no port \"nope\"");
  absl::StatusOr<PortInfo> bad = client().addPort(PortSpec{.id = "p", .network = "eni9"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "AddPort: network: unknown network \"eni9\"");
  EXPECT_FALSE(isTransient(bad.status()));
  fake_->fail("ListNetworks", grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "busy"));
  absl::StatusOr<std::vector<NetworkInfo>> busy = client().listNetworks();
  EXPECT_EQ(busy.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(isTransient(busy.status()));
}

TEST_F(DataplaneClientTest, HealthFollowsTheServingStatus) {
  EXPECT_TRUE(client().health().ok());
  fake_->setServing(false);
  const absl::Status down = client().health();
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(down.message(), "dataplane at " + (dir_ / "dp.sock").string() +
                                " is not serving (health status NOT_SERVING)");
}

TEST_F(DataplaneClientTest, TransportFailuresNameTheSocketAndTheDeadline) {
  fake_->hang("GetStats");
  const absl::StatusOr<Stats> slow = client(milliseconds(200)).getStats();
  EXPECT_EQ(slow.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(slow.status().message(), "GetStats: no answer from the dataplane at " +
                                         (dir_ / "dp.sock").string() + " within 200ms");
  EXPECT_TRUE(isTransient(slow.status()));

  const fs::path none = dir_ / "none.sock";
  const absl::StatusOr<std::vector<NetworkInfo>> gone =
      DataplaneClient::forSocket(none, milliseconds(2000), nullptr).listNetworks();
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(gone.status().message().rfind(
                "ListNetworks: dataplane at " + none.string() + " is unreachable: ", 0),
            0u)
      << gone.status();
  EXPECT_TRUE(isTransient(gone.status()));
}

TEST(ConvertTest, LibraryTypesRoundTripThroughProto) {
  const PortInfo port{.spec = {.id = "p",
                               .network = "n",
                               .socket_path = "/s",
                               .vhost_mode = VhostMode::Client,
                               .mac = "02:00:00:00:00:01",
                               .ips = {"10.0.0.1/24", "fd00::1/128"},
                               .queues = 4,
                               .mtu = 1500,
                               .owner = "1:2",
                               .perm = "0600",
                               .uid = "u"},
                      .connected = true,
                      .worker_lcore = 3,
                      .counters = {.rx_packets = 1,
                                   .rx_bytes = 2,
                                   .tx_packets = 3,
                                   .tx_bytes = 4,
                                   .drop_no_route = 5,
                                   .drop_spoofed = 6,
                                   .drop_tx_full = 7,
                                   .drop_not_connected = 8,
                                   .drop_mac_table_full = 9,
                                   .drop_other = 10}};
  EXPECT_EQ(portInfoFromProto(portInfoToProto(port)), port);
  EXPECT_EQ(portSpecFromProto(portSpecToProto(port.spec)), port.spec);

  const NetworkInfo network{.name = "eni1",
                            .mode = common::NetworkMode::Vpc,
                            .mtu = 9001,
                            .uplink = UplinkInfo{.device = "0000:00:06.0",
                                                 .port_id = 1,
                                                 .mac = "02:aa:00:00:00:01",
                                                 .link_up = true,
                                                 .link_speed_mbps = 25000,
                                                 .queues = 2,
                                                 .tx_queues = 3,
                                                 .numa_node = 0,
                                                 .resets = 4,
                                                 .reset_failures = 5,
                                                 .link_changes = 6,
                                                 .counters = {.rx_packets = 7},
                                                 .xstats = {{"pps_allowance_exceeded", 8}}},
                            .up = true,
                            .port_count = 2};
  EXPECT_EQ(networkInfoFromProto(networkInfoToProto(network)), network);
  const NetworkInfo local{.name = "local", .mode = common::NetworkMode::L2, .mtu = 1500};
  EXPECT_EQ(networkInfoFromProto(networkInfoToProto(local)), local);
  EXPECT_FALSE(networkInfoToProto(local).has_uplink());

  // Unset enums read as the proto documents them; permissions are written only when set.
  dp::Port bare;
  EXPECT_EQ(portSpecFromProto(bare).vhost_mode, VhostMode::Server);
  EXPECT_FALSE(portSpecToProto(PortSpec{}).has_socket_permissions());
  EXPECT_EQ(networkInfoFromProto(dp::Network()).mode, common::NetworkMode::L2);
}

}  // namespace
}  // namespace enadpdk::dataplane_client
