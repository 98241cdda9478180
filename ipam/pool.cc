#include "ipam/pool.h"

#include <algorithm>
#include <limits>
#include <utility>

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

std::uint64_t Pool::freeCount(int family, const std::set<IpAddress>& used) const {
  const std::uint64_t total = size(family);
  if (total == kMaxU64) return total;  // too many to count down from
  std::uint64_t taken = 0;
  for (const IpAddress& address : used) {
    if (address.family != family) continue;
    for (const PoolRange& range : ranges) {
      if (inRange(range, address) && !(range.gateway && *range.gateway == address)) {
        ++taken;
        break;
      }
    }
  }
  return total - std::min(total, taken);
}

std::uint64_t Pool::freeLeases(const std::set<IpAddress>& used) const {
  std::optional<std::uint64_t> leases;
  for (int family : {4, 6}) {
    if (hasFamily(family)) leases = std::min(leases.value_or(kMaxU64), freeCount(family, used));
  }
  return leases.value_or(0);
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

namespace {

// The addresses the VPC reserves in `subnet`: its first four and its last.
std::vector<IpAddress> vpcReserved(const IpPrefix& subnet) {
  std::vector<IpAddress> out;
  for (std::uint64_t i = 0; i < 4; ++i) {
    if (std::optional<IpAddress> a = addressPlus(subnet.network(), i); a && subnet.contains(*a)) {
      out.push_back(*a);
    }
  }
  out.push_back(subnet.last());
  return out;
}

// Adds first..last to `pool` without the addresses of `excluded` nor any already in a range of
// the pool (of the same family), splitting the run around them. `excluded` is small (the reserved
// addresses and the primary), and so is the pool's list of ranges, so this stays cheap for a /80.
void addRun(Pool& pool, IpAddress first, IpAddress last, unsigned prefixLength,
            const IpAddress& gateway, const std::vector<IpAddress>& excluded) {
  std::vector<std::pair<unsigned __int128, unsigned __int128>> holes;
  for (const IpAddress& a : excluded) {
    if (a.family == first.family) holes.emplace_back(a.value, a.value);
  }
  for (const PoolRange& r : pool.ranges) {
    if (r.first.family == first.family) holes.emplace_back(r.first.value, r.last.value);
  }
  std::sort(holes.begin(), holes.end());
  unsigned __int128 next = first.value;
  for (const auto& [low, high] : holes) {
    if (high < next || low > last.value) continue;
    if (low > next) {
      pool.ranges.push_back({.first = {.family = first.family, .value = next},
                             .last = {.family = first.family, .value = low - 1},
                             .prefixLength = prefixLength,
                             .gateway = gateway});
    }
    if (high >= last.value) return;
    next = high + 1;
  }
  pool.ranges.push_back({.first = {.family = first.family, .value = next},
                         .last = last,
                         .prefixLength = prefixLength,
                         .gateway = gateway});
}

}  // namespace

Pool eniPool(const EniMetadata& eni, EniSources sources) {
  Pool pool{.description = strCat("ENI ", eni.mac)};
  // EniMetadata is validated when fetched or read from the cache, so parsing cannot fail here.
  const IpPrefix subnet = *parseIpPrefix(eni.subnetIpv4Cidr);
  const IpAddress gateway4 = *addressPlus(subnet.network(), 1);
  std::vector<IpPrefix> blocks;
  for (const std::string& block : eni.subnetIpv6Cidrs) blocks.push_back(*parseIpPrefix(block));
  // Never handed out: the primary IP and what the VPC reserves in the subnet and its blocks.
  std::vector<IpAddress> excluded = vpcReserved(subnet);
  excluded.push_back(*parseIpAddress(eni.localIpv4s.front()));
  for (const IpPrefix& block : blocks) {
    std::vector<IpAddress> reserved = vpcReserved(block);
    excluded.insert(excluded.end(), reserved.begin(), reserved.end());
  }
  const auto blockOf = [&](const IpAddress& address) -> const IpPrefix* {
    for (const IpPrefix& block : blocks) {
      if (block.contains(address)) return &block;
    }
    return nullptr;
  };

  if (sources.secondaryIps) {
    for (std::size_t i = 1; i < eni.localIpv4s.size(); ++i) {
      IpAddress address = *parseIpAddress(eni.localIpv4s[i]);
      addRun(pool, address, address, subnet.length, gateway4, excluded);
    }
    for (const std::string& ip : eni.ipv6s) {
      IpAddress address = *parseIpAddress(ip);
      if (const IpPrefix* block = blockOf(address)) {
        addRun(pool, address, address, block->length, *addressPlus(block->network(), 1), excluded);
      }
    }
  }
  if (sources.ipv4Prefixes && eni.ipv4Prefixes) {
    for (const std::string& text : *eni.ipv4Prefixes) {
      const IpPrefix prefix = *parseIpPrefix(text);
      addRun(pool, prefix.network(), prefix.last(), subnet.length, gateway4, excluded);
    }
  }
  if (sources.ipv6Prefixes && eni.ipv6Prefixes) {
    for (const std::string& text : *eni.ipv6Prefixes) {
      const IpPrefix prefix = *parseIpPrefix(text);
      if (const IpPrefix* block = blockOf(prefix.address)) {
        addRun(pool, prefix.network(), prefix.last(), block->length,
               *addressPlus(block->network(), 1), excluded);
      }
    }
  }
  return pool;
}

}  // namespace enadpdk::ipam
