#pragma once

// Library-side values the device plugin works with. The gRPC layer (plugin_service.h) converts
// them to and from the kubelet's v1beta1 messages, so pools and tests never touch protobuf.

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace enadpdk::deviceplugin {

// The health strings of the v1beta1 API.
inline constexpr char kHealthy[] = "Healthy";
inline constexpr char kUnhealthy[] = "Unhealthy";

// One device as ListAndWatch reports it.
struct Device {
  // Device ID, unique within its resource, at most 63 characters.
  std::string id{};
  // Whether the kubelet may allocate it (health "Healthy") or not ("Unhealthy").
  bool healthy = true;
  // NUMA node the device is attached to; none when unknown (sysfs says -1).
  std::optional<int> numaNode{};

  // Field-wise comparison, used to notice that a device list changed.
  friend bool operator==(const Device&, const Device&) = default;
};

// A host device node made available in the container.
struct DeviceNode {
  // Path on the host ("/dev/vfio/noiommu-3").
  std::string hostPath{};
  // Path in the container ("/dev/vfio/3").
  std::string containerPath{};
  // cgroup permissions, a combination of "r", "w" and "m".
  std::string permissions{};

  friend bool operator==(const DeviceNode&, const DeviceNode&) = default;
};

// A host path bind-mounted into the container.
struct Mount {
  // Path on the host.
  std::string hostPath{};
  // Path in the container.
  std::string containerPath{};
  // Whether the mount is read-only.
  bool readOnly = false;

  friend bool operator==(const Mount&, const Mount&) = default;
};

// What Allocate returns for one container.
struct ContainerAllocation {
  // Environment variables to set in the container.
  std::map<std::string, std::string> envs{};
  // Mounts to add.
  std::vector<Mount> mounts{};
  // Device nodes to add.
  std::vector<DeviceNode> devices{};
  // Annotations to pass to the container runtime.
  std::map<std::string, std::string> annotations{};
  // Fully qualified CDI device names ("dpdk.aws/ena-dedicated=0000-00-06.0").
  std::vector<std::string> cdiDevices{};
};

// One container's GetPreferredAllocation question.
struct PreferenceRequest {
  // Device IDs the kubelet may choose from.
  std::vector<std::string> available{};
  // Device IDs that must be part of the answer.
  std::vector<std::string> mustInclude{};
  // How many devices the container gets.
  std::size_t size = 0;
};

}  // namespace enadpdk::deviceplugin
