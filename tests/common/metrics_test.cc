#include "common/metrics.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>

namespace enadpdk::common {
namespace {

TEST(PrometheusWriter, WritesFamiliesOnceWithEscapedLabels) {
  PrometheusWriter w;
  w.counter("ena_dpdk_port_rx_packets_total", "Packets received.", {{"port", "a\"b"}}, 7);
  w.counter("ena_dpdk_port_rx_packets_total", "Packets received.", {{"port", "c"}}, 9);
  w.gauge("ena_dpdk_up", "Up.", {}, 1);
  EXPECT_EQ(w.text(),
            "# HELP ena_dpdk_port_rx_packets_total Packets received.\n"
            "# TYPE ena_dpdk_port_rx_packets_total counter\n"
            "ena_dpdk_port_rx_packets_total{port=\"a\\\"b\"} 7\n"
            "ena_dpdk_port_rx_packets_total{port=\"c\"} 9\n"
            "# HELP ena_dpdk_up Up.\n"
            "# TYPE ena_dpdk_up gauge\n"
            "ena_dpdk_up 1\n");
}

// The text format (0.0.4) escapes exactly backslash, double quote and newline in label values;
// anything else a value holds is written as is (the dataplane admits no control characters in
// the values it labels with: vhostuser/port_spec.h).
TEST(PrometheusWriter, EscapesBackslashQuoteAndNewlineInLabelValues) {
  PrometheusWriter w;
  w.gauge("g", "G.", {{"a", "back\\slash"}, {"b", "say \"hi\""}, {"c", "two\nlines"}, {"d", ""}},
          1);
  EXPECT_EQ(w.text(),
            "# HELP g G.\n"
            "# TYPE g gauge\n"
            "g{a=\"back\\\\slash\",b=\"say \\\"hi\\\"\",c=\"two\\nlines\",d=\"\"} 1\n");
  // One sample stays one line, whatever the values.
  EXPECT_EQ(std::count(w.text().begin(), w.text().end(), '\n'), 3);
}

TEST(MetricsServerAddress, SplitsHostAndPort) {
  struct Case {
    const char* address;
    const char* host;
    int port;
  };
  for (const Case& c :
       {Case{"127.0.0.1:9640", "127.0.0.1", 9640}, Case{"node-1:0", "node-1", 0},
        Case{"[fd00::1]:9640", "fd00::1", 9640}, Case{"[::1]:65535", "::1", 65535},
        Case{"0.0.0.0:9641", "0.0.0.0", 9641}, Case{"[10.0.0.5]:9640", "10.0.0.5", 9640}}) {
    absl::StatusOr<MetricsServer::HostPort> got = MetricsServer::parseAddress(c.address);
    ASSERT_TRUE(got.ok()) << c.address << ": " << got.status();
    EXPECT_EQ(got->host, c.host) << c.address;
    EXPECT_EQ(got->port, c.port) << c.address;
  }
  for (const char* bad :
       {"", "9640", ":9640", "127.0.0.1:", "127.0.0.1:70000", "h:p", "fd00::1:9640", "[fd00::1]",
        "[]:9640", "[fd00::1:9640", "fd00::1]:9640", "[[::1]]:9640", "127.0.0.1:-1",
        "127.0.0.1:+80", "[node-1]:9640", "[fd00::1/64]:9640"}) {
    EXPECT_EQ(MetricsServer::parseAddress(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(MetricsServer, ServesOnAnIpv6Address) {
  auto server = MetricsServer::start("[::1]:0", [] { return std::string("ipv6 1\n"); });
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("::1", (*server)->port());
  auto got = client.Get("/metrics");
  ASSERT_TRUE(got) << "no answer on [::1]:" << (*server)->port();
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "ipv6 1\n");
}

TEST(MetricsServer, ServesRenderedTextOnEachScrape) {
  std::atomic<int> scrapes{0};
  auto server = MetricsServer::start("127.0.0.1:0", [&] {
    PrometheusWriter w;
    w.counter("scrapes_total", "Scrapes.", {}, static_cast<uint64_t>(++scrapes));
    return w.text();
  });
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  auto first = client.Get("/metrics");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_NE(first->body.find("scrapes_total 1\n"), std::string::npos);
  EXPECT_NE(first->get_header_value("Content-Type").find("version=0.0.4"), std::string::npos);
  auto second = client.Get("/metrics");
  ASSERT_TRUE(second);
  EXPECT_NE(second->body.find("scrapes_total 2\n"), std::string::npos);
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(client.Get("/nope")->status, 404);
}

TEST(MetricsServer, HealthzAnswersWhatTheHealthCheckSays) {
  std::atomic<bool> healthy{true};
  auto server = MetricsServer::start(
      "127.0.0.1:0", [] { return std::string(); },
      [&]() -> absl::Status {
        return healthy ? absl::OkStatus() : absl::UnavailableError("worker 3 stalled");
      });
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  auto ok = client.Get("/healthz");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "ok\n");
  healthy = false;
  auto bad = client.Get("/healthz");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 503);
  EXPECT_EQ(bad->body, "unhealthy: worker 3 stalled\n");
  // /metrics is served whatever the health.
  EXPECT_EQ(client.Get("/metrics")->status, 200);
}

TEST(MetricsServer, RejectsBadAddresses) {
  for (const char* bad :
       {"", "9640", ":9640", "127.0.0.1:", "127.0.0.1:70000", "h:p", "fd00::1:9640"}) {
    EXPECT_EQ(MetricsServer::start(bad, [] { return std::string(); }).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  auto first = MetricsServer::start("127.0.0.1:0", [] { return std::string(); });
  ASSERT_TRUE(first.ok());
  auto clash = MetricsServer::start("127.0.0.1:" + std::to_string((*first)->port()),
                                    [] { return std::string(); });
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace enadpdk::common
