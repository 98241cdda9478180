#include "vhostuser/forwarding.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "tests/support/packet_builder.h"

namespace enadpdk::vhostuser {
namespace {

using testing::Frame;
namespace pb = enadpdk::testing;

constexpr char kEni[] = "02:00:00:00:00:aa";
constexpr char kVpcPeer[] = "02:00:00:00:00:ee";  // the VPC router's MAC on the wire
constexpr char kBcast[] = "ff:ff:ff:ff:ff:ff";
constexpr uint16_t kUplink = 0, kPod1 = 1, kPod2 = 2, kL2a = 4, kL2b = 5;

uint32_t ip4(const char* s) {
  auto b = pb::ipBytes(s);
  return load32(b.data());
}
Ipv6Addr ip6(const char* s) {
  auto b = pb::ipBytes(s);
  return loadIpv6(b.data());
}

// One vpc network (uplink + two pods) and one l2 network (two pods), as the switch builds them.
class ForwardingTest : public ::testing::Test {
 protected:
  ForwardingTest() : fdb_(64, 1000) {
    table_.storage.reserve(8);
    NetworkView vpc;
    vpc.mode = NetworkMode::Vpc;
    vpc.uplink = kUplink;
    vpc.eni_mac = *parseMac(kEni);
    NetworkView l2;
    l2.mode = NetworkMode::L2;
    l2.fdb = &fdb_;
    table_.networks = {vpc, l2};
    add({.slot = kUplink, .network = 0, .is_uplink = true, .mac = *parseMac(kEni)});
    add({.slot = kPod1,
         .network = 0,
         .mac = *parseMac(kEni),
         .ipv4 = {ip4("10.0.1.10")},
         .ipv6 = {ip6("2600::10")}});
    add({.slot = kPod2,
         .network = 0,
         .mac = *parseMac(kEni),
         .ipv4 = {ip4("10.0.1.11")},
         .ipv6 = {ip6("2600::11")}});
    add({.slot = kL2a, .network = 1, .has_mac = true, .mac = *parseMac("02:00:00:00:00:04")});
    add({.slot = kL2b, .network = 1, .has_mac = true, .mac = *parseMac("02:00:00:00:00:05")});
  }

  void add(PortView p) {
    table_.storage.push_back(p);
    const PortView& v = table_.storage.back();
    table_.slots[v.slot] = &v;
    NetworkView& net = table_.networks[v.network];
    if (v.is_uplink) return;
    net.ports.push_back(v.slot);
    for (uint32_t a : v.ipv4) net.ipv4_owner[a] = v.slot;
    for (const Ipv6Addr& a : v.ipv6) net.ipv6_owner[a] = v.slot;
    for (const Ipv6Addr& a : v.ipv6) net.ipv6_owner.try_emplace(podLinkLocal(a), v.slot);
  }

  Action run(uint16_t ingress, Frame& f, uint64_t now = 1) {
    f.reserve(256);
    const uint32_t len = f.size();
    f.resize(256);
    Action a = decide(table_, *table_.slots[ingress], f.data(), len, 256, now);
    f.resize(a.kind == ActionKind::Reply ? a.length : len);
    return a;
  }

