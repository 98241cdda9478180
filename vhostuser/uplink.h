#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "spdlog/spdlog.h"
#include "vhostuser/eth_dev.h"

namespace enadpdk::vhostuser {

// The ENA allowance counters an uplink exports, as the ENA PMD names its xstats.
inline constexpr std::string_view kEnaAllowanceXstats[] = {
    "bw_in_allowance_exceeded",     "bw_out_allowance_exceeded",    "pps_allowance_exceeded",
    "conntrack_allowance_exceeded", "linklocal_allowance_exceeded",
};

// What the network asks of its uplink, before the device's limits clamp it.
struct UplinkParams {
  std::string network{};           // network name, for logs and pool names
  std::string device{};            // the configured device string, for logs
  uint16_t rx_queues = 1;          // uplink.queues
  uint16_t tx_queues = 1;          // one per worker
  uint16_t rx_descriptors = 1024;  // uplink.rxDescriptors
  uint16_t tx_descriptors = 1024;  // uplink.txDescriptors
  uint32_t mtu = 1500;             // the network's MTU
  bool promiscuous = false;        // l2 networks receive every frame
  rte_mempool* pool = nullptr;     // the switch's shared mbuf pool (not owned)
};

// What Uplink applies, after clamping: fixed for the uplink's life, so that a recovery after a
// reset configures exactly what the first start did.
struct UplinkLayout {
  EthDevConfig config{};  // queues, descriptors, RSS, MTU, offloads, pool
  bool set_mtu = false;   // rte_eth_dev_set_mtu after start (MTU other than 1500)
  bool promiscuous = false;
  friend bool operator==(const UplinkLayout&, const UplinkLayout&) = default;
};

// Creates a receive pool of `count` mbufs of `data_room` bytes (headroom included) on `socket`,
// for an uplink that cannot scatter a jumbo frame; the pointer's deleter frees it. The real one is
// rtePoolFactory(); tests hand in a fake.
using RxPoolFactory = std::function<absl::StatusOr<std::shared_ptr<rte_mempool>>(
    const std::string& name, uint32_t count, uint16_t data_room, int socket)>;
// rte_pktmbuf_pool_create / rte_mempool_free.
RxPoolFactory rtePoolFactory();

// The uplink as readers see it: copied from the last refresh(), never read from the device.
struct UplinkSnapshot {
  uint16_t port_id = 0;
  bool link_up = false;  // false while in reset
  uint32_t speed_mbps = 0;
  uint16_t rx_queues = 0;  // as configured (clamped)
  uint16_t tx_queues = 0;
  uint32_t mtu = 0;  // as configured (clamped)
  MacAddr mac{};
  bool in_reset = false;        // a reset is pending or its recovery has not succeeded yet
  uint64_t reset_requests = 0;  // reset events received (and requestReset calls)
  uint64_t resets = 0;          // recoveries that succeeded
  uint64_t reset_failures = 0;  // recovery attempts that failed (each is retried)
  // Link changes: events of a device with link-change interrupts, else transitions refresh()
  // saw.
  uint64_t link_changes = 0;
  EthStats stats{};
  // The kEnaAllowanceXstats the device reports, in that order; a device without them (any
  // non-ENA uplink) has none rather than zeros, so metrics do not invent ENA counters.
  std::vector<EthXstat> allowance{};
};

// One uplink: an EthDev configured for a network, its reset recovery, and a snapshot of its state
// for readers.
//
// Threads and contract (who calls what):
// - Control thread (the dataplane's main loop / Switch under its mutex, on the EAL main lcore,
//   the lcore that TimerService::manage() runs on): create(), needsRecovery(), recover(),
//   refresh(), close() and the accessors. Not thread-safe among themselves.
// - Any thread, including DPDK's interrupt thread and the thread inside rte_timer_manage():
//   requestReset(), resetPending() and the EthEventSink callback, which touch only atomics.
// - Any thread: snapshot(), under its own small mutex (a leaf lock: nothing is called under it).
// - Workers: only rte_eth_rx_burst/tx_burst on portId() with rxQueues()/txQueues(), and only
//   while the Switch has the uplink in its published table.
//
// Reset: an event or requestReset() sets `reset_pending_` (store, release). The control thread
// sees it through needsRecovery() (acquire), then (the Switch's part) takes the uplink out of
// the forwarding table and waits for an RCU grace period so that no worker touches the port,
// then calls recover(): stop, reset, configure with layout(), start (and MTU, promiscuous). On
// success the Switch puts the uplink back. On failure the uplink stays out of the table and
// needsRecovery() turns true again after a backoff (kFirstRetryDelay doubling up to
// kMaxRetryDelay). A reset requested while recover() runs is not lost: recover() clears the flag
// before it touches the device, so a later event makes it pending again.
class Uplink final : private EthEventSink {
 public:
  // Backoff between failed recoveries.
  static constexpr absl::Duration kFirstRetryDelay = absl::Milliseconds(100);
  static constexpr absl::Duration kMaxRetryDelay = absl::Seconds(10);

