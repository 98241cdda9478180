// Tests of ena-dpdk-ctl against an in-process fake dataplane on a temporary Unix socket: what each
// command sends, what it prints in both formats, and how it fails.
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "enadpdk/dataplane/v1/dataplane.pb.h"
#include "grpc/health/v1/health.pb.h"
#include "tests/support/fake_dataplane.h"
#include "vhostuser/ctl_cli.h"

namespace {

namespace dp = enadpdk::dataplane::v1;
namespace fs = std::filesystem;
using enadpdk::testing::FakeDataplane;
using google::protobuf::util::MessageDifferencer;

template <typename T>
T parseText(const std::string& text) {
  T message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message)) << text;
  return message;
}

template <typename T>
T parseJson(const std::string& json) {
  T message;
  auto status = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return message;
}

std::string lineCount(const std::string& s) {
  return std::to_string(std::count(s.begin(), s.end(), '\n')) + " lines";
}

const dp::ListNetworksResponse kNetworks = parseText<dp::ListNetworksResponse>(R"pb(
  networks {
    name: "eni1"
    mode: NETWORK_MODE_VPC
    mtu: 9001
    up: true
    port_count: 2
    uplink {
      device: "0000:00:06.0"
      port_id: 0
      mac: "02:aa:bb:cc:dd:01"
      link_up: true
      link_speed_mbps: 25000
      queues: 2
      counters { rx_packets: 1000 rx_bytes: 64000 tx_packets: 900 tx_bytes: 57600 drop_no_route: 4 }
      xstats { key: "pps_allowance_exceeded" value: 7 }
      xstats { key: "bw_in_allowance_exceeded" value: 2 }
    }
  }
  networks { name: "local" mode: NETWORK_MODE_L2 mtu: 1500 up: true port_count: 1 }
)pb");

const dp::Port kPortA = parseText<dp::Port>(R"pb(
  id: "c0ffee/net1"
  network: "eni1"
  socket_path: "/var/run/ena-dpdk/vhost/eni1-00/vhost.sock"
  vhost_mode: VHOST_MODE_SERVER
  mac: "02:aa:bb:cc:dd:01"
  ips: [ "10.0.1.23/24", "2600:1f18::5/128" ]
  queues: 2
  mtu: 9001
  pod_namespace: "shop"
  pod_name: "web-0"
  connected: true
  worker_lcore: 1
  counters {
    rx_packets: 10
    rx_bytes: 640
    tx_packets: 20
    tx_bytes: 1280
    drop_spoofed: 3
    drop_tx_full: 1
  }
)pb");

const dp::Port kPortB = parseText<dp::Port>(R"pb(
  id: "pod-b"
  network: "local"
  socket_path: "/var/run/ena-dpdk/vhost/local-01/vhost.sock"
  vhost_mode: VHOST_MODE_CLIENT
  mac: "02:00:00:00:00:02"
  queues: 1
  mtu: 1500
  socket_permissions { owner: "1000:1000" mode: "0660" }
  worker_lcore: 1
)pb");

dp::ListPortsResponse portsResponse() {
  dp::ListPortsResponse response;
  *response.add_ports() = kPortA;
  *response.add_ports() = kPortB;
  return response;
}

dp::GetStatsResponse statsResponse() {
  dp::GetStatsResponse response;
  *response.add_ports() = kPortA;
  *response.add_ports() = kPortB;
  for (const dp::Network& n : kNetworks.networks()) *response.add_networks() = n;
  *response.add_workers() = parseText<dp::WorkerStats>(
      "lcore: 1 port_count: 2 busy_cycles: 250 total_cycles: 1000 rx_packets: 1010 "
      "tx_packets: 920");
  *response.add_workers() = parseText<dp::WorkerStats>("lcore: 2");
  return response;
}