  Fdb fdb_;
  ForwardingTable table_;
};

struct Case {
  const char* name;
  uint16_t ingress;
  Frame in;
  ActionKind kind;
  uint16_t slot = kNoSlot;                // Forward
  DropReason reason = DropReason::Other;  // Drop
};

TEST_F(ForwardingTest, VpcDecisions) {
  const Case cases[] = {
      {"VPC ARP reply for a pod goes to the pod", kUplink,
       pb::arp(2, kEni, kVpcPeer, kVpcPeer, "10.0.1.1", kEni, "10.0.1.10"), ActionKind::Forward,
       kPod1},
      {"VPC ARP request for a foreign IP is not ours", kUplink,
       pb::arp(1, kBcast, kVpcPeer, kVpcPeer, "10.0.1.1", "00:00:00:00:00:00", "10.0.1.99"),
       ActionKind::Drop, kNoSlot, DropReason::NoRoute},
      {"ingress IPv4 is demultiplexed by destination IP", kUplink,
       pb::udp4(kEni, kVpcPeer, "8.8.8.8", "10.0.1.11"), ActionKind::Forward, kPod2},
      {"ingress IPv4 to an unknown IP", kUplink, pb::udp4(kEni, kVpcPeer, "8.8.8.8", "10.0.1.99"),
       ActionKind::Drop, kNoSlot, DropReason::NoRoute},
      {"ingress to another unicast MAC", kUplink,
       pb::udp4("02:00:00:00:00:bb", kVpcPeer, "8.8.8.8", "10.0.1.10"), ActionKind::Drop, kNoSlot,
       DropReason::NoRoute},
      {"ingress IPv6 by destination", kUplink, pb::udp6(kEni, kVpcPeer, "2600::1", "2600::10"),
       ActionKind::Forward, kPod1},
      {"ingress IPv6 to an unknown IP", kUplink, pb::udp6(kEni, kVpcPeer, "2600::1", "2600::99"),
       ActionKind::Drop, kNoSlot, DropReason::NoRoute},
      {"pod to pod on the same network stays local", kPod1,
       pb::udp4(kEni, kEni, "10.0.1.10", "10.0.1.11"), ActionKind::Forward, kPod2},
      {"pod to the VPC leaves through the uplink unchanged", kPod1,
       pb::udp4(kVpcPeer, kEni, "10.0.1.10", "8.8.8.8"), ActionKind::Forward, kUplink},
      {"pod IPv6 to pod", kPod1, pb::udp6(kEni, kEni, "2600::10", "2600::11"), ActionKind::Forward,
       kPod2},
      {"pod IPv6 to the VPC", kPod2, pb::udp6(kVpcPeer, kEni, "2600::11", "2600::1"),
       ActionKind::Forward, kUplink},
      {"spoofed source IPv4", kPod1, pb::udp4(kVpcPeer, kEni, "10.0.1.11", "8.8.8.8"),
       ActionKind::Drop, kNoSlot, DropReason::Spoofed},
      {"spoofed source IPv6", kPod1, pb::udp6(kVpcPeer, kEni, "2600::11", "2600::1"),
       ActionKind::Drop, kNoSlot, DropReason::Spoofed},
      {"spoofed source MAC", kPod1, pb::udp4(kVpcPeer, "02:00:00:00:00:01", "10.0.1.10", "8.8.8.8"),
       ActionKind::Drop, kNoSlot, DropReason::Spoofed},
      {"pod ARP for the gateway passes to the VPC", kPod1,
       pb::arp(1, kBcast, kEni, kEni, "10.0.1.10", "00:00:00:00:00:00", "10.0.1.1"),
       ActionKind::Forward, kUplink},
      {"pod ARP with a foreign sender IP", kPod1,
       pb::arp(1, kBcast, kEni, kEni, "10.0.1.11", "00:00:00:00:00:00", "10.0.1.1"),
       ActionKind::Drop, kNoSlot, DropReason::Spoofed},
      {"pod ARP with a foreign sender MAC", kPod1,
       pb::arp(1, kBcast, kEni, "02:00:00:00:00:01", "10.0.1.10", "00:00:00:00:00:00", "10.0.1.1"),
       ActionKind::Drop, kNoSlot, DropReason::Spoofed},
      {"pod to itself", kPod1, pb::udp4(kEni, kEni, "10.0.1.10", "10.0.1.10"), ActionKind::Drop,
       kNoSlot, DropReason::Other},
      {"pod DAD probe for its own address goes to the VPC", kPod1,
       pb::neighborSolicit(kEni, "::", "2600::10"), ActionKind::Forward, kUplink},
      // IPv6 on a vpc network: pod 1's link-local address is fe80::10 (fe80:: + the low 64 bits
      // of 2600::10), pod 2's fe80::11; the VPC router is fe80::1.
      {"pod DAD probe for its link-local address goes to the VPC", kPod1,
       pb::neighborSolicit(kEni, "::", "fe80::10"), ActionKind::Forward, kUplink},
      {"pod NS from :: to all-nodes instead of the solicited-node group", kPod1,
       pb::neighborSolicitTo("33:33:00:00:00:01", kEni, "::", "ff02::1", "2600::10"),
       ActionKind::Drop, kNoSlot, DropReason::Spoofed},
      {"pod NS from :: to the router (not DAD)", kPod1,
       pb::neighborSolicitTo(kVpcPeer, kEni, "::", "fe80::1", "fe80::1"), ActionKind::Drop, kNoSlot,
       DropReason::Spoofed},
      {"pod RS from its link-local address to ff02::2 goes to the VPC", kPod1,
       pb::routerSolicit(kEni, "fe80::10"), ActionKind::Forward, kUplink},
      {"pod RS from :: to ff02::2 goes to the VPC", kPod1, pb::routerSolicit(kEni, "::"),
       ActionKind::Forward, kUplink},
      {"pod RS from another pod's link-local address", kPod1, pb::routerSolicit(kEni, "fe80::11"),
       ActionKind::Drop, kNoSlot, DropReason::Spoofed},
      {"pod RS from its EUI-64 link-local address (not derived from its IPs)", kPod1,
       pb::routerSolicit(kEni, "fe80::ff:fe00:aa"), ActionKind::Drop, kNoSlot, DropReason::Spoofed},
      {"pod NS for the router from its link-local address goes to the VPC", kPod1,
       pb::neighborSolicit(kEni, "fe80::10", "fe80::1"), ActionKind::Forward, kUplink},
      {"pod NS to the router's link-local unicast goes to the VPC", kPod1,
       pb::neighborSolicitTo(kVpcPeer, kEni, "fe80::10", "fe80::1", "fe80::1"), ActionKind::Forward,
       kUplink},
      {"pod NS for the router from another pod's link-local address", kPod2,
       pb::neighborSolicit(kEni, "fe80::10", "fe80::1"), ActionKind::Drop, kNoSlot,
       DropReason::Spoofed},
      {"pod MLDv2 report from :: goes to the VPC", kPod1,
       pb::mldv2Report(kEni, "::", "ff02::1:ff00:10"), ActionKind::Forward, kUplink},
      {"pod MLDv2 report from its link-local address goes to the VPC", kPod1,
       pb::mldv2Report(kEni, "fe80::10", "ff02::1:ff00:10"), ActionKind::Forward, kUplink},
      {"pod MLDv2 report from another pod's link-local address", kPod1,
       pb::mldv2Report(kEni, "fe80::11", "ff02::1:ff00:10"), ActionKind::Drop, kNoSlot,
       DropReason::Spoofed},
      {"pod UDP from ::", kPod1, pb::udp6(kVpcPeer, kEni, "::", "2600::1"), ActionKind::Drop,
       kNoSlot, DropReason::Spoofed},
      {"pod echo request from ::", kPod1, pb::echo6(kVpcPeer, kEni, "::", "2600::1"),
       ActionKind::Drop, kNoSlot, DropReason::Spoofed},
      {"pod echo from its global address to the VPC", kPod1,
       pb::echo6(kVpcPeer, kEni, "2600::10", "2600::1"), ActionKind::Forward, kUplink},
      {"pod link-local to another pod's link-local stays local", kPod1,
       pb::udp6(kEni, kEni, "fe80::10", "fe80::11"), ActionKind::Forward, kPod2},
      {"pod link-local to the router's link-local goes to the VPC", kPod1,
       pb::echo6(kVpcPeer, kEni, "fe80::10", "fe80::1"), ActionKind::Forward, kUplink},
      {"VPC RA to all-nodes is flooded to the pods", kUplink,
       pb::routerAdvert("", kVpcPeer, "fe80::1", "ff02::1"), ActionKind::Flood},
      {"VPC RA sent unicast to a pod's link-local address reaches that pod", kUplink,
       pb::routerAdvert(kEni, kVpcPeer, "fe80::1", "fe80::11"), ActionKind::Forward, kPod2},
      {"VPC RA to a link-local address no pod derives", kUplink,
       pb::routerAdvert(kEni, kVpcPeer, "fe80::1", "fe80::99"), ActionKind::Drop, kNoSlot,
       DropReason::NoRoute},
      {"VPC echo to a pod's link-local address", kUplink,
       pb::echo6(kEni, kVpcPeer, "fe80::1", "fe80::10"), ActionKind::Forward, kPod1},
      {"VPC echo to a pod's global address", kUplink,
       pb::echo6(kEni, kVpcPeer, "2600::1", "2600::11"), ActionKind::Forward, kPod2},
      {"VPC RS to ff02::2 is for routers, not pods", kUplink,
       pb::routerSolicit(kVpcPeer, "fe80::1"), ActionKind::Drop, kNoSlot, DropReason::NoRoute},
      {"VPC MLDv2 report to ff02::16 is not for pods", kUplink,
       pb::mldv2Report(kVpcPeer, "fe80::1", "ff02::1:ff00:1"), ActionKind::Drop, kNoSlot,
       DropReason::NoRoute},
      {"truncated frame", kPod1, Frame{0x02, 0, 0}, ActionKind::Drop, kNoSlot, DropReason::Other},
      {"truncated IPv4 header", kPod1, pb::ethernet(kVpcPeer, kEni, 0x0800, {0x45, 0, 0}),
       ActionKind::Drop, kNoSlot, DropReason::Other},
      {"unsupported ethertype", kPod1, pb::ethernet(kVpcPeer, kEni, 0x88cc, Frame(46, 0)),
       ActionKind::Drop, kNoSlot, DropReason::Other},
  };
  for (const Case& c : cases) {
    Frame f = c.in;
    Action a = run(c.ingress, f);
    EXPECT_EQ(a.kind, c.kind) << c.name;
    if (c.kind == ActionKind::Forward) {
      EXPECT_EQ(a.slot, c.slot) << c.name;
    }
    if (c.kind == ActionKind::Drop) {
      EXPECT_EQ(a.reason, c.reason) << c.name;
    }
    EXPECT_EQ(f, c.in) << c.name << ": frame must be unchanged";
  }
}

TEST_F(ForwardingTest, SwitchAnswersArpForPodIpsFromTheVpc) {
  Frame f = pb::arp(1, kBcast, kVpcPeer, kVpcPeer, "10.0.1.1", "00:00:00:00:00:00", "10.0.1.10");
  Action a = run(kUplink, f);
  ASSERT_EQ(a.kind, ActionKind::Reply);
  EXPECT_EQ(f, pb::arp(2, kVpcPeer, kEni, kEni, "10.0.1.10", kVpcPeer, "10.0.1.1"));
}

TEST_F(ForwardingTest, SwitchAnswersArpBetweenLocalPods) {
  Frame f = pb::arp(1, kBcast, kEni, kEni, "10.0.1.10", "00:00:00:00:00:00", "10.0.1.11");
  Action a = run(kPod1, f);
  ASSERT_EQ(a.kind, ActionKind::Reply);
  EXPECT_EQ(f, pb::arp(2, kEni, kEni, kEni, "10.0.1.11", kEni, "10.0.1.10"));
}

TEST_F(ForwardingTest, SwitchAnswersNeighborSolicitationsForPodIps) {
  Frame f = pb::neighborSolicit(kVpcPeer, "2600::1", "2600::11");
  ASSERT_TRUE(pb::icmpv6ChecksumValid(f));
  Action a = run(kUplink, f);
  ASSERT_EQ(a.kind, ActionKind::Reply);
  ASSERT_EQ(f.size(), 86u);
  EXPECT_EQ(Frame(f.begin(), f.begin() + 6), pb::macBytes(kVpcPeer));         // back to solicitor
  EXPECT_EQ(Frame(f.begin() + 6, f.begin() + 12), pb::macBytes(kEni));        // from the ENI MAC
  EXPECT_EQ(Frame(f.begin() + 22, f.begin() + 38), pb::ipBytes("2600::11"));  // src = target
  EXPECT_EQ(Frame(f.begin() + 38, f.begin() + 54), pb::ipBytes("2600::1"));   // dst = solicitor
  EXPECT_EQ(f[54], 136);   // Neighbor Advertisement
  EXPECT_EQ(f[58], 0x60);  // Solicited + Override
  EXPECT_EQ(Frame(f.begin() + 62, f.begin() + 78), pb::ipBytes("2600::11"));
  EXPECT_EQ(f[78], 2);  // target link-layer address option
  EXPECT_EQ(Frame(f.begin() + 80, f.begin() + 86), pb::macBytes(kEni));
  EXPECT_TRUE(pb::icmpv6ChecksumValid(f));

  Frame unknown = pb::neighborSolicit(kVpcPeer, "2600::1", "2600::99");
  EXPECT_EQ(run(kUplink, unknown).reason, DropReason::NoRoute);

  Frame local = pb::neighborSolicit(kEni, "2600::10", "2600::11");
  ASSERT_EQ(run(kPod1, local).kind, ActionKind::Reply);
  EXPECT_TRUE(pb::icmpv6ChecksumValid(local));
}

// The switch answers for the pods' derived link-local addresses as for their global ones:
// solicited (multicast) and unicast (neighbour unreachability detection) alike.
TEST_F(ForwardingTest, SwitchAnswersNeighborSolicitationsForPodLinkLocalAddresses) {
  Frame multicast = pb::neighborSolicit(kVpcPeer, "fe80::1", "fe80::10");
  ASSERT_EQ(run(kUplink, multicast).kind, ActionKind::Reply);
  EXPECT_EQ(Frame(multicast.begin(), multicast.begin() + 6), pb::macBytes(kVpcPeer));
  EXPECT_EQ(Frame(multicast.begin() + 22, multicast.begin() + 38), pb::ipBytes("fe80::10"));
  EXPECT_EQ(Frame(multicast.begin() + 38, multicast.begin() + 54), pb::ipBytes("fe80::1"));
  EXPECT_EQ(multicast[54], 136);
  EXPECT_EQ(Frame(multicast.begin() + 62, multicast.begin() + 78), pb::ipBytes("fe80::10"));
  EXPECT_EQ(Frame(multicast.begin() + 80, multicast.begin() + 86), pb::macBytes(kEni));
  EXPECT_TRUE(pb::icmpv6ChecksumValid(multicast));

  Frame unicast = pb::neighborSolicitTo(kEni, kVpcPeer, "fe80::1", "fe80::11", "fe80::11");
  ASSERT_EQ(run(kUplink, unicast).kind, ActionKind::Reply);
  EXPECT_EQ(Frame(unicast.begin() + 22, unicast.begin() + 38), pb::ipBytes("fe80::11"));
  EXPECT_TRUE(pb::icmpv6ChecksumValid(unicast));

  Frame other = pb::neighborSolicit(kVpcPeer, "fe80::1", "fe80::99");
  EXPECT_EQ(run(kUplink, other).reason, DropReason::NoRoute);

  // One pod asking for another's link-local address: answered too (all share the ENI MAC).
  Frame local = pb::neighborSolicit(kEni, "fe80::10", "fe80::11");
  ASSERT_EQ(run(kPod1, local).kind, ActionKind::Reply);
  EXPECT_EQ(Frame(local.begin() + 38, local.begin() + 54), pb::ipBytes("fe80::10"));
  EXPECT_TRUE(pb::icmpv6ChecksumValid(local));
}

// Someone in the VPC probing (DAD) an address a pod owns learns that it is taken: the answer
// goes to all-nodes, unsolicited (RFC 4862 5.4.3).
TEST_F(ForwardingTest, SwitchDefendsPodAddressesAgainstDadProbesFromTheVpc) {
  Frame f = pb::neighborSolicit(kVpcPeer, "::", "2600::10");
  ASSERT_EQ(run(kUplink, f).kind, ActionKind::Reply);
  EXPECT_EQ(Frame(f.begin(), f.begin() + 6), pb::macBytes("33:33:00:00:00:01"));
  EXPECT_EQ(Frame(f.begin() + 22, f.begin() + 38), pb::ipBytes("2600::10"));
  EXPECT_EQ(Frame(f.begin() + 38, f.begin() + 54), pb::ipBytes("ff02::1"));
  EXPECT_EQ(f[58], 0x20);  // Override, not Solicited
  EXPECT_TRUE(pb::icmpv6ChecksumValid(f));
}

// A pod's DAD probe for an address another pod owns is answered: the address is a duplicate.
TEST_F(ForwardingTest, PodDadProbeForAnotherPodsAddressIsAnswered) {
  Frame f = pb::neighborSolicit(kEni, "::", "fe80::11");
  ASSERT_EQ(run(kPod1, f).kind, ActionKind::Reply);
  EXPECT_EQ(Frame(f.begin() + 22, f.begin() + 38), pb::ipBytes("fe80::11"));
  EXPECT_EQ(Frame(f.begin() + 38, f.begin() + 54), pb::ipBytes("ff02::1"));
}

TEST(PodLinkLocal, IsFe80PlusTheLow64BitsOfTheAddress) {
  EXPECT_EQ(podLinkLocal(ip6("2600:1f14:abc:de00:1234:5678:9abc:def0")),
            ip6("fe80::1234:5678:9abc:def0"));
  EXPECT_EQ(podLinkLocal(ip6("2600::10")), ip6("fe80::10"));
  EXPECT_EQ(podLinkLocal(ip6("fe80::10")), ip6("fe80::10"));
  EXPECT_TRUE(isIpv6LinkLocal(ip6("fe80::10")));
  EXPECT_TRUE(isIpv6LinkLocal(ip6("febf::1")));
  EXPECT_FALSE(isIpv6LinkLocal(ip6("fec0::1")));
  EXPECT_FALSE(isIpv6LinkLocal(ip6("2600::10")));
  EXPECT_TRUE(isSolicitedNodeOf(ip6("ff02::1:ff00:10"), ip6("2600::10")));
  EXPECT_TRUE(isSolicitedNodeOf(ip6("ff02::1:ffbc:def0"), ip6("fe80::9abc:def0")));
  EXPECT_FALSE(isSolicitedNodeOf(ip6("ff02::1:ff00:11"), ip6("2600::10")));
  EXPECT_FALSE(isSolicitedNodeOf(ip6("ff02::1"), ip6("2600::10")));
  EXPECT_TRUE(isUnspecified(ip6("::")));
  EXPECT_FALSE(isUnspecified(ip6("::1")));
}

TEST_F(ForwardingTest, L2LearnsFloodsAndForwards) {
  const char* a = "02:00:00:00:00:04";
  const char* b = "02:00:00:00:00:05";
  Frame bcast = pb::udp4(kBcast, a, "192.168.0.4", "192.168.0.255");
  EXPECT_EQ(run(kL2a, bcast).kind, ActionKind::Flood);
  Frame unknown = pb::udp4("02:00:00:00:00:99", b, "192.168.0.5", "192.168.0.9");
  EXPECT_EQ(run(kL2b, unknown).kind, ActionKind::Flood);
  Frame to_a = pb::udp4(a, b, "192.168.0.5", "192.168.0.4");
  Action fwd = run(kL2b, to_a);
  EXPECT_EQ(fwd.kind, ActionKind::Forward);
  EXPECT_EQ(fwd.slot, kL2a);
  Frame to_b = pb::udp4(b, a, "192.168.0.4", "192.168.0.5");
  EXPECT_EQ(run(kL2a, to_b).slot, kL2b);
  // Spoofed source MAC on a port with a MAC.
  Frame spoof = pb::udp4(b, "02:00:00:00:00:66", "192.168.0.4", "192.168.0.5");
  EXPECT_EQ(run(kL2a, spoof).reason, DropReason::Spoofed);
  // After aging (1000 ticks) the destination is unknown again.
  Frame later = pb::udp4(a, b, "192.168.0.5", "192.168.0.4");
  EXPECT_EQ(run(kL2b, later, 5000).kind, ActionKind::Flood);
}

TEST_F(ForwardingTest, L2IgnoresStaleEntriesOfReusedSlots) {
  const char* a = "02:00:00:00:00:04";
  Frame from_a = pb::udp4(kBcast, a, "192.168.0.4", "192.168.0.255");
  run(kL2a, from_a);
  // The port in slot kL2a is replaced by a new one (new generation, other MAC).
  table_.storage.push_back({.slot = kL2a,
                            .generation = 1,
                            .network = 1,
                            .has_mac = true,
                            .mac = *parseMac("02:00:00:00:00:44")});
  table_.slots[kL2a] = &table_.storage.back();
  Frame to_a = pb::udp4(a, "02:00:00:00:00:05", "192.168.0.5", "192.168.0.4");
  EXPECT_EQ(run(kL2b, to_a).kind, ActionKind::Flood);
}

// The decision cache gives every frame of a burst what decide() gives it: run each table case
// (and each case twice in a row, the cache's hit) through one cache and compare.
TEST_F(ForwardingTest, DecisionCacheAgreesWithDecide) {
  const char* a = "02:00:00:00:00:04";
  const char* b = "02:00:00:00:00:05";
  struct Step {
    uint16_t ingress;
    Frame frame;
  };
  const std::vector<Step> steps = {
      {kPod1, pb::udp4(kEni, kEni, "10.0.1.10", "10.0.1.11")},    // local
      {kPod1, pb::udp4(kEni, kEni, "10.0.1.10", "10.0.1.11")},    // hit
      {kPod1, pb::udp4(kVpcPeer, kEni, "10.0.1.10", "8.8.8.8")},  // other destination
      {kPod1, pb::udp4(kVpcPeer, kEni, "10.0.1.11", "8.8.8.8")},  // other source: spoofed
      {kPod1, pb::udp4(kVpcPeer, kEni, "10.0.1.11", "8.8.8.8")},  // spoofed again (hit)
      {kPod1, pb::udp6(kEni, kEni, "2600::10", "2600::11")},      // IPv6: not cached
      {kPod1, pb::routerSolicit(kEni, "fe80::10")},               // link-local source
      {kPod1, pb::routerSolicit(kEni, "fe80::11")},               // another pod's: spoofed
      {kPod1, pb::arp(1, kBcast, kEni, kEni, "10.0.1.10", "00:00:00:00:00:00", "10.0.1.11")},
      {kPod1, pb::arp(1, kBcast, kEni, kEni, "10.0.1.10", "00:00:00:00:00:00", "10.0.1.11")},
      {kPod1, pb::ethernet(kVpcPeer, kEni, 0x0800, {0x45, 0, 0})},  // truncated IPv4
      {kUplink, pb::udp4(kEni, kVpcPeer, "8.8.8.8", "10.0.1.11")},
      {kUplink, pb::udp4(kEni, kVpcPeer, "8.8.8.8", "10.0.1.10")},
      {kUplink, pb::udp4("02:00:00:00:00:bb", kVpcPeer, "8.8.8.8", "10.0.1.10")},
      // Interleaved destinations, as from a VPC sending to many pods (several cache ways).
      {kUplink, pb::udp4(kEni, kVpcPeer, "8.8.8.8", "10.0.1.11")},
      {kUplink, pb::udp4(kEni, kVpcPeer, "8.8.8.8", "10.0.1.10")},
      {kUplink, pb::udp4(kEni, kVpcPeer, "8.8.8.8", "10.0.1.12")},  // no pod
      {kUplink, pb::udp4(kEni, kVpcPeer, "8.8.8.8", "10.0.1.11")},
      // .18 shares .10's way (8^10 and 8^18 end in the same three bits): each replaces the other.
      {kUplink, pb::udp4(kEni, kVpcPeer, "8.8.8.8", "10.0.1.18")},
      {kUplink, pb::udp4(kEni, kVpcPeer, "8.8.8.8", "10.0.1.10")},
      {kUplink, pb::udp4(kEni, kVpcPeer, "8.8.8.8", "10.0.1.18")},
      {kUplink, pb::udp4(kEni, kVpcPeer, "8.8.8.9", "10.0.1.10")},      // other source, other way
      {kUplink, pb::routerAdvert("", kVpcPeer, "fe80::1", "ff02::1")},  // flood
      {kUplink, pb::routerAdvert("", kVpcPeer, "fe80::1", "ff02::1")},
      {kL2a, pb::udp4(kBcast, a, "192.168.0.4", "192.168.0.255")},  // flood, learns a
      {kL2b, pb::udp4(a, b, "192.168.0.5", "192.168.0.4")},         // to a
      {kL2b, pb::udp4(a, b, "192.168.0.5", "192.168.0.4")},         // hit
      {kL2b, pb::udp4(b, b, "192.168.0.5", "192.168.0.4")},         // hairpin
      {kL2b, Frame{0x02, 0, 0}},                                    // truncated
  };
  // Reference: decide() alone, on a fresh MAC table.
  std::vector<Action> expected;
  for (const Step& st : steps) {
    Frame f = st.frame;
    expected.push_back(run(st.ingress, f));
  }
  Fdb fresh(64, 1000);
  table_.networks[1].fdb = &fresh;
  DecisionCache cache;
  uint16_t last_ingress = kNoSlot;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].ingress != last_ingress) cache.reset();  // a new burst
    last_ingress = steps[i].ingress;
    Frame f = steps[i].frame;
    const uint32_t len = f.size();
    f.resize(256);
    Action got = cache.decide(table_, *table_.slots[steps[i].ingress], f.data(), len, 256, 1);
    EXPECT_EQ(got.kind, expected[i].kind) << "step " << i;
    EXPECT_EQ(got.slot, expected[i].slot) << "step " << i;
    EXPECT_EQ(got.reason, expected[i].reason) << "step " << i;
    EXPECT_EQ(got.length, expected[i].length) << "step " << i;
  }
}

