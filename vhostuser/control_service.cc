#include "vhostuser/control_service.h"

#include <rte_cycles.h>
#include <rte_version.h>
#include <sys/stat.h>

#include <filesystem>

#include <grpcpp/health_check_service_interface.h>

#include "absl/time/time.h"

#include "common/atomic_file.h"
#include "common/metrics.h"
#include "common/strings.h"
#include "common/unix_socket.h"
#include "common/version.h"

namespace enadpdk::vhostuser {

namespace pb = dataplane::v1;
using common::strCat;
using common::toGrpcStatus;

absl::Status checkPortIdArgument(std::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("id: must not be empty");
  if (id.size() > kMaxPortIdLength) {
    return absl::InvalidArgumentError(
        strCat("id: longer than ", kMaxPortIdLength, " bytes (", id.size(), " bytes)"));
  }
  return absl::OkStatus();
}

namespace {

// The switch's counters in the control API's library type (mapped to proto by
// dataplane_client/convert.h, the one mapping).
dataplane_client::Counters countersOf(const PortCounters& c) {
  auto drop = [&](DropReason reason) { return c.drops[static_cast<size_t>(reason)]; };
  return {.rx_packets = c.rx_packets,
          .rx_bytes = c.rx_bytes,
          .tx_packets = c.tx_packets,
          .tx_bytes = c.tx_bytes,
          .drop_no_route = drop(DropReason::NoRoute),
          .drop_spoofed = drop(DropReason::Spoofed),
          .drop_tx_full = drop(DropReason::TxFull),
          .drop_not_connected = drop(DropReason::NotConnected),
          .drop_mac_table_full = drop(DropReason::MacTableFull),
          .drop_other = drop(DropReason::Other)};
}

pb::Network networkToProto(const NetworkStatus& n) {
  dataplane_client::NetworkInfo info{
      .name = n.name, .mode = n.mode, .mtu = n.mtu, .up = n.up, .port_count = n.port_count};
  if (n.uplink) {
    const UplinkStatus& u = *n.uplink;
    info.uplink = dataplane_client::UplinkInfo{.device = u.device,
                                               .port_id = u.port_id,
                                               .mac = u.mac,
                                               .link_up = u.link_up,
                                               .link_speed_mbps = u.speed_mbps,
                                               .queues = u.queues,
                                               .tx_queues = u.tx_queues,
                                               .numa_node = u.numa_node,
                                               .resets = u.resets,
                                               .reset_failures = u.reset_failures,
                                               .link_changes = u.link_changes,
                                               .counters = countersOf(u.counters),
                                               .xstats = {u.xstats.begin(), u.xstats.end()}};
  }
  return dataplane_client::networkInfoToProto(info);
}

}  // namespace

pb::Port portToProto(const PortStatus& st) {
  pb::Port p = dataplane_client::portSpecToProto(st.spec);
  p.set_connected(st.connected);
  p.set_worker_lcore(st.worker_lcore);
  dataplane_client::countersToProto(countersOf(st.counters), p.mutable_counters());
  return p;
}

namespace {
// The caller's deadline as the server sees it (gRPC propagates the client's timeout).
absl::Time deadlineOf(const grpc::ServerContext* context) {
  if (context == nullptr) return absl::InfiniteFuture();
  const auto deadline = context->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}
}  // namespace

grpc::Status ControlService::AddPort(grpc::ServerContext* context, const pb::AddPortRequest* req,
                                     pb::AddPortResponse* resp) {
  if (!req->has_port()) return toGrpcStatus(absl::InvalidArgumentError("port: missing"));
  absl::StatusOr<PortSpec> spec = portSpecFromProto(req->port());
  if (!spec.ok()) return toGrpcStatus(spec.status());
  absl::StatusOr<PortStatus> st = switch_.addPort(*std::move(spec), deadlineOf(context));
  if (!st.ok()) return toGrpcStatus(st.status());
  *resp->mutable_port() = portToProto(*st);
  return grpc::Status::OK;
}

grpc::Status ControlService::DeletePort(grpc::ServerContext* context,
                                        const pb::DeletePortRequest* req,
                                        pb::DeletePortResponse* resp) {
  if (absl::Status s = checkPortIdArgument(req->id()); !s.ok()) return toGrpcStatus(s);
  if (absl::Status s = checkPortUid(req->uid()); !s.ok()) return toGrpcStatus(s);
  absl::StatusOr<bool> existed = switch_.deletePort(req->id(), req->uid(), deadlineOf(context));
  if (!existed.ok()) return toGrpcStatus(existed.status());
  resp->set_existed(*existed);
  return grpc::Status::OK;
}

grpc::Status ControlService::GetPort(grpc::ServerContext*, const pb::GetPortRequest* req,
                                     pb::GetPortResponse* resp) {
  if (absl::Status s = checkPortIdArgument(req->id()); !s.ok()) return toGrpcStatus(s);
  absl::StatusOr<PortStatus> st = switch_.getPort(req->id());
  if (!st.ok()) return toGrpcStatus(st.status());
  *resp->mutable_port() = portToProto(*st);
  return grpc::Status::OK;
}

grpc::Status ControlService::ListPorts(grpc::ServerContext*, const pb::ListPortsRequest* req,
                                       pb::ListPortsResponse* resp) {
  for (const PortStatus& st : switch_.listPorts(req->network())) {
    *resp->add_ports() = portToProto(st);
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::ListNetworks(grpc::ServerContext*, const pb::ListNetworksRequest*,
                                          pb::ListNetworksResponse* resp) {
  for (const NetworkStatus& n : switch_.listNetworks()) *resp->add_networks() = networkToProto(n);
  return grpc::Status::OK;
}

grpc::Status ControlService::GetStats(grpc::ServerContext*, const pb::GetStatsRequest*,
                                      pb::GetStatsResponse* resp) {
  for (const PortStatus& st : switch_.listPorts("")) *resp->add_ports() = portToProto(st);
  for (const NetworkStatus& n : switch_.listNetworks()) *resp->add_networks() = networkToProto(n);
  for (const WorkerStatus& w : switch_.listWorkers()) {
    pb::WorkerStats* ws = resp->add_workers();
    ws->set_lcore(w.lcore);
    ws->set_port_count(w.queue_count);
    ws->set_busy_cycles(w.busy_cycles);
    ws->set_total_cycles(w.total_cycles);
    ws->set_rx_packets(w.rx_packets);
    ws->set_tx_packets(w.tx_packets);
  }
  return grpc::Status::OK;
}

absl::StatusOr<std::unique_ptr<ControlServer>> ControlServer::start(const std::string& socket_path,
                                                                    Switch& sw) {
  if (absl::Status s = common::checkSocketPath(socket_path, "dataplane.controlSocket"); !s.ok()) {
    return s;
  }
  const auto dir = std::filesystem::path(socket_path).parent_path();
  if (absl::Status s = common::makeDirectories(dir, 0755); !s.ok()) return s;
  if (absl::Status s = common::removeStaleSocket(socket_path); !s.ok()) {
    return absl::FailedPreconditionError(
        strCat("control socket: ", common::toStd(s.message()), " (is another dataplane running?)"));
  }
  std::unique_ptr<ControlServer> self(new ControlServer(sw));
  self->socket_path_ = socket_path;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(common::grpcUnixTarget(socket_path), grpc::InsecureServerCredentials());
  builder.RegisterService(&self->service_);
  // The socket must never be reachable with wider permissions than 0600, not even between
  // bind() and chmod(): create it under a tight umask.
  mode_t old = ::umask(0177);
  self->server_ = builder.BuildAndStart();
  ::umask(old);
  if (!self->server_) {
    return absl::UnavailableError(strCat("cannot serve the control API on ", socket_path));
  }
  ::chmod(socket_path.c_str(), 0600);
  self->server_->GetHealthCheckService()->SetServingStatus(true);
  return self;
}

void ControlServer::setServing(bool serving) {
  if (server_) server_->GetHealthCheckService()->SetServingStatus(serving);
}

void ControlServer::shutdown() {
  if (!server_) return;
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
  server_.reset();
  std::error_code ec;
  std::filesystem::remove(socket_path_, ec);
}

ControlServer::~ControlServer() { shutdown(); }

BuildInfo dataplaneBuildInfo() {
  return {.version = common::kVersion, .revision = common::kGitRevision, .dpdk = rte_version()};
}

std::string renderMetrics(const MetricsSnapshot& m) {
  common::PrometheusWriter w;
  static constexpr const char* kDropNames[kDropReasonCount] = {
      "no_route", "spoofed", "tx_full", "not_connected", "mac_table_full", "other"};
  const std::vector<PortStatus>& ports = m.ports;
  const std::vector<NetworkStatus>& nets = m.networks;
  w.gauge("ena_dpdk_dataplane_build_info",
          "Always 1; the labels name the dataplane's version, git revision and DPDK.",
          {{"version", m.build.version}, {"revision", m.build.revision}, {"dpdk", m.build.dpdk}},
          1);
  // The pod labels are empty for a port whose pod is unknown (added without K8S_POD_* args, or
  // restored from a state file written before ports knew their pod).
  auto portLabels = [](const PortStatus& p) {
    return common::MetricLabels{{"port", p.spec.id},
                                {"network", p.spec.network},
                                {"pod_namespace", p.spec.pod_namespace},
                                {"pod_name", p.spec.pod_name}};
  };
  for (const auto& p : ports)
    w.counter("ena_dpdk_port_rx_packets_total", "Packets the switch received from the port.",
              portLabels(p), p.counters.rx_packets);
  for (const auto& p : ports)
    w.counter("ena_dpdk_port_rx_bytes_total", "Bytes the switch received from the port.",
              portLabels(p), p.counters.rx_bytes);
  for (const auto& p : ports)
    w.counter("ena_dpdk_port_tx_packets_total", "Packets the switch sent to the port.",
              portLabels(p), p.counters.tx_packets);
  for (const auto& p : ports)
    w.counter("ena_dpdk_port_tx_bytes_total", "Bytes the switch sent to the port.", portLabels(p),
              p.counters.tx_bytes);
  for (const auto& p : ports) {
    for (size_t i = 0; i < kDropReasonCount; ++i) {
      common::MetricLabels l = portLabels(p);
      l.emplace_back("reason", kDropNames[i]);
      w.counter("ena_dpdk_port_drops_total",
                "Frames dropped, by reason, counted on the port they concern.", l,
                p.counters.drops[i]);
    }
  }
  for (const auto& p : ports)
    w.gauge("ena_dpdk_port_connected", "1 when the vhost-user peer is connected.", portLabels(p),
            p.connected ? 1 : 0);
  for (const auto& n : nets) {
    w.gauge("ena_dpdk_network_up", "1 when the network's uplink is up (always 1 without uplink).",
            {{"network", n.name}}, n.up ? 1 : 0);
  }
  for (const auto& n : nets)
    w.gauge("ena_dpdk_network_ports", "Ports on the network.", {{"network", n.name}}, n.port_count);
  // One family per loop: the text format wants a family's samples together.
  auto eachUplink = [&nets](auto&& emit) {
    for (const auto& n : nets) {
      if (n.uplink)
        emit(n, *n.uplink, common::MetricLabels{{"network", n.name}, {"device", n.uplink->device}});
    }
  };
  eachUplink([&](const NetworkStatus&, const UplinkStatus& u, const common::MetricLabels& l) {
    w.gauge("ena_dpdk_uplink_link_up", "1 when the uplink's link is up.", l, u.link_up ? 1 : 0);
  });
  eachUplink([&](const NetworkStatus&, const UplinkStatus& u, const common::MetricLabels& l) {
    w.counter("ena_dpdk_uplink_rx_packets_total", "Packets the switch received from the uplink.", l,
              u.counters.rx_packets);
  });
  eachUplink([&](const NetworkStatus&, const UplinkStatus& u, const common::MetricLabels& l) {
    w.counter("ena_dpdk_uplink_rx_bytes_total", "Bytes the switch received from the uplink.", l,
              u.counters.rx_bytes);
  });
  eachUplink([&](const NetworkStatus&, const UplinkStatus& u, const common::MetricLabels& l) {
    w.counter("ena_dpdk_uplink_tx_packets_total", "Packets the switch sent to the uplink.", l,
              u.counters.tx_packets);
  });
  eachUplink([&](const NetworkStatus&, const UplinkStatus& u, const common::MetricLabels& l) {
    w.counter("ena_dpdk_uplink_tx_bytes_total",
              "Bytes the switch sent to the uplink (accepted by the device).", l,
              u.counters.tx_bytes);
  });
  eachUplink([&](const NetworkStatus&, const UplinkStatus& u, const common::MetricLabels& l) {
    for (size_t i = 0; i < kDropReasonCount; ++i) {
      common::MetricLabels with_reason = l;
      with_reason.emplace_back("reason", kDropNames[i]);
      w.counter("ena_dpdk_uplink_drops_total", "Frames from or to the uplink dropped, by reason.",
                with_reason, u.counters.drops[i]);
    }
  });
  eachUplink([&](const NetworkStatus&, const UplinkStatus& u, const common::MetricLabels& l) {
    w.counter("ena_dpdk_uplink_resets_total",
              "Device resets of the uplink (RTE_ETH_EVENT_INTR_RESET, e.g. the ENA watchdog).", l,
              u.resets);
  });
  eachUplink([&](const NetworkStatus&, const UplinkStatus& u, const common::MetricLabels& l) {
    w.counter("ena_dpdk_uplink_reset_failures_total",
              "Uplink reset attempts that failed (each is retried).", l, u.reset_failures);
  });
  eachUplink([&](const NetworkStatus&, const UplinkStatus& u, const common::MetricLabels& l) {
    w.counter("ena_dpdk_uplink_link_changes_total", "Link up/down transitions of the uplink.", l,
              u.link_changes);
  });
  eachUplink([&](const NetworkStatus& n, const UplinkStatus& u, const common::MetricLabels&) {
    for (const auto& [name, value] : u.xstats) {
      w.counter("ena_dpdk_uplink_ena_allowance_exceeded_total",
                "ENA allowance counters (xstats *_allowance_exceeded).",
                {{"network", n.name}, {"counter", name}}, value);
    }
  });
  // Worker load as two cycle counters, so that rate(busy) / rate(total) is the load of the last
  // scrape interval (a ratio since start would hide it); tsc_hz turns cycles into seconds.
  w.gauge("ena_dpdk_worker_tsc_hz", "TSC cycles per second (what the worker cycle counters count).",
          {}, static_cast<double>(m.tsc_hz));
  for (const WorkerStatus& ws : m.workers) {
    w.counter("ena_dpdk_worker_busy_cycles_total",
              "TSC cycles the worker spent on poll passes that moved packets.",
              {{"lcore", std::to_string(ws.lcore)}}, ws.busy_cycles);
  }
  for (const WorkerStatus& ws : m.workers) {
    w.counter("ena_dpdk_worker_cycles_total", "TSC cycles of the worker's poll loop, busy or idle.",
              {{"lcore", std::to_string(ws.lcore)}}, ws.total_cycles);
  }
  return w.text();
}

std::string renderMetrics(Switch& sw) {
  return renderMetrics(MetricsSnapshot{.ports = sw.listPorts(""),
                                       .networks = sw.listNetworks(),
                                       .workers = sw.listWorkers(),
                                       .tsc_hz = rte_get_tsc_hz(),
                                       .build = dataplaneBuildInfo()});
}

}  // namespace enadpdk::vhostuser
