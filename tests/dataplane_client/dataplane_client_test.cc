// The one client of the dataplane's control API (dataplane_client/): library types over real
// gRPC against the shared fake (tests/support/fake_dataplane.h), the error texts every caller
// shows, and the proto <-> library mapping the dataplane's server shares.

#include "dataplane_client/dataplane_client.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

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
                      .uid = "abc",
                      .pod_namespace = "shop",
                      .pod_name = "web-0"};
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

// A dataplane that reports a network or vhost mode the client cannot read fails the whole call,
// naming the method, the network or port and the value; the calls that carry no mode still work.
TEST_F(DataplaneClientTest, AnswersWithModesTheClientCannotReadFailTheCall) {
  for (int wire : {0, 7}) {
    SCOPED_TRACE(wire);
    fake_->setNetworks({{.name = "eni1", .vpc = true}, {.name = "odd", .wireMode = wire}});
    const std::string value = wire == 0 ? "NETWORK_MODE_UNSPECIFIED" : "7";
    const std::string why = "network \"odd\": unknown mode " + value +
                            " from the dataplane (this client knows: vpc, l2)";
    absl::StatusOr<std::vector<NetworkInfo>> networks = client().listNetworks();
    EXPECT_EQ(networks.status().code(), absl::StatusCode::kUnknown);
    EXPECT_EQ(networks.status().message(), "ListNetworks: " + why);
    EXPECT_FALSE(isTransient(networks.status()));
    absl::StatusOr<Stats> stats = client().getStats();
    EXPECT_EQ(stats.status().code(), absl::StatusCode::kUnknown);
    EXPECT_EQ(stats.status().message(), "GetStats: " + why);
    EXPECT_TRUE(client().health().ok());
  }

  fake_->setNetworks({{.name = "eni1", .vpc = true}});
  dp::Port port;
  port.set_id("op/odd");
  port.set_network("eni1");
  port.set_vhost_mode(static_cast<dp::VhostMode>(3));
  fake_->putPort(port);
  const std::string why =
      "port \"op/odd\": unknown vhost mode 3 from the dataplane (this client knows: server, "
      "client)";
  absl::StatusOr<PortInfo> got = client().getPort("op/odd");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(got.status().message(), "GetPort: " + why);
  absl::StatusOr<std::vector<PortInfo>> listed = client().listPorts("");
  EXPECT_EQ(listed.status().code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(listed.status().message(), "ListPorts: " + why);
  EXPECT_EQ(client().deletePort("op/odd").value(), true);
  EXPECT_TRUE(client().listPorts("").value().empty());
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
                               .uid = "u",
                               .pod_namespace = "ns",
                               .pod_name = "pod-1.a"},
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
  EXPECT_EQ(portInfoFromProto(portInfoToProto(port)).value(), port);
  EXPECT_EQ(portSpecFromProto(portSpecToProto(port.spec)).value(), port.spec);

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
  EXPECT_EQ(networkInfoFromProto(networkInfoToProto(network)).value(), network);
  const NetworkInfo local{.name = "local", .mode = common::NetworkMode::L2, .mtu = 1500};
  EXPECT_EQ(networkInfoFromProto(networkInfoToProto(local)).value(), local);
  EXPECT_FALSE(networkInfoToProto(local).has_uplink());

  // A request may leave the vhost mode out (the proto documents UNSPECIFIED as server);
  // permissions are written only when set. An answer without a network mode is refused
  // (EnumsFromTheWireAreNeverGuessed).
  dp::Port bare;
  EXPECT_EQ(portSpecFromProto(bare).value().vhost_mode, VhostMode::Server);
  EXPECT_FALSE(portSpecToProto(PortSpec{}).has_socket_permissions());
  EXPECT_EQ(networkInfoFromProto(dp::Network()).status().code(), absl::StatusCode::kUnknown);
}

TEST(ConvertTest, EveryModeRoundTripsThroughItsProtoValue) {
  for (const auto& [name, mode] : common::kNetworkModeNames) {
    const NetworkInfo network{.name = "n", .mode = mode};
    EXPECT_EQ(networkInfoFromProto(networkInfoToProto(network)).value(), network) << name;
    EXPECT_NE(networkModeToProto(mode), dp::NETWORK_MODE_UNSPECIFIED) << name;
  }
  for (const auto& [name, mode] : common::kVhostModeNames) {
    const PortInfo port{.spec = {.id = "p", .vhost_mode = mode}};
    EXPECT_EQ(portInfoFromProto(portInfoToProto(port)).value(), port) << name;
    EXPECT_EQ(portSpecFromProto(portSpecToProto(port.spec)).value(), port.spec) << name;
    EXPECT_NE(vhostModeToProto(mode), dp::VHOST_MODE_UNSPECIFIED) << name;
  }
}

// What the wire carries that this build cannot read without guessing: refused, with the network
// or port and the value named.
TEST(ConvertTest, EnumsFromTheWireAreNeverGuessed) {
  struct Case {
    std::string description;
    absl::Status status;
    absl::StatusCode code;
    std::string message;
  };
  auto network = [](int mode) {
    dp::Network n;
    n.set_name("eni1");
    n.set_mode(static_cast<dp::NetworkMode>(mode));
    return networkInfoFromProto(n).status();
  };
  auto port = [](int mode) {
    dp::Port p;
    p.set_id("c0ffee/net1");
    p.set_vhost_mode(static_cast<dp::VhostMode>(mode));
    return p;
  };
  const std::vector<Case> cases = {
      {"network mode unspecified", network(0), absl::StatusCode::kUnknown,
       "network \"eni1\": unknown mode NETWORK_MODE_UNSPECIFIED from the dataplane (this client "
       "knows: vpc, l2)"},
      {"network mode of a newer dataplane", network(7), absl::StatusCode::kUnknown,
       "network \"eni1\": unknown mode 7 from the dataplane (this client knows: vpc, l2)"},
      {"negative network mode", network(-1), absl::StatusCode::kUnknown,
       "network \"eni1\": unknown mode -1 from the dataplane (this client knows: vpc, l2)"},
      {"reported port without a vhost mode", portInfoFromProto(port(0)).status(),
       absl::StatusCode::kUnknown,
       "port \"c0ffee/net1\": unknown vhost mode VHOST_MODE_UNSPECIFIED from the dataplane (this "
       "client knows: server, client)"},
      {"reported port with a vhost mode of a newer dataplane", portInfoFromProto(port(3)).status(),
       absl::StatusCode::kUnknown,
       "port \"c0ffee/net1\": unknown vhost mode 3 from the dataplane (this client knows: "
       "server, client)"},
      {"requested vhost mode the API does not define", portSpecFromProto(port(3)).status(),
       absl::StatusCode::kInvalidArgument,
       "vhost_mode: unknown value 3 (expected VHOST_MODE_SERVER or VHOST_MODE_CLIENT)"},
      {"requested negative vhost mode", portSpecFromProto(port(-1)).status(),
       absl::StatusCode::kInvalidArgument,
       "vhost_mode: unknown value -1 (expected VHOST_MODE_SERVER or VHOST_MODE_CLIENT)"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.code(), c.code) << c.description << ": " << c.status;
    EXPECT_EQ(c.status.message(), c.message) << c.description;
  }
}

}  // namespace
}  // namespace enadpdk::dataplane_client
