#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "nlohmann/json.hpp"

namespace enadpdk::deviceplugin {

// The resources, by their name without prefix.
inline constexpr char kEnaResource[] = "ena";
inline constexpr char kEnaDedicatedResource[] = "ena-dedicated";
inline constexpr char kEnaUplinkResource[] = "ena-uplink";
inline constexpr char kHugepagesResource[] = "hugepages-1Gi";
inline constexpr char kHugepages2MiResource[] = "hugepages-2Mi";

// Kubelet paths (host paths, mapped under --root).
inline constexpr char kDevicePluginDir[] = "/var/lib/kubelet/device-plugins";
inline constexpr char kKubeletSocketName[] = "kubelet.sock";
inline constexpr char kPodResourcesSocket[] = "/var/lib/kubelet/pod-resources/kubelet.sock";
// Where device plugins leave NPWG device-info files for the CNI.
inline constexpr char kDeviceInfoDir[] = "/var/run/k8s.cni.cncf.io/devinfo/dp";
// The device-plugin API version the plugin registers with.
inline constexpr char kDevicePluginApiVersion[] = "v1beta1";

// What the device plugin reads from the shared configuration file: its own section and the
// dataplane's (for the networks and the control socket).
struct PluginConfig {
  // The "deviceplugin" section.
  common::DevicepluginConfig deviceplugin{};
  // The "dataplane" section.
  common::DataplaneConfig dataplane{};

  friend bool operator==(const PluginConfig&, const PluginConfig&) = default;
};

// Parses both sections of a configuration document and checks the rules that span them: no PCI
// address is both a dataplane uplink and listed in enaDedicated.pciAddresses (a device belongs
// to one resource), the directories the plugin manages (ena.dir, hugepages.mountDir and
// hugepages2Mi.mountDir when enabled, cdi.specDir when enabled) neither coincide nor nest, and the
// two hugepage resources (when both are enabled) have different container paths. InvalidArgument
// naming the JSON path otherwise.
absl::StatusOr<PluginConfig> parsePluginConfig(const nlohmann::json& root);

// Reads `path` and parses it with parsePluginConfig(); errors start with the path.
absl::StatusOr<PluginConfig> loadPluginConfig(const std::filesystem::path& path);

// The socket file name of a resource in the device-plugin directory ("ena-dpdk-ena.sock").
std::string socketFileName(std::string_view resource);

// The PCI addresses the dataplane networks use as uplinks.
std::set<std::string> uplinkPciAddresses(const common::DataplaneConfig& dataplane);

// A dataplane network that gets dpdk.aws/ena attachments: one with an uplink.
struct AttachmentNetwork {
  // The network name, prefix of its device IDs.
  std::string name{};
  // The uplink device: a PCI address or a DPDK vdev string.
  std::string uplink{};

  friend bool operator==(const AttachmentNetwork&, const AttachmentNetwork&) = default;
};

// The networks with an uplink, in config order.
std::vector<AttachmentNetwork> attachmentNetworks(const common::DataplaneConfig& dataplane);

}  // namespace enadpdk::deviceplugin
