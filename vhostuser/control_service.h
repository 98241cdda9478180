#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/grpc_status.h"
#include "dataplane_client/convert.h"
#include "enadpdk/dataplane/v1/dataplane.grpc.pb.h"
#include "vhostuser/switch.h"

namespace enadpdk::vhostuser {

// Status messages are cut to common::kMaxStatusMessageBytes by common::toGrpcStatus, the one
// absl -> gRPC mapping (common/grpc_status.h).
using common::kMaxStatusMessageBytes;

// INVALID_ARGUMENT naming the field when `id`, the port id of a DeletePort or GetPort request, is
// empty or longer than kMaxPortIdLength bytes; OK otherwise. Checked before the id reaches the
// Switch, so that no message quotes an oversized id.
absl::Status checkPortIdArgument(std::string_view id);

// The proto <-> library conversions of the control API.
using dataplane_client::portSpecFromProto;
dataplane::v1::Port portToProto(const PortStatus& status);

// enadpdk.dataplane.v1.Dataplane: each RPC converts the request, calls the Switch, converts the
// result. Thread-safe (the Switch serialises).
class ControlService final : public dataplane::v1::Dataplane::Service {
 public:
  explicit ControlService(Switch& sw) : switch_(sw) {}

  grpc::Status AddPort(grpc::ServerContext*, const dataplane::v1::AddPortRequest* req,
                       dataplane::v1::AddPortResponse* resp) override;
  grpc::Status DeletePort(grpc::ServerContext*, const dataplane::v1::DeletePortRequest* req,
                          dataplane::v1::DeletePortResponse* resp) override;
  grpc::Status GetPort(grpc::ServerContext*, const dataplane::v1::GetPortRequest* req,
                       dataplane::v1::GetPortResponse* resp) override;
  grpc::Status ListPorts(grpc::ServerContext*, const dataplane::v1::ListPortsRequest* req,
                         dataplane::v1::ListPortsResponse* resp) override;
  grpc::Status ListNetworks(grpc::ServerContext*, const dataplane::v1::ListNetworksRequest* req,
                            dataplane::v1::ListNetworksResponse* resp) override;
  grpc::Status GetStats(grpc::ServerContext*, const dataplane::v1::GetStatsRequest* req,
                        dataplane::v1::GetStatsResponse* resp) override;

 private:
  Switch& switch_;
};

// The gRPC server on the control socket (mode 0600), with the standard health service.
class ControlServer {
 public:
  // Removes a stale socket left by a crashed run (a live one is an error), serves, and sets the
  // socket's mode to 0600.
  static absl::StatusOr<std::unique_ptr<ControlServer>> start(const std::string& socket_path,
                                                              Switch& sw);
  ~ControlServer();
  void shutdown();
  // Sets the gRPC health status (grpc.health.v1, service ""): SERVING or NOT_SERVING, so that
  // `ena-dpdk-ctl health` reports what the dataplane's /healthz does.
  void setServing(bool serving);

 private:
  ControlServer(Switch& sw) : service_(sw) {}
  ControlService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string socket_path_;
};

// The build ena_dpdk_dataplane_build_info names.
struct BuildInfo {
  std::string version{};   // the project's (common/version.h)
  std::string revision{};  // the git revision the build was configured from
  std::string dpdk{};      // rte_version(), e.g. "DPDK 22.11.4"
};
// This binary's build.
BuildInfo dataplaneBuildInfo();

// What one scrape of the dataplane's /metrics shows.
struct MetricsSnapshot {
  std::vector<PortStatus> ports{};
  std::vector<NetworkStatus> networks{};
  std::vector<WorkerStatus> workers{};
  uint64_t tsc_hz = 0;  // TSC cycles per second: the unit of the worker cycle counters
  BuildInfo build{};
};

// The Prometheus text of a snapshot (pure). The metric names and labels are a contract with
// dashboards and alerts (docs/dataplane.md "Metrics"): every ena_dpdk_port_* sample carries
// port, network, pod_namespace and pod_name (empty when the pod is unknown).
std::string renderMetrics(const MetricsSnapshot& snapshot);
// Renders the switch's metrics now (a snapshot of its ports, networks and workers).
std::string renderMetrics(Switch& sw);

}  // namespace enadpdk::vhostuser
