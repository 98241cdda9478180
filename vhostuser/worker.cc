#include "vhostuser/worker.h"

#include <rte_pause.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_vhost.h>

#include <bit>

namespace enadpdk::vhostuser {
namespace {

constexpr unsigned kPrefetchAhead = 3;

inline void bump(std::atomic<uint64_t>& c, uint64_t n) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

uint64_t frameBytes(rte_mbuf* const* pkts, uint16_t n) noexcept {
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n; ++i) bytes += rte_pktmbuf_pkt_len(pkts[i]);
  return bytes;
}

// Gives the mbufs back, as rte_pktmbuf_free_bulk does, with its common case inline: an mbuf that
// satisfies rte_mbuf_raw_free's contract (ours alone, direct, one segment) goes straight to its
// pool's per-lcore cache, in runs per pool; anything else (a flooded frame's shared reference, a
// chain, an indirect or external buffer) goes through rte_pktmbuf_free. Reorders `pkts`.
void freeMbufs(rte_mbuf** pkts, uint16_t n) noexcept {
  rte_mempool* pool = nullptr;
  uint16_t start = 0;  // pkts[start, kept) are raw-freeable mbufs of `pool`
  uint16_t kept = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    if (rte_mbuf_refcnt_read(m) != 1 || m->nb_segs != 1 || m->next != nullptr ||
        !RTE_MBUF_DIRECT(m)) [[unlikely]] {
      rte_pktmbuf_free(m);
      continue;
    }
    if (m->pool != pool) {
      if (kept != start) {
        rte_mempool_put_bulk(pool, reinterpret_cast<void**>(pkts + start), kept - start);
      }
      pool = m->pool;
      start = kept;
    }
    pkts[kept++] = m;
  }
  if (kept != start) {
    rte_mempool_put_bulk(pool, reinterpret_cast<void**>(pkts + start), kept - start);
  }
}

}  // namespace

Worker::Worker(unsigned lcore, unsigned index, const std::atomic<const DataplaneTable*>* table,
               rte_rcu_qsbr* qsbr, const std::array<VhostLink, kMaxSlots>* links, rte_mempool* pool,
               unsigned burst, TxDrain drain)
    : lcore_(lcore),
      index_(index),
      table_(table),
      qsbr_(qsbr),
      links_(links),
      pool_(pool),
      burst_(burst > kMaxBurst ? kMaxBurst : burst),
      drain_(drain) {}

int Worker::launch(void* arg) {
  static_cast<Worker*>(arg)->run();
  return 0;
}

void Worker::run() noexcept {
  rte_rcu_qsbr_thread_register(qsbr_, index_);
  rte_rcu_qsbr_thread_online(qsbr_, index_);
  uint64_t last = rte_rdtsc();
  const DataplaneTable* t = nullptr;
  while (!stop_.load(std::memory_order_relaxed)) {
    if (paused_.load(std::memory_order_relaxed)) [[unlikely]] {
      rte_pause();
      last = rte_rdtsc();
      continue;
    }
    // One table per pass: the control thread frees it only after our quiescent report below.
    // Pod devices (vids) are likewise used only within the pass that loaded them.
    t = table_->load(std::memory_order_acquire);
    bool busy = false;
    const uint64_t now = last;
    for (const RxQueue& q : t->poll[index_]) {
      // A full burst means more is waiting: read on (kMaxBurstsPerPass in worker.h).
      uint16_t n = receive(*t, q, now);
      busy |= n != 0;
      for (unsigned k = 1; n == burst_ && k < kMaxBurstsPerPass; ++k) n = receive(*t, q, now);
    }
    if (drain_.endOfPass(dirty_count_ != 0, now, !busy)) flushAll(*t);
    // Only with nothing held (the RCU contract in worker.h).
    if (dirty_count_ == 0) rte_rcu_qsbr_quiescent(qsbr_, index_);
    const uint64_t end = rte_rdtsc();
    if (busy) bump(busy_cycles_, end - last);
    bump(total_cycles_, end - last);
    last = end;
  }
  // The last pass ended holding packets, hence without a quiescent report: its table is valid.
  if (dirty_count_ != 0) flushAll(*t);
  rte_rcu_qsbr_thread_offline(qsbr_, index_);
  rte_rcu_qsbr_thread_unregister(qsbr_, index_);
}

uint16_t Worker::receive(const DataplaneTable& t, const RxQueue& q, uint64_t now) noexcept {
  rte_mbuf* pkts[kMaxBurst];
  uint16_t n;
  if (q.vhost) {
    const VhostLink& link = (*links_)[q.slot];
    const int vid = link.vid.load(std::memory_order_acquire);
    const uint16_t ring = fromPodRing(q.queue);
    // Only rings the pod has set up exist in rte_vhost (it logs an error for any other).
    if (vid < 0 || !(link.ready.load(std::memory_order_acquire) & (1u << ring))) return 0;
    n = rte_vhost_dequeue_burst(vid, ring, pool_, pkts, static_cast<uint16_t>(burst_));
  } else {
    n = rte_eth_rx_burst(q.port_id, q.queue, pkts, static_cast<uint16_t>(burst_));
  }
  if (n != 0) process(t, q.slot, pkts, n, now);
  return n;
}

