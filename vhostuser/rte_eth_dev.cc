#include "vhostuser/rte_eth_dev.h"

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include <rte_pause.h>

#include <algorithm>
#include <cstring>

#include "common/pci.h"
#include "common/strings.h"

namespace enadpdk::vhostuser {

using common::strCat;

namespace {

constexpr rte_eth_event_type kEvents[] = {RTE_ETH_EVENT_INTR_RESET, RTE_ETH_EVENT_INTR_LSC};

std::string rteError(int rc) { return rte_strerror(rc < 0 ? -rc : rc); }

absl::Status check(int rc, std::string_view what) {
  if (rc == 0) return absl::OkStatus();
  return absl::InternalError(strCat(what, ": ", rteError(rc)));
}

}  // namespace

struct RteEthDevCallback {
  // DPDK's interrupt thread, or rte_timer_manage()'s caller (ENA's watchdog): only the sink.
  // `arg` is the RteEthDev, whose sink_ is set while its callbacks are registered.
  static int onEvent(uint16_t, rte_eth_event_type type, void* arg, void*) {
    auto* self = static_cast<RteEthDev*>(arg);
    if (type == RTE_ETH_EVENT_INTR_RESET) self->sink_->onEthEvent(EthEvent::Reset);
    if (type == RTE_ETH_EVENT_INTR_LSC) self->sink_->onEthEvent(EthEvent::LinkChange);
    return 0;
  }
};

absl::StatusOr<std::unique_ptr<RteEthDev>> RteEthDev::open(const std::string& device) {
  const std::string name = device.substr(0, device.find(','));
  uint16_t port_id = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0) {
    const int rc = rte_dev_probe(device.c_str());
    if (rc != 0 || rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0) {
      return absl::FailedPreconditionError(
          strCat("cannot probe \"", device, "\": ", rteError(rc),
                 common::isPciAddress(device)
                     ? " (is it bound to vfio-pci or igb_uio, and allowed by the EAL -a list?)"
                     : ""));
    }
  }
  return std::unique_ptr<RteEthDev>(new RteEthDev(port_id));
}

absl::StatusOr<std::unique_ptr<RteEthDev>> RteEthDev::forPort(uint16_t port_id) {
  if (!rte_eth_dev_is_valid_port(port_id)) {
    return absl::NotFoundError(strCat("no ethdev port ", port_id));
  }
  return std::unique_ptr<RteEthDev>(new RteEthDev(port_id));
}

RteEthDev::~RteEthDev() {
  if (!closed_) unregisterCallbacks();
}

absl::StatusOr<EthDevInfo> RteEthDev::info() const {
  rte_eth_dev_info raw{};
  if (int rc = rte_eth_dev_info_get(port_id_, &raw); rc != 0) {
    return absl::InternalError(strCat("device info: ", rteError(rc)));
  }
  const int socket = rte_eth_dev_socket_id(port_id_);
  return EthDevInfo{
      .driver_name = raw.driver_name != nullptr ? raw.driver_name : "",
      .numa_socket = socket < 0 ? -1 : socket,
      .max_rx_queues = raw.max_rx_queues,
      .max_tx_queues = raw.max_tx_queues,
      .rx_desc_lim = {.nb_min = raw.rx_desc_lim.nb_min,
                      .nb_max = raw.rx_desc_lim.nb_max,
                      .nb_align = raw.rx_desc_lim.nb_align},
      .tx_desc_lim = {.nb_min = raw.tx_desc_lim.nb_min,
                      .nb_max = raw.tx_desc_lim.nb_max,
                      .nb_align = raw.tx_desc_lim.nb_align},
      .min_mtu = raw.min_mtu,
      .max_mtu = raw.max_mtu,
      .max_rx_pktlen = raw.max_rx_pktlen,
      .rx_offload_capa = raw.rx_offload_capa,
      .tx_offload_capa = raw.tx_offload_capa,
      .flow_type_rss_offloads = raw.flow_type_rss_offloads,
      .reta_size = raw.reta_size,
      .lsc_interrupt = raw.dev_flags != nullptr && (*raw.dev_flags & RTE_ETH_DEV_INTR_LSC) != 0,
  };
}

absl::Status RteEthDev::configure(const EthDevConfig& config) {
  rte_eth_dev_info raw{};
  if (int rc = rte_eth_dev_info_get(port_id_, &raw); rc != 0) {
    return absl::InternalError(strCat("device info: ", rteError(rc)));
  }
  rte_eth_conf conf{};
  if (config.rss_hf != 0) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf = config.rss_hf;
  }
  conf.rxmode.mtu = config.mtu;
  conf.rxmode.offloads = config.rx_offloads;
  conf.txmode.offloads = config.tx_offloads;
  conf.intr_conf.lsc = config.lsc_interrupt ? 1 : 0;
  if (absl::Status s = check(
          rte_eth_dev_configure(port_id_, config.rx_queues, config.tx_queues, &conf), "configure");
      !s.ok()) {
    return s;
  }
  const int socket = rte_eth_dev_socket_id(port_id_) < 0 ? 0 : rte_eth_dev_socket_id(port_id_);
  for (uint16_t q = 0; q < config.rx_queues; ++q) {
    rte_eth_rxconf rxconf = raw.default_rxconf;
    rxconf.offloads = config.rx_offloads;
    if (int rc = rte_eth_rx_queue_setup(port_id_, q, config.rx_descriptors, socket, &rxconf,
                                        config.rx_pool);
        rc != 0) {
      return absl::InternalError(strCat("RX queue ", q, ": ", rteError(rc)));
    }
  }
  for (uint16_t q = 0; q < config.tx_queues; ++q) {
    rte_eth_txconf txconf = raw.default_txconf;
    txconf.offloads = config.tx_offloads;
    if (int rc = rte_eth_tx_queue_setup(port_id_, q, config.tx_descriptors, socket, &txconf);
        rc != 0) {
      return absl::InternalError(strCat("TX queue ", q, ": ", rteError(rc)));
    }
  }
  return absl::OkStatus();
}

