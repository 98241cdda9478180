#include "ipam/address.h"

#include <arpa/inet.h>

#include <charconv>

#include "common/strings.h"

namespace enadpdk::ipam {
namespace {

// All ones in the low `bits` bits (bits ≤ 128).
unsigned __int128 lowMask(unsigned bits) {
  return bits >= 128 ? ~static_cast<unsigned __int128>(0)
                     : (static_cast<unsigned __int128>(1) << bits) - 1;
}

}  // namespace

std::string IpAddress::toString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family == 4) {
    in_addr a{};
    a.s_addr = htonl(static_cast<std::uint32_t>(value));
    inet_ntop(AF_INET, &a, text, sizeof text);
  } else {
    in6_addr a{};
    for (int i = 15; i >= 0; --i) a.s6_addr[i] = static_cast<std::uint8_t>(value >> (8 * (15 - i)));
    inet_ntop(AF_INET6, &a, text, sizeof text);
  }
  return text;
}

std::optional<IpAddress> parseIpAddress(std::string_view text) {
  std::string s(text);
  in_addr a4{};
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1)
    return IpAddress{.family = 4, .value = ntohl(a4.s_addr)};
  in6_addr a6{};
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    unsigned __int128 value = 0;
    for (std::uint8_t byte : a6.s6_addr) value = (value << 8) | byte;
    return IpAddress{.family = 6, .value = value};
  }
  return std::nullopt;
}

IpAddress IpPrefix::network() const {
  return {.family = address.family, .value = address.value & ~lowMask(address.bits() - length)};
}

IpAddress IpPrefix::last() const {
  return {.family = address.family, .value = address.value | lowMask(address.bits() - length)};
}

bool IpPrefix::contains(const IpAddress& other) const {
  return other.family == address.family && other.value >= network().value &&
         other.value <= last().value;
}

std::string IpPrefix::toString() const { return common::strCat(address.toString(), "/", length); }

std::optional<IpPrefix> parseIpPrefix(std::string_view text) {
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::optional<IpAddress> address = parseIpAddress(text.substr(0, slash));
  std::string_view digits = text.substr(slash + 1);
  unsigned length = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
  if (!address || digits.empty() || error != std::errc() || end != digits.data() + digits.size() ||
      length > address->bits()) {
    return std::nullopt;
  }
  return IpPrefix{.address = *address, .length = length};
}

std::optional<IpAddress> addressPlus(const IpAddress& address, std::uint64_t offset) {
  unsigned __int128 limit = lowMask(address.bits());
  if (limit - address.value < offset) return std::nullopt;
  return IpAddress{.family = address.family, .value = address.value + offset};
}

}  // namespace enadpdk::ipam
