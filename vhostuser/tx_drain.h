#pragma once

// When a worker flushes the packets it has buffered per destination (dataplane.txDrainMicroseconds,
// DPDK l2fwd's BURST_TX_DRAIN_US): the decision its poll loop takes once per pass, without DPDK,
// so that tests drive it pass by pass with made-up TSC values.

#include <cstdint>

namespace enadpdk::vhostuser {

// One worker's TX drain: the interval in TSC cycles and since when packets have been held.
// Owned and called by its worker only (not thread-safe); no allocation, syscall or lock.
class TxDrain {
 public:
  // `cycles`: how long a buffered packet may wait for others to share its burst while the worker
  // keeps receiving; 0 flushes at the end of every pass.
  constexpr explicit TxDrain(uint64_t cycles = 0) noexcept : cycles_(cycles) {}

  // The interval of `microseconds` on a TSC of `tsc_hz` (rte_get_tsc_hz()), rounded up as l2fwd
  // does (whole cycles per microsecond): never shorter than asked, no overflow for any value.
  static constexpr TxDrain fromMicroseconds(unsigned microseconds, uint64_t tsc_hz) noexcept {
    return TxDrain((tsc_hz + kMicrosecondsPerSecond - 1) / kMicrosecondsPerSecond * microseconds);
  }

  // Called once per pass after polling every RX queue: `buffered` whether any TX buffer holds
  // packets now, `now` the TSC at the start of the pass, `idle` whether the pass received
  // nothing. True when the worker is to flush every buffer now; it then holds nothing. Flushes
  // when something is buffered and
  // - the pass was idle, or
  // - the oldest held packet has waited the interval: it was buffered in the first pass that
  //   left something held, so its wait counts from that pass's start (a little early: packets
  //   leave at worst early, never late). With an interval of 0, that is every pass.
  //
  // Why an idle pass flushes: the worker has just found every RX queue it polls empty, so nothing
  // is on its way to join a partial burst, and waiting longer would only add latency. A low-rate
  // flow (a ping, a TCP handshake) therefore waits at most until the next pass that finds the
  // queues empty (the time to poll them once), never the whole interval; only a worker that keeps
  // receiving holds packets back, and then for at most the interval plus one pass.
  constexpr bool endOfPass(bool buffered, uint64_t now, bool idle) noexcept {
    if (!buffered) {
      holding_ = false;
      return false;
    }
    if (!holding_) {
      holding_ = true;
      since_ = now;
    }
    // Unsigned: a `now` before `since_` (never on one lcore's invariant TSC) flushes.
    if (idle || now - since_ >= cycles_) {
      holding_ = false;
      return true;
    }
    return false;
  }

  // The interval in TSC cycles.
  constexpr uint64_t cycles() const noexcept { return cycles_; }

 private:
  static constexpr uint64_t kMicrosecondsPerSecond = 1'000'000;
  uint64_t cycles_;
  bool holding_ = false;  // packets stayed buffered after the last pass
  uint64_t since_ = 0;    // start of the pass that first left them buffered
};

}  // namespace enadpdk::vhostuser