  // Reads the device's limits, clamps `params` to them (logging each clamp), creates a jumbo
  // receive pool when the device cannot scatter, configures and starts the port, then subscribes
  // to its events. Errors name what failed ("configure: ...").
  static absl::StatusOr<std::unique_ptr<Uplink>> create(std::unique_ptr<EthDev> dev,
                                                        const UplinkParams& params,
                                                        const RxPoolFactory& pools,
                                                        std::shared_ptr<spdlog::logger> log);
  // Unsubscribes from the device's events; the device is closed by close() (or left as is).
  ~Uplink() override;

  Uplink(const Uplink&) = delete;
  Uplink& operator=(const Uplink&) = delete;

  // The DPDK port id the workers burst on.
  uint16_t portId() const { return dev_->portId(); }
  // RX queues the workers poll and TX queues they may use (clamped).
  uint16_t rxQueues() const { return layout_.config.rx_queues; }
  uint16_t txQueues() const { return layout_.config.tx_queues; }
  // The MTU configured (clamped to the device's range).
  uint32_t mtu() const { return layout_.config.mtu; }
  // The device's MAC address, read at start and after each recovery.
  MacAddr mac() const { return mac_; }
  // Everything configured, identical for the first start and every recovery.
  const UplinkLayout& layout() const { return layout_; }
  // The device's limits as read at create().
  const EthDevInfo& info() const { return info_; }

  // Asks for a reset recovery (as RTE_ETH_EVENT_INTR_RESET does). Any thread; lock-free.
  void requestReset() noexcept;
  // True from a reset request until recover() starts. Any thread.
  bool resetPending() const noexcept;
  // True when the control thread should take the uplink out and call recover() now: a reset is
  // pending or the last recovery failed, and the backoff after a failure has passed.
  bool needsRecovery(absl::Time now) const;
  // True while the uplink must stay out of the forwarding table: a reset is pending or the last
  // recovery failed. Control thread.
  bool inReset() const;
  // Recovers from a reset; the caller has taken the uplink out of the table and waited for the
  // grace period (see the class comment). Counts successes and failures; a failure schedules
  // the next attempt at `now` plus the backoff.
  absl::Status recover(absl::Time now);

  // Reads link, stats and the allowance xstats into the snapshot. Control thread; skipped (link
  // shown down) while in reset, when the device is not configured.
  void refresh();
  // The last refreshed state with the current counters. Any thread; cheap.
  UplinkSnapshot snapshot() const;

  // Unsubscribes, stops and closes the port. Control thread, once, with no worker using it.
  absl::Status close();

 private:
  Uplink(std::unique_ptr<EthDev> dev, EthDevInfo info, UplinkLayout layout,
         std::shared_ptr<rte_mempool> rx_pool, std::string network,
         std::shared_ptr<spdlog::logger> log);
  void onEthEvent(EthEvent event) noexcept override;
  // configure, start, MTU, promiscuous, MAC.
  absl::Status bringUp();
  // Copies the counters kept by the control thread into the snapshot.
  void publishCounters();

  std::unique_ptr<EthDev> dev_;
  const EthDevInfo info_;
  const UplinkLayout layout_;
  std::shared_ptr<rte_mempool> rx_pool_;  // jumbo receive pool, or null (shared pool)
  const std::string network_;
  std::shared_ptr<spdlog::logger> log_;
  MacAddr mac_;

  // Set by events (release), cleared by recover() (acq_rel exchange).
  std::atomic<bool> reset_pending_{false};
  // Event counters: relaxed increments, read by snapshot().
  std::atomic<uint64_t> reset_requests_{0};
  std::atomic<uint64_t> link_changes_{0};

  // Control thread only.
  bool recovery_failed_ = false;
  absl::Duration retry_delay_ = kFirstRetryDelay;
  absl::Time next_attempt_ = absl::InfinitePast();
  uint64_t resets_ = 0;
  uint64_t reset_failures_ = 0;
  bool closed_ = false;

  mutable absl::Mutex snapshot_mu_;
  UplinkSnapshot snapshot_ ABSL_GUARDED_BY(snapshot_mu_);
  bool refreshed_ ABSL_GUARDED_BY(snapshot_mu_) = false;  // the snapshot holds a link reading
};

}  // namespace enadpdk::vhostuser
