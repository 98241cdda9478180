#include "ipam/pool.h"

#include <limits>

#include "common/strings.h"

namespace enadpdk::ipam {

using cni::IpConfig;

namespace {

using common::strCat;

constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();
// Longest IPv6 subnet a static pool may list as a range: a /64 still counts in 64 bits.
constexpr unsigned kMinIpv6RangePrefix = 64;

std::uint64_t saturatingAdd(std::uint64_t a, std::uint64_t b) {
  return a > kMaxU64 - b ? kMaxU64 : a + b;
}

bool inRange(const PoolRange& range, const IpAddress& address) {
  return address.family == range.first.family && address.value >= range.first.value &&
         address.value <= range.last.value;
}

std::string describe(const PoolRange& range) {
  if (range.first == range.last) return range.first.toString();
  return strCat(range.first.toString(), "-", range.last.toString());
}

}  // namespace

std::uint64_t PoolRange::size() const {
  unsigned __int128 span = last.value - first.value;
  std::uint64_t count = span >= kMaxU64 ? kMaxU64 : static_cast<std::uint64_t>(span) + 1;
  if (gateway && inRange(*this, *gateway) && count != kMaxU64) --count;
  return count;
}

bool Pool::hasFamily(int family) const {
  for (const PoolRange& range : ranges) {
    if (range.first.family == family) return true;
  }
  return false;
}

std::uint64_t Pool::size(int family) const {
  std::uint64_t total = 0;
  for (const PoolRange& range : ranges) {
    if (range.first.family == family) total = saturatingAdd(total, range.size());
  }
  return total;
}

std::optional<IpConfig> Pool::firstFree(int family, const std::set<IpAddress>& used) const {
  for (const PoolRange& range : ranges) {
    if (range.first.family != family) continue;
    // Skipping used addresses one by one ends after at most used.size() + 1 steps per range
    // (plus the gateway), so a /64 range costs no more than a single address.
    IpAddress candidate = range.first;
    while (true) {
      bool taken = used.count(candidate) > 0 || (range.gateway && *range.gateway == candidate);
      if (!taken) {
        return IpConfig{
            .address = strCat(candidate.toString(), "/", range.prefixLength),
            .gateway = range.gateway ? range.gateway->toString() : std::string(),
        };
      }
      if (candidate == range.last) break;
      candidate.value += 1;
    }
  }
  return std::nullopt;
}

absl::StatusOr<Pool> staticPool(const std::vector<std::string>& addresses,
                                const std::optional<std::string>& gateway, std::string_view where) {
  Pool pool{.description = "static pool"};
  std::optional<IpAddress> gw;
  if (gateway) {
    gw = parseIpAddress(*gateway);
    if (!gw) {
      return absl::InvalidArgumentError(
          strCat(where, ".gateway: expected an IPv4 or IPv6 address, got \"", *gateway, "\""));
    }
  }
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const std::string at = strCat(where, ".addresses[", i, "]");
    const std::string& entry = addresses[i];
    PoolRange range;
    if (std::optional<IpAddress> single = parseIpAddress(entry)) {
      range = {.first = *single, .last = *single, .prefixLength = single->bits()};
    } else if (std::optional<IpPrefix> prefix = parseIpPrefix(entry)) {
      const unsigned bits = prefix->address.bits();
      if (prefix->address == prefix->network() && prefix->length + 1 < bits) {
        if (prefix->address.family == 6 && prefix->length < kMinIpv6RangePrefix) {
          return absl::InvalidArgumentError(
              strCat(at, ": IPv6 subnet ", entry, " is too large (at most a /64)"));
        }
        // The network address is never a host; IPv4 also loses its broadcast address.
        IpAddress last = prefix->last();
        if (prefix->address.family == 4) last.value -= 1;
        range = {.first = {.family = prefix->address.family, .value = prefix->address.value + 1},
                 .last = last,
                 .prefixLength = prefix->length};
      } else {
        range = {.first = prefix->address, .last = prefix->address, .prefixLength = prefix->length};
      }
    } else {
      return absl::InvalidArgumentError(strCat(
          at, ": expected an IPv4 or IPv6 address or CIDR, got \"", common::clipped(entry), "\""));
    }
    if (gw && gw->family == range.first.family) range.gateway = gw;
    if (range.first == range.last && gw && *gw == range.first) {
      return absl::InvalidArgumentError(strCat(at, ": ", entry, " is the gateway"));
    }
    for (const PoolRange& other : pool.ranges) {
      if (other.first.family == range.first.family && range.first.value <= other.last.value &&
          other.first.value <= range.last.value) {
        return absl::InvalidArgumentError(strCat(at, ": ", entry, " overlaps ", describe(other)));
      }
    }
    pool.ranges.push_back(range);
  }
  if (gw && !pool.hasFamily(gw->family)) {
    return absl::InvalidArgumentError(
        strCat(where, ".gateway: ", *gateway, " is of no address family of the pool"));
  }
  return pool;
}

Pool eniPool(const EniMetadata& eni) {
  Pool pool{.description = strCat("ENI ", eni.mac)};
  // EniMetadata is validated when fetched or read from the cache, so parsing cannot fail here.
  const IpPrefix subnet = *parseIpPrefix(eni.subnetIpv4Cidr);
  const IpAddress gateway4 = *addressPlus(subnet.network(), 1);
  for (std::size_t i = 1; i < eni.localIpv4s.size(); ++i) {
    IpAddress address = *parseIpAddress(eni.localIpv4s[i]);
    pool.ranges.push_back(
        {.first = address, .last = address, .prefixLength = subnet.length, .gateway = gateway4});
  }
  std::vector<IpPrefix> blocks;
  for (const std::string& block : eni.subnetIpv6Cidrs) blocks.push_back(*parseIpPrefix(block));
  for (const std::string& ip : eni.ipv6s) {
    IpAddress address = *parseIpAddress(ip);
    for (const IpPrefix& block : blocks) {
      if (!block.contains(address)) continue;
      pool.ranges.push_back({.first = address,
                             .last = address,
                             .prefixLength = block.length,
                             .gateway = *addressPlus(block.network(), 1)});
      break;
    }
  }
  return pool;
}

}  // namespace enadpdk::ipam
