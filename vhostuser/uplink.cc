#include "vhostuser/uplink.h"

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>

#include "common/logging.h"
#include "common/strings.h"

namespace enadpdk::vhostuser {

using common::strCat;

namespace {

// Ethernet header, two VLAN tags and the FCS on top of the MTU.
constexpr uint32_t kMaxL2Overhead = RTE_ETHER_HDR_LEN + 2 * RTE_VLAN_HLEN + RTE_ETHER_CRC_LEN;
constexpr uint32_t kMinJumboPoolMbufs = 2048;
// Mbufs a worker holds per queue beyond the ring (one burst).
constexpr uint32_t kBurstMbufs = 64;
constexpr uint32_t kPoolCache = 256;
constexpr uint64_t kRssTypes = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP;

// rte_eth_dev_adjust_nb_rx_tx_desc's rule: align up, then cap at nb_max, then raise to nb_min.
uint16_t adjustDescriptors(uint16_t wanted, const EthDescLimits& lim) {
  uint32_t n = wanted;
  if (lim.nb_align != 0) n = (n + lim.nb_align - 1) / lim.nb_align * lim.nb_align;
  if (lim.nb_max != 0) n = std::min<uint32_t>(n, lim.nb_max);
  n = std::max<uint32_t>(n, lim.nb_min);
  return static_cast<uint16_t>(std::min<uint32_t>(n, UINT16_MAX));
}

// The largest MTU the device takes: max_mtu, and what max_rx_pktlen leaves after the frame
// overhead (the driver's own when max_rx_pktlen - max_mtu says it, else header and CRC).
uint32_t maxMtu(const EthDevInfo& info) {
  const uint32_t overhead = info.max_mtu != UINT16_MAX && info.max_rx_pktlen > info.max_mtu
                                ? info.max_rx_pktlen - info.max_mtu
                                : RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
  uint32_t max = info.max_mtu;
  if (info.max_rx_pktlen != 0) {
    max = std::min(max, info.max_rx_pktlen > overhead ? info.max_rx_pktlen - overhead : 0);
  }
  return max;
}

}  // namespace

RxPoolFactory rtePoolFactory() {
  return [](const std::string& name, uint32_t count, uint16_t data_room,
            int socket) -> absl::StatusOr<std::shared_ptr<rte_mempool>> {
    rte_mempool* pool =
        rte_pktmbuf_pool_create(name.c_str(), count, kPoolCache, 0, data_room, socket);
    if (pool == nullptr) {
      return absl::ResourceExhaustedError(strCat("receive pool ", name, " of ", count, " x ",
                                                 data_room, " bytes: ", rte_strerror(rte_errno)));
    }
    return std::shared_ptr<rte_mempool>(pool, &rte_mempool_free);
  };
}

absl::StatusOr<std::unique_ptr<Uplink>> Uplink::create(std::unique_ptr<EthDev> dev,
                                                       const UplinkParams& params,
                                                       const RxPoolFactory& pools,
                                                       std::shared_ptr<spdlog::logger> log) {
  absl::StatusOr<EthDevInfo> info = dev->info();
  if (!info.ok()) return info.status();
  auto clamped = [&](std::string_view what, uint64_t requested, uint64_t used,
                     std::string_view why) {
    if (requested == used) return;
    log->warn("uplink {} clamped network={} device={} requested={} used={} reason={}", what,
              params.network, params.device, requested, used, common::logValue(why));
  };

  UplinkLayout layout;
  EthDevConfig& c = layout.config;
  c.rx_queues =
      std::clamp<uint16_t>(params.rx_queues, 1, std::max<uint16_t>(info->max_rx_queues, 1));
  clamped("rx_queues", params.rx_queues, c.rx_queues,
          strCat("device max_rx_queues=", info->max_rx_queues));
  c.tx_queues =
      std::clamp<uint16_t>(params.tx_queues, 1, std::max<uint16_t>(info->max_tx_queues, 1));
  clamped("tx_queues", params.tx_queues, c.tx_queues,
          strCat("device max_tx_queues=", info->max_tx_queues));
  // RSS where the device hashes in ethdev terms. A device without (net_af_packet, whose
  // kernel socket fanout spreads flows over its queues) keeps its queues all the same.
  if (c.rx_queues > 1) c.rss_hf = kRssTypes & info->flow_type_rss_offloads;
  c.rx_descriptors = adjustDescriptors(params.rx_descriptors, info->rx_desc_lim);
  clamped("rx_descriptors", params.rx_descriptors, c.rx_descriptors,
          strCat("device limits min=", info->rx_desc_lim.nb_min, " max=", info->rx_desc_lim.nb_max,
                 " align=", info->rx_desc_lim.nb_align));
  c.tx_descriptors = adjustDescriptors(params.tx_descriptors, info->tx_desc_lim);
  clamped("tx_descriptors", params.tx_descriptors, c.tx_descriptors,
          strCat("device limits min=", info->tx_desc_lim.nb_min, " max=", info->tx_desc_lim.nb_max,
                 " align=", info->tx_desc_lim.nb_align));
  const uint32_t max_mtu = maxMtu(*info);
  c.mtu =
      std::clamp<uint32_t>(params.mtu, info->min_mtu, std::max<uint32_t>(max_mtu, info->min_mtu));
  clamped("mtu", params.mtu, c.mtu,
          strCat("device min_mtu=", info->min_mtu, " max_mtu=", info->max_mtu,
                 " max_rx_pktlen=", info->max_rx_pktlen));
  c.lsc_interrupt = info->lsc_interrupt;
  // Jumbo frames of the network's MTU may arrive even when the device's own MTU is smaller
  // (net_af_packet takes its kernel interface's): offloads and pool follow the network's MTU.
  const bool jumbo = params.mtu > RTE_ETHER_MTU;
  if (jumbo && (info->rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER)) {
    c.rx_offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
  }
  if (jumbo && (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)) {
    c.tx_offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  }
  c.rx_pool = params.pool;
  layout.set_mtu = c.mtu != RTE_ETHER_MTU;
  layout.promiscuous = params.promiscuous;

  // A device that cannot scatter a frame over several mbufs receives each into one: on a jumbo
  // network it gets buffers that hold a whole frame (net_af_packet also needs them to be at
  // least its framesz, see docs/dataplane.md).
  std::shared_ptr<rte_mempool> rx_pool;
  if (jumbo && !(info->rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER)) {
    const uint32_t room = (params.mtu + kMaxL2Overhead + 1023) / 1024 * 1024;
    const uint32_t count =
        std::max<uint32_t>(kMinJumboPoolMbufs, 2u * c.rx_queues * (c.rx_descriptors + kBurstMbufs));
    absl::StatusOr<std::shared_ptr<rte_mempool>> pool =
        pools(strCat("edp_rx_", params.network), count,
              static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + room), info->numa_socket);
    if (!pool.ok()) return pool.status();
    rx_pool = std::move(*pool);
    c.rx_pool = rx_pool.get();
  }

