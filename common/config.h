#pragma once

// The node's configuration file, /etc/ena-dpdk/config.json: one object with one section per
// component ("nodeprep", "dataplane", "deviceplugin", "ipam"). Each component parses only its own
// section (and the device plugin also the dataplane's), strictly: unknown keys, wrong types and
// out-of-range values are errors that name their JSON path.
//
// The structs are plain values whose fields default to the named constants below, so that tests
// build them with designated initializers and a missing key means the default. Every field has an
// initializer (at least `{}`) so that designated initializers that leave fields out do not trip
// GCC 12's -Wmissing-field-initializers.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/cni_records.h"
#include "nlohmann/json.hpp"

namespace enadpdk::common {

class JsonReader;

// ---------------------------------------------------------------------------------------------
// Section "dataplane": ena-dpdk-dataplane (and the device plugin, for the networks).

inline constexpr char kDefaultControlSocket[] = "/run/ena-dpdk/dataplane.sock";
inline constexpr char kDefaultStateFile[] = "/var/lib/ena-dpdk/dataplane-state.json";
inline constexpr char kDefaultDataplaneMetricsAddress[] = "127.0.0.1:9640";
// Parent of the per-attachment slot directories (`<dir>/<deviceID>/vhost.sock`).
inline constexpr char kDefaultVhostDir[] = "/var/run/ena-dpdk/vhost";
inline constexpr unsigned kMaxLcore = 1023;
inline constexpr unsigned kDefaultSocketMode = 0660;
inline constexpr unsigned kDefaultMbufs = 16384;
inline constexpr unsigned kMinMbufs = 1024;
inline constexpr unsigned kMaxMbufs = 4194304;
inline constexpr unsigned kDefaultBurstSize = 32;
inline constexpr unsigned kMaxBurstSize = 64;
inline constexpr unsigned kDefaultMacAgingSeconds = 300;
inline constexpr unsigned kMaxMacAgingSeconds = 86400;
inline constexpr unsigned kDefaultMaxPorts = 128;
// The dataplane has 256 port slots, shared by pod ports and uplinks.
inline constexpr unsigned kMaxMaxPorts = 240;
// Network names are short because they prefix device IDs (`eni1-07`).
inline constexpr std::size_t kMaxNetworkNameLength = 15;
inline constexpr unsigned kDefaultMtu = 1500;
inline constexpr unsigned kMinMtu = 68;
inline constexpr unsigned kMaxMtu = 9001;
inline constexpr unsigned kDefaultUplinkQueues = 1;
inline constexpr unsigned kMaxUplinkQueues = 32;
// Ring sizes asked of an uplink; the device's own limits clamp them further (vhostuser/uplink.h).
inline constexpr unsigned kDefaultUplinkDescriptors = 1024;
inline constexpr unsigned kMinUplinkDescriptors = 64;
inline constexpr unsigned kMaxUplinkDescriptors = 32768;

// A device argument of DPDK 22.11's ENA PMD (its PMD_INFO_STRING: "large_llq_hdr=<0|1>
// enable_llq=<0|1> miss_txc_to=<uint>"), with the values it accepts.
struct EnaDevarg {
  std::string_view name;
  unsigned min;
  unsigned max;
};
inline constexpr EnaDevarg kEnaDevargs[] = {
    // 256-byte LLQ entries for packet headers over 96 bytes (when the device supports them).
    {"large_llq_hdr", 0, 1},
    // 0 turns LLQ off: never on 6th-generation instances (a large performance loss).
    {"enable_llq", 0, 1},
    // Seconds before a TX packet without completion counts as missing (0 disables the check;
    // the PMD refuses more than 60).
    {"miss_txc_to", 0, 60},
};

// How a network forwards (see DESIGN.md, "Data path").
enum class NetworkMode {
  // AWS VPC semantics: pods share the ENI's MAC, ingress is demultiplexed by destination IP.
  Vpc,
  // A MAC-learning bridge.
  L2,
};

// The DPDK ethdev a network sends to and receives from.
struct UplinkConfig {
  // A PCI address ("0000:00:06.0", the real ENA) or a DPDK vdev string
  // ("net_af_packet0,iface=veth0").
  std::string device{};
  // RX/TX queue pairs (RSS), 1..kMaxUplinkQueues.
  unsigned queues = kDefaultUplinkQueues;
  // Descriptors per RX and per TX queue, kMinUplinkDescriptors..kMaxUplinkDescriptors.
  unsigned rxDescriptors = kDefaultUplinkDescriptors;
  unsigned txDescriptors = kDefaultUplinkDescriptors;
  // Device arguments of a PCI uplink, key -> decimal value, passed to EAL with the device's allow
  // list entry ("-a 0000:00:06.0,large_llq_hdr=1"). Keys are those of DPDK 22.11's ENA PMD
  // (kEnaDevargs); always empty for a vdev, whose device string carries its own arguments.
  std::map<std::string, std::string> devargs{};

