#pragma once

// The host's policy routing: its rules (`ip rule`) and the routes of every table (`ip route show
// table all`). A seam like InterfaceAddresses: routes live in the kernel's network stack, not in
// files a host root can fake.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace enadpdk::nodeprep {

// The kernel's reserved routing tables (linux/rtnetlink.h): rules and routes in any other table
// are policy routing, e.g. the AWS VPC CNI's per-ENI tables.
inline constexpr unsigned kDefaultTable = 253;
inline constexpr unsigned kMainTable = 254;
inline constexpr unsigned kLocalTable = 255;

// True for a table other than unspecified (0), default, main and local.
bool isPolicyTable(unsigned table);

// One policy routing rule that looks up a table.
struct RoutingRule {
  // Priority ("preference").
  unsigned priority = 0;
  // The table it looks up.
  unsigned table = 0;
  // Source selector in CIDR form ("10.0.1.23/32"); empty for "from all".
  std::string source{};
  // Destination selector in CIDR form; empty for any.
  std::string destination{};
  // Input interface selector; empty for any.
  std::string iif{};
  // Output interface selector; empty for any.
  std::string oif{};

  // As `ip rule` prints it: "512: from 10.0.1.23 lookup 3".
  std::string describe() const;

  // Field-wise comparison.
  bool operator==(const RoutingRule&) const = default;
};

// One route of any table.
struct TableRoute {
  // The table it is in.
  unsigned table = kMainTable;
  // Destination in CIDR form ("0.0.0.0/0", "10.0.1.0/24").
  std::string destination{};
  // The interfaces it leaves through (several for a multipath route).
  std::vector<std::string> devices{};

  // Field-wise comparison.
  bool operator==(const TableRoute&) const = default;
};

// Reads the host's rules and routes, IPv4 and IPv6.
class RoutingTables {
 public:
  virtual ~RoutingTables() = default;

  // Every rule whose action is to look up a table.
  virtual absl::StatusOr<std::vector<RoutingRule>> rules() const = 0;
  // Every unicast route of every table.
  virtual absl::StatusOr<std::vector<TableRoute>> routes() const = 0;
};

// This process's network namespace, dumped over rtnetlink (RTM_GETRULE, RTM_GETROUTE). The
// DaemonSet runs with hostNetwork, so that is the host's. An address family the kernel does not
// have (IPv6 disabled) has no rules or routes. Thread-safe.
class NetlinkRoutingTables : public RoutingTables {
 public:
  absl::StatusOr<std::vector<RoutingRule>> rules() const override;
  absl::StatusOr<std::vector<TableRoute>> routes() const override;
};

}  // namespace enadpdk::nodeprep
