#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>
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

// A decision cache for one burst from one ingress port (the caller resets it for every burst:
// a new burst may come with a new table). The decision depends only on bytes this cache compares:
// for l2 both MACs; for vpc IPv4 the MACs, the ethertype, the version/IHL byte and both addresses
// (len >= 34). Such a frame gets the answer decide() gave an earlier frame with the same bytes
// (Forward, Flood or Drop) without a lookup; anything else (other ethertypes, short frames,
// replies) goes through decide().
//
// First the previous frame's answer (a burst from a pod is mostly one flow). Then, for vpc only,
// kWays entries chosen by the addresses' last bytes: a burst from the uplink carries frames for
// many pods interleaved, and a vpc decision reads only the burst's immutable table, so an answer
// stays right for the whole burst. l2 reuses the previous frame's answer only: learning a MAC may
// change the answer for another key (learning from a repeat of the same frame changes nothing).
// Hot path: noexcept, no allocation.
class DecisionCache {
 public:
  static constexpr unsigned kWays = 8;

  DecisionCache() = default;
  DecisionCache(const DecisionCache&) = delete;  // last_ points into the object
  DecisionCache& operator=(const DecisionCache&) = delete;

  // Forgets every cached decision (a new burst, or a new ingress port).
  void reset() noexcept {
    last_ = nullptr;
    ways_valid_ = 0;
  }
  // Same contract as decide(). Inline: the key and the comparisons run for every frame, and
  // nearly every frame is a hit; a miss calls out to decide().
  [[gnu::always_inline]] Action decide(const ForwardingTable& table, const PortView& ingress,
                                       uint8_t* frame, uint32_t len, uint32_t capacity,
                                       uint64_t now) noexcept {
    const NetworkMode mode = table.networks[ingress.network].mode;
    Key key;
    if (!makeKey(mode, frame, len, key)) [[unlikely]] {
      return vhostuser::decide(table, ingress, frame, len, capacity, now);
    }
    if (last_ != nullptr && key == last_->key) [[likely]] {
      return last_->action();
    }
    if (mode == NetworkMode::Vpc) {
      const unsigned way = wayOf(key);
      if ((ways_valid_ >> way & 1u) != 0 && key == ways_[way].key) {
        last_ = &ways_[way];
        return last_->action();
      }
    }
    return miss(table, ingress, frame, len, capacity, now, key);
  }

 private:
  // No member initialisers in Key and Entry: a cache lives for one burst, and its entries are
  // written before they are read (the valid flags say which), so constructing one costs nothing.
  struct Key {
    uint64_t a, b, c;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct Entry {
    Key key;
    std::array<uint8_t, sizeof(Action)> raw;  // an Action's bytes
    static Entry of(const Key& k, const Action& a) noexcept {
      Entry e;
      e.key = k;
      std::memcpy(e.raw.data(), &a, sizeof a);
      return e;
    }
    Action action() const noexcept {
      Action a;
      std::memcpy(&a, raw.data(), sizeof a);
      return a;
    }
  };
  static_assert(std::is_trivially_copyable_v<Action>);
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
  // A vpc key's way: the last bytes of its addresses (frame bytes 29 and 33, the 4th and 8th
  // bytes of key.c as loaded from memory).
  static unsigned wayOf(const Key& key) noexcept {
    uint8_t bytes[sizeof key.c];
    std::memcpy(bytes, &key.c, sizeof bytes);
    return (bytes[3] ^ bytes[7]) & (kWays - 1);
  }
  template <typename T = uint64_t>
  static T loadRaw(const uint8_t* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  // decide() for a frame whose key is not cached; remembers the answer.
  Action miss(const ForwardingTable& table, const PortView& ingress, uint8_t* frame, uint32_t len,
              uint32_t capacity, uint64_t now, const Key& key) noexcept;

  static_assert((kWays & (kWays - 1)) == 0 && kWays <= 8, "ways_valid_ holds one bit per way");
  const Entry* last_ = nullptr;    // the previous frame's answer; nullptr: none
  uint8_t ways_valid_ = 0;         // vpc: which of ways_ hold an answer
  std::array<Entry, kWays> ways_;  // vpc: by wayOf(key); l2: ways_[0] holds the previous answer
};

}  // namespace enadpdk::vhostuser
