#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "vhostuser/dataplane_config.h"
#include "vhostuser/forwarding.h"
#include "vhostuser/port_spec.h"

namespace enadpdk::vhostuser {

// What the admission rules need to know of a network.
struct NetworkFacts {
  std::string name;
  NetworkMode mode = NetworkMode::L2;
  MacAddr eni_mac;  // vpc: the MAC every pod port of the network carries
};

// The switch's table of pod ports and its port slots: which slot each port has, and the rules
// that decide whether an AddPort request is a new port, the existing one again, or a conflict.
// Pure data, no DPDK: the Switch holds one under its control lock and asks it before it touches
// a socket or the forwarding table.
//
// Slots are shared with the uplinks (reserveSlot). A removed port's slot stays unavailable,
// with its socket path, until the switch has closed it (finishClose): no worker may be polling
// a slot that a new port gets, and rte_vhost knows a socket path once.
class PortTable {
 public:
  // `max_ports`: how many pod ports may exist (dataplane.maxPorts).
  explicit PortTable(size_t max_ports) : max_ports_(max_ports) {}
  // A new limit for the ports admitted from now on (a config reload); ports beyond it stay.
  void setMaxPorts(size_t max_ports) { max_ports_ = max_ports; }

  // What AddPort should do.
  struct Admission {
    enum class Kind {
      Existing,      // an identical port exists at `slot`: answer with it, change nothing
      New,           // create the port in the free slot `slot`
      WaitForClose,  // a removed port at `slot` still holds the socket path: wait for its close
                     // (finishClose), then ask again
    };
    Kind kind = Kind::New;
    uint16_t slot = kNoSlot;
    size_t network = 0;
    PortSpec spec;  // the request completed with what the network implies (a vpc port's MAC)
  };

  // Decides on an AddPort request that validatePortSpec accepted (so its network exists in
  // `networks`, which is indexed like the switch's networks). AlreadyExists naming the field for
  // an id with a different configuration, a socket path or an IP (same network) already in use,
  // or on a vpc network an IPv6 address whose link-local address (podLinkLocal) another port's
  // address gives too; InvalidArgument for a vpc port with another MAC than the ENI's;
  // ResourceExhausted when max_ports ports exist or no slot is free.
  absl::StatusOr<Admission> admit(PortSpec spec, const std::vector<NetworkFacts>& networks) const;

  // Adds the port `admit` placed in `slot` (Kind::New).
  void insert(uint16_t slot, size_t network, PortSpec spec);

  // What DeletePort finds for `id` and `uid` (empty uid: any incarnation).
  struct Match {
    enum class Kind { NotFound, OtherIncarnation, Found };
    Kind kind = Kind::NotFound;
    uint16_t slot = kNoSlot;
  };
  Match find(std::string_view id, std::string_view uid = {}) const;

  // Takes the port out of the table. Its slot and socket path stay taken until finishClose.
  void beginClose(uint16_t slot);
  // The slot's port is closed: the slot and its socket path are free again.
  void finishClose(uint16_t slot);
  bool closing(uint16_t slot) const { return slot < kMaxSlots && closing_[slot].has_value(); }

  // Marks a slot as used by something that is not a pod port (an uplink).
  void reserveSlot(uint16_t slot) { reserved_[slot] = true; }
  // Frees a slot reserveSlot() took.
  void releaseSlot(uint16_t slot) { reserved_[slot] = false; }
  // The lowest slot that is neither used, reserved nor closing; nullopt when there is none.
  std::optional<uint16_t> freeSlot() const;

  struct Entry {
    uint16_t slot = kNoSlot;
    size_t network = 0;
    PortSpec spec;
  };
  // The ports in creation order (what the state file holds, in that order).
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* at(uint16_t slot) const;
  std::vector<PortSpec> specs() const;
  size_t size() const { return entries_.size(); }
  uint32_t countInNetwork(size_t network) const;

 private:
  size_t max_ports_;
  std::vector<Entry> entries_;  // creation order
  std::array<bool, kMaxSlots> used_{};
  std::array<bool, kMaxSlots> reserved_{};
  // Closing slots, with the socket path their port had.
  std::array<std::optional<std::string>, kMaxSlots> closing_{};
};

}  // namespace enadpdk::vhostuser