absl::Status RteEthDev::start() { return check(rte_eth_dev_start(port_id_), "start"); }

absl::Status RteEthDev::stop() { return check(rte_eth_dev_stop(port_id_), "stop"); }

absl::Status RteEthDev::reset() { return check(rte_eth_dev_reset(port_id_), "reset"); }

absl::Status RteEthDev::close() {
  if (closed_) return absl::OkStatus();
  unregisterCallbacks();
  closed_ = true;
  return check(rte_eth_dev_close(port_id_), "close");
}

absl::StatusOr<EthLink> RteEthDev::link() const {
  rte_eth_link raw{};
  if (int rc = rte_eth_link_get_nowait(port_id_, &raw); rc != 0) {
    return absl::InternalError(strCat("link: ", rteError(rc)));
  }
  return EthLink{.up = raw.link_status == RTE_ETH_LINK_UP,
                 .speed_mbps = raw.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : raw.link_speed};
}

absl::StatusOr<EthStats> RteEthDev::stats() const {
  rte_eth_stats raw{};
  if (int rc = rte_eth_stats_get(port_id_, &raw); rc != 0) {
    return absl::InternalError(strCat("stats: ", rteError(rc)));
  }
  return EthStats{.ipackets = raw.ipackets,
                  .opackets = raw.opackets,
                  .ibytes = raw.ibytes,
                  .obytes = raw.obytes,
                  .imissed = raw.imissed,
                  .ierrors = raw.ierrors,
                  .oerrors = raw.oerrors,
                  .rx_nombuf = raw.rx_nombuf};
}

absl::StatusOr<std::vector<EthXstat>> RteEthDev::xstats() const {
  const int count = rte_eth_xstats_get_names(port_id_, nullptr, 0);
  if (count < 0) return absl::InternalError(strCat("xstats: ", rteError(count)));
  std::vector<rte_eth_xstat_name> names(static_cast<size_t>(count));
  std::vector<rte_eth_xstat> values(static_cast<size_t>(count));
  // The count can change between the calls (queues reconfigured): take what both agree on.
  const int named = rte_eth_xstats_get_names(port_id_, names.data(), count);
  const int got = rte_eth_xstats_get(port_id_, values.data(), count);
  if (named < 0 || got < 0) {
    return absl::InternalError(strCat("xstats: ", rteError(named < 0 ? named : got)));
  }
  std::vector<EthXstat> out;
  for (int i = 0; i < std::min(named, got) && i < count; ++i) {
    if (values[i].id >= static_cast<uint64_t>(std::min(named, count))) continue;
    out.push_back(EthXstat{.name = names[values[i].id].name, .value = values[i].value});
  }
  return out;
}

absl::StatusOr<MacAddr> RteEthDev::mac() const {
  rte_ether_addr raw{};
  if (int rc = rte_eth_macaddr_get(port_id_, &raw); rc != 0) {
    return absl::InternalError(strCat("MAC address: ", rteError(rc)));
  }
  MacAddr mac;
  std::memcpy(mac.bytes.data(), raw.addr_bytes, mac.bytes.size());
  return mac;
}

absl::Status RteEthDev::setMtu(uint32_t mtu) {
  if (mtu > UINT16_MAX) return absl::InvalidArgumentError(strCat("MTU ", mtu, " too large"));
  return check(rte_eth_dev_set_mtu(port_id_, static_cast<uint16_t>(mtu)), "set MTU");
}

absl::Status RteEthDev::setPromiscuous(bool on) {
  return check(on ? rte_eth_promiscuous_enable(port_id_) : rte_eth_promiscuous_disable(port_id_),
               on ? "promiscuous on" : "promiscuous off");
}

void RteEthDev::setEventSink(EthEventSink* sink) {
  if (closed_) return;
  unregisterCallbacks();
  sink_ = sink;
  if (sink == nullptr) return;
  for (rte_eth_event_type event : kEvents) {
    rte_eth_dev_callback_register(port_id_, event, &RteEthDevCallback::onEvent, this);
  }
}

void RteEthDev::unregisterCallbacks() {
  if (sink_ == nullptr) return;
  for (rte_eth_event_type event : kEvents) {
    // -EAGAIN: the callback is running on DPDK's thread right now; it returns quickly.
    while (rte_eth_dev_callback_unregister(port_id_, event, &RteEthDevCallback::onEvent, this) ==
           -EAGAIN) {
      rte_pause();
    }
  }
  sink_ = nullptr;
}

}  // namespace enadpdk::vhostuser
