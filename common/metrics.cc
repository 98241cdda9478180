#include "common/metrics.h"

#include <httplib.h>
#include <sys/socket.h>

#include <charconv>
#include <chrono>
#include <cmath>

#include "common/config.h"
#include "common/strings.h"

namespace enadpdk::common {
namespace {

std::string escapeLabel(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

void PrometheusWriter::sample(std::string_view name, std::string_view help, std::string_view type,
                              const MetricLabels& labels, std::string_view value) {
  if (family_ != name) {
    family_ = std::string(name);
    out_ += strCat("# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  }
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      out_ += strCat(i ? "," : "", labels[i].first, "=\"", escapeLabel(labels[i].second), "\"");
    }
    out_ += '}';
  }
  out_ += strCat(" ", value, "\n");
}

void PrometheusWriter::counter(std::string_view name, std::string_view help,
                               const MetricLabels& labels, uint64_t value) {
  sample(name, help, "counter", labels, std::to_string(value));
}

void PrometheusWriter::gauge(std::string_view name, std::string_view help,
                             const MetricLabels& labels, double value) {
  std::string text = std::isfinite(value) ? fmt::format("{}", value) : "NaN";
  sample(name, help, "gauge", labels, text);
}

absl::StatusOr<MetricsServer::HostPort> MetricsServer::parseAddress(std::string_view address) {
  auto invalid = [&] {
    return absl::InvalidArgumentError(
        strCat("metrics address \"", clipped(address), "\": expected HOST:PORT or [IP]:PORT"));
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return invalid();
  int port = -1;
  const std::string_view p = address.substr(colon + 1);
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  if (ec != std::errc() || end != p.data() + p.size() || port < 0 || port > 65535) {
    return invalid();
  }
  std::string_view host = address.substr(0, colon);
  if (host.front() == '[') {
    // An IPv6 address is bracketed, as in a URL ("[fd00::1]:9640"); an IPv4 address may be too,
    // so that a manifest can write "[$(NODE_IP)]:9640" for a node of either family. The
    // brackets are not part of the address httplib binds.
    if (host.size() < 3 || host.back() != ']') return invalid();
    host = host.substr(1, host.size() - 2);
    if (!isIpAddress(host)) return invalid();
  } else if (host.find_first_of(":[]") != std::string_view::npos) {
    // "fd00::1:9640" would bind fd00::1 port 9640 or fd00:: port 1 depending on the reader.
    return invalid();
  }
  return HostPort{.host = std::string(host), .port = port};
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::start(
    std::string_view address, std::function<std::string()> render,
    std::function<absl::Status()> health) {
  absl::StatusOr<HostPort> parsed = parseAddress(address);
  if (!parsed.ok()) return parsed.status();
  const std::string& host = parsed->host;
  const int port = parsed->port;
  std::unique_ptr<MetricsServer> self(new MetricsServer());
  self->server_ = std::make_unique<httplib::Server>();
  // httplib's default also sets SO_REUSEPORT, which would let a second daemon silently share
  // (and steal scrapes from) the port; a clash must be an error instead.
  self->server_->set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  self->server_->Get("/metrics", [render](const httplib::Request&, httplib::Response& res) {
    res.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  self->server_->Get("/healthz", [health](const httplib::Request&, httplib::Response& res) {
    const absl::Status status = health ? health() : absl::OkStatus();
    if (status.ok()) {
      res.set_content("ok\n", "text/plain");
      return;
    }
    res.status = 503;
    res.set_content(strCat("unhealthy: ", status.message(), "\n"), "text/plain");
  });
  if (port == 0) {
    self->port_ = self->server_->bind_to_any_port(host);
  } else {
    self->port_ = self->server_->bind_to_port(host, port) ? port : -1;
  }
  if (self->port_ < 0) {
    return absl::UnavailableError(strCat("metrics address \"", address, "\": cannot listen"));
  }
  self->thread_ = std::thread([server = self->server_.get()] { server->listen_after_bind(); });
  // httplib's stop() is lost if it runs before the listen loop starts; wait for the loop so
  // that the destructor can always stop it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!self->server_->is_running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::UnavailableError(strCat("metrics address \"", address, "\": listen failed"));
    }
    std::this_thread::yield();
  }
  return self;
}

MetricsServer::~MetricsServer() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace enadpdk::common