  // Field-wise comparison.
  bool operator==(const UplinkConfig&) const = default;
};

// One network that ports attach to (an element of "networks").
struct NetworkConfig {
  // Unique name, 1..kMaxNetworkNameLength characters of [a-z0-9-]; prefixes its device IDs.
  std::string name{};
  // Forwarding mode. When the key is absent the parser picks Vpc for a network with an uplink and
  // L2 for one without; Vpc needs an uplink.
  NetworkMode mode = NetworkMode::L2;
  // The uplink; none for a node-local network.
  std::optional<UplinkConfig> uplink{};
  // MTU of the network's ports and uplink, kMinMtu..kMaxMtu.
  unsigned mtu = kDefaultMtu;
  // A unicast MAC address (lowercase) that replaces the uplink's; none keeps the uplink's.
  std::optional<std::string> mac{};

  // Field-wise comparison.
  bool operator==(const NetworkConfig&) const = default;
};

// Ownership of the vhost-user sockets the dataplane creates (ports in vhostMode "client").
struct SocketConfig {
  // "user", "user:group" or "uid:gid"; empty keeps the dataplane's own user.
  std::string owner{};
  // Permission bits, written in JSON as an octal string ("0660").
  unsigned mode = kDefaultSocketMode;

  // Field-wise comparison.
  bool operator==(const SocketConfig&) const = default;
};

// The "dataplane" section.
struct DataplaneConfig {
  // DPDK EAL arguments, passed as given.
  std::vector<std::string> eal{};
  // Lcores that run one poll-mode worker each, 0..kMaxLcore, no duplicates; empty leaves the
  // choice to the dataplane.
  std::vector<unsigned> workers{};
  // Absolute path of the gRPC control socket.
  std::string controlSocket = kDefaultControlSocket;
  // Absolute path of the persisted port table.
  std::string stateFile = kDefaultStateFile;
  // Absolute state directory of ena-dpdk-cni (its "stateDir"): at start the dataplane finishes
  // the pending port deletes recorded there for its controlSocket (common/cni_records.h).
  std::string cniStateDir = kDefaultCniStateDir;
  // host:port of the Prometheus endpoint.
  std::string metricsAddress = kDefaultDataplaneMetricsAddress;
  // Absolute directories that vhost-user socket paths must be inside.
  std::vector<std::string> allowedSocketDirs = {kDefaultVhostDir};
  // Ownership of the sockets the dataplane creates.
  SocketConfig socket{};
  // Packet buffers in the mbuf pool, kMinMbufs..kMaxMbufs.
  unsigned mbufs = kDefaultMbufs;
  // Packets per RX/TX burst, 1..kMaxBurstSize.
  unsigned burstSize = kDefaultBurstSize;
  // Seconds before an idle learned MAC leaves an l2 network's table, 1..kMaxMacAgingSeconds.
  unsigned macAgingSeconds = kDefaultMacAgingSeconds;
  // Pod (vhost-user) ports the dataplane accepts, 1..kMaxMaxPorts; AddPort beyond it is refused.
  unsigned maxPorts = kDefaultMaxPorts;
  // The networks, with unique names and unique uplink devices.
  std::vector<NetworkConfig> networks{};

