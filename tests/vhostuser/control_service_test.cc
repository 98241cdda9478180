// The control API's argument checks (issue 20 item 8): an oversized id is refused up front. The
// status mapping (no status message can outgrow the gRPC header) is tested in
// tests/common/grpc_status_test.cc. The metrics the dataplane renders from a snapshot of its
// switch (names and labels are what the chart's dashboard and alerts query).

#include "vhostuser/control_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

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

using ::testing::HasSubstr;
using ::testing::Not;

PortStatus podPort() {
  PortStatus p;
  p.spec = {.id = "c0ffee/net1",
            .network = "eni1",
            .socket_path = "/var/run/ena-dpdk/vhost/eni1-00/vhost.sock",
            .pod_namespace = "shop",
            .pod_name = "web-0"};
  p.connected = true;
  p.counters.rx_packets = 3;
  p.counters.rx_bytes = 192;
  p.counters.drops[static_cast<size_t>(DropReason::Spoofed)] = 2;
  return p;
}

MetricsSnapshot snapshot() {
  PortStatus unknown_pod;  // restored from a state file written before ports knew their pod
  unknown_pod.spec = {.id = "old/net1", .network = "eni1"};
  NetworkStatus net;
  net.name = "eni1";
  net.mode = NetworkMode::Vpc;
  net.port_count = 2;
  UplinkStatus uplink;
  uplink.device = "0000:00:06.0";
  uplink.link_up = true;
  uplink.resets = 1;
  uplink.counters = {.rx_packets = 10, .rx_bytes = 1500, .tx_packets = 4, .tx_bytes = 600};
  net.uplink = uplink;
  NetworkStatus local;
  local.name = "local";
  return {.ports = {podPort(), unknown_pod},
          .networks = {net, local},
          .workers = {WorkerStatus{.lcore = 1, .busy_cycles = 250, .total_cycles = 1000},
                      WorkerStatus{.lcore = 2}},
          .tsc_hz = 2'500'000'000,
          .build = {.version = "1.2.3", .revision = "abc1234", .dpdk = "DPDK 22.11.4"}};
}

TEST(DataplaneMetricsTest, PortSamplesNameTheirPod) {
  const std::string text = renderMetrics(snapshot());
  EXPECT_THAT(text, HasSubstr("ena_dpdk_port_rx_bytes_total{port=\"c0ffee/net1\",network=\"eni1\","
                              "pod_namespace=\"shop\",pod_name=\"web-0\"} 192\n"));
  EXPECT_THAT(text, HasSubstr("ena_dpdk_port_drops_total{port=\"c0ffee/net1\",network=\"eni1\","
                              "pod_namespace=\"shop\",pod_name=\"web-0\",reason=\"spoofed\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("ena_dpdk_port_connected{port=\"old/net1\",network=\"eni1\","
                              "pod_namespace=\"\",pod_name=\"\"} 0\n"));
  // Every port sample, of every family, carries both pod labels.
  const std::regex port_sample(R"(^ena_dpdk_port_\w+\{(.*)\} \S+$)");
  size_t port_samples = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, port_sample)) continue;
    ++port_samples;
    EXPECT_THAT(m[1].str(), HasSubstr(",pod_namespace=\"")) << line;
    EXPECT_THAT(m[1].str(), HasSubstr(",pod_name=\"")) << line;
  }
  // rx/tx packets/bytes, six drop reasons, connected; two ports.
  EXPECT_EQ(port_samples, 2u * (4 + kDropReasonCount + 1));
}

TEST(DataplaneMetricsTest, WorkerLoadIsTwoCycleCountersAndTheTscRate) {
  const std::string text = renderMetrics(snapshot());
  EXPECT_THAT(text, HasSubstr("# TYPE ena_dpdk_worker_busy_cycles_total counter\n"
                              "ena_dpdk_worker_busy_cycles_total{lcore=\"1\"} 250\n"
                              "ena_dpdk_worker_busy_cycles_total{lcore=\"2\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE ena_dpdk_worker_cycles_total counter\n"
                              "ena_dpdk_worker_cycles_total{lcore=\"1\"} 1000\n"
                              "ena_dpdk_worker_cycles_total{lcore=\"2\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE ena_dpdk_worker_tsc_hz gauge\n"
                              "ena_dpdk_worker_tsc_hz 2500000000\n"));
  // The lifetime ratio is gone: it could not show the load now.
  EXPECT_THAT(text, Not(HasSubstr("busy_ratio")));
}

TEST(DataplaneMetricsTest, UplinksCountBytesBothWays) {
  const std::string text = renderMetrics(snapshot());
  for (const char* want :
       {"ena_dpdk_uplink_rx_packets_total{network=\"eni1\",device=\"0000:00:06.0\"} 10\n",
        "ena_dpdk_uplink_rx_bytes_total{network=\"eni1\",device=\"0000:00:06.0\"} 1500\n",
        "ena_dpdk_uplink_tx_packets_total{network=\"eni1\",device=\"0000:00:06.0\"} 4\n",
        "ena_dpdk_uplink_tx_bytes_total{network=\"eni1\",device=\"0000:00:06.0\"} 600\n",
        "# TYPE ena_dpdk_uplink_rx_bytes_total counter\n",
        "# TYPE ena_dpdk_uplink_tx_bytes_total counter\n"}) {
    EXPECT_THAT(text, HasSubstr(want));
  }
  // A network without an uplink has no uplink samples.
  EXPECT_THAT(text, Not(HasSubstr("network=\"local\",device=")));
}

TEST(DataplaneMetricsTest, BuildInfoIsOneWithItsLabels) {
  EXPECT_THAT(renderMetrics(snapshot()),
              HasSubstr("# TYPE ena_dpdk_dataplane_build_info gauge\n"
                        "ena_dpdk_dataplane_build_info{version=\"1.2.3\",revision=\"abc1234\","
                        "dpdk=\"DPDK 22.11.4\"} 1\n"));
  const BuildInfo mine = dataplaneBuildInfo();
  EXPECT_FALSE(mine.version.empty());
  EXPECT_FALSE(mine.revision.empty());
  EXPECT_THAT(mine.dpdk, HasSubstr("DPDK "));
}

// Each family's HELP and TYPE come once, before its samples (the text format's rule).
TEST(DataplaneMetricsTest, EachFamilyIsWrittenOnce) {
  const std::string text = renderMetrics(snapshot());
  std::vector<std::string> families;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("# TYPE ")) continue;
    const std::string name = line.substr(7, line.find(' ', 7) - 7);
    EXPECT_EQ(std::count(families.begin(), families.end(), name), 0) << name;
    families.push_back(name);
  }
  EXPECT_GE(families.size(), 20u);
}

// ListPorts, GetPort and AddPort answer with the port's pod.
TEST(ControlServiceTest, PortsCarryTheirPod) {
  const dataplane::v1::Port p = portToProto(podPort());
  EXPECT_EQ(p.pod_namespace(), "shop");
  EXPECT_EQ(p.pod_name(), "web-0");
}

}  // namespace
}  // namespace enadpdk::vhostuser
