#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include <rte_spinlock.h>

#include "vhostuser/forwarding.h"
#include "vhostuser/tx_drain.h"
#include "vhostuser/vhost_ports.h"

struct rte_mbuf;
struct rte_mempool;
struct rte_rcu_qsbr;

namespace enadpdk::vhostuser {

inline constexpr unsigned kMaxWorkers = 16;
inline constexpr unsigned kMaxBurst = 64;
// How many bursts a worker reads from one RX queue in a pass while the queue keeps filling
// them. A backlog thereby reaches each destination in bursts up to this many times larger
// before the end-of-pass flush: a busy uplink spreading its frames over many pods makes fewer,
// fuller rte_vhost calls per pod (and the pods answer in fuller bursts), which is where the
// cycles per packet go with many pods. Under light load a poll returns less than a burst and
// the pass goes on at once, so no frame waits longer; under load a frame waits at most
// (kMaxBurstsPerPass - 1) more bursts of its queue. Every queue gets the same allowance, so a
// busy pod keeps up with a busy uplink.
inline constexpr unsigned kMaxBurstsPerPass = 4;

// One RX queue a worker polls: a queue of an uplink ethdev, or a queue pair of a pod port (whose
// from-pod ring it drains with rte_vhost_dequeue_burst).
struct RxQueue {
  uint16_t slot = kNoSlot;
  uint16_t queue = 0;    // ethdev RX queue, or the pod port's queue pair
  uint16_t port_id = 0;  // ethdev only
  bool vhost = false;
};

// How a worker transmits to a slot.
// - Uplink (ethdev): its TX queue for each worker, and a lock for a queue shared by several
//   workers (only when the device has fewer TX queues than there are workers; taken once per
//   burst, never per packet).
// - Pod port (vhost): the to-pod ring each worker prefers (spreading workers over the queue
//   pairs); when the pod has not enabled it, the first ready ring of `rings` is used. rte_vhost
//   serialises enqueues to one ring itself.
struct SlotTx {
  bool vhost = false;
  uint16_t port_id = 0;                             // ethdev
  uint32_t rings = 0;                               // vhost: bit r = to-pod ring r of the port
  std::array<uint16_t, kMaxWorkers> queue{};        // ethdev TX queue, or vhost ring, per worker
  std::array<rte_spinlock_t*, kMaxWorkers> lock{};  // ethdev: nullptr = this worker's own queue
};

// The table workers forward with: the forwarding view plus queue assignments. Immutable once
// published. The same RX queue is never in two workers' lists, in this table or across two
// tables that can be live at once (assignments depend only on slot and queue).
struct DataplaneTable : ForwardingTable {
  std::vector<std::vector<RxQueue>> poll;  // per worker index
  std::array<SlotTx, kMaxSlots> tx{};
};

// Per-slot counters owned by one worker. Single writer (the worker: relaxed load + store, no
// atomic read-modify-write); readers on the control thread load them relaxed and sum workers.
struct alignas(64) SlotCounters {
  std::atomic<uint64_t> rx_packets{0};
  std::atomic<uint64_t> rx_bytes{0};
  std::atomic<uint64_t> tx_packets{0};
  std::atomic<uint64_t> tx_bytes{0};
  std::array<std::atomic<uint64_t>, kDropReasonCount> drops{};
};

// A run-to-completion poll loop on one lcore (DPDK's l2fwd/vhost shape): per RX queue, a burst
// of packets (up to kMaxBurstsPerPass bursts while they come full) is classified with decide(),
// packets are buffered per destination slot, buffers are flushed when full and at the end of a pass
// when its TxDrain says so (every pass by default); then, with nothing left buffered, the worker
// reports a quiescent state to RCU. Pod ports are read and written through rte_vhost directly (no
// ethdev in between). The worker owns its counters and TX buffers; nothing on its path allocates,
// locks (except a shared uplink TX queue, and rte_vhost's per-ring lock), makes a syscall or logs.
//
// RCU and the TX buffers: a buffered packet's destination is a slot of the table the worker
// loaded when it decided, and the control thread gives a removed port's slot to another port
// only after a grace period. So the worker reports no quiescent state while it holds packets:
// when they leave, in a later pass with a newer table, their slot still means the same port (or
// none: they are then dropped as not connected). A drain interval thereby also delays this
// worker's quiescent reports, by at most the interval plus one pass.
class Worker {
 public:
  // `links` is the pod ports' connection state (VhostPorts::links()); `pool` supplies the mbufs
  // rte_vhost_dequeue_burst fills; `drain` says when partly filled TX buffers are flushed.
  Worker(unsigned lcore, unsigned index, const std::atomic<const DataplaneTable*>* table,
         rte_rcu_qsbr* qsbr, const std::array<VhostLink, kMaxSlots>* links, rte_mempool* pool,
         unsigned burst, TxDrain drain);

  // rte_eal_remote_launch entry point; `arg` is the Worker.
  static int launch(void* arg);
  // Asks the loop to finish its pass and return. Thread-safe.
  void requestStop() { stop_.store(true, std::memory_order_relaxed); }
  // Test seam: while paused the worker spins at the top of its pass without polling, counting
  // or reporting a quiescent state, as a worker stuck in a pass would. Thread-safe.
  void pauseForTest(bool paused) { paused_.store(paused, std::memory_order_relaxed); }

  unsigned lcore() const { return lcore_; }
  unsigned index() const { return index_; }
  const SlotCounters& counters(uint16_t slot) const { return counters_[slot]; }
  uint64_t busyCycles() const { return busy_cycles_.load(std::memory_order_relaxed); }
  uint64_t totalCycles() const { return total_cycles_.load(std::memory_order_relaxed); }

 private:
  struct TxBuffer {
    uint16_t count = 0;
    bool dirty = false;  // listed in dirty_ for the end-of-pass flush
    uint64_t bytes = 0;  // sum of the buffered frames' lengths (counted once, in enqueue)
    rte_mbuf* pkts[kMaxBurst];
  };

  void run() noexcept;
  // Polls one RX queue once; returns the packets received.
  uint16_t receive(const DataplaneTable& t, const RxQueue& q, uint64_t now) noexcept;
  // Forwards a burst that arrived on `slot`.
  void process(const DataplaneTable& t, uint16_t slot, rte_mbuf** pkts, uint16_t n,
               uint64_t now) noexcept;
  // Buffers `m` (of `len` bytes) for `slot`; flushes the buffer when it is full.
  void enqueue(const DataplaneTable& t, uint16_t slot, rte_mbuf* m, uint32_t len) noexcept;
  void flush(const DataplaneTable& t, uint16_t slot) noexcept;
  // Flushes every buffer that holds packets.
  void flushAll(const DataplaneTable& t) noexcept;
  void dropPacket(uint16_t slot, DropReason reason, rte_mbuf* m) noexcept;

  const unsigned lcore_;
  const unsigned index_;
  const std::atomic<const DataplaneTable*>* table_;
  rte_rcu_qsbr* qsbr_;
  const std::array<VhostLink, kMaxSlots>* links_;
  rte_mempool* pool_;
  const unsigned burst_;
  TxDrain drain_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> paused_{false};

  std::array<SlotCounters, kMaxSlots> counters_;
  std::array<TxBuffer, kMaxSlots> tx_;
  std::array<uint16_t, kMaxSlots> dirty_{};  // slots with buffered packets
  uint16_t dirty_count_ = 0;
  std::atomic<uint64_t> busy_cycles_{0};
  std::atomic<uint64_t> total_cycles_{0};
};

}  // namespace enadpdk::vhostuser
