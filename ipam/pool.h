#pragma once

// The addresses a network hands out, built from a static list or from an ENI's metadata.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cni/result.h"
#include "ipam/address.h"
#include "ipam/imds.h"

namespace enadpdk::ipam {

// A run of consecutive addresses of one family that share a prefix length and gateway.
struct PoolRange {
  // First and last address, inclusive, same family.
  IpAddress first{};
  IpAddress last{};
  // Prefix length the pod's address gets.
  unsigned prefixLength = 32;
  // Gateway handed out with the range's addresses; never handed out itself.
  std::optional<IpAddress> gateway{};

  // Addresses the range hands out (saturating at UINT64_MAX).
  std::uint64_t size() const;
};

// A network's pool: ranges in allocation order, plus what to call it in messages.
struct Pool {
  // The ranges; at most one family of ranges may be empty.
  std::vector<PoolRange> ranges{};
  // "static pool" or "ENI 0a:1b:2c:3d:4e:5f", for messages.
  std::string description{};

  // True when some range is of `family` (4 or 6).
  bool hasFamily(int family) const;
  // Addresses of `family` the pool hands out (saturating).
  std::uint64_t size(int family) const;
  // The first address of `family`, in range order, that is not in `used`, as an IpConfig
  // (address with prefix length, gateway); nullopt when all are used.
  std::optional<cni::IpConfig> firstFree(int family, const std::set<IpAddress>& used) const;
  // How many addresses of `family` the pool can still hand out when `used` are taken: size()
  // minus the used addresses inside its ranges (never the gateways); saturating.
  std::uint64_t freeCount(int family, const std::set<IpAddress>& used) const;
  // How many more leases (one address of each of the pool's families) can be made when `used`
  // are taken: the smallest freeCount() of the pool's families; 0 for an empty pool.
  std::uint64_t freeLeases(const std::set<IpAddress>& used) const;
};

// Builds a static pool. Each entry of `addresses` is an address ("10.0.1.23": /32 or /128), an
// address with the prefix length the pod gets ("10.0.1.23/24"), or a subnet ("10.0.1.0/24": the
// network address of a prefix shorter than /31 or /127), which stands for all its host addresses
// (IPv4 without the broadcast address; IPv6 subnets must be /64 or longer). `gateway` goes with
// the addresses of its family and is never handed out. Entries must not overlap. Errors are
// InvalidArgument naming `where` ("ipam.addresses[1]: 10.0.0.5 overlaps 10.0.0.0/24").
absl::StatusOr<Pool> staticPool(const std::vector<std::string>& addresses,
                                const std::optional<std::string>& gateway, std::string_view where);

// What eniPool() takes from the ENI.
struct EniSources {
  // Its secondary private IPv4 addresses and its IPv6 addresses.
  bool secondaryIps = true;
  // Every address of its delegated IPv4 prefixes (eni.ipv4Prefixes).
  bool ipv4Prefixes = false;
  // Every address of its delegated IPv6 prefixes (eni.ipv6Prefixes).
  bool ipv6Prefixes = false;
};

// Builds the pool of an ENI, in this order:
//   - with secondaryIps, its secondary private IPv4 addresses (local-ipv4s without the first, the
//     primary) with the subnet's prefix length and gateway (subnet base + 1), and its IPv6
//     addresses with their block's prefix length and gateway (block base + 1);
//   - with ipv4Prefixes, each delegated IPv4 prefix as a range of all its addresses (AWS reserves
//     none inside a prefix), with the subnet's prefix length and gateway;
//   - with ipv6Prefixes, each delegated IPv6 prefix as one range (a /80 is 2^48 addresses, never
//     enumerated: Pool::firstFree() walks only past the leased ones), with its block's prefix
//     length and gateway.
// Never in the pool: the ENI's primary IPv4 address, the addresses the VPC reserves in every
// subnet (the first four and the last of the IPv4 subnet and of each IPv6 block), and an address
// already in the pool (a secondary IP inside a delegated prefix counts once). Ranges are split
// around such addresses.
Pool eniPool(const EniMetadata& eni, EniSources sources = {});

}  // namespace enadpdk::ipam
