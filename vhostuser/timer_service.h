#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace enadpdk::vhostuser {

// DPDK's timer subsystem for the PMDs that need it. The ENA PMD arms its watchdog (keep-alive,
// missing TX completions, and the RTE_ETH_EVENT_INTR_RESET it raises when they fail) as a
// periodic rte_timer on the lcore that called rte_eth_dev_start(); an rte_timer runs only inside
// rte_timer_manage() called on its lcore. So: init() once after rte_eal_init, start the uplinks
// and call manage() from the same lcore (the EAL main lcore, where the dataplane's control loop
// runs), every loop iteration. Without manage() the ENA watchdog never runs and a hung device is
// never reset.
//
// Thread-safety: create() and manage() on the lcore that starts the uplinks; manageCalls() from
// any thread. A reset event raised from ENA's timer is delivered inside manage(), on this
// thread, so EthEventSinks only touch atomics (see eth_dev.h).
class TimerService {
 public:
  // rte_timer_subsystem_init() (an already initialised subsystem, -EALREADY, is fine) on an
  // initialised EAL; remembers the calling lcore as the one manage() must run on.
  // FailedPrecondition when called off an EAL lcore, Internal when DPDK fails.
  static absl::StatusOr<std::unique_ptr<TimerService>> create();
  // rte_timer_subsystem_finalize() when create() initialised the subsystem.
  ~TimerService();

  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;

  // Runs the expired timers of this lcore (rte_timer_manage()). FailedPrecondition, and nothing
  // run, when called on another lcore than create()'s.
  absl::Status manage();
  // The lcore create() ran on.
  unsigned lcore() const { return lcore_; }
  // manage() calls that ran the timers, for health and tests.
  uint64_t manageCalls() const { return manage_calls_.load(std::memory_order_relaxed); }

 private:
  TimerService(unsigned lcore, bool owns_subsystem) : lcore_(lcore), owns_(owns_subsystem) {}

  const unsigned lcore_;
  const bool owns_;
  std::atomic<uint64_t> manage_calls_{0};
};

}  // namespace enadpdk::vhostuser
