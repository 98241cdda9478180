#include "dataplane_client/dataplane_client.h"

#include "common/strings.h"
#include "dataplane_client/convert.h"

namespace enadpdk::dataplane_client {

namespace dp = dataplane::v1;
namespace health = grpc::health::v1;

namespace {

// The dataplane's own errors carry its message alone; RpcClient's transport errors already
// start with the method.
absl::Status named(const char* method, const absl::Status& status) {
  if (absl::IsDeadlineExceeded(status) || absl::IsUnavailable(status)) return status;
  return absl::Status(status.code(), common::strCat(method, ": ", common::toStd(status.message())));
}

}  // namespace

DataplaneClient DataplaneClient::forSocket(const std::filesystem::path& socket,
                                           std::chrono::milliseconds timeout,
                                           std::shared_ptr<spdlog::logger> logger,
                                           ChannelOptions options) {
  return DataplaneClient(RpcClient::forSocket(socket, timeout, std::move(logger), options));
}

absl::Status DataplaneClient::health() const {
  auto response = rpc_.health();
  if (!response.ok()) return named("Health.Check", response.status());
  if (response->status() != health::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(
        common::strCat("dataplane at ", rpc_.endpoint(), " is not serving (health status ",
                       health::HealthCheckResponse::ServingStatus_Name(response->status()), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<NetworkInfo>> DataplaneClient::listNetworks() const {
  auto response = rpc_.listNetworks(dp::ListNetworksRequest());
  if (!response.ok()) return named("ListNetworks", response.status());
  std::vector<NetworkInfo> out;
  out.reserve(response->networks_size());
  for (const dp::Network& network : response->networks()) {
    absl::StatusOr<NetworkInfo> info = networkInfoFromProto(network);
    if (!info.ok()) return named("ListNetworks", info.status());
    out.push_back(*std::move(info));
  }
  return out;
}

absl::StatusOr<PortInfo> DataplaneClient::addPort(const PortSpec& spec) const {
  dp::AddPortRequest request;
  *request.mutable_port() = portSpecToProto(spec);
  auto response = rpc_.addPort(request);
  if (!response.ok()) return named("AddPort", response.status());
  absl::StatusOr<PortInfo> port = portInfoFromProto(response->port());
  if (!port.ok()) return named("AddPort", port.status());
  return port;
}

absl::StatusOr<bool> DataplaneClient::deletePort(const std::string& id,
                                                 const std::string& uid) const {
  dp::DeletePortRequest request;
  request.set_id(id);
  request.set_uid(uid);
  auto response = rpc_.deletePort(request);
  if (!response.ok()) return named("DeletePort", response.status());
  return response->existed();
}

absl::StatusOr<PortInfo> DataplaneClient::getPort(const std::string& id) const {
  dp::GetPortRequest request;
  request.set_id(id);
  auto response = rpc_.getPort(request);
  if (!response.ok()) return named("GetPort", response.status());
  absl::StatusOr<PortInfo> port = portInfoFromProto(response->port());
  if (!port.ok()) return named("GetPort", port.status());
  return port;
}

absl::StatusOr<std::vector<PortInfo>> DataplaneClient::listPorts(const std::string& network) const {
  dp::ListPortsRequest request;
  request.set_network(network);
  auto response = rpc_.listPorts(request);
  if (!response.ok()) return named("ListPorts", response.status());
  std::vector<PortInfo> out;
  out.reserve(response->ports_size());
  for (const dp::Port& port : response->ports()) {
    absl::StatusOr<PortInfo> info = portInfoFromProto(port);
    if (!info.ok()) return named("ListPorts", info.status());
    out.push_back(*std::move(info));
  }
  return out;
}

absl::StatusOr<Stats> DataplaneClient::getStats() const {
  auto response = rpc_.getStats(dp::GetStatsRequest());
  if (!response.ok()) return named("GetStats", response.status());
  Stats out;
  for (const dp::Port& port : response->ports()) {
    absl::StatusOr<PortInfo> info = portInfoFromProto(port);
    if (!info.ok()) return named("GetStats", info.status());
    out.ports.push_back(*std::move(info));
  }
  for (const dp::Network& network : response->networks()) {
    absl::StatusOr<NetworkInfo> info = networkInfoFromProto(network);
    if (!info.ok()) return named("GetStats", info.status());
    out.networks.push_back(*std::move(info));
  }
  for (const dp::WorkerStats& worker : response->workers()) {
    out.workers.push_back(workerInfoFromProto(worker));
  }
  return out;
}

bool isTransient(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
         absl::IsResourceExhausted(status);
}

}  // namespace enadpdk::dataplane_client
