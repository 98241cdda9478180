#pragma once

// The "nodeprep" section of the node's configuration file (common/config.h): what
// ena-dpdk-nodeprep sets up on the host.
//
// The structs are plain values whose fields default to the named constants below, so that tests
// build them with designated initializers and a missing key means the default. Every field has an
// initializer (at least `{}`) so that designated initializers that leave fields out do not trip
// GCC 12's -Wmissing-field-initializers.

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "common/hugepage_size.h"
#include "common/pci.h"
#include "nlohmann/json.hpp"

namespace enadpdk::nodeprep {

inline constexpr unsigned kMaxHugepages1G = 16384;
inline constexpr unsigned kMaxHugepages2M = 8388608;
// The highest EC2 device index a "deviceIndices" entry may name (instances have at most a few
// dozen network interfaces).
inline constexpr unsigned kMaxDeviceIndex = 127;
// Where the instance metadata service answers.
inline constexpr char kDefaultImdsEndpoint[] = "http://169.254.169.254";
inline constexpr unsigned kDefaultImdsTimeoutMs = 1000;
inline constexpr unsigned kMaxImdsTimeoutMs = 60000;

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

// How nodeprep runs host commands ("hostExec").
enum class HostExec {
  // Directly ("direct").
  Direct,
  // In the host's namespaces through nsenter and the host root's /proc/1/ns ("nsenter").
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
  common::HugepageSize pageSize = common::HugepageSize::Size1G;

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
  std::string driver = common::kVfioPciDriver;

  // Field-wise comparison.
  bool operator==(const VfioConfig&) const = default;
};

// Which ENAs are bound to the DPDK driver. Every list holds unique entries. The ENIs named by
// what EC2 says about them (deviceIndices, eniIds, macs) form the allow list: when it is not
// empty, or the AWS VPC CNI is installed on the node, every selected device must be on it
// (docs/nodeprep.md, "Living beside the AWS VPC CNI").
struct BindConfig {
  // PCI addresses to bind.
  std::vector<std::string> pciAddresses{};
  // Kernel interface names whose devices to bind.
  std::vector<std::string> interfaces{};
  // EC2 device indexes (IMDS network/interfaces/macs/<mac>/device-number) of the ENIs to bind,
  // 0..kMaxDeviceIndex.
  std::vector<unsigned> deviceIndices{};
  // ENI IDs (IMDS .../interface-id, "eni-0123456789abcdef0") of the ENIs to bind.
  std::vector<std::string> eniIds{};
  // MAC addresses of the ENIs to bind, lowercase (the config may spell them in either case).
  std::vector<std::string> macs{};
  // Also bind every ENA except the primary one.
  bool allExceptPrimary = false;
  // PCI addresses or interface names bound even when they look like the primary ENI.
  std::vector<std::string> force{};

  // Field-wise comparison.
  bool operator==(const BindConfig&) const = default;
};

// Where nodeprep asks the EC2 instance metadata service (IMDSv2) about the ENIs; only asked when
// bind.deviceIndices or bind.eniIds name ENIs.
struct ImdsConfig {
  // Base URL, "http://host[:port]".
  std::string endpoint = kDefaultImdsEndpoint;
  // Timeout of each request, 1..kMaxImdsTimeoutMs milliseconds.
  unsigned timeoutMs = kDefaultImdsTimeoutMs;

  // Field-wise comparison.
  bool operator==(const ImdsConfig&) const = default;
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
  // The instance metadata service.
  ImdsConfig imds{};
  // How host commands run.
  HostExec hostExec = HostExec::Direct;

  // Field-wise comparison.
  bool operator==(const NodeprepConfig&) const = default;
};

// Parses the "nodeprep" section of a whole configuration document `root` (the sections and
// errors as common::readSection() says): InvalidArgument naming the JSON path
// ("nodeprep.hostExec: expected \"direct\" or \"nsenter\", got \"x\"").
absl::StatusOr<NodeprepConfig> parseNodeprepConfig(const nlohmann::json& root);

// common::readJsonFile() then parseNodeprepConfig(); parse errors are prefixed with the file
// path.
absl::StatusOr<NodeprepConfig> loadNodeprepConfig(const std::filesystem::path& path);

}  // namespace enadpdk::nodeprep
