#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/host_root.h"
#include "common/pci.h"
#include "nodeprep/interface_addresses.h"

namespace enadpdk::nodeprep {

// The interfaces that carry an IPv4 or IPv6 default route that is up (not a reject route), from
// the text of /proc/net/route and /proc/net/ipv6_route.
std::set<std::string, std::less<>> defaultRouteInterfaces(std::string_view route,
                                                          std::string_view ipv6_route);

// What identifies the node's primary ENI, the one nodeprep must never take away from the kernel.
struct PrimaryEniFacts {
  // Interfaces with a default route.
  std::set<std::string, std::less<>> default_route_interfaces{};
  // The address the node is registered with (--node-address); empty when not given.
  std::string node_address{};
  // Interfaces holding node_address.
  std::set<std::string, std::less<>> node_address_interfaces{};
  // PCI address of the ENA at device index 0: EC2 attaches the primary ENI first, so it has the
  // lowest PCI address of the instance's ENAs ("0000:00:05.0" on Nitro).
  std::string first_ena{};
};

// Gathers the facts: routes from /proc/net/route and /proc/net/ipv6_route under the root (a
// missing file means no routes of that family), interface addresses from `addresses` (only when
// `node_address` is given), the first ENA from `devices`.
absl::StatusOr<PrimaryEniFacts> gatherPrimaryEniFacts(const common::HostRoot& root,
                                                      const std::vector<common::PciDevice>& devices,
                                                      const std::string& node_address,
                                                      const InterfaceAddresses& addresses);

// Why the ENA at PCI `address`, whose kernel interface is (or was) `ifname`, looks like the
// primary ENI: "carries the default route", "holds the node address 10.0.0.5", "is eth0",
// "is device index 0 (the lowest ENA PCI address)". Empty when it does not.
std::vector<std::string> primaryReasons(const PrimaryEniFacts& facts, std::string_view address,
                                        std::string_view ifname);

}  // namespace enadpdk::nodeprep
