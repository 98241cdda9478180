#pragma once

// Wire formats the switch parses, without DPDK types so that the forwarding logic is testable on
// plain byte buffers. All multi-byte fields are in network byte order on the wire; the helpers
// here read and write them explicitly.

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace enadpdk::vhostuser {

// A 48-bit Ethernet address.
struct MacAddr {
  std::array<uint8_t, 6> bytes{};

  bool isMulticast() const noexcept { return bytes[0] & 0x01; }  // includes broadcast
  bool isZero() const noexcept {
    return (bytes[0] | bytes[1] | bytes[2] | bytes[3] | bytes[4] | bytes[5]) == 0;
  }
  // The address as a 48-bit integer (first byte most significant).
  uint64_t toU64() const noexcept {
    uint64_t v = 0;
    for (uint8_t b : bytes) v = v << 8 | b;
    return v;
  }
  static MacAddr fromU64(uint64_t v) noexcept {
    MacAddr m;
    for (int i = 5; i >= 0; --i, v >>= 8) m.bytes[i] = v & 0xff;
    return m;
  }
  friend bool operator==(const MacAddr&, const MacAddr&) = default;
};

// Parses "02:00:00:00:00:01" (case-insensitive). nullopt when malformed.
std::optional<MacAddr> parseMac(std::string_view text);
// Formats as lowercase "02:00:00:00:00:01".
std::string formatMac(const MacAddr& mac);

using Ipv6Addr = std::array<uint8_t, 16>;

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr uint32_t kEthHeaderLen = 14;
inline constexpr uint32_t kArpLen = 28;
inline constexpr uint32_t kIpv4MinHeaderLen = 20;
inline constexpr uint32_t kIpv6HeaderLen = 40;
inline constexpr uint8_t kIpProtoHopByHop = 0;
inline constexpr uint8_t kIpProtoIcmpv6 = 58;
inline constexpr uint8_t kIcmpv6MldReport = 131;  // MLDv1 (RFC 2710)
inline constexpr uint8_t kIcmpv6RouterSolicit = 133;
inline constexpr uint8_t kIcmpv6RouterAdvert = 134;
inline constexpr uint8_t kIcmpv6NeighborSolicit = 135;
inline constexpr uint8_t kIcmpv6NeighborAdvert = 136;
inline constexpr uint8_t kIcmpv6Mldv2Report = 143;  // RFC 3810
inline constexpr uint16_t kArpOpRequest = 1;
inline constexpr uint16_t kArpOpReply = 2;

inline uint16_t load16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
inline uint32_t load32(const uint8_t* p) noexcept {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}
inline void store16(uint8_t* p, uint16_t v) noexcept {
  p[0] = v >> 8;
  p[1] = v & 0xff;
}
inline MacAddr loadMac(const uint8_t* p) noexcept {
  MacAddr m;
  std::memcpy(m.bytes.data(), p, 6);
  return m;
}
inline void storeMac(uint8_t* p, const MacAddr& m) noexcept { std::memcpy(p, m.bytes.data(), 6); }
inline Ipv6Addr loadIpv6(const uint8_t* p) noexcept {
  Ipv6Addr a;
  std::memcpy(a.data(), p, 16);
  return a;
}

// Link-scope multicast groups (RFC 4291 2.7.1, RFC 3810 5.2.14).
inline constexpr Ipv6Addr kIpv6AllNodes = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
inline constexpr Ipv6Addr kIpv6AllRouters = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
inline constexpr Ipv6Addr kIpv6AllMldv2Routers = {0xff, 0x02, 0, 0, 0, 0, 0, 0,
                                                  0,    0,    0, 0, 0, 0, 0, 0x16};

inline bool isUnspecified(const Ipv6Addr& a) noexcept {
  uint8_t any = 0;
  for (uint8_t b : a) any |= b;
  return any == 0;
}
inline bool isIpv6Multicast(const Ipv6Addr& a) noexcept { return a[0] == 0xff; }
// fe80::/10.
inline bool isIpv6LinkLocal(const Ipv6Addr& a) noexcept {
  return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}
// `group` is the solicited-node multicast address of `target` (ff02::1:ffXX:XXXX carrying its
// low 24 bits, RFC 4291 2.7.1): where a Neighbor Solicitation for `target` is sent.
inline bool isSolicitedNodeOf(const Ipv6Addr& group, const Ipv6Addr& target) noexcept {
  static constexpr uint8_t kPrefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
  return std::memcmp(group.data(), kPrefix, 13) == 0 &&
         std::memcmp(group.data() + 13, target.data() + 13, 3) == 0;
}

// The link-local address of a pod that owns `address` on a vpc network: fe80::/64 followed by
// the low 64 bits of `address`. Every pod there carries the ENI's MAC, so the usual EUI-64
// link-local (RFC 4862) would be the same for all of them; the low 64 bits of the addresses the
// VPC gives one ENI (all in its subnet's /64) differ. docs/dataplane.md ("IPv6 on vpc
// networks") says how a pod configures it.
inline Ipv6Addr podLinkLocal(const Ipv6Addr& address) noexcept {
  Ipv6Addr ll{0xfe, 0x80};
  std::memcpy(ll.data() + 8, address.data() + 8, 8);
  return ll;
}

// Internet checksum helpers (RFC 1071): partial one's-complement sum and fold.
uint32_t checksumPartial(const uint8_t* data, uint32_t len, uint32_t sum = 0) noexcept;
uint16_t checksumFold(uint32_t sum) noexcept;

}  // namespace enadpdk::vhostuser