  // Field-wise comparison.
  bool operator==(const DataplaneConfig&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Section "deviceplugin": ena-dpdk-deviceplugin.

inline constexpr char kDefaultResourcePrefix[] = "dpdk.aws";
inline constexpr unsigned kDefaultSlotsPerNetwork = 32;
// Device IDs number slots with two digits (`eni1-07`).
inline constexpr unsigned kMaxSlotsPerNetwork = 99;
inline constexpr char kDefaultVhostContainerPath[] = "/var/run/vhost-user";
// Largest slot group (deviceplugin.ena.slotGroup, the CNI's "slotGroup"): larger gids are
// negative as a signed 32-bit id, which some tools and runtimes use; (gid_t)-1 means "unchanged".
inline constexpr unsigned kMaxSlotGroup = 2147483647;
inline constexpr char kEnaVendorId[] = "1d0f";
// The ENA virtual functions EC2 instances expose (without and with LLQ).
inline constexpr char kEnaVfDeviceId[] = "ec20";
inline constexpr char kEnaVfLlqDeviceId[] = "ec21";
// The kernel drivers through which DPDK drives a PCI device.
inline constexpr char kVfioPciDriver[] = "vfio-pci";
inline constexpr char kIgbUioDriver[] = "igb_uio";
inline constexpr char kUioPciGenericDriver[] = "uio_pci_generic";
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
  std::string dir = kDefaultVhostDir;
  // Absolute container path each slot directory is mounted under.
  std::string containerPath = kDefaultVhostContainerPath;
  // Group of the slot directories, 1..kMaxSlotGroup: each is made root:<slotGroup> mode 02770
  // so that pods with this gid (fsGroup) enter it; none: root:root mode 0770.
  std::optional<unsigned> slotGroup{};

  // Field-wise comparison.
  bool operator==(const EnaResourceConfig&) const = default;
};

// The `<prefix>/ena-dedicated` resource: whole DPDK-bound ENAs. Every list holds unique entries.
struct EnaDedicatedResourceConfig {
  // PCI vendor IDs (4 lowercase hex digits) a device must have.
  std::vector<std::string> vendors = {kEnaVendorId};
  // PCI device IDs (4 lowercase hex digits) a device must have.
  std::vector<std::string> devices = {kEnaVfDeviceId, kEnaVfLlqDeviceId};
  // DPDK drivers (kVfioPciDriver, kIgbUioDriver, kUioPciGenericDriver) a device must be bound to.
  std::vector<std::string> drivers = {kVfioPciDriver, kIgbUioDriver, kUioPciGenericDriver};
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

// ---------------------------------------------------------------------------------------------
// Section "nodeprep": ena-dpdk-nodeprep.

inline constexpr unsigned kMaxHugepages1G = 16384;
inline constexpr unsigned kMaxHugepages2M = 8388608;

// When hugepages are also reserved on the kernel command line ("persist").
enum class PersistMode {
  // Only when the runtime reservation got fewer pages than asked.
  Auto,
  // Always.
  Always,
  // Never.
  Never,
};

// When vfio's no-IOMMU mode is enabled ("noiommu").
enum class NoIommuMode {
  // When the host has no IOMMU groups.
  Auto,
  // Always.
  Always,
  // Never.
  Never,
};

// Whether vfio-pci works through the host's IOMMU ("iommu"; docs/nodeprep.md, "IOMMU").
enum class IommuMode {
  // Use the IOMMU where the instance has one: when the kernel has not enabled Intel VT-d hardware
  // (an ACPI DMAR table without IOMMU groups), put the IOMMU kernel arguments on the command line
  // and require a reboot; without IOMMU hardware, no-IOMMU mode as "noiommu" says.
  Auto,
  // Never turn an IOMMU on: no-IOMMU mode as "noiommu" says (nodeprep before this key).
  NoIommu,
  // The kernel must have an IOMMU enabled; nodeprep fails before writing anything otherwise.
  Required,
};

// A hugepage size ("2M" or "1G").
enum class HugepageSize {
  Size2M,
  Size1G,
};

// How nodeprep runs host commands ("hostExec").
enum class HostExec {
  // Directly ("direct").
  Direct,
  // In the host's namespaces through `nsenter -t 1 -m -u -i -n -p` ("nsenter").
  Nsenter,
};

// Hugepages to reserve.
struct HugepagesConfig {
  // 1G pages ("1G"), 0..kMaxHugepages1G.
  unsigned pages1G = 0;
  // 2M pages ("2M"), 0..kMaxHugepages2M.
  unsigned pages2M = 0;
  // True: the counts are per NUMA node; false: for the whole node.
  bool perNumaNode = false;
  // When to add the reservation to the kernel command line.
  PersistMode persist = PersistMode::Auto;

  // Field-wise comparison.
  bool operator==(const HugepagesConfig&) const = default;
};

// One hugetlbfs mount (an element of "mounts").
struct HugetlbfsMount {
  // Absolute mount point; unique among the mounts.
  std::string path{};
  // Page size of the mount ("pageSize").
  HugepageSize pageSize = HugepageSize::Size1G;

