#pragma once

// IPv4/IPv6 address arithmetic for the IPAM plugin: parsing, canonical text, subnets and the
// address ranges pools are made of.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace enadpdk::ipam {

// An address as a 128-bit number (IPv4 in the low 32 bits) with its family.
struct IpAddress {
  // 4 or 6.
  int family = 4;
  // The address bits, most significant first as in network order.
  unsigned __int128 value = 0;

  // Canonical text (inet_ntop: lowercase, IPv6 zero runs compressed).
  std::string toString() const;
  // Number of address bits: 32 or 128.
  unsigned bits() const { return family == 4 ? 32 : 128; }

  // Ordered by family, then value.
  auto operator<=>(const IpAddress&) const = default;
};

// Parses an IPv4 or IPv6 address without prefix length; nullopt otherwise.
std::optional<IpAddress> parseIpAddress(std::string_view text);

// An address with a prefix length ("10.0.1.23/24"); the address keeps its host bits.
struct IpPrefix {
  // The address.
  IpAddress address{};
  // Prefix length, 0..address.bits().
  unsigned length = 0;

  // The subnet's first address (host bits cleared).
  IpAddress network() const;
  // The subnet's last address (host bits set).
  IpAddress last() const;
  // True when `other` (of any family) lies in this subnet.
  bool contains(const IpAddress& other) const;
  // "address/length" in canonical text.
  std::string toString() const;

  // Field-wise comparison.
  bool operator==(const IpPrefix&) const = default;
};

// Parses "address/length" with a length valid for the family; nullopt otherwise.
std::optional<IpPrefix> parseIpPrefix(std::string_view text);

// `address` + `offset`; nullopt when that leaves the family's address space.
std::optional<IpAddress> addressPlus(const IpAddress& address, std::uint64_t offset);

}  // namespace enadpdk::ipam