// Inline in process(): it runs once per frame (more for a flood); the flush it may call does not.
[[gnu::always_inline]] inline void Worker::enqueue(const DataplaneTable& t, uint16_t slot,
                                                   rte_mbuf* m, uint32_t len) noexcept {
  TxBuffer& b = tx_[slot];
  if (!b.dirty) {
    b.dirty = true;
    dirty_[dirty_count_++] = slot;
  }
  b.pkts[b.count++] = m;
  b.bytes += len;
  if (b.count == burst_) [[unlikely]] {
    flush(t, slot);
  }
}

void Worker::process(const DataplaneTable& t, uint16_t slot, rte_mbuf** pkts, uint16_t n,
                     uint64_t now) noexcept {
  const PortView* in = t.slots[slot];
  if (in == nullptr) {  // a queue of a port being removed; cannot happen with a stable map
    for (uint16_t i = 0; i < n; ++i) dropPacket(slot, DropReason::Other, pkts[i]);
    return;
  }
  const NetworkView& net = t.networks[in->network];
  DecisionCache cache;  // one burst, one ingress port
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n && i < kPrefetchAhead; ++i) {
    rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
  }
  for (uint16_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
    rte_mbuf* m = pkts[i];
    const uint32_t len = rte_pktmbuf_pkt_len(m);
    bytes += len;
    uint8_t* data = rte_pktmbuf_mtod(m, uint8_t*);
    const uint32_t capacity = m->nb_segs == 1 ? m->buf_len - m->data_off : m->data_len;
    const Action a = cache.decide(t, *in, data, m->data_len, capacity, now);
    switch (a.kind) {
      case ActionKind::Forward:
        enqueue(t, a.slot, m, len);
        break;
      case ActionKind::Reply:
        m->data_len = static_cast<uint16_t>(a.length);
        m->pkt_len = a.length;
        enqueue(t, slot, m, a.length);
        break;
      case ActionKind::Flood: {
        // Every port of the network and its uplink, but the ingress one.
        const uint16_t targets =
            static_cast<uint16_t>(net.ports.size() + (net.uplink != kNoSlot) - 1);
        if (targets == 0) {
          rte_pktmbuf_free(m);
          break;
        }
        if (targets > 1) rte_mbuf_refcnt_update(m, static_cast<int16_t>(targets - 1));
        for (uint16_t s : net.ports) {
          if (s != slot) enqueue(t, s, m, len);
        }
        if (net.uplink != kNoSlot && net.uplink != slot) enqueue(t, net.uplink, m, len);
        break;
      }
      case ActionKind::Drop:
        dropPacket(slot, a.reason, m);
        break;
    }
  }
  SlotCounters& rx = counters_[slot];
  bump(rx.rx_packets, n);
  bump(rx.rx_bytes, bytes);
}

void Worker::flush(const DataplaneTable& t, uint16_t slot) noexcept {
  TxBuffer& b = tx_[slot];
  if (b.count == 0) return;
  SlotCounters& c = counters_[slot];
  const uint16_t n = b.count;
  const uint64_t queued_bytes = b.bytes;
  b.count = 0;
  b.bytes = 0;
  const SlotTx& tx = t.tx[slot];
  if (t.slots[slot] == nullptr) {
    bump(c.drops[static_cast<size_t>(DropReason::NotConnected)], n);
    freeMbufs(b.pkts, n);
    return;
  }
  uint64_t bytes;
  uint16_t sent;
  if (tx.vhost) {
    const VhostLink& link = (*links_)[slot];
    const int vid = link.vid.load(std::memory_order_acquire);
    const uint32_t ready = link.ready.load(std::memory_order_acquire) & tx.rings;
    if (vid < 0 || ready == 0) {
      bump(c.drops[static_cast<size_t>(DropReason::NotConnected)], n);
      freeMbufs(b.pkts, n);
      return;
    }
    uint16_t ring = tx.queue[index_];
    if (!(ready & (1u << ring))) ring = static_cast<uint16_t>(std::countr_zero(ready));
    // rte_vhost copies the frames into the pod's buffers: every mbuf stays ours to free.
    sent = rte_vhost_enqueue_burst(vid, ring, b.pkts, n);
    bytes = sent == n ? queued_bytes : frameBytes(b.pkts, sent);
    freeMbufs(b.pkts, n);
  } else {
    rte_spinlock_t* lock = tx.lock[index_];
    if (lock) rte_spinlock_lock(lock);
    sent = rte_eth_tx_burst(tx.port_id, tx.queue[index_], b.pkts, n);
    if (lock) rte_spinlock_unlock(lock);
    // The device owns what it accepted (it may have freed it already); the rest is still ours.
    bytes = queued_bytes;
    if (sent < n) {
      bytes -= frameBytes(b.pkts + sent, n - sent);
      freeMbufs(b.pkts + sent, n - sent);
    }
  }
  bump(c.tx_packets, sent);
  bump(c.tx_bytes, bytes);
  if (sent < n) bump(c.drops[static_cast<size_t>(DropReason::TxFull)], n - sent);
}

void Worker::flushAll(const DataplaneTable& t) noexcept {
  for (uint16_t i = 0; i < dirty_count_; ++i) {
    flush(t, dirty_[i]);
    tx_[dirty_[i]].dirty = false;
  }
  dirty_count_ = 0;
}

void Worker::dropPacket(uint16_t slot, DropReason reason, rte_mbuf* m) noexcept {
  bump(counters_[slot].drops[static_cast<size_t>(reason)], 1);
  rte_pktmbuf_free(m);
}

}  // namespace enadpdk::vhostuser
