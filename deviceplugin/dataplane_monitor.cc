#include "deviceplugin/dataplane_monitor.h"

namespace enadpdk::deviceplugin {

DataplaneMonitor::DataplaneMonitor(const std::filesystem::path& socket,
                                   std::chrono::milliseconds timeout)
    : socket_(socket),
      timeout_(timeout),
      // gRPC's default reconnection backoff grows to two minutes; a restarted dataplane must be
      // seen again within a second.
      client_(dataplane_client::DataplaneClient::forSocket(socket_, timeout_, /*logger=*/nullptr,
                                                           {.fast_reconnect = true})) {}

DataplaneMonitor::~DataplaneMonitor() = default;

absl::StatusOr<std::map<std::string, bool>> DataplaneMonitor::networksUp() {
  auto networks = client_.listNetworks();
  if (!networks.ok()) return networks.status();
  std::map<std::string, bool> up;
  for (const dataplane_client::NetworkInfo& network : *networks) up[network.name] = network.up;
  return up;
}

}  // namespace enadpdk::deviceplugin
