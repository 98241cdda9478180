#include "deviceplugin/kubelet_client.h"

#include <grpcpp/grpcpp.h>

#include "common/strings.h"
#include "common/unix_socket.h"
#include "deviceplugin/plugin_config.h"
#include "deviceplugin/v1beta1/api.grpc.pb.h"
#include "podresources/v1/api.grpc.pb.h"

namespace enadpdk::deviceplugin {
namespace {

absl::Status fromGrpc(const grpc::Status& status, std::string_view what) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      common::strCat(what, ": ", status.error_message()));
}

}  // namespace

absl::Status registerWithKubelet(const std::filesystem::path& kubeletSocket,
                                 const RegistrationRequest& request,
                                 std::chrono::milliseconds timeout) {
  auto channel = grpc::CreateChannel(common::grpcUnixTarget(kubeletSocket),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1beta1::Registration::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  v1beta1::RegisterRequest message;
  message.set_version(kDevicePluginApiVersion);
  message.set_endpoint(request.endpoint);
  message.set_resource_name(request.resourceName);
  message.mutable_options()->set_pre_start_required(false);
  message.mutable_options()->set_get_preferred_allocation_available(
      request.preferredAllocationAvailable);
  v1beta1::Empty reply;
  grpc::Status status = stub->Register(&context, message, &reply);
  if (!status.ok()) {
    return fromGrpc(status, common::strCat("registering ", request.resourceName, " at ",
                                           kubeletSocket.string()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::set<std::string>> listHeldDevices(const std::filesystem::path& socket,
                                                      const std::string& resourceName,
                                                      std::chrono::milliseconds timeout) {
  auto channel =
      grpc::CreateChannel(common::grpcUnixTarget(socket), grpc::InsecureChannelCredentials());
  auto stub = v1::PodResourcesLister::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  v1::ListPodResourcesRequest request;
  v1::ListPodResourcesResponse response;
  grpc::Status status = stub->List(&context, request, &response);
  if (!status.ok()) {
    return fromGrpc(status, common::strCat("listing pod resources at ", socket.string()));
  }
  std::set<std::string> held;
  for (const v1::PodResources& pod : response.pod_resources()) {
    for (const v1::ContainerResources& container : pod.containers()) {
      for (const v1::ContainerDevices& devices : container.devices()) {
        if (devices.resource_name() != resourceName) continue;
        held.insert(devices.device_ids().begin(), devices.device_ids().end());
      }
    }
  }
  return held;
}

}  // namespace enadpdk::deviceplugin
