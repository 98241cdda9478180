#pragma once

#include <atomic>
#include <memory>

#include <spdlog/logger.h>

#include "deviceplugin/plugin_metrics.h"
#include "deviceplugin/resource_pool.h"
#include "deviceplugin/v1beta1/api.grpc.pb.h"

namespace grpc {
class Status;
}

namespace enadpdk::deviceplugin {

// The v1beta1.DevicePlugin service of one resource: a thin translation layer between the
// kubelet's messages and a ResourcePool. It knows nothing but its pool.
//
// ListAndWatch sends the full device list at once and again after every change, until the client
// goes away or stop() is called. Allocate serves one container request per call, as the kubelet
// sends them (every request in the call is answered, in order). Thread-safe.
class PluginService final : public v1beta1::DevicePlugin::Service {
 public:
  // `pool`, `metrics` and `logger` are shared with the plugin manager.
  PluginService(std::shared_ptr<ResourcePool> pool, std::shared_ptr<PluginMetrics> metrics,
                std::shared_ptr<spdlog::logger> logger);

  // Ends every ListAndWatch stream promptly (their RPCs return OK) and makes new ones return at
  // once. Call before shutting the server down.
  void stop();

  // pre_start_required false, get_preferred_allocation_available true.
  grpc::Status GetDevicePluginOptions(grpc::ServerContext* context, const v1beta1::Empty* request,
                                      v1beta1::DevicePluginOptions* response) override;
  // The full device list now and after every change of the pool.
  grpc::Status ListAndWatch(grpc::ServerContext* context, const v1beta1::Empty* request,
                            grpc::ServerWriter<v1beta1::ListAndWatchResponse>* writer) override;
  // ResourcePool::preferredAllocation() per container request.
  grpc::Status GetPreferredAllocation(grpc::ServerContext* context,
                                      const v1beta1::PreferredAllocationRequest* request,
                                      v1beta1::PreferredAllocationResponse* response) override;
  // ResourcePool::allocate() per container request; the first failure fails the call with its
  // status code.
  grpc::Status Allocate(grpc::ServerContext* context, const v1beta1::AllocateRequest* request,
                        v1beta1::AllocateResponse* response) override;
  // Succeeds without doing anything.
  grpc::Status PreStartContainer(grpc::ServerContext* context,
                                 const v1beta1::PreStartContainerRequest* request,
                                 v1beta1::PreStartContainerResponse* response) override;

 private:
  const std::shared_ptr<ResourcePool> pool_;
  const std::shared_ptr<PluginMetrics> metrics_;
  const std::shared_ptr<spdlog::logger> logger_;
  std::atomic<bool> stopping_{false};
};

}  // namespace enadpdk::deviceplugin