  std::unique_ptr<Uplink> up(new Uplink(std::move(dev), *info, layout, std::move(rx_pool),
                                        params.network, std::move(log)));
  up->dev_->setEventSink(up.get());
  if (absl::Status s = up->bringUp(); !s.ok()) return s;
  up->log_->info(
      "uplink started network={} device={} port={} driver={} mac={} rxq={} txq={} rxd={} txd={} "
      "mtu={} rss=0x{:x} lsc={}",
      params.network, params.device, up->portId(), info->driver_name, formatMac(up->mac_),
      c.rx_queues, c.tx_queues, c.rx_descriptors, c.tx_descriptors, c.mtu, c.rss_hf,
      c.lsc_interrupt);
  return up;
}

Uplink::Uplink(std::unique_ptr<EthDev> dev, EthDevInfo info, UplinkLayout layout,
               std::shared_ptr<rte_mempool> rx_pool, std::string network,
               std::shared_ptr<spdlog::logger> log)
    : dev_(std::move(dev)),
      info_(std::move(info)),
      layout_(layout),
      rx_pool_(std::move(rx_pool)),
      network_(std::move(network)),
      log_(std::move(log)) {
  absl::MutexLock lock(&snapshot_mu_);
  snapshot_.port_id = dev_->portId();
  snapshot_.rx_queues = layout_.config.rx_queues;
  snapshot_.tx_queues = layout_.config.tx_queues;
  snapshot_.mtu = layout_.config.mtu;
}

Uplink::~Uplink() {
  if (!closed_) dev_->setEventSink(nullptr);
}

absl::Status Uplink::bringUp() {
  if (absl::Status s = dev_->configure(layout_.config); !s.ok()) return s;
  if (absl::Status s = dev_->start(); !s.ok()) return s;
  if (layout_.set_mtu) {
    if (absl::Status s = dev_->setMtu(layout_.config.mtu); !s.ok()) {
      log_->warn("uplink MTU not applied network={} mtu={} error={}", network_, layout_.config.mtu,
                 common::logValue(common::toStd(s.message())));
    }
  }
  if (layout_.promiscuous) {
    if (absl::Status s = dev_->setPromiscuous(true); !s.ok()) {
      log_->warn("uplink promiscuous mode not set network={} error={}", network_,
                 common::logValue(common::toStd(s.message())));
    }
  }
  if (absl::StatusOr<MacAddr> mac = dev_->mac(); mac.ok()) mac_ = *mac;
  absl::MutexLock lock(&snapshot_mu_);
  snapshot_.mac = mac_;
  return absl::OkStatus();
}

