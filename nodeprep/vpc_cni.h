#pragma once

// What nodeprep must know about the AWS VPC CNI (aws-node) before it takes an ENI away from the
// kernel: whether the VPC CNI is installed on the node, and which interfaces carry its per-ENI
// policy routing (docs/nodeprep.md, "Living beside the AWS VPC CNI").

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/host_root.h"
#include "nodeprep/routing_tables.h"

namespace enadpdk::nodeprep {

// The files whose presence shows that the VPC CNI is installed, as host paths: the conflist its
// entrypoint copies into the host's CNI config directory, and ipamd's checkpoint (the second path
// is where Bottlerocket keeps it).
inline constexpr std::string_view kVpcCniMarkers[] = {
    "/etc/cni/net.d/10-aws.conflist",
    "/var/run/aws-node/ipam.json",
    "/run/aws-node/ipam.json",
};

// What the host says about the VPC CNI.
struct VpcCniFacts {
  // The markers found (host paths); empty when the VPC CNI is not installed.
  std::vector<std::string> installed_by{};
  // Interface -> why it carries policy routing: routes in tables other than main, local and
  // default, and the rules that send traffic to those tables or name the interface.
  std::map<std::string, std::vector<std::string>, std::less<>> policy_routed{};

  // True when a marker was found.
  bool installed() const { return !installed_by.empty(); }
};

// Which interfaces carry policy routing, from the host's rules and routes. The VPC CNI gives
// each secondary ENI it manages a table (its device number + 1) holding the ENI's default route,
// and a rule "from <pod IP> lookup <table>" per pod, so such an ENI has routes outside the main
// table; the main table's routes (the node's own) do not count.
std::map<std::string, std::vector<std::string>, std::less<>> policyRoutedInterfaces(
    const std::vector<RoutingRule>& rules, const std::vector<TableRoute>& routes);

// Looks for the markers under `root` and reads the routing through `routing`.
absl::StatusOr<VpcCniFacts> gatherVpcCniFacts(const common::HostRoot& root,
                                              const RoutingTables& routing);

}  // namespace enadpdk::nodeprep
