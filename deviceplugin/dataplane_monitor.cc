#include "deviceplugin/dataplane_monitor.h"

#include <grpcpp/grpcpp.h>

#include "common/unix_socket.h"
#include "enadpdk/dataplane/v1/dataplane.grpc.pb.h"

namespace enadpdk::deviceplugin {

namespace dpv1 = ::enadpdk::dataplane::v1;

DataplaneMonitor::DataplaneMonitor(const std::filesystem::path& socket,
                                   std::chrono::milliseconds timeout)
    : socket_(socket), timeout_(timeout) {
  grpc::ChannelArguments args;
  // gRPC's default reconnection backoff grows to two minutes; a restarted dataplane must be seen
  // again within a second.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  channel_ = grpc::CreateCustomChannel(common::grpcUnixTarget(socket_),
                                       grpc::InsecureChannelCredentials(), args);
}

DataplaneMonitor::~DataplaneMonitor() = default;

std::optional<std::map<std::string, bool>> DataplaneMonitor::networksUp() {
  auto stub = dpv1::Dataplane::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout_);
  dpv1::ListNetworksRequest request;
  dpv1::ListNetworksResponse response;
  if (!stub->ListNetworks(&context, request, &response).ok()) return std::nullopt;
  std::map<std::string, bool> up;
  for (const dpv1::Network& network : response.networks()) up[network.name()] = network.up();
  return up;
}

}  // namespace enadpdk::deviceplugin
