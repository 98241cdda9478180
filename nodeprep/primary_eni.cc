#include "nodeprep/primary_eni.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"
#include "nodeprep/host.h"

namespace enadpdk::nodeprep {
namespace {

using common::strCat;
using common::toStd;

// Route flags (linux/route.h).
constexpr unsigned kRouteUp = 0x0001;
constexpr unsigned kRouteReject = 0x0200;

std::vector<std::vector<absl::string_view>> tableRows(std::string_view text) {
  std::vector<std::vector<absl::string_view>> rows;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (!fields.empty()) rows.push_back(std::move(fields));
  }
  return rows;
}

bool usable(absl::string_view flags_hex) {
  unsigned flags = 0;
  return absl::SimpleHexAtoi(flags_hex, &flags) && (flags & kRouteUp) != 0 &&
         (flags & kRouteReject) == 0;
}

absl::StatusOr<std::string> readOptional(const common::HostRoot& root, std::string_view path) {
  absl::StatusOr<std::string> text = readHostFile(root, path);
  if (absl::IsNotFound(text.status())) return std::string();
  return text;
}

}  // namespace

std::set<std::string, std::less<>> defaultRouteInterfaces(std::string_view route,
                                                          std::string_view ipv6_route) {
  std::set<std::string, std::less<>> interfaces;
  // Iface Destination Gateway Flags RefCnt Use Metric Mask ...; the first row is the header.
  for (const auto& row : tableRows(route)) {
    if (row.size() >= 8 && row[1] == "00000000" && row[7] == "00000000" && usable(row[3])) {
      interfaces.emplace(toStd(row[0]));
    }
  }
  // Destination prefix-length source prefix-length next-hop metric refcnt use flags iface.
  for (const auto& row : tableRows(ipv6_route)) {
    if (row.size() >= 10 && row[0] == std::string(32, '0') && row[1] == "00" && usable(row[8]) &&
        row[9] != "lo") {
      interfaces.emplace(toStd(row[9]));
    }
  }
  return interfaces;
}

absl::StatusOr<PrimaryEniFacts> gatherPrimaryEniFacts(const common::HostRoot& root,
                                                      const std::vector<common::PciDevice>& devices,
                                                      const std::string& node_address,
                                                      const InterfaceAddresses& addresses) {
  PrimaryEniFacts facts;
  absl::StatusOr<std::string> route = readOptional(root, "/proc/net/route");
  if (!route.ok()) return route.status();
  absl::StatusOr<std::string> ipv6_route = readOptional(root, "/proc/net/ipv6_route");
  if (!ipv6_route.ok()) return ipv6_route.status();
  facts.default_route_interfaces = defaultRouteInterfaces(*route, *ipv6_route);
  if (!node_address.empty()) {
    facts.node_address = canonicalAddress(node_address);
    absl::StatusOr<std::map<std::string, std::vector<std::string>>> all = addresses.list();
    if (!all.ok()) {
      return absl::Status(all.status().code(),
                          strCat("cannot list interface addresses to find the node address ",
                                 node_address, ": ", toStd(all.status().message())));
    }
    for (const auto& [ifname, list] : *all) {
      for (const std::string& address : list) {
        if (canonicalAddress(address) == facts.node_address)
          facts.node_address_interfaces.insert(ifname);
      }
    }
  }
  for (const common::PciDevice& device : devices) {
    // Sorted by address, so the first ENA is the lowest.
    if (device.isEna()) {
      facts.first_ena = device.address;
      break;
    }
  }
  return facts;
}

std::vector<std::string> primaryReasons(const PrimaryEniFacts& facts, std::string_view address,
                                        std::string_view ifname) {
  std::vector<std::string> reasons;
  if (!ifname.empty() && facts.default_route_interfaces.contains(ifname)) {
    reasons.push_back(strCat(ifname, " carries the default route"));
  }
  if (!ifname.empty() && facts.node_address_interfaces.contains(ifname)) {
    reasons.push_back(strCat(ifname, " holds the node address ", facts.node_address));
  }
  if (ifname == "eth0") reasons.push_back("it is eth0");
  if (address == facts.first_ena) {
    reasons.push_back("it is device index 0 (the lowest ENA PCI address)");
  }
  return reasons;
}

}  // namespace enadpdk::nodeprep
