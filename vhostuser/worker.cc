#include "vhostuser/worker.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>

namespace enadpdk::vhostuser {
namespace {

constexpr unsigned kPrefetchAhead = 3;

inline void bump(std::atomic<uint64_t>& c, uint64_t n) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace

Worker::Worker(unsigned lcore, unsigned index, const std::atomic<const DataplaneTable*>* table,
               rte_rcu_qsbr* qsbr, const std::array<std::atomic<bool>, kMaxSlots>* connected,
               unsigned burst)
    : lcore_(lcore),
      index_(index),
      table_(table),
      qsbr_(qsbr),
      connected_(connected),
      burst_(burst > kMaxBurst ? kMaxBurst : burst) {}

int Worker::launch(void* arg) {
  static_cast<Worker*>(arg)->run();
  return 0;
}

void Worker::run() noexcept {
  rte_rcu_qsbr_thread_register(qsbr_, index_);
  rte_rcu_qsbr_thread_online(qsbr_, index_);
  uint64_t last = rte_rdtsc();
  while (!stop_.load(std::memory_order_relaxed)) {
    // One table per pass: the control thread frees it only after our quiescent report below.
    const DataplaneTable* t = table_->load(std::memory_order_acquire);
    bool busy = false;
    const uint64_t now = last;
    for (const RxQueue& q : t->poll[index_]) busy |= receive(*t, q, now) != 0;
    for (uint16_t i = 0; i < dirty_count_; ++i) {
      flush(*t, dirty_[i]);
      tx_[dirty_[i]].dirty = false;
    }
    dirty_count_ = 0;
    rte_rcu_qsbr_quiescent(qsbr_, index_);
    const uint64_t end = rte_rdtsc();
    if (busy) bump(busy_cycles_, end - last);
    bump(total_cycles_, end - last);
    last = end;
  }
  rte_rcu_qsbr_thread_offline(qsbr_, index_);
  rte_rcu_qsbr_thread_unregister(qsbr_, index_);
}

uint16_t Worker::receive(const DataplaneTable& t, const RxQueue& q, uint64_t now) noexcept {
  rte_mbuf* pkts[kMaxBurst];
  const uint16_t n = rte_eth_rx_burst(q.port_id, q.queue, pkts, static_cast<uint16_t>(burst_));
  if (n == 0) return 0;
  const PortView* in = t.slots[q.slot];
  SlotCounters& rx = counters_[q.slot];
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n && i < kPrefetchAhead; ++i)
    rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
  for (uint16_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
    rte_mbuf* m = pkts[i];
    bytes += rte_pktmbuf_pkt_len(m);
    if (in == nullptr) {  // a queue of a port being removed; cannot happen with a stable map
      dropPacket(q.slot, DropReason::Other, m);
      continue;
    }
    uint8_t* data = rte_pktmbuf_mtod(m, uint8_t*);
    const uint32_t capacity = m->nb_segs == 1 ? m->buf_len - m->data_off : m->data_len;
    const Action a = decide(t, *in, data, m->data_len, capacity, now);
    switch (a.kind) {
      case ActionKind::Forward:
        enqueue(t, a.slot, m);
        break;
      case ActionKind::Reply:
        m->data_len = static_cast<uint16_t>(a.length);
        m->pkt_len = a.length;
        enqueue(t, q.slot, m);
        break;
      case ActionKind::Flood: {
        const NetworkView& net = t.networks[in->network];
        uint16_t targets = static_cast<uint16_t>(net.ports.size()) + (net.uplink != kNoSlot);
        targets -= 1;  // not back to the ingress port
        if (targets == 0) {
          rte_pktmbuf_free(m);
          break;
        }
        rte_mbuf_refcnt_update(m, static_cast<int16_t>(targets - 1));
        for (uint16_t s : net.ports) {
          if (s != q.slot) enqueue(t, s, m);
        }
        if (net.uplink != kNoSlot && net.uplink != q.slot) enqueue(t, net.uplink, m);
        break;
      }
      case ActionKind::Drop:
        dropPacket(q.slot, a.reason, m);
        break;
    }
  }
  bump(rx.rx_packets, n);
  bump(rx.rx_bytes, bytes);
  return n;
}

void Worker::enqueue(const DataplaneTable& t, uint16_t slot, rte_mbuf* m) noexcept {
  TxBuffer& b = tx_[slot];
  if (!b.dirty) {
    b.dirty = true;
    dirty_[dirty_count_++] = slot;
  }
  b.pkts[b.count++] = m;
  if (b.count == burst_) flush(t, slot);
}

void Worker::flush(const DataplaneTable& t, uint16_t slot) noexcept {
  TxBuffer& b = tx_[slot];
  if (b.count == 0) return;
  SlotCounters& c = counters_[slot];
  const uint16_t n = b.count;
  b.count = 0;
  if (!(*connected_)[slot].load(std::memory_order_relaxed) || t.slots[slot] == nullptr) {
    bump(c.drops[static_cast<size_t>(DropReason::NotConnected)], n);
    rte_pktmbuf_free_bulk(b.pkts, n);
    return;
  }
  const SlotTx& tx = t.tx[slot];
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n; ++i) bytes += rte_pktmbuf_pkt_len(b.pkts[i]);
  rte_spinlock_t* lock = tx.lock[index_];
  if (lock) rte_spinlock_lock(lock);
  const uint16_t sent = rte_eth_tx_burst(tx.port_id, tx.txq[index_], b.pkts, n);
  if (lock) rte_spinlock_unlock(lock);
  for (uint16_t i = sent; i < n; ++i) bytes -= rte_pktmbuf_pkt_len(b.pkts[i]);
  bump(c.tx_packets, sent);
  bump(c.tx_bytes, bytes);
  if (sent < n) {
    bump(c.drops[static_cast<size_t>(DropReason::TxFull)], n - sent);
    rte_pktmbuf_free_bulk(b.pkts + sent, n - sent);
  }
}

void Worker::dropPacket(uint16_t slot, DropReason reason, rte_mbuf* m) noexcept {
  bump(counters_[slot].drops[static_cast<size_t>(reason)], 1);
  rte_pktmbuf_free(m);
}

}  // namespace enadpdk::vhostuser
