#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace enadpdk::deviceplugin {

// A device the kubelet offers in GetPreferredAllocation, with what placement depends on.
struct Candidate {
  // Device ID.
  std::string id{};
  // NUMA node; none when unknown (all such devices count as one node).
  std::optional<int> numaNode{};
  // A grouping below the NUMA node that a container's devices should share when they can (the
  // dataplane network of a dpdk.aws/ena attachment); empty when the resource has none.
  std::string group{};
};

// Chooses `size` devices from `available` for one container: every ID of `mustInclude` first
// (also when it is not among the candidates), then the others packed onto the fewest NUMA nodes
// and, within a node, the fewest groups. Among placements that fit, the tightest one wins, so
// that large free blocks stay whole for later requests. Fewer devices than `size` are returned
// when not enough are available. Deterministic: equal inputs give equal answers, sorted by ID.
// Pure function; thread-safe.
std::vector<std::string> choosePreferred(const std::vector<Candidate>& available,
                                         const std::vector<std::string>& mustInclude,
                                         std::size_t size);

}  // namespace enadpdk::deviceplugin
