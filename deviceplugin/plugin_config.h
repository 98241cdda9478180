#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "common/pci.h"
#include "nlohmann/json.hpp"
#include "vhostuser/dataplane_config.h"

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

// ---------------------------------------------------------------------------------------------
// Section "deviceplugin" of the node's configuration file (common/config.h). The structs are plain
// values whose fields default to the named constants below; every field has an initializer.

inline constexpr char kDefaultResourcePrefix[] = "dpdk.aws";
inline constexpr unsigned kDefaultSlotsPerNetwork = 32;
// Device IDs number slots with two digits (`eni1-07`).
inline constexpr unsigned kMaxSlotsPerNetwork = 99;
inline constexpr char kDefaultHugepagesMountDir[] = "/var/run/ena-dpdk/hugepages";
inline constexpr char kDefaultHugepagesContainerPath[] = "/dev/hugepages-1Gi";
inline constexpr char kDefaultHugepages2MiMountDir[] = "/var/run/ena-dpdk/hugepages-2Mi";
inline constexpr char kDefaultHugepages2MiContainerPath[] = "/dev/hugepages-2Mi";
// The cgroup (relative to the hugetlb hierarchy's root) under which each hugepage allocation
// gets its own charge cgroup, outside the kubelet's kubepods tree.
inline constexpr char kDefaultHugepagesChargeCgroup[] = "/ena-dpdk/hugepages";
// Where the node's cgroup file systems are mounted.
inline constexpr char kDefaultCgroupFs[] = "/sys/fs/cgroup";
inline constexpr char kDefaultCdiSpecDir[] = "/var/run/cdi";
inline constexpr char kDefaultDevicepluginMetricsAddress[] = "127.0.0.1:9641";

// The `<prefix>/ena` resource: attachments to the dataplane's networks.
struct EnaResourceConfig {
  // Devices per network with an uplink, 1..kMaxSlotsPerNetwork.
  unsigned slotsPerNetwork = kDefaultSlotsPerNetwork;
  // Absolute host directory holding one slot directory per device ID.
  std::string dir = common::kDefaultVhostDir;
  // Absolute container path each slot directory is mounted under.
  std::string containerPath = common::kDefaultVhostContainerPath;
  // Group of the slot directories, 1..common::kMaxSlotGroup: each is made root:<slotGroup> mode
  // 02770 so that pods with this gid (fsGroup) enter it; none: root:root mode 0770.
  std::optional<unsigned> slotGroup{};
  // Networks offered as a resource of their own instead of in `<prefix>/ena`: dataplane network
  // name (one with an uplink) → resource name without prefix ("eni1" → "ena-eni1", offered as
  // `<prefix>/ena-eni1`), so that a pod can choose its network. Resource names are unique,
  // isResourceName(), and not one of the built-in resources.
  std::map<std::string, std::string> networkResources{};

  // Field-wise comparison.
  bool operator==(const EnaResourceConfig&) const = default;
};

// The `<prefix>/ena-dedicated` resource: whole DPDK-bound ENAs. Every list holds unique entries.
struct EnaDedicatedResourceConfig {
  // PCI vendor IDs (4 lowercase hex digits) a device must have.
  std::vector<std::string> vendors = {common::kEnaVendorId};
  // PCI device IDs (4 lowercase hex digits) a device must have.
  std::vector<std::string> devices = {common::kEnaVfDeviceId, common::kEnaVfLlqDeviceId};
  // DPDK drivers (kVfioPciDriver, kIgbUioDriver, kUioPciGenericDriver) a device must be bound to.
  std::vector<std::string> drivers = {common::kVfioPciDriver, common::kIgbUioDriver,
                                      common::kUioPciGenericDriver};
  // When not empty, only these PCI addresses are offered.
  std::vector<std::string> pciAddresses{};
  // PCI addresses never offered; none may also be in pciAddresses.
  std::vector<std::string> exclude{};

  // Field-wise comparison.
  bool operator==(const EnaDedicatedResourceConfig&) const = default;
};

// The `<prefix>/hugepages-1Gi` resource (and, with other defaults, `<prefix>/hugepages-2Mi`).
struct HugepagesResourceConfig {
  // Whether the resource is offered.
  bool enabled = true;
  // Absolute host directory under which each allocation's hugetlbfs is mounted.
  std::string mountDir = kDefaultHugepagesMountDir;
  // Absolute container path the allocation's hugetlbfs is mounted at.
  std::string containerPath = kDefaultHugepagesContainerPath;
  // Cgroup path relative to the hugetlb hierarchy's root ("/ena-dpdk/hugepages"): the pages of
  // each allocation are charged to its child cgroup <chargeCgroup>/<allocation ID>. Starts with
  // '/', has no empty, "." or ".." component and is not under /kubepods*.
  std::string chargeCgroup = kDefaultHugepagesChargeCgroup;

