#include "deviceplugin/plugin_service.h"

#include <grpcpp/grpcpp.h>

#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/strings.h"

namespace enadpdk::deviceplugin {
namespace {

// How often a waiting ListAndWatch checks whether its client went away.
constexpr std::chrono::milliseconds kCancelCheck{500};

v1beta1::ListAndWatchResponse toProto(const std::vector<Device>& devices) {
  v1beta1::ListAndWatchResponse response;
  for (const Device& device : devices) {
    v1beta1::Device* out = response.add_devices();
    out->set_id(device.id);
    out->set_health(device.healthy ? kHealthy : kUnhealthy);
    if (device.numaNode) out->mutable_topology()->add_nodes()->set_id(*device.numaNode);
  }
  return response;
}

void toProto(const ContainerAllocation& allocation, v1beta1::ContainerAllocateResponse* out) {
  for (const auto& [key, value] : allocation.envs) (*out->mutable_envs())[key] = value;
  for (const Mount& mount : allocation.mounts) {
    v1beta1::Mount* m = out->add_mounts();
    m->set_container_path(mount.containerPath);
    m->set_host_path(mount.hostPath);
    m->set_read_only(mount.readOnly);
  }
  for (const DeviceNode& node : allocation.devices) {
    v1beta1::DeviceSpec* d = out->add_devices();
    d->set_container_path(node.containerPath);
    d->set_host_path(node.hostPath);
    d->set_permissions(node.permissions);
  }
  for (const auto& [key, value] : allocation.annotations) {
    (*out->mutable_annotations())[key] = value;
  }
  for (const std::string& name : allocation.cdiDevices) out->add_cdi_devices()->set_name(name);
}

std::string joined(const google::protobuf::RepeatedPtrField<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) out += out.empty() ? id : common::strCat(",", id);
  return out;
}

}  // namespace

PluginService::PluginService(std::shared_ptr<ResourcePool> pool,
                             std::shared_ptr<PluginMetrics> metrics,
                             std::shared_ptr<spdlog::logger> logger)
    : pool_(std::move(pool)), metrics_(std::move(metrics)), logger_(std::move(logger)) {}

void PluginService::stop() {
  stopping_ = true;
  pool_->wake();
}

grpc::Status PluginService::GetDevicePluginOptions(grpc::ServerContext*, const v1beta1::Empty*,
                                                   v1beta1::DevicePluginOptions* response) {
  response->set_pre_start_required(false);
  response->set_get_preferred_allocation_available(true);
  return grpc::Status::OK;
}

grpc::Status PluginService::ListAndWatch(
    grpc::ServerContext* context, const v1beta1::Empty*,
    grpc::ServerWriter<v1beta1::ListAndWatchResponse>* writer) {
  logger_->info("ListAndWatch opened resource={}", pool_->resourceName());
  ResourcePool::Snapshot current = pool_->snapshot();
  if (!writer->Write(toProto(current.devices))) return grpc::Status::OK;
  while (!stopping_ && !context->IsCancelled()) {
    if (!pool_->waitForChange(current.version, stopping_, kCancelCheck)) continue;
    current = pool_->snapshot();
    if (!writer->Write(toProto(current.devices))) break;
  }
  logger_->info("ListAndWatch closed resource={}", pool_->resourceName());
  return grpc::Status::OK;
}

grpc::Status PluginService::GetPreferredAllocation(
    grpc::ServerContext*, const v1beta1::PreferredAllocationRequest* request,
    v1beta1::PreferredAllocationResponse* response) {
  for (const v1beta1::ContainerPreferredAllocationRequest& container :
       request->container_requests()) {
    if (container.allocation_size() < 0) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "allocation_size: must not be negative");
    }
    PreferenceRequest question{.available = {container.available_deviceids().begin(),
                                             container.available_deviceids().end()},
                               .mustInclude = {container.must_include_deviceids().begin(),
                                               container.must_include_deviceids().end()},
                               .size = static_cast<std::size_t>(container.allocation_size())};
    std::vector<std::string> chosen = pool_->preferredAllocation(question);
    v1beta1::ContainerPreferredAllocationResponse* answer = response->add_container_responses();
    for (const std::string& id : chosen) answer->add_deviceids(id);
  }
  return grpc::Status::OK;
}

grpc::Status PluginService::Allocate(grpc::ServerContext*, const v1beta1::AllocateRequest* request,
                                     v1beta1::AllocateResponse* response) {
  for (const v1beta1::ContainerAllocateRequest& container : request->container_requests()) {
    std::vector<std::string> ids(container.devices_ids().begin(), container.devices_ids().end());
    absl::StatusOr<ContainerAllocation> allocation = pool_->allocate(ids);
    metrics_->countAllocation(pool_->resourceName(), allocation.ok());
    if (!allocation.ok()) {
      logger_->error("Allocate failed resource={} devices={} error={}", pool_->resourceName(),
                     joined(container.devices_ids()),
                     common::logValue(common::toStd(allocation.status().message())));
      return common::toGrpcStatus(allocation.status());
    }
    logger_->info("Allocate resource={} devices={}", pool_->resourceName(),
                  joined(container.devices_ids()));
    toProto(*allocation, response->add_container_responses());
  }
  return grpc::Status::OK;
}

grpc::Status PluginService::PreStartContainer(grpc::ServerContext*,
                                              const v1beta1::PreStartContainerRequest*,
                                              v1beta1::PreStartContainerResponse*) {
  // Not required (pre_start_required is false), but answered for kubelets that call it anyway.
  return grpc::Status::OK;
}

}  // namespace enadpdk::deviceplugin
