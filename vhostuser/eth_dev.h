#pragma once

// The DPDK ethdev seam under an uplink: what the switch asks of an ethdev, so that Uplink's
// clamping, configuration and reset recovery run in tests against a fake (tests/vhostuser/
// fake_eth_dev.h) without hugepages or devices. The real one is RteEthDev (rte_eth_dev.h).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vhostuser/packet.h"

struct rte_mempool;

namespace enadpdk::vhostuser {

// Descriptor ring limits of one direction (rte_eth_desc_lim).
struct EthDescLimits {
  uint16_t nb_min = 0;           // fewest descriptors per queue
  uint16_t nb_max = UINT16_MAX;  // most descriptors per queue
  uint16_t nb_align = 1;         // the count must be a multiple of this
  friend bool operator==(const EthDescLimits&, const EthDescLimits&) = default;
};

// What an uplink needs to know of an ethdev (the parts of rte_eth_dev_info it uses).
struct EthDevInfo {
  std::string driver_name{};            // "net_ena", "net_af_packet", ...
  int numa_socket = -1;                 // rte_eth_dev_socket_id(); -1 when unknown
  uint16_t max_rx_queues = 1;           // most RX queues rte_eth_dev_configure accepts
  uint16_t max_tx_queues = 1;           // most TX queues
  EthDescLimits rx_desc_lim{};          // RX ring limits
  EthDescLimits tx_desc_lim{};          // TX ring limits
  uint16_t min_mtu = 68;                // smallest MTU the device accepts
  uint16_t max_mtu = UINT16_MAX;        // largest MTU (UINT16_MAX: the driver does not say)
  uint32_t max_rx_pktlen = 0;           // largest frame it receives, L2 header and CRC included
  uint64_t rx_offload_capa = 0;         // RTE_ETH_RX_OFFLOAD_* it supports
  uint64_t tx_offload_capa = 0;         // RTE_ETH_TX_OFFLOAD_* it supports
  uint64_t flow_type_rss_offloads = 0;  // RTE_ETH_RSS_* hash types it supports (0: no RSS)
  uint16_t reta_size = 0;               // RSS redirection table entries
  bool lsc_interrupt = false;           // RTE_ETH_DEV_INTR_LSC in dev_flags: it raises link events
};

// Everything EthDev::configure applies: rte_eth_dev_configure, then every RX queue (from
// `rx_pool`) and TX queue, each with `*_descriptors` descriptors on the device's NUMA socket.
struct EthDevConfig {
  uint16_t rx_queues = 1;
  uint16_t tx_queues = 1;
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
  uint64_t rss_hf = 0;             // RTE_ETH_RSS_* types hashed; 0: no RSS (mq_mode NONE)
  uint32_t mtu = 0;                // rxmode.mtu; 0: the ethdev default (1500)
  uint64_t rx_offloads = 0;        // RTE_ETH_RX_OFFLOAD_* (port and every queue)
  uint64_t tx_offloads = 0;        // RTE_ETH_TX_OFFLOAD_* (port and every queue)
  bool lsc_interrupt = false;      // intr_conf.lsc: only when EthDevInfo::lsc_interrupt
  rte_mempool* rx_pool = nullptr;  // receive buffers of every RX queue (not owned)
  friend bool operator==(const EthDevConfig&, const EthDevConfig&) = default;
};

// Link state (rte_eth_link_get_nowait).
struct EthLink {
  bool up = false;
  uint32_t speed_mbps = 0;  // 0 when unknown
  friend bool operator==(const EthLink&, const EthLink&) = default;
};

// The basic counters (rte_eth_stats) an uplink exports.
struct EthStats {
  uint64_t ipackets = 0;
  uint64_t opackets = 0;
  uint64_t ibytes = 0;
  uint64_t obytes = 0;
  uint64_t imissed = 0;    // dropped by the device: RX rings full
  uint64_t ierrors = 0;    // erroneous received frames
  uint64_t oerrors = 0;    // failed transmissions
  uint64_t rx_nombuf = 0;  // RX mbuf allocation failures
  friend bool operator==(const EthStats&, const EthStats&) = default;
};

// One extended counter (rte_eth_xstats), by name.
struct EthXstat {
  std::string name;
  uint64_t value = 0;
  friend bool operator==(const EthXstat&, const EthXstat&) = default;
};

// What an ethdev reports asynchronously.
enum class EthEvent {
  // RTE_ETH_EVENT_INTR_RESET: the driver needs rte_eth_dev_reset (ENA: watchdog, keep-alive or
  // missing TX completions).
  Reset,
  // RTE_ETH_EVENT_INTR_LSC: the link went up or down.
  LinkChange,
};

// Receives an ethdev's events. Called from whichever thread DPDK raises them on: the interrupt
// thread (LSC, ENA's admin notifications) or the thread inside rte_timer_manage() (ENA raises its
// reset from its watchdog timer, i.e. from TimerService::manage() on the main lcore, possibly
// while the control thread holds its locks). An implementation therefore only touches atomics:
// no lock, no log, no call into the ethdev.
class EthEventSink {
 public:
  virtual ~EthEventSink() = default;
  // Records `event`; see the class comment for what it may do.
  virtual void onEthEvent(EthEvent event) noexcept = 0;
};

// One ethdev. Every method except the event delivery is for the control thread only (the thread
// that configures and starts the port; none is thread-safe). Errors are absl::Status with the
// DPDK error text; nothing throws. The data path (rte_eth_rx_burst/tx_burst on portId()) does
// not go through this class.
class EthDev {
 public:
  virtual ~EthDev() = default;

  // The DPDK port id, for the workers' burst calls.
  virtual uint16_t portId() const = 0;
  // Device limits and capabilities (rte_eth_dev_info_get).
  virtual absl::StatusOr<EthDevInfo> info() const = 0;
  // rte_eth_dev_configure and every queue setup. The port must be stopped.
  virtual absl::Status configure(const EthDevConfig& config) = 0;
  // rte_eth_dev_start. ENA arms its watchdog timer on the calling lcore here.
  virtual absl::Status start() = 0;
  // rte_eth_dev_stop.
  virtual absl::Status stop() = 0;
  // rte_eth_dev_reset: the port is then unconfigured and needs configure() and start().
  virtual absl::Status reset() = 0;
  // Stops delivering events and closes the port (rte_eth_dev_close); nothing may be called after.
  virtual absl::Status close() = 0;
  // Link state without waiting (rte_eth_link_get_nowait).
  virtual absl::StatusOr<EthLink> link() const = 0;
  // Basic counters (rte_eth_stats_get).
  virtual absl::StatusOr<EthStats> stats() const = 0;
  // Every extended counter (rte_eth_xstats_get_names + rte_eth_xstats_get).
  virtual absl::StatusOr<std::vector<EthXstat>> xstats() const = 0;
  // The port's MAC address (rte_eth_macaddr_get).
  virtual absl::StatusOr<MacAddr> mac() const = 0;
  // rte_eth_dev_set_mtu (also what makes some vdevs, e.g. net_af_packet, act on it).
  virtual absl::Status setMtu(uint32_t mtu) = 0;
  // rte_eth_promiscuous_enable/disable.
  virtual absl::Status setPromiscuous(bool on) = 0;
  // Delivers reset and link-change events to `sink` (nullptr: to nobody) from now on. `sink`
  // must outlive the EthDev or be replaced by nullptr first; the call returns only when no
  // delivery to the previous sink is running.
  virtual void setEventSink(EthEventSink* sink) = 0;
};

}  // namespace enadpdk::vhostuser