  // Field-wise comparison.
  bool operator==(const HugepagesResourceConfig&) const = default;
};

// Container Device Interface specs for dedicated devices.
struct CdiConfig {
  // Whether Allocate writes CDI specs and returns CDI devices.
  bool enabled = false;
  // Absolute directory the specs are written to.
  std::string specDir = kDefaultCdiSpecDir;

  // Field-wise comparison.
  bool operator==(const CdiConfig&) const = default;
};

// The "deviceplugin" section.
struct DevicepluginConfig {
  // Domain of the resource names (`<prefix>/ena`), a lowercase DNS subdomain.
  std::string resourcePrefix = kDefaultResourcePrefix;
  // The attachment resource.
  EnaResourceConfig ena{};
  // The dedicated-ENA resource.
  EnaDedicatedResourceConfig enaDedicated{};
  // The 1G hugepage resource.
  HugepagesResourceConfig hugepages{};
  // The 2M hugepage resource (off by default).
  HugepagesResourceConfig hugepages2Mi{.enabled = false,
                                       .mountDir = kDefaultHugepages2MiMountDir,
                                       .containerPath = kDefaultHugepages2MiContainerPath};
  // Absolute path (on the host) where the cgroup file systems are mounted; the hugetlb hierarchy
  // is found there (cgroup v2, the "unified" mount of a hybrid setup, or v1's "hugetlb").
  std::string cgroupFs = kDefaultCgroupFs;
  // CDI support.
  CdiConfig cdi{};
  // host:port of the Prometheus endpoint.
  std::string metricsAddress = kDefaultDevicepluginMetricsAddress;

  // Field-wise comparison.
  bool operator==(const DevicepluginConfig&) const = default;
};

// Parses the "deviceplugin" section of a whole configuration document `root` (the sections and
// errors as common::readSection() says), without the rules that span sections.
absl::StatusOr<DevicepluginConfig> parseDevicepluginConfig(const nlohmann::json& root);

// common::readJsonFile() then parseDevicepluginConfig(); parse errors start with the path.
absl::StatusOr<DevicepluginConfig> loadDevicepluginConfig(const std::filesystem::path& path);

// ---------------------------------------------------------------------------------------------
// What the device plugin reads from the shared configuration file: its own section and the
// dataplane's (for the networks and the control socket).
struct PluginConfig {
  // The "deviceplugin" section.
  DevicepluginConfig deviceplugin{};
  // The "dataplane" section.
  vhostuser::DataplaneConfig dataplane{};

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

// Longest resource name (without prefix) a network resource may have: the socket file name
// ("ena-dpdk-<name>.sock") and the NetworkAttachmentDefinition names derived from it stay short.
inline constexpr std::size_t kMaxResourceNameLength = 50;

// True for a resource name without prefix that a network may be given: lowercase letters, digits
// and '-', starting and ending with a letter or digit, at most kMaxResourceNameLength characters.
bool isResourceName(std::string_view text);

// The socket file name of a resource in the device-plugin directory ("ena-dpdk-ena.sock").
std::string socketFileName(std::string_view resource);

// The PCI addresses the dataplane networks use as uplinks.
std::set<std::string> uplinkPciAddresses(const vhostuser::DataplaneConfig& dataplane);

// A dataplane network that gets dpdk.aws/ena attachments: one with an uplink.
struct AttachmentNetwork {
  // The network name, prefix of its device IDs.
  std::string name{};
  // The uplink device: a PCI address or a DPDK vdev string.
  std::string uplink{};

  friend bool operator==(const AttachmentNetwork&, const AttachmentNetwork&) = default;
};

// The networks with an uplink, in config order.
std::vector<AttachmentNetwork> attachmentNetworks(const vhostuser::DataplaneConfig& dataplane);

// The attachment resources a configuration asks for, by resource name without prefix: kEnaResource
// with the networks that have no resource of their own (it exists even when that leaves it
// empty), and one resource per entry of deviceplugin.ena.networkResources with its network.
std::map<std::string, std::vector<AttachmentNetwork>> attachmentResources(
    const PluginConfig& config);

}  // namespace enadpdk::deviceplugin