class CtlTest : public ::testing::Test {
 protected:
  struct Result {
    int rc = -1;
    std::string out{};
    std::string err{};
  };

  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "ena-dpdk-ctl-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    socket_ = dir_ / "dataplane.sock";
    server_ = FakeDataplane::start(socket_);
    ASSERT_NE(server_, nullptr);
  }

  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }

  // Runs ena-dpdk-ctl --socket <the fake's socket> ARGS... in-process.
  Result ctl(std::vector<std::string> args) { return ctlAt(socket_, std::move(args)); }

  Result ctlAt(const fs::path& socket, std::vector<std::string> args) {
    args.insert(args.begin(), {"ena-dpdk-ctl", "--socket", socket.string()});
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    Result r;
    r.rc = enadpdk::vhostuser::ctlMain(static_cast<int>(argv.size()), argv.data(), out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  fs::path dir_;
  fs::path socket_;
  std::unique_ptr<FakeDataplane> server_;
};

// --- health ---------------------------------------------------------------------------------

TEST_F(CtlTest, HealthServingExitsZero) {
  Result r = ctl({"health"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "SERVING\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(CtlTest, HealthNotServingExitsOne) {
  server_->setServing(false);
  Result r = ctl({"health"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "NOT_SERVING\n");
  server_->setServing(true);
  EXPECT_EQ(ctl({"health"}).rc, 0);
}

TEST_F(CtlTest, HealthJson) {
  server_->setServing(false);
  Result r = ctl({"-o", "json", "health"});
  EXPECT_EQ(r.rc, 1);
  auto response = parseJson<grpc::health::v1::HealthCheckResponse>(r.out);
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_NE(r.out.find("\"status\": \"NOT_SERVING\""), std::string::npos) << r.out;
}

// --- networks -------------------------------------------------------------------------------

TEST_F(CtlTest, NetworksTable) {
  server_->reply("ListNetworks", kNetworks);
  Result r = ctl({"networks"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out,
            "NAME    MODE    MTU   UPLINK         LINK           PORTS   UP    RX-PKTS   "
            "TX-PKTS   DROPS\n"
            "eni1    vpc    9001   0000:00:06.0   up 25000Mb/s       2   yes      1000       "
            "900       4\n"
            "local   l2     1500   -              -                  1   yes         -         "
            "-       -\n");
  EXPECT_EQ(server_->calls(), std::vector<std::string>{"ListNetworks"});
}

TEST_F(CtlTest, NetworksJsonIsTheResponseMessage) {
  server_->reply("ListNetworks", kNetworks);
  Result r = ctl({"networks", "-o", "json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(MessageDifferencer::Equals(parseJson<dp::ListNetworksResponse>(r.out), kNetworks))
      << r.out;
  // The documented mapping: lowerCamelCase names, 64-bit counters as strings, enum names,
  // defaults present.
  for (const char* want : {"\"portCount\": 2", "\"rxPackets\": \"1000\"",
                           "\"mode\": \"NETWORK_MODE_VPC\"", "\"dropSpoofed\": \"0\""}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << " in\n" << r.out;
  }
}

// A network mode the dataplane left unspecified, or one this build does not know, is not shown as
// a guess: the table fails with the client's message (exit 1); JSON prints what was sent.
TEST_F(CtlTest, NetworksTableRefusesAModeItCannotRead) {
  for (int wire : {0, 7}) {
    SCOPED_TRACE(wire);
    dp::ListNetworksResponse response = kNetworks;
    response.mutable_networks(1)->set_mode(static_cast<dp::NetworkMode>(wire));
    server_->reply("ListNetworks", response);
    Result r = ctl({"networks"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, std::string("ena-dpdk-ctl: UNKNOWN: network \"local\": unknown mode ") +
                         (wire == 0 ? "NETWORK_MODE_UNSPECIFIED" : "7") +
                         " from the dataplane (this client knows: vpc, l2)\n");
    r = ctl({"networks", "-o", "json"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_TRUE(MessageDifferencer::Equals(parseJson<dp::ListNetworksResponse>(r.out), response))
        << r.out;
    EXPECT_NE(r.out.find(wire == 0 ? "\"mode\": \"NETWORK_MODE_UNSPECIFIED\"" : "\"mode\": 7"),
              std::string::npos)
        << r.out;
  }
}

// --- ports ----------------------------------------------------------------------------------

TEST_F(CtlTest, PortsTable) {
  server_->reply("ListPorts", portsResponse());
  Result r = ctl({"ports"});
  ASSERT_EQ(r.rc, 0) << r.err;
  // POD is "namespace/name", "-" for a port whose pod the dataplane was not told.
  EXPECT_EQ(r.out,
            "ID            NETWORK   POD          MODE     SOCKET                                  "
            "      MAC                 IPS                             QUEUES   CONNECTED   "
            "RX-PKTS   TX-PKTS   DROPS\n"
            "c0ffee/net1   eni1      shop/web-0   server   /var/run/ena-dpdk/vhost/eni1-00/vhost."
            "sock    02:aa:bb:cc:dd:01   10.0.1.23/24,2600:1f18::5/128        2   yes              "
            "10        20       4\n"
            "pod-b         local     -            client   /var/run/ena-dpdk/vhost/local-01/vhost."
            "sock   02:00:00:00:00:02   -                                    1   no                "
            "0         0       0\n");
  EXPECT_EQ(server_->lastRequest<dp::ListPortsRequest>("ListPorts").network(), "");
}

TEST_F(CtlTest, PortsFilteredByNetwork) {
  server_->reply("ListPorts", dp::ListPortsResponse());
  Result r = ctl({"ports", "--network", "local"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(server_->lastRequest<dp::ListPortsRequest>("ListPorts").network(), "local");
  // No ports: the header alone.
  EXPECT_EQ(lineCount(r.out), "1 lines") << r.out;
}

TEST_F(CtlTest, PortsJsonIsTheResponseMessage) {
  server_->reply("ListPorts", portsResponse());
  Result r = ctl({"-o", "json", "ports"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(MessageDifferencer::Equals(parseJson<dp::ListPortsResponse>(r.out), portsResponse()))
      << r.out;
  for (const char* want : {"\"socketPath\":", "\"connected\": false", "\"podNamespace\": \"shop\"",
                           "\"podName\": \"web-0\"", "\"podName\": \"\"",
                           "\"vhostMode\": "
                           "\"VHOST_MODE_CLIENT\""}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << " in\n" << r.out;
  }
}

// --- port add -------------------------------------------------------------------------------

struct AddPortCase {
  std::string name;
  std::vector<std::string> args;
  std::string want;  // AddPortRequest in text format
};

class CtlAddPortTest : public CtlTest, public ::testing::WithParamInterface<AddPortCase> {};

TEST_P(CtlAddPortTest, SendsTheRequestBuiltFromFlags) {
  const AddPortCase& c = GetParam();
  // The answer carries a vhost mode, as the dataplane's always does (the table refuses one
  // without: PortTablesRefuseAVhostModeTheyCannotRead).
  server_->reply("AddPort", parseText<dp::AddPortResponse>(
                                "port { id: \"x\" vhost_mode: VHOST_MODE_SERVER }"));
  Result r = ctl(c.args);
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(server_->calls(), std::vector<std::string>{"AddPort"});
  auto sent = server_->lastRequest<dp::AddPortRequest>("AddPort");
  auto want = parseText<dp::AddPortRequest>(c.want);
  EXPECT_TRUE(MessageDifferencer::Equals(sent, want)) << "sent:\n"
                                                      << sent.DebugString() << "want:\n"
                                                      << want.DebugString();
}

INSTANTIATE_TEST_SUITE_P(
    Flags, CtlAddPortTest,
    ::testing::Values(
        AddPortCase{
            .name = "MinimalServerLeavesDefaultsToTheDataplane",
            .args = {"port", "add", "--id", "p1", "--network", "eni1", "--socket-path",
                     "/var/run/ena-dpdk/vhost/eni1-00/vhost.sock", "--vhost-mode", "server"},
            .want = R"pb(port {
                           id: "p1"
                           network: "eni1"
                           socket_path: "/var/run/ena-dpdk/vhost/eni1-00/vhost.sock"
                           vhost_mode: VHOST_MODE_SERVER
                         })pb"},
        AddPortCase{.name = "EveryFlagRepeatedIpAndEqualsForm",
                    .args = {"port",
                             "add",
                             "--vhost-mode=client",
                             "--id=c0ffee/net1",
                             "--network",
                             "local",
                             "--socket-path",
                             "/run/x/vhost.sock",
                             "--mac",
                             "02:00:00:00:00:09",
                             "--ip",
                             "10.0.1.23/24",
                             "--ip=2600:1f18::5/128",
                             "--queues",
                             "4",
                             "--mtu",
                             "9001",
                             "--owner",
                             "1000:1000",
                             "--perm",
                             "0660"},
                    .want = R"pb(port {
                                   id: "c0ffee/net1"
                                   network: "local"
                                   socket_path: "/run/x/vhost.sock"
                                   vhost_mode: VHOST_MODE_CLIENT
                                   mac: "02:00:00:00:00:09"
                                   ips: [ "10.0.1.23/24", "2600:1f18::5/128" ]
                                   queues: 4
                                   mtu: 9001
                                   socket_permissions { owner: "1000:1000" mode: "0660" }
                                 })pb"},
        AddPortCase{.name = "FlagsBeforeTheCommand",
                    .args = {"--id", "p2", "--vhost-mode", "client", "--perm", "600", "--network",
                             "n", "--socket-path", "/s", "port", "add"},
                    .want = R"pb(port {
                                   id: "p2"
                                   network: "n"
                                   socket_path: "/s"
                                   vhost_mode: VHOST_MODE_CLIENT
                                   socket_permissions { mode: "600" }
                                 })pb"}),
    [](const ::testing::TestParamInfo<AddPortCase>& param_info) { return param_info.param.name; });

TEST_F(CtlTest, PortAddPrintsTheCreatedPort) {
  dp::AddPortResponse response;
  *response.mutable_port() = kPortB;
  server_->reply("AddPort", response);
  Result r = ctl({"port", "add", "--id", "pod-b", "--network", "local", "--socket-path",
                  "/var/run/ena-dpdk/vhost/local-01/vhost.sock", "--vhost-mode", "client",
                  "--owner", "1000:1000", "--perm", "0660"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out,
            "ID:            pod-b\n"
            "Network:       local\n"
            "Pod:           -\n"
            "Socket:        /var/run/ena-dpdk/vhost/local-01/vhost.sock\n"
            "Vhost mode:    client\n"
            "Socket owner:  1000:1000\n"
            "Socket mode:   0660\n"
            "MAC:           02:00:00:00:00:02\n"
            "IPs:           -\n"
            "Queues:        1\n"
            "MTU:           1500\n"
            "Connected:     no\n"
            "Worker lcore:  1\n"
            "RX:            0 packets, 0 bytes\n"
            "TX:            0 packets, 0 bytes\n"
            "Drops:         no-route=0 spoofed=0 tx-full=0 not-connected=0 mac-table-full=0 "
            "other=0\n");
}

TEST_F(CtlTest, PortAddJson) {
  dp::AddPortResponse response;
  *response.mutable_port() = kPortA;
  server_->reply("AddPort", response);
  Result r =
      ctl({"-o", "json", "port", "add", "--id", "c0ffee/net1", "--network", "eni1", "--socket-path",
           "/var/run/ena-dpdk/vhost/eni1-00/vhost.sock", "--vhost-mode", "server"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(MessageDifferencer::Equals(parseJson<dp::AddPortResponse>(r.out), response)) << r.out;
}

// --- port get / del -------------------------------------------------------------------------

TEST_F(CtlTest, PortGetTableAndJson) {
  dp::GetPortResponse response;
  *response.mutable_port() = kPortA;
  server_->reply("GetPort", response);
  Result r = ctl({"port", "get", "c0ffee/net1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(server_->lastRequest<dp::GetPortRequest>("GetPort").id(), "c0ffee/net1");
  EXPECT_EQ(r.out,
            "ID:            c0ffee/net1\n"
            "Network:       eni1\n"
            "Pod:           shop/web-0\n"
            "Socket:        /var/run/ena-dpdk/vhost/eni1-00/vhost.sock\n"
            "Vhost mode:    server\n"
            "Socket owner:  -\n"
            "Socket mode:   -\n"
            "MAC:           02:aa:bb:cc:dd:01\n"
            "IPs:           10.0.1.23/24,2600:1f18::5/128\n"
            "Queues:        2\n"
            "MTU:           9001\n"
            "Connected:     yes\n"
            "Worker lcore:  1\n"
            "RX:            10 packets, 640 bytes\n"
            "TX:            20 packets, 1280 bytes\n"
            "Drops:         no-route=0 spoofed=3 tx-full=1 not-connected=0 mac-table-full=0 "
            "other=0\n");
  r = ctl({"port", "get", "c0ffee/net1", "-o", "json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(MessageDifferencer::Equals(parseJson<dp::GetPortResponse>(r.out), response)) << r.out;
}

// The same for a port's vhost mode, in the list and in the detail.
TEST_F(CtlTest, PortTablesRefuseAVhostModeTheyCannotRead) {
  dp::ListPortsResponse ports = portsResponse();
  ports.mutable_ports(1)->set_vhost_mode(static_cast<dp::VhostMode>(3));
  server_->reply("ListPorts", ports);
  const std::string want =
      "ena-dpdk-ctl: UNKNOWN: port \"pod-b\": unknown vhost mode 3 from the dataplane (this "
      "client knows: server, client)\n";
  Result r = ctl({"ports"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, want);
  dp::GetPortResponse one;
  *one.mutable_port() = ports.ports(1);
  server_->reply("GetPort", one);
  r = ctl({"port", "get", "pod-b"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, want);
  r = ctl({"port", "get", "pod-b", "-o", "json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("\"vhostMode\": 3"), std::string::npos) << r.out;
}

TEST_F(CtlTest, PortDelSaysWhetherThePortExisted) {
  server_->reply("DeletePort", parseText<dp::DeletePortResponse>("existed: true"));
  Result r = ctl({"port", "del", "c0ffee/net1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "port \"c0ffee/net1\" deleted\n");
  EXPECT_EQ(server_->lastRequest<dp::DeletePortRequest>("DeletePort").id(), "c0ffee/net1");

  server_->reply("DeletePort", dp::DeletePortResponse());
  r = ctl({"port", "del", "gone"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "port \"gone\" did not exist\n");
  r = ctl({"-o", "json", "port", "del", "gone"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "{\n \"existed\": false\n}\n");
}

// --- stats ----------------------------------------------------------------------------------

TEST_F(CtlTest, StatsTable) {
  server_->reply("GetStats", statsResponse());
  Result r = ctl({"stats"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out,
            "Ports:\n"
            "ID            NETWORK   LCORE   RX-PKTS   RX-BYTES   TX-PKTS   TX-BYTES   NO-ROUTE   "
            "SPOOFED   TX-FULL   NOT-CONNECTED   MAC-TABLE-FULL   OTHER\n"
            "c0ffee/net1   eni1          1        10        640        20       1280          0   "
            "      3         1               0                0       0\n"
            "pod-b         local         1         0          0         0          0          0   "
            "      0         0               0                0       0\n"
            "\n"
            "Networks (uplinks):\n"
            "NETWORK   UPLINK         RX-PKTS   RX-BYTES   TX-PKTS   TX-BYTES   NO-ROUTE   SPOOFED "
            "  TX-FULL   NOT-CONNECTED   MAC-TABLE-FULL   OTHER\n"
            "eni1      0000:00:06.0      1000      64000       900      57600          4         0 "
            "        0               0                0       0\n"
            "local     -                    -          -         -          -          -         - "
            "        -               -                -       -\n"
            "\n"
            "Uplink extended statistics:\n"
            "NETWORK   XSTAT                      VALUE\n"
            "eni1      bw_in_allowance_exceeded       2\n"
            "eni1      pps_allowance_exceeded         7\n"
            "\n"
            "Workers:\n"
            "LCORE   PORTS   RX-PKTS   TX-PKTS   BUSY-CYCLES   TOTAL-CYCLES    BUSY\n"
            "    1       2      1010       920           250           1000   25.0%\n"
            "    2       0         0         0             0              0       -\n");
}

TEST_F(CtlTest, StatsJsonIsTheResponseMessage) {
  server_->reply("GetStats", statsResponse());
  Result r = ctl({"stats", "--output=json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(MessageDifferencer::Equals(parseJson<dp::GetStatsResponse>(r.out), statsResponse()))
      << r.out;
  EXPECT_NE(r.out.find("\"busyCycles\": \"250\""), std::string::npos) << r.out;
}

// --- failures -------------------------------------------------------------------------------

struct RpcErrorCase {
  std::string name;
  std::string method;
  grpc::StatusCode code;
  std::vector<std::string> args;
  std::string want_err;
};

class CtlRpcErrorTest : public CtlTest, public ::testing::WithParamInterface<RpcErrorCase> {};

TEST_P(CtlRpcErrorTest, PrintsCodeAndMessageOnOneLineAndExitsOne) {
  const RpcErrorCase& c = GetParam();
  server_->fail(c.method, grpc::Status(c.code, "port \"p\": something\nsecond line"));
  for (const char* format : {"table", "json"}) {
    std::vector<std::string> args = c.args;
    args.insert(args.begin(), {"-o", format});
    Result r = ctl(args);
    EXPECT_EQ(r.rc, 1) << format;
    EXPECT_EQ(r.out, "") << format;
    EXPECT_EQ(r.err, c.want_err) << format;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Codes, CtlRpcErrorTest,
    ::testing::Values(
        RpcErrorCase{.name = "NotFound",
                     .method = "GetPort",
                     .code = grpc::StatusCode::NOT_FOUND,
                     .args = {"port", "get", "p"},
                     .want_err = "ena-dpdk-ctl: NOT_FOUND: port \"p\": something; second line\n"},
        RpcErrorCase{
            .name = "InvalidArgument",
            .method = "AddPort",
            .code = grpc::StatusCode::INVALID_ARGUMENT,
            .args = {"port", "add", "--id", "p", "--network", "nope", "--socket-path", "/s",
                     "--vhost-mode", "server"},
            .want_err = "ena-dpdk-ctl: INVALID_ARGUMENT: port \"p\": something; second line\n"},
        RpcErrorCase{
            .name = "AlreadyExists",
            .method = "AddPort",
            .code = grpc::StatusCode::ALREADY_EXISTS,
            .args = {"port", "add", "--id", "p", "--network", "n", "--socket-path", "/s",
                     "--vhost-mode", "client"},
            .want_err = "ena-dpdk-ctl: ALREADY_EXISTS: port \"p\": something; second line\n"},
        RpcErrorCase{.name = "Internal",
                     .method = "GetStats",
                     .code = grpc::StatusCode::INTERNAL,
                     .args = {"stats"},
                     .want_err = "ena-dpdk-ctl: INTERNAL: port \"p\": something; second line\n"}),
    [](const ::testing::TestParamInfo<RpcErrorCase>& param_info) { return param_info.param.name; });

TEST_F(CtlTest, DeadlineExceededWhenTheDataplaneDoesNotAnswer) {
  server_->hang("ListNetworks");
  const auto start = std::chrono::steady_clock::now();
  Result r = ctl({"--timeout", "0.2", "networks"});
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "ena-dpdk-ctl: DEADLINE_EXCEEDED: ListNetworks: no answer from the dataplane at " +
                socket_.string() + " within 200ms\n");
  EXPECT_GE(took, std::chrono::milliseconds(200));
  EXPECT_LT(took, std::chrono::seconds(10));
}

// The health probe and every other command fail fast, with one line, when nothing listens.
TEST_F(CtlTest, UnavailableWhenTheSocketIsMissing) {
  const fs::path missing = dir_ / "missing.sock";
  for (const char* command : {"health", "stats"}) {
    const auto start = std::chrono::steady_clock::now();
    Result r = ctlAt(missing, {"--timeout", "30", command});
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << command;
    EXPECT_EQ(r.rc, 1) << command;
    EXPECT_EQ(r.out, "") << command;
    const std::string method = std::string(command) == "health" ? "Health.Check" : "GetStats";
    EXPECT_EQ(r.err.rfind("ena-dpdk-ctl: UNAVAILABLE: " + method + ": dataplane at " +
                              missing.string() + " is unreachable: ",
                          0),
              0u)
        << r.err;
    EXPECT_EQ(lineCount(r.err), "1 lines") << r.err;
  }
}

TEST_F(CtlTest, UnavailableWhenTheConnectionIsRefused) {
  // A socket file nobody listens on, as a killed dataplane leaves behind.
  const fs::path stale = dir_ / "stale.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", stale.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);

  const auto start = std::chrono::steady_clock::now();
  Result r = ctlAt(stale, {"--timeout", "30", "health"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("ena-dpdk-ctl: UNAVAILABLE: Health.Check: dataplane at " + stale.string() +
                            " is unreachable: ",
                        0),
            0u)
      << r.err;
  EXPECT_EQ(lineCount(r.err), "1 lines") << r.err;
}

// A dataplane that accepts connections (the kernel does, from the backlog) but never speaks: the
// probe must give up at its deadline with one line, not hang.
TEST_F(CtlTest, HealthTimesOutWhenTheDataplaneIsWedged) {
  const fs::path wedged = dir_ / "wedged.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", wedged.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 16), 0);

  const auto start = std::chrono::steady_clock::now();
  Result r = ctlAt(wedged, {"--timeout", "0.3", "health"});
  const auto took = std::chrono::steady_clock::now() - start;
  ::close(fd);
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "ena-dpdk-ctl: DEADLINE_EXCEEDED: Health.Check: no answer from the dataplane at " +
                wedged.string() + " within 300ms\n");
  EXPECT_GE(took, std::chrono::milliseconds(300));
  EXPECT_LT(took, std::chrono::seconds(10));
}

// --- usage errors ---------------------------------------------------------------------------

struct UsageCase {
  std::string name;
  std::vector<std::string> args;
  std::string want_err;
};

class CtlUsageTest : public CtlTest, public ::testing::WithParamInterface<UsageCase> {};

TEST_P(CtlUsageTest, RefusedBeforeAnyCall) {
  const UsageCase& c = GetParam();
  server_->setServing(false);  // a health call that got through would print NOT_SERVING
  Result r = ctl(c.args);
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "ena-dpdk-ctl: " + c.want_err + "\n");
  EXPECT_EQ(server_->calls(), std::vector<std::string>{});
}

const std::vector<std::string> kAdd = {"port",      "add", "--id",          "p",
                                       "--network", "n",   "--socket-path", "/s"};

std::vector<std::string> addArgs(std::vector<std::string> more) {
  std::vector<std::string> args = kAdd;
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CtlUsageTest,
    ::testing::Values(
        UsageCase{"NoCommand", {}, "missing command (see ena-dpdk-ctl --help)"},
        UsageCase{"UnknownCommand", {"frob"}, "unknown command \"frob\" (see ena-dpdk-ctl --help)"},
        UsageCase{
            "UnknownFlag", {"stats", "--frob"}, "unknown flag --frob (see ena-dpdk-ctl --help)"},
        UsageCase{"HealthExtraArgument", {"health", "now"}, "health: unexpected argument \"now\""},
        UsageCase{"PortsExtraArgument", {"ports", "eni1"}, "ports: unexpected argument \"eni1\""},
        UsageCase{"PortNoSubcommand", {"port"}, "port: missing subcommand: add, get or del"},
        UsageCase{"PortBadSubcommand",
                  {"port", "list"},
                  "port: unknown subcommand \"list\" (expected add, get or del)"},
        UsageCase{"PortDelNoId", {"port", "del"}, "port del: missing port ID"},
        UsageCase{"PortGetEmptyId", {"port", "get", ""}, "port get: empty port ID"},
        UsageCase{"PortDelExtra", {"port", "del", "a", "b"}, "port del: unexpected argument \"b\""},
        UsageCase{"PortAddPositional", addArgs({"--vhost-mode", "server", "extra"}),
                  "port add: unexpected argument \"extra\""},
        UsageCase{
            "FlagOfAnotherCommand", {"ports", "--id", "x"}, "--id does not apply to \"ports\""},
        UsageCase{
            "NetworkOnStats", {"stats", "--network", "x"}, "--network does not apply to \"stats\""},
        UsageCase{"PortDelWithId",
                  {"port", "del", "a", "--id", "a"},
                  "--id does not apply to \"port del\""},
        UsageCase{
            "AddWithoutId",
            {"port", "add", "--network", "n", "--socket-path", "/s", "--vhost-mode", "server"},
            "port add: --id is required"},
        UsageCase{"AddEmptyId", addArgs({"--id=", "--vhost-mode", "server"}),
                  "port add: --id is empty"},
        UsageCase{"AddWithoutNetwork",
                  {"port", "add", "--id", "p", "--socket-path", "/s", "--vhost-mode", "server"},
                  "port add: --network is required"},
        UsageCase{"AddWithoutSocketPath",
                  {"port", "add", "--id", "p", "--network", "n", "--vhost-mode", "server"},
                  "port add: --socket-path is required"},
        UsageCase{"AddWithoutVhostMode", kAdd, "port add: --vhost-mode is required"},
        UsageCase{"AddBadVhostMode", addArgs({"--vhost-mode", "both"}),
                  "--vhost-mode: expected \"server\" or \"client\", got \"both\""},
        UsageCase{"AddZeroQueues", addArgs({"--vhost-mode", "server", "--queues", "0"}),
                  "--queues: expected a whole number from 1 to 4294967295, got \"0\""},
        UsageCase{"AddNonNumericMtu", addArgs({"--vhost-mode", "server", "--mtu", "9k"}),
                  "--mtu: expected a whole number from 1 to 4294967295, got \"9k\""},
        UsageCase{"AddNegativeMtu", addArgs({"--vhost-mode", "server", "--mtu", "-1"}),
                  "--mtu: expected a whole number from 1 to 4294967295, got \"-1\""},
        UsageCase{"AddEmptyIp", addArgs({"--vhost-mode", "server", "--ip", ""}),
                  "--ip: empty address"},
        UsageCase{"AddOwnerInServerMode", addArgs({"--vhost-mode", "server", "--owner", "1:1"}),
                  "--owner and --perm apply to --vhost-mode client only (in server mode the pod "
                  "creates the socket)"},
        UsageCase{"BadOutput",
                  {"-o", "yaml", "stats"},
                  "-o: expected \"table\" or \"json\", got \"yaml\""},
        UsageCase{"ZeroTimeout",
                  {"--timeout", "0", "health"},
                  "--timeout: expected seconds, more than 0 and at most 3600, got \"0\""},
        UsageCase{"BadTimeout",
                  {"--timeout", "5s", "health"},
                  "--timeout: expected seconds, more than 0 and at most 3600, got \"5s\""},
        UsageCase{"TooLongSocket",
                  {"--socket", "/" + std::string(120, 's'), "health"},
                  "--socket: 121 bytes, longer than the 107 a Unix socket path can have"},
        UsageCase{"MissingValue", {"stats", "--timeout"}, "--timeout needs a value (SECONDS)"}),
    [](const ::testing::TestParamInfo<UsageCase>& param_info) { return param_info.param.name; });

// --help names every command and every flag the parser accepts, and --help alone sends nothing.
TEST_F(CtlTest, HelpListsEveryCommandAndFlag) {
  Result r = ctl({"--help"});
  ASSERT_EQ(r.rc, 0);
  EXPECT_EQ(r.out.rfind("Usage: ena-dpdk-ctl ", 0), 0u);
  for (const char* want : {"health",
                           "networks",
                           "ports [--network NET]",
                           "port add",
                           "port get ID",
                           "port del ID",
                           "stats",
                           "--socket PATH",
                           "-o, --output FORMAT",
                           "--timeout SECONDS",
                           "--network NET",
                           "--id ID",
                           "--socket-path PATH",
                           "--vhost-mode MODE",
                           "--mac MAC",
                           "--ip CIDR",
                           "--queues N",
                           "--mtu N",
                           "--owner UID:GID",
                           "--perm MODE",
                           "--log-level LEVEL",
                           "--log-format FORMAT",
                           "--version",
                           "-h, --help",
                           "Exit status"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want;
  }
  EXPECT_EQ(server_->calls(), std::vector<std::string>{});
}

// Every command flag --help lists is accepted by `port add`, together with the global ones.
TEST_F(CtlTest, EveryPortAddFlagIsAccepted) {
  server_->reply("AddPort",
                 parseText<dp::AddPortResponse>("port { vhost_mode: VHOST_MODE_CLIENT }"));
  Result r = ctl(addArgs({"--vhost-mode", "client", "--mac", "02:00:00:00:00:01", "--ip",
                          "10.0.0.1/24", "--queues", "1", "--mtu", "1500", "--owner", "0:0",
                          "--perm", "0600", "--timeout", "5", "--log-level", "debug"}));
  EXPECT_EQ(r.rc, 0) << r.err;
}

}  // namespace