// With a VPC sending to many pods round robin, each pod's key keeps its own entry through a burst:
// the answers come from the cache, not from the table. White box: the test changes the table in
// the middle of a burst (the switch never does: a burst is forwarded with one immutable table), so
// an answer that ignores the change can only have come from the cache.
TEST_F(ForwardingTest, DecisionCacheKeepsAnEntryPerDestinationInAVpcBurst) {
  const Frame toPod1 = pb::udp4(kEni, kVpcPeer, "8.8.8.8", "10.0.1.10");
  const Frame toPod2 = pb::udp4(kEni, kVpcPeer, "8.8.8.8", "10.0.1.11");
  DecisionCache cache;
  cache.reset();
  auto send = [&](const Frame& frame) {
    Frame f = frame;
    const uint32_t len = f.size();
    f.resize(256);
    return cache.decide(table_, *table_.slots[kUplink], f.data(), len, 256, 1);
  };
  EXPECT_EQ(send(toPod1).slot, kPod1);
  EXPECT_EQ(send(toPod2).slot, kPod2);
  table_.networks[0].ipv4_owner.erase(ip4("10.0.1.10"));
  table_.networks[0].ipv4_owner.erase(ip4("10.0.1.11"));
  // Both entries survive the other destination's frames.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(send(toPod1).slot, kPod1) << i;
    EXPECT_EQ(send(toPod2).slot, kPod2) << i;
  }
  // A new burst forgets them and asks the (changed) table.
  cache.reset();
  const Action a = send(toPod1);
  EXPECT_EQ(a.kind, ActionKind::Drop);
  EXPECT_EQ(a.reason, DropReason::NoRoute);
}

