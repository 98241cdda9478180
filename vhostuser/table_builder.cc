#include "vhostuser/table_builder.h"

#include <algorithm>

namespace enadpdk::vhostuser {

std::vector<unsigned> workersNear(const Topology& topology, int node) {
  std::vector<unsigned> out;
  const auto count = static_cast<unsigned>(topology.worker_nodes.size());
  if (node >= 0) {
    for (unsigned w = 0; w < count; ++w) {
      if (topology.worker_nodes[w] == node) out.push_back(w);
    }
  }
  if (out.empty()) {
    for (unsigned w = 0; w < count; ++w) out.push_back(w);
  }
  return out;
}

unsigned pollingWorker(const Topology& topology, int node, uint16_t slot, uint16_t queue) {
  const std::vector<unsigned> near = workersNear(topology, node);
  return near[(static_cast<size_t>(slot) + queue) % near.size()];
}

std::unique_ptr<DataplaneTable> buildTable(const std::vector<NetworkPlan>& networks,
                                           const std::vector<SlotPlan>& slots,
                                           const Topology& topology) {
  auto t = std::make_unique<DataplaneTable>();
  t->storage.reserve(slots.size());  // `slots` points into it: no reallocation
  const size_t nworkers = topology.worker_nodes.size();
  t->poll.resize(nworkers);
  for (const NetworkPlan& n : networks) {
    NetworkView v;
    v.mode = n.mode;
    v.uplink = n.uplink_slot;
    v.eni_mac = n.eni_mac;
    v.fdb = n.fdb;
    t->networks.push_back(std::move(v));
  }
  for (const SlotPlan& s : slots) {
    const uint16_t index = s.view->slot;
    const NetworkPlan& net = networks[s.view->network];
    if (s.is_uplink && net.uplink_slot != index) continue;  // out of service
    t->storage.push_back(*s.view);
    const PortView* v = &t->storage.back();
    t->slots[index] = v;
    NetworkView& nv = t->networks[v->network];
    if (!s.is_uplink) {
      nv.ports.push_back(index);
      for (uint32_t a : v->ipv4) nv.ipv4_owner[a] = index;
      for (const Ipv6Addr& a : v->ipv6) nv.ipv6_owner[a] = index;
      // And the link-local address derived from each; never in place of an address a port
      // lists as its own (the port table refuses ports whose derived addresses collide).
      for (const Ipv6Addr& a : v->ipv6) nv.ipv6_owner.try_emplace(podLinkLocal(a), index);
    }
    for (uint16_t q = 0; q < s.rx_queues && nworkers != 0; ++q) {
      t->poll[pollingWorker(topology, net.node, index, q)].push_back(
          RxQueue{.slot = index, .queue = q, .port_id = s.port_id, .vhost = !s.is_uplink});
    }
    SlotTx& tx = t->tx[index];
    tx.vhost = !s.is_uplink;
    tx.port_id = s.port_id;
    for (uint16_t q = 0; tx.vhost && q < s.rx_queues; ++q) tx.rings |= 1u << toPodRing(q);
    const uint16_t txqs = std::max<uint16_t>(1, s.is_uplink ? s.tx_queues : s.rx_queues);
    for (size_t w = 0; w < nworkers; ++w) {
      const auto q = static_cast<uint16_t>(w % txqs);
      tx.queue[w] = tx.vhost ? toPodRing(q) : q;
      tx.lock[w] = s.is_uplink && nworkers > txqs ? &s.txq_locks[q] : nullptr;
    }
  }
  return t;
}

}  // namespace enadpdk::vhostuser
