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
inline constexpr uint8_t kIpProtoIcmpv6 = 58;
inline constexpr uint8_t kIcmpv6NeighborSolicit = 135;
inline constexpr uint8_t kIcmpv6NeighborAdvert = 136;
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

// Internet checksum helpers (RFC 1071): partial one's-complement sum and fold.
uint32_t checksumPartial(const uint8_t* data, uint32_t len, uint32_t sum = 0) noexcept;
uint16_t checksumFold(uint32_t sum) noexcept;

}  // namespace enadpdk::vhostuser