TEST(Fdb, LearnLookupMoveAgeAndFull) {
  Fdb fdb(4, 100);  // one bucket of four entries
  ASSERT_EQ(fdb.capacity(), 4u);
  MacAddr m[6];
  for (int i = 0; i < 6; ++i) m[i] = *parseMac("02:00:00:00:00:0" + std::to_string(i + 1));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(fdb.learn(m[i], {uint16_t(i), 0}, 10));
  EXPECT_EQ(fdb.size(10), 4u);
  EXPECT_FALSE(fdb.learn(m[4], {4, 0}, 20)) << "bucket full";
  EXPECT_EQ(fdb.lookup(m[2], 20), (FdbLocation{2, 0}));
  EXPECT_TRUE(fdb.learn(m[2], {7, 3}, 30));  // the MAC moved to another port
  EXPECT_EQ(fdb.lookup(m[2], 30), (FdbLocation{7, 3}));
  EXPECT_FALSE(fdb.lookup(m[5], 30).has_value());
  // At 150 the entries learned at 10 have aged out; m[2] (seen at 30) has not.
  EXPECT_FALSE(fdb.lookup(m[0], 150).has_value());
  EXPECT_TRUE(fdb.lookup(m[2], 120).has_value());
  EXPECT_TRUE(fdb.learn(m[4], {4, 0}, 150)) << "reuses an expired entry";
  EXPECT_EQ(fdb.lookup(m[4], 150), (FdbLocation{4, 0}));
  EXPECT_FALSE(fdb.learn(MacAddr{}, {1, 0}, 150)) << "zero MAC is never learned";
  // A `now` slightly behind another lcore's store is not an enormous age.
  EXPECT_TRUE(fdb.lookup(m[4], 149).has_value());
}

