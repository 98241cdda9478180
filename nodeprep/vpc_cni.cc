#include "nodeprep/vpc_cni.h"

#include <set>

#include "absl/strings/str_join.h"
#include "common/strings.h"
#include "nodeprep/host.h"

namespace enadpdk::nodeprep {
namespace {

using common::strCat;

// A reason quotes this many rules at most; a busy node has one per pod.
constexpr size_t kRulesQuoted = 3;

}  // namespace

std::map<std::string, std::vector<std::string>, std::less<>> policyRoutedInterfaces(
    const std::vector<RoutingRule>& rules, const std::vector<TableRoute>& routes) {
  std::map<std::string, std::set<unsigned>, std::less<>> tables_of;
  for (const TableRoute& route : routes) {
    if (!isPolicyTable(route.table)) continue;
    for (const std::string& device : route.devices) tables_of[device].insert(route.table);
  }
  std::map<std::string, std::vector<std::string>, std::less<>> reasons;
  for (const auto& [device, tables] : tables_of) {
    std::vector<std::string> quoted;
    size_t using_rules = 0;
    for (const RoutingRule& rule : rules) {
      if (!tables.contains(rule.table)) continue;
      if (++using_rules <= kRulesQuoted) quoted.push_back(strCat("\"", rule.describe(), "\""));
    }
    std::string reason = strCat(device, " has routes in policy routing table",
                                tables.size() == 1 ? " " : "s ", absl::StrJoin(tables, ", "));
    if (using_rules > 0) {
      reason += strCat(" used by ", using_rules, using_rules == 1 ? " rule (" : " rules (",
                       absl::StrJoin(quoted, ", "), using_rules > kRulesQuoted ? ", ...)" : ")");
    }
    reasons[device].push_back(std::move(reason));
  }
  for (const RoutingRule& rule : rules) {
    if (!isPolicyTable(rule.table)) continue;
    for (const std::string* device : {&rule.iif, &rule.oif}) {
      if (device->empty() || *device == "lo") continue;
      reasons[*device].push_back(strCat("rule \"", rule.describe(), "\" names ", *device));
    }
  }
  return reasons;
}

absl::StatusOr<VpcCniFacts> gatherVpcCniFacts(const common::HostRoot& root,
                                              const RoutingTables& routing) {
  VpcCniFacts facts;
  for (std::string_view marker : kVpcCniMarkers) {
    if (hostPathExists(root, marker)) facts.installed_by.emplace_back(marker);
  }
  absl::StatusOr<std::vector<RoutingRule>> rules = routing.rules();
  if (!rules.ok()) {
    return absl::Status(rules.status().code(), strCat("cannot read the routing rules: ",
                                                      common::toStd(rules.status().message())));
  }
  absl::StatusOr<std::vector<TableRoute>> routes = routing.routes();
  if (!routes.ok()) {
    return absl::Status(routes.status().code(), strCat("cannot read the routing tables: ",
                                                       common::toStd(routes.status().message())));
  }
  facts.policy_routed = policyRoutedInterfaces(*rules, *routes);
  return facts;
}

}  // namespace enadpdk::nodeprep
