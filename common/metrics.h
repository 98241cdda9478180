#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace enadpdk::common {

// Label set of one Prometheus sample, e.g. {{"port", "abc"}, {"network", "eni1"}}.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Builds a Prometheus text-format (version 0.0.4) exposition. Samples of one family must be
// added together; HELP and TYPE are written once per family. Not thread-safe.
class PrometheusWriter {
 public:
  // Adds a counter sample (a monotonically increasing value).
  void counter(std::string_view name, std::string_view help, const MetricLabels& labels,
               uint64_t value);
  // Adds a gauge sample.
  void gauge(std::string_view name, std::string_view help, const MetricLabels& labels,
             double value);
  // The exposition text.
  const std::string& text() const { return out_; }

 private:
  void sample(std::string_view name, std::string_view help, std::string_view type,
              const MetricLabels& labels, std::string_view value);
  std::string out_;
  std::string family_;
};

// A small HTTP endpoint serving GET /metrics (Prometheus text, rendered on each scrape by
// `render`) and GET /healthz (200 "ok" while `health` returns OK, else 503 "unhealthy: <reason>";
// always 200 without a `health`). Runs its own thread; `render` and `health` are called from it,
// so they must be thread-safe. Stops in the destructor.
class MetricsServer {
 public:
  // A listening address split into the host httplib binds and the port.
  struct HostPort {
    std::string host;  // an IPv4 address, a host name, or an IPv6 address without brackets
    int port = 0;      // 0..65535; 0 picks a free port
  };
  // Splits "HOST:PORT" or "[IP]:PORT" ("10.0.0.5:9640", "[fd00::1]:9640", "[10.0.0.5]:9640":
  // an IP address of either family may be bracketed, an IPv6 one must be). InvalidArgument for
  // anything else, including an IPv6 address without brackets ("fd00::1:9640" is ambiguous).
  static absl::StatusOr<HostPort> parseAddress(std::string_view address);

  // Listens on `address` (as parseAddress reads it: "127.0.0.1:9640", "[::1]:9640"; port 0
  // picks a free port). InvalidArgument for a malformed address, Unavailable when the port
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> start(
      std::string_view address, std::function<std::string()> render,
      std::function<absl::Status()> health = nullptr);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The TCP port actually bound.
  int port() const { return port_; }

 private:
  MetricsServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace enadpdk::common