TEST(Fdb, ANewAgingTimeAppliesToEntriesLearnedBefore) {
  Fdb fdb(4, 100);
  const MacAddr mac = *parseMac("02:00:00:00:00:01");
  EXPECT_TRUE(fdb.learn(mac, {1, 0}, 10));
  EXPECT_FALSE(fdb.lookup(mac, 150).has_value()) << "aged out after 100";
  fdb.setAgingCycles(1000);  // a config reload: macAgingSeconds raised
  EXPECT_EQ(fdb.lookup(mac, 150), (FdbLocation{1, 0})) << "within the new aging time";
  EXPECT_EQ(fdb.size(150), 1u);
  fdb.setAgingCycles(50);  // lowered
  EXPECT_FALSE(fdb.lookup(mac, 100).has_value());
  EXPECT_EQ(fdb.size(100), 0u);
  EXPECT_TRUE(fdb.learn(*parseMac("02:00:00:00:00:02"), {2, 0}, 100));
  EXPECT_EQ(fdb.size(100), 1u) << "only the new entry is live";
}

TEST(MacAddr, ParseAndFormat) {
  EXPECT_EQ(formatMac(*parseMac("02:AB:cd:00:00:01")), "02:ab:cd:00:00:01");
  for (const char* bad :
       {"", "02:ab:cd:00:00", "02-ab-cd-00-00-01", "02:ab:cd:00:00:0g", "02:ab:cd:00:00:011"}) {
    EXPECT_FALSE(parseMac(bad).has_value()) << bad;
  }
  EXPECT_TRUE(parseMac("01:00:5e:00:00:01")->isMulticast());
  EXPECT_EQ(MacAddr::fromU64(parseMac("02:00:00:00:00:09")->toU64()),
            *parseMac("02:00:00:00:00:09"));
}

}  // namespace
}  // namespace enadpdk::vhostuser
