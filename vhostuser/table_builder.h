#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "vhostuser/worker.h"

namespace enadpdk::vhostuser {

// Where the workers run: NUMA node per worker index (rte_lcore_to_socket_id of its lcore, or a
// fake topology in tests). -1 = unknown.
struct Topology {
  std::vector<int> worker_nodes;
};

// The workers that may poll a queue of something on `node`: the workers on that node, or every
// worker when none is (or the node is unknown). Never empty for a non-empty topology.
std::vector<unsigned> workersNear(const Topology& topology, int node);

// The worker index that polls RX queue `queue` of slot `slot` whose memory and device are on
// `node`. Depends only on its arguments (never on other ports), so a queue never moves between
// workers while the slot lives: two tables that can be live at once never have one RX queue in
// two workers' lists.
unsigned pollingWorker(const Topology& topology, int node, uint16_t slot, uint16_t queue);

// One network as the builder needs it.
struct NetworkPlan {
  NetworkMode mode = NetworkMode::L2;
  // The uplink's slot; kNoSlot for a node-local network, or while the uplink is out of service
  // (being reset): the table then has no uplink for the network.
  uint16_t uplink_slot = kNoSlot;
  MacAddr eni_mac;
  Fdb* fdb = nullptr;
  int node = -1;  // the uplink's NUMA node: its pod ports are polled by workers there
};

// One occupied slot as the builder needs it.
struct SlotPlan {
  const PortView* view = nullptr;  // copied into the table
  bool is_uplink = false;
  uint16_t port_id = 0;    // uplink ethdev
  uint16_t rx_queues = 1;  // uplink RX queues, or pod queue pairs
  uint16_t tx_queues = 1;  // uplink TX queues
  // Uplink: one lock per TX queue (kMaxWorkers), taken by the workers that share a queue.
  // Owned by the switch; outlives every table built with it.
  rte_spinlock_t* txq_locks = nullptr;
};

// Builds the table the workers forward with. Pure: no DPDK calls, no side effects. An uplink
// slot whose network's uplink_slot is not this slot (out of service) is left out, so no worker
// polls or transmits to it.
std::unique_ptr<DataplaneTable> buildTable(const std::vector<NetworkPlan>& networks,
                                           const std::vector<SlotPlan>& slots,
                                           const Topology& topology);

}  // namespace enadpdk::vhostuser