void Uplink::onEthEvent(EthEvent event) noexcept {
  switch (event) {
    case EthEvent::Reset:
      requestReset();
      return;
    case EthEvent::LinkChange:
      link_changes_.fetch_add(1, std::memory_order_relaxed);
      return;
  }
}

void Uplink::requestReset() noexcept {
  reset_requests_.fetch_add(1, std::memory_order_relaxed);
  reset_pending_.store(true, std::memory_order_release);
}

bool Uplink::resetPending() const noexcept {
  return reset_pending_.load(std::memory_order_acquire);
}

bool Uplink::inReset() const { return resetPending() || recovery_failed_; }

bool Uplink::needsRecovery(absl::Time now) const { return inReset() && now >= next_attempt_; }

absl::Status Uplink::recover(absl::Time now) {
  reset_pending_.exchange(false, std::memory_order_acq_rel);
  log_->warn("uplink reset network={} port={} attempt={}", network_, portId(),
             reset_failures_ + resets_ + 1);
  // rte_eth_dev_reset stops the port itself; a failed stop of a broken device is no reason
  // not to try the reset.
  if (absl::Status s = dev_->stop(); !s.ok()) {
    log_->warn("uplink stop before reset failed network={} error={}", network_,
               common::logValue(common::toStd(s.message())));
  }
  absl::Status status = dev_->reset();
  if (status.ok()) status = bringUp();
  if (status.ok()) {
    ++resets_;
    recovery_failed_ = false;
    retry_delay_ = kFirstRetryDelay;
    next_attempt_ = absl::InfinitePast();
    log_->info("uplink reset done network={} resets={}", network_, resets_);
  } else {
    ++reset_failures_;
    recovery_failed_ = true;
    next_attempt_ = now + retry_delay_;
    log_->error("uplink reset failed network={} error={} failures={} retry_in_ms={}", network_,
                common::logValue(common::toStd(status.message())), reset_failures_,
                absl::ToInt64Milliseconds(retry_delay_));
    retry_delay_ = std::min(retry_delay_ * 2, kMaxRetryDelay);
  }
  publishCounters();
  return status;
}

void Uplink::publishCounters() {
  absl::MutexLock lock(&snapshot_mu_);
  snapshot_.resets = resets_;
  snapshot_.reset_failures = reset_failures_;
  snapshot_.in_reset = recovery_failed_;
  if (recovery_failed_) snapshot_.link_up = false;
}

void Uplink::refresh() {
  if (inReset()) {
    absl::MutexLock lock(&snapshot_mu_);
    snapshot_.link_up = false;
    snapshot_.speed_mbps = 0;
    return;
  }
  absl::StatusOr<EthLink> link = dev_->link();
  absl::StatusOr<EthStats> stats = dev_->stats();
  absl::StatusOr<std::vector<EthXstat>> xstats = dev_->xstats();
  std::vector<EthXstat> allowance;
  if (xstats.ok()) {
    for (std::string_view name : kEnaAllowanceXstats) {
      auto it = std::find_if(xstats->begin(), xstats->end(),
                             [&](const EthXstat& x) { return x.name == name; });
      if (it != xstats->end()) allowance.push_back(*it);
    }
  }
  for (const absl::Status& s : {link.status(), stats.status(), xstats.status()}) {
    if (!s.ok()) {
      log_->debug("uplink refresh incomplete network={} error={}", network_,
                  common::logValue(common::toStd(s.message())));
    }
  }
  absl::MutexLock lock(&snapshot_mu_);
  if (link.ok()) {
    // A device without link-change interrupts (no RTE_ETH_DEV_INTR_LSC) is seen to change here.
    if (!layout_.config.lsc_interrupt && refreshed_ && link->up != snapshot_.link_up) {
      link_changes_.fetch_add(1, std::memory_order_relaxed);
    }
    refreshed_ = true;
    snapshot_.link_up = link->up;
    snapshot_.speed_mbps = link->speed_mbps;
  }
  if (stats.ok()) snapshot_.stats = *stats;
  if (xstats.ok()) snapshot_.allowance = std::move(allowance);
}

UplinkSnapshot Uplink::snapshot() const {
  UplinkSnapshot out;
  {
    absl::MutexLock lock(&snapshot_mu_);
    out = snapshot_;
  }
  out.reset_requests = reset_requests_.load(std::memory_order_relaxed);
  out.link_changes = link_changes_.load(std::memory_order_relaxed);
  if (reset_pending_.load(std::memory_order_acquire)) {
    out.in_reset = true;
    out.link_up = false;
  }
  return out;
}

absl::Status Uplink::close() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  dev_->setEventSink(nullptr);
  if (absl::Status s = dev_->stop(); !s.ok()) {
    log_->warn("uplink stop failed network={} error={}", network_,
               common::logValue(common::toStd(s.message())));
  }
  return dev_->close();
}

}  // namespace enadpdk::vhostuser