  // Field-wise comparison.
  bool operator==(const HugetlbfsMount&) const = default;
};

// The vfio setup.
struct VfioConfig {
  // Whether to use (and turn on) the host's IOMMU. "required" excludes noiommu "always" and a
  // driver other than kVfioPciDriver.
  IommuMode iommu = IommuMode::Auto;
  // When to enable no-IOMMU mode.
  NoIommuMode noiommu = NoIommuMode::Auto;
  // Driver the selected ENAs are bound to: kVfioPciDriver, kIgbUioDriver or kUioPciGenericDriver.
  std::string driver = kVfioPciDriver;

  // Field-wise comparison.
  bool operator==(const VfioConfig&) const = default;
};

// Which ENAs are bound to the DPDK driver. Every list holds unique entries.
struct BindConfig {
  // PCI addresses to bind.
  std::vector<std::string> pciAddresses{};
  // Kernel interface names whose devices to bind.
  std::vector<std::string> interfaces{};
  // Also bind every ENA except the primary one.
  bool allExceptPrimary = false;
  // PCI addresses or interface names bound even when they look like the primary ENI.
  std::vector<std::string> force{};

  // Field-wise comparison.
  bool operator==(const BindConfig&) const = default;
};

// The "nodeprep" section.
struct NodeprepConfig {
  // Hugepages to reserve.
  HugepagesConfig hugepages{};
  // hugetlbfs mounts to create.
  std::vector<HugetlbfsMount> mounts{};
  // The vfio setup.
  VfioConfig vfio{};
  // The devices to bind.
  BindConfig bind{};
  // How host commands run.
  HostExec hostExec = HostExec::Direct;

  // Field-wise comparison.
  bool operator==(const NodeprepConfig&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Loading.

// Reads and parses a JSON document whose top level is an object. Errors start with `path`:
// "<path>: cannot read: No such file or directory" (NotFound and other errno codes),
// "<path>: invalid JSON: parse error at line 3, column 1: ..." and
// "<path>: expected a JSON object at the top level" (InvalidArgument).
absl::StatusOr<nlohmann::json> readJsonFile(const std::filesystem::path& path);

// Parse one section of a whole configuration document `root`. The top level must be an object
// whose keys are section names ("foo: unknown section" otherwise); other sections are not
// validated. A missing section gives the defaults. Errors are InvalidArgument and name the JSON
// path ("dataplane.networks[1].mode: expected \"vpc\" or \"l2\", got \"x\"").
absl::StatusOr<DataplaneConfig> parseDataplaneConfig(const nlohmann::json& root);
absl::StatusOr<DevicepluginConfig> parseDevicepluginConfig(const nlohmann::json& root);
absl::StatusOr<NodeprepConfig> parseNodeprepConfig(const nlohmann::json& root);

// Parses section `name` of a whole configuration document `root` with `parse`, for a component
// that parses its own section (ena-dpdk-ipam, ipam/node_config.h): checks the top level as the
// functions above do, calls `parse` with a reader on the section unless it is missing, and
// returns the reader's first error, bounded in length.
absl::Status parseConfigSection(const nlohmann::json& root, std::string_view name,
                                const std::function<void(JsonReader&)>& parse);

// readJsonFile() then the matching parse function; parse errors are prefixed with the file path
// ("/etc/ena-dpdk/config.json: dataplane.networks[1].mode: ...").
absl::StatusOr<DataplaneConfig> loadDataplaneConfig(const std::filesystem::path& path);
absl::StatusOr<DevicepluginConfig> loadDevicepluginConfig(const std::filesystem::path& path);
absl::StatusOr<NodeprepConfig> loadNodeprepConfig(const std::filesystem::path& path);

// ---------------------------------------------------------------------------------------------
// Validation helpers shared with the components.

// True for a network name: 1..kMaxNetworkNameLength characters of [a-z0-9-].
bool isNetworkName(std::string_view text);
// True for an IPv4 or IPv6 address without prefix length ("10.0.0.5", "fd00::1").
bool isIpAddress(std::string_view text);
// True for an address with a prefix length valid for its family ("10.0.0.0/24", "fd00::/64").
bool isCidr(std::string_view text);
// True for a MAC address of six colon-separated hex pairs, in either case ("02:00:5e:00:53:01").
bool isMacAddress(std::string_view text);

}  // namespace enadpdk::common
