#include "vhostuser/forwarding.h"

#include <algorithm>
#include <cstring>

namespace enadpdk::vhostuser {
namespace {

constexpr uint32_t kArpFrameLen = kEthHeaderLen + kArpLen;
constexpr uint32_t kIcmpv6NdLen = 24;         // type, code, checksum, flags, target
constexpr uint32_t kNdOptionLinkAddrLen = 8;  // type, length, MAC
constexpr uint32_t kNaFrameLen =
    kEthHeaderLen + kIpv6HeaderLen + kIcmpv6NdLen + kNdOptionLinkAddrLen;

Action drop(DropReason reason) noexcept { return {ActionKind::Drop, reason, kNoSlot, 0}; }
Action forwardTo(uint16_t slot) noexcept {
  return {ActionKind::Forward, DropReason::Other, slot, 0};
}
Action flood() noexcept { return {ActionKind::Flood, DropReason::Other, kNoSlot, 0}; }
Action reply(uint32_t length) noexcept {
  return {ActionKind::Reply, DropReason::Other, kNoSlot, length};
}

bool contains(const std::vector<uint32_t>& v, uint32_t x) noexcept {
  return std::find(v.begin(), v.end(), x) != v.end();
}
bool contains(const std::vector<Ipv6Addr>& v, const Ipv6Addr& x) noexcept {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Parsed view of the L3 part of a frame, enough for the decisions below.
struct Parsed {
  uint16_t ethertype = 0;
  // ARP
  uint16_t arp_op = 0;
  MacAddr arp_sha;
  uint32_t arp_spa = 0;
  uint32_t arp_tpa = 0;
  // IPv4 / IPv6
  uint32_t ip4_src = 0;
  uint32_t ip4_dst = 0;
  Ipv6Addr ip6_src{};
  Ipv6Addr ip6_dst{};
  uint8_t icmp6_type = 0;  // the ICMPv6 type, directly or behind a hop-by-hop header; 0 = none
  bool is_ns = false;      // a well-formed ICMPv6 Neighbor Solicitation
  Ipv6Addr ns_target{};
};

// Fills `p` from the frame; false for a truncated or malformed header.
bool parse(const uint8_t* f, uint32_t len, Parsed& p) noexcept {
  if (len < kEthHeaderLen) return false;
  p.ethertype = load16(f + 12);
  const uint8_t* l3 = f + kEthHeaderLen;
  const uint32_t l3len = len - kEthHeaderLen;
  switch (p.ethertype) {
    case kEtherTypeArp:
      if (l3len < kArpLen || load16(l3) != 1 || load16(l3 + 2) != kEtherTypeIpv4 || l3[4] != 6 ||
          l3[5] != 4) {
        return false;
      }
      p.arp_op = load16(l3 + 6);
      p.arp_sha = loadMac(l3 + 8);
      p.arp_spa = load32(l3 + 14);
      p.arp_tpa = load32(l3 + 24);
      return true;
    case kEtherTypeIpv4:
      if (l3len < kIpv4MinHeaderLen || (l3[0] >> 4) != 4 || (l3[0] & 0x0f) < 5) return false;
      p.ip4_src = load32(l3 + 12);
      p.ip4_dst = load32(l3 + 16);
      return true;
    case kEtherTypeIpv6:
      if (l3len < kIpv6HeaderLen || (l3[0] >> 4) != 6) return false;
      p.ip6_src = loadIpv6(l3 + 8);
      p.ip6_dst = loadIpv6(l3 + 24);
      if (l3[6] == kIpProtoIcmpv6 && l3len >= kIpv6HeaderLen + 4) {
        p.icmp6_type = l3[kIpv6HeaderLen];
      } else if (l3[6] == kIpProtoHopByHop && l3len >= kIpv6HeaderLen + 8) {
        // MLD reports carry a Router Alert in a hop-by-hop header (RFC 3810 5).
        const uint32_t icmp = kIpv6HeaderLen + (l3[kIpv6HeaderLen + 1] + 1u) * 8;
        if (l3[kIpv6HeaderLen] == kIpProtoIcmpv6 && l3len >= icmp + 4) p.icmp6_type = l3[icmp];
      }
      if (l3[6] == kIpProtoIcmpv6 && l3[7] == 255 && l3len >= kIpv6HeaderLen + kIcmpv6NdLen &&
          l3[kIpv6HeaderLen] == kIcmpv6NeighborSolicit && l3[kIpv6HeaderLen + 1] == 0) {
        p.is_ns = true;
        p.ns_target = loadIpv6(l3 + kIpv6HeaderLen + 8);
      }
      return true;
    default:
      return true;
  }
}

// Rewrites an ARP request in place into the reply "`target_ip` is at `answer`".
Action arpReply(uint8_t* f, uint32_t len, const MacAddr& answer) noexcept {
  uint8_t* arp = f + kEthHeaderLen;
  uint8_t requester_mac[6], requester_ip[4], target_ip[4];
  std::memcpy(requester_mac, arp + 8, 6);
  std::memcpy(requester_ip, arp + 14, 4);
  std::memcpy(target_ip, arp + 24, 4);
  std::memcpy(f, f + 6, 6);  // eth dst = eth src of the request
  storeMac(f + 6, answer);
  store16(arp + 6, kArpOpReply);
  storeMac(arp + 8, answer);
  std::memcpy(arp + 14, target_ip, 4);
  std::memcpy(arp + 18, requester_mac, 6);
  std::memcpy(arp + 24, requester_ip, 4);
  return reply(std::max(len, kArpFrameLen));
}

// Rewrites a Neighbor Solicitation in place into the Neighbor Advertisement "`target` is at
// `answer`" (RFC 4861 7.2.4), with a target link-layer address option.
Action ndpAdvert(uint8_t* f, uint32_t capacity, const Parsed& ns, const MacAddr& answer) noexcept {
  if (capacity < kNaFrameLen) return drop(DropReason::Other);
  const bool dad = isUnspecified(ns.ip6_src);  // duplicate address detection probe
  uint8_t* ip6 = f + kEthHeaderLen;
  uint8_t* icmp = ip6 + kIpv6HeaderLen;
  // Ethernet: back to the solicitor, or all-nodes multicast for DAD.
  if (dad) {
    static constexpr uint8_t kAllNodesMac[6] = {0x33, 0x33, 0, 0, 0, 1};
    std::memcpy(f, kAllNodesMac, 6);
  } else {
    std::memcpy(f, f + 6, 6);
  }
  storeMac(f + 6, answer);
  // IPv6 header.
  ip6[0] = 0x60;
  ip6[1] = ip6[2] = ip6[3] = 0;
  store16(ip6 + 4, kIcmpv6NdLen + kNdOptionLinkAddrLen);
  ip6[6] = kIpProtoIcmpv6;
  ip6[7] = 255;
  if (dad) {
    static constexpr uint8_t kAllNodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    std::memcpy(ip6 + 24, kAllNodes, 16);
  } else {
    std::memcpy(ip6 + 24, ns.ip6_src.data(), 16);
  }
  std::memcpy(ip6 + 8, ns.ns_target.data(), 16);
  // ICMPv6 Neighbor Advertisement: Solicited (unless DAD) and Override.
  icmp[0] = kIcmpv6NeighborAdvert;
  icmp[1] = 0;
  store16(icmp + 2, 0);
  icmp[4] = dad ? 0x20 : 0x60;
  icmp[5] = icmp[6] = icmp[7] = 0;
  std::memcpy(icmp + 8, ns.ns_target.data(), 16);
  icmp[24] = 2;  // target link-layer address
  icmp[25] = 1;  // length in units of 8 bytes
  storeMac(icmp + 26, answer);
  // Checksum over the pseudo-header (src, dst, length, next header) and the message.
  const uint32_t icmp_len = kIcmpv6NdLen + kNdOptionLinkAddrLen;
  uint32_t sum = checksumPartial(ip6 + 8, 32);
  sum += icmp_len + kIpProtoIcmpv6;
  sum = checksumPartial(icmp, icmp_len, sum);
  store16(icmp + 2, checksumFold(sum));
  return reply(kNaFrameLen);
}

// vpc: a frame from the VPC side (the ENA uplink).
Action fromUplink(const NetworkView& net, uint8_t* f, uint32_t len, uint32_t capacity,
                  const Parsed& p) noexcept {
  const MacAddr dst = loadMac(f);
  if (!dst.isMulticast() && dst != net.eni_mac) return drop(DropReason::NoRoute);
  switch (p.ethertype) {
    case kEtherTypeArp: {
      auto owner = net.ipv4_owner.find(p.arp_tpa);
      if (owner == net.ipv4_owner.end()) return drop(DropReason::NoRoute);
      if (p.arp_op == kArpOpRequest) return arpReply(f, len, net.eni_mac);
      if (p.arp_op == kArpOpReply) return forwardTo(owner->second);
      return drop(DropReason::Other);
    }
    case kEtherTypeIpv4: {
      auto owner = net.ipv4_owner.find(p.ip4_dst);
      return owner == net.ipv4_owner.end() ? drop(DropReason::NoRoute) : forwardTo(owner->second);
    }
    case kEtherTypeIpv6: {
      // ipv6_owner holds the pods' link-local addresses too (podLinkLocal): the switch answers
      // for them as for the global ones, and unicast to them reaches their pod.
      if (p.is_ns) {
        return net.ipv6_owner.contains(p.ns_target) ? ndpAdvert(f, capacity, p, net.eni_mac)
                                                    : drop(DropReason::NoRoute);
      }
      // Router advertisements, MLD queries and unsolicited advertisements: every pod.
      if (p.ip6_dst == kIpv6AllNodes) return flood();
      auto owner = net.ipv6_owner.find(p.ip6_dst);
      return owner == net.ipv6_owner.end() ? drop(DropReason::NoRoute) : forwardTo(owner->second);
    }
    default:
      return drop(DropReason::Other);
  }
}

// vpc: where a frame from a pod goes once its source checked out: a local pod owning the
// destination (never the uplink), else the VPC.
Action towards(const NetworkView& net, const PortView& in, uint16_t owner) noexcept {
  if (owner == in.slot) return drop(DropReason::Other);  // to itself
  if (owner != kNoSlot) return forwardTo(owner);
  return net.uplink == kNoSlot ? drop(DropReason::NoRoute) : forwardTo(net.uplink);
}

// vpc: may a pod send this IPv6 packet from its source address? Its own addresses, the
// link-local addresses derived from them (podLinkLocal), and the unspecified address where the
// RFCs allow it before an interface has an address: a duplicate address detection probe (a
// Neighbor Solicitation to the target's solicited-node group, RFC 4862 5.4.2), a Router
// Solicitation (RFC 4861 4.1) and an MLD report (RFC 3810 5.2.13; Linux sends them while its
// link-local address is tentative).
bool ipv6SourceAllowed(const PortView& in, const Parsed& p) noexcept {
  if (contains(in.ipv6, p.ip6_src)) return true;
  if (isIpv6LinkLocal(p.ip6_src)) {
    return std::any_of(in.ipv6.begin(), in.ipv6.end(),
                       [&](const Ipv6Addr& a) { return podLinkLocal(a) == p.ip6_src; });
  }
  if (!isUnspecified(p.ip6_src)) return false;
  switch (p.icmp6_type) {
    case kIcmpv6NeighborSolicit:
      return p.is_ns && isSolicitedNodeOf(p.ip6_dst, p.ns_target);
    case kIcmpv6RouterSolicit:
      return p.ip6_dst == kIpv6AllRouters;
    case kIcmpv6Mldv2Report:
      return p.ip6_dst == kIpv6AllMldv2Routers;
    case kIcmpv6MldReport:
      return isIpv6Multicast(p.ip6_dst);
    default:
      return false;
  }
}

// vpc: a frame from a pod port. Pods use the ENI's MAC and only their own IPs.
Action fromPod(const NetworkView& net, const PortView& in, uint8_t* f, uint32_t len,
               uint32_t capacity, const Parsed& p) noexcept {
  if (loadMac(f + 6) != in.mac) return drop(DropReason::Spoofed);
  switch (p.ethertype) {
    case kEtherTypeArp: {
      if (p.arp_sha != in.mac || !contains(in.ipv4, p.arp_spa)) return drop(DropReason::Spoofed);
      auto owner = net.ipv4_owner.find(p.arp_tpa);
      const uint16_t local = owner == net.ipv4_owner.end() ? kNoSlot : owner->second;
      // Another pod on this network: all pods share the ENI MAC, so the switch answers.
      if (p.arp_op == kArpOpRequest && local != kNoSlot && local != in.slot) {
        return arpReply(f, len, net.eni_mac);
      }
      return net.uplink == kNoSlot ? drop(DropReason::NoRoute) : forwardTo(net.uplink);
    }
    case kEtherTypeIpv4: {
      if (!contains(in.ipv4, p.ip4_src)) return drop(DropReason::Spoofed);
      auto owner = net.ipv4_owner.find(p.ip4_dst);
      return towards(net, in, owner == net.ipv4_owner.end() ? kNoSlot : owner->second);
    }
    case kEtherTypeIpv6: {
      if (!ipv6SourceAllowed(in, p)) return drop(DropReason::Spoofed);
      if (p.is_ns) {
        auto owner = net.ipv6_owner.find(p.ns_target);
        if (owner != net.ipv6_owner.end() && owner->second != in.slot) {
          return ndpAdvert(f, capacity, p, net.eni_mac);
        }
        return net.uplink == kNoSlot ? drop(DropReason::NoRoute) : forwardTo(net.uplink);
      }
      auto owner = net.ipv6_owner.find(p.ip6_dst);
      return towards(net, in, owner == net.ipv6_owner.end() ? kNoSlot : owner->second);
    }
    default:
      return drop(DropReason::Other);
  }
}

// l2: a MAC-learning bridge.
Action bridge(const ForwardingTable& table, const NetworkView& net, const PortView& in,
              const uint8_t* f, uint64_t now) noexcept {
  const MacAddr src = loadMac(f + 6);
  if (src.isMulticast() || src.isZero()) return drop(DropReason::Other);
  if (in.has_mac && src != in.mac) return drop(DropReason::Spoofed);
  if (!net.fdb->learn(src, {in.slot, in.generation}, now)) return drop(DropReason::MacTableFull);
  const MacAddr dst = loadMac(f);
  if (dst.isMulticast()) return flood();
  std::optional<FdbLocation> where = net.fdb->lookup(dst, now);
  if (!where) return flood();
  const PortView* out = table.slots[where->slot];
  // A stale entry (port gone, slot reused, or another network) is an unknown destination.
  if (out == nullptr || out->generation != where->generation || out->network != in.network) {
    return flood();
  }
  if (out->slot == in.slot) return drop(DropReason::Other);
  return forwardTo(out->slot);
}

}  // namespace

Action decide(const ForwardingTable& table, const PortView& ingress, uint8_t* frame, uint32_t len,
              uint32_t capacity, uint64_t now) noexcept {
  const NetworkView& net = table.networks[ingress.network];
  switch (net.mode) {
    case NetworkMode::L2:
      if (len < kEthHeaderLen) return drop(DropReason::Other);
      return bridge(table, net, ingress, frame, now);
    case NetworkMode::Vpc:
      break;
  }
  Parsed p;
  if (!parse(frame, len, p)) return drop(DropReason::Other);
  return ingress.is_uplink ? fromUplink(net, frame, len, capacity, p)
                           : fromPod(net, ingress, frame, len, capacity, p);
}

Action DecisionCache::miss(const ForwardingTable& table, const PortView& ingress, uint8_t* frame,
                           uint32_t len, uint32_t capacity, uint64_t now, const Key& key) noexcept {
  const Action a = vhostuser::decide(table, ingress, frame, len, capacity, now);
  if (a.kind == ActionKind::Reply) {  // the frame was rewritten: nothing to reuse
    last_ = nullptr;
    return a;
  }
  // vpc: the key's way, kept for the rest of the burst; l2: only as the previous answer.
  const bool vpc = table.networks[ingress.network].mode == NetworkMode::Vpc;
  const unsigned way = vpc ? wayOf(key) : 0;
  ways_[way] = Entry::of(key, a);
  if (vpc) ways_valid_ = static_cast<uint8_t>(ways_valid_ | 1u << way);
  last_ = &ways_[way];
  return a;
}

}  // namespace enadpdk::vhostuser
