#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/host_root.h"
#include "common/hugepage_size.h"
#include "common/pci.h"

namespace enadpdk::deviceplugin {

// Free hugepages of one size on one NUMA node.
struct HugepageNode {
  // The NUMA node; none on a kernel without NUMA nodes in sysfs (then the node-wide count).
  std::optional<int> node{};
  // free_hugepages of the size.
  unsigned freePages = 0;

  friend bool operator==(const HugepageNode&, const HugepageNode&) = default;
};

// What a network's addresses allow, as the device plugin last learnt it from the network's IPAM
// (ipam::Ipam::capacity()) and the kubelet (PodResources).
struct NetworkAddresses {
  // Leases the IPAM can still make.
  std::uint64_t freeLeases = 0;
  // Leases the IPAM holds.
  std::uint64_t leases = 0;
  // The network's attachment IDs that pods hold; none when the kubelet could not say.
  std::optional<std::set<std::string>> held{};

  friend bool operator==(const NetworkAddresses&, const NetworkAddresses&) = default;
};

// Everything the resource pools derive their device lists from, gathered in one pass by the
// health loop and handed to every pool. A plain value.
struct HostState {
  // Every PCI device in sysfs, sorted by address.
  std::vector<common::PciDevice> pciDevices{};
  // Free 1G hugepages per NUMA node, by node.
  std::vector<HugepageNode> hugepages{};
  // Free 2M hugepages per NUMA node, by node.
  std::vector<HugepageNode> hugepages2M{};
  // PCI addresses the dataplane config uses as uplinks (never dedicated devices).
  std::set<std::string> uplinkPciAddresses{};
  // Whether each dataplane network is up, by name, as the dataplane reports it; none when the
  // dataplane is not reachable (its view is then unknown and does not count).
  std::optional<std::map<std::string, bool>> dataplaneNetworksUp{};
  // The address view of each network whose IPAM source the config names (ipam.networks); a
  // network without an entry is not limited by addresses.
  std::map<std::string, NetworkAddresses> networkAddresses{};
  // Why dataplaneNetworksUp is none: the dataplane call's error (OK when it answered, or when it
  // was not asked).
  absl::Status dataplaneError{};

  // The PCI device at `address`, or nullptr.
  const common::PciDevice* findPciDevice(std::string_view address) const;
  // The free hugepages of `size` per NUMA node (hugepages or hugepages2M).
  const std::vector<HugepageNode>& hugepageNodes(common::HugepageSize size) const;
};

// Reads the PCI devices and the free 1G and 2M hugepages per NUMA node
// (/sys/devices/system/node/node<N>/hugepages/hugepages-1048576kB/free_hugepages, or
// /sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages without NUMA nodes; a missing file
// means no pages of that size; likewise hugepages-2048kB). Leaves the uplink and dataplane fields
// empty. Errors name the path.
absl::StatusOr<HostState> scanHost(const common::HostRoot& root);

}  // namespace enadpdk::deviceplugin
