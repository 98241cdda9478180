#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "vhostuser/dataplane_config.h"
#include "vhostuser/fdb.h"
#include "vhostuser/packet.h"

namespace enadpdk::vhostuser {

// Port slots: every uplink and vhost-user port owns one slot for the lifetime of the port; the
// slot indexes counters and TX buffers. A reused slot gets a new generation.
inline constexpr uint16_t kMaxSlots = 256;
inline constexpr uint16_t kNoSlot = 0xffff;

// Why a frame was dropped; indexes the per-port drop counters.
enum class DropReason : uint8_t {
  NoRoute,       // no port owns the destination (vpc), or the frame is not for this ENI
  Spoofed,       // source MAC/IP is not the ingress port's own
  TxFull,        // the destination's TX queue was full
  NotConnected,  // the destination vhost-user port has no connected peer
  MacTableFull,  // l2: the source MAC could not be learned
  Other,         // unsupported ethertype, hairpin, malformed frame
};
inline constexpr size_t kDropReasonCount = 6;

// What the forwarding decision asks the worker to do with a frame.
enum class ActionKind : uint8_t {
  Drop,     // free the frame, count `reason` on the ingress port
  Forward,  // send to `slot`
  Flood,    // send a copy to every port of the network except the ingress one
  Reply,    // the frame was rewritten in place into an ARP/NDP reply of `length` bytes: send it
            // back out of the ingress port
};

struct Action {
  ActionKind kind = ActionKind::Drop;
  DropReason reason = DropReason::Other;
  uint16_t slot = kNoSlot;
  uint32_t length = 0;  // Reply: the new frame length
};

// A port as the forwarding logic sees it (immutable once published).
struct PortView {
  uint16_t slot = kNoSlot;
  uint8_t generation = 0;
  uint16_t network = 0;  // index into ForwardingTable::networks
  bool is_uplink = false;
  bool has_mac = false;  // l2 pod ports: when set, frames must come from `mac`
  MacAddr mac;
  std::vector<uint32_t> ipv4{};  // host byte order
  std::vector<Ipv6Addr> ipv6{};
};

struct Ipv6Hash {
  size_t operator()(const Ipv6Addr& a) const noexcept {
    uint64_t hi, lo;
    std::memcpy(&hi, a.data(), 8);
    std::memcpy(&lo, a.data() + 8, 8);
    return absl::HashOf(hi, lo);
  }
};

// A network as the forwarding logic sees it (immutable once published).
struct NetworkView {
  NetworkMode mode = NetworkMode::L2;
  uint16_t uplink = kNoSlot;    // kNoSlot for a node-local network
  MacAddr eni_mac;              // vpc: the uplink ENI's MAC, which every pod uses
  std::vector<uint16_t> ports;  // pod port slots (not the uplink)
  absl::flat_hash_map<uint32_t, uint16_t> ipv4_owner;  // pod IPv4 -> slot
  // Pod IPv6 -> slot: each port's addresses and the link-local address derived from each
  // (podLinkLocal; the port table refuses a port whose derived address another port has).
  absl::flat_hash_map<Ipv6Addr, uint16_t, Ipv6Hash> ipv6_owner;
  Fdb* fdb = nullptr;  // l2: owned by the switch, outlives every table that points at it
};

// The snapshot of ports and networks that workers forward with. Built by the control thread,
// published with RCU, never modified after publication.
struct ForwardingTable {
  std::vector<NetworkView> networks;
  std::array<const PortView*, kMaxSlots> slots{};  // nullptr = free slot
  std::vector<PortView> storage;  // owns the PortViews `slots` points at (reserved up front)
};

// Decides what to do with one frame that arrived on `ingress`. `frame` points at the Ethernet
// header of the first segment, `len` is the bytes available there and `capacity` the bytes the
// buffer can hold from `frame` (replies may grow the frame). `now` is the caller's clock for
// MAC aging. May rewrite the frame (Reply) and learn MACs (l2). Hot path: noexcept, no
// allocation, no locks, no syscalls.
Action decide(const ForwardingTable& table, const PortView& ingress, uint8_t* frame, uint32_t len,
              uint32_t capacity, uint64_t now) noexcept;

// A one-entry decision cache for one burst from one ingress port (the caller resets it for
// every burst). The frames of a burst mostly repeat the previous frame's addresses, and the
// decision depends only on bytes this cache compares: for l2 both MACs; for vpc IPv4 the MACs,
// the ethertype, the version/IHL byte and both addresses (len >= 34). Such a frame gets the
// previous frame's Forward, Flood or Drop without a lookup; anything else (other ethertypes,
// short frames, replies) goes through decide(). Hot path: noexcept, no allocation.
class DecisionCache {
 public:
  // Forgets the cached decision (a new burst, or a new ingress port).
  void reset() noexcept { valid_ = false; }
  // Same contract as decide(). Inline: the key and the comparison run for every frame, and
  // nearly every frame is a hit; a miss calls out to decide().
  Action decide(const ForwardingTable& table, const PortView& ingress, uint8_t* frame, uint32_t len,
                uint32_t capacity, uint64_t now) noexcept {
    Key key;
    if (!makeKey(table.networks[ingress.network].mode, frame, len, key)) [[unlikely]] {
      return vhostuser::decide(table, ingress, frame, len, capacity, now);
    }
    if (valid_ && key == key_) [[likely]] {
      return action_;
    }
    return miss(table, ingress, frame, len, capacity, now, key);
  }

 private:
  struct Key {
    uint64_t a = 0, b = 0, c = 0;
    friend bool operator==(const Key&, const Key&) = default;
  };
  // The bytes the decision depends on (see the class comment); false when the frame is not
  // cacheable.
  static bool makeKey(NetworkMode mode, const uint8_t* frame, uint32_t len, Key& key) noexcept {
    switch (mode) {
      case NetworkMode::L2:
        if (len < kEthHeaderLen) return false;
        key = {loadRaw(frame), loadRaw<uint32_t>(frame + 8), 0};  // destination and source MAC
        return true;
      case NetworkMode::Vpc:
        if (len < kEthHeaderLen + kIpv4MinHeaderLen || load16(frame + 12) != kEtherTypeIpv4) {
          return false;
        }
        // Bytes 0..14 (MACs, ethertype, version/IHL) and 26..33 (source, destination address).
        key = {loadRaw(frame), loadRaw(frame + 7), loadRaw(frame + 26)};
        return true;
    }
    return false;
  }
  template <typename T = uint64_t>
  static T loadRaw(const uint8_t* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  // decide() for a frame whose key is not the cached one; remembers the answer.
  Action miss(const ForwardingTable& table, const PortView& ingress, uint8_t* frame, uint32_t len,
              uint32_t capacity, uint64_t now, const Key& key) noexcept;

  bool valid_ = false;
  Key key_;
  Action action_;
};

}  // namespace enadpdk::vhostuser
