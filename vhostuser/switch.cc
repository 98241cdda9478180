#include "vhostuser/switch.h"

#include <arpa/inet.h>
#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "common/pci.h"
#include "common/strings.h"
#include "common/unix_socket.h"
#include "vhostuser/path_policy.h"
#include "vhostuser/worker.h"

namespace enadpdk::vhostuser {

using common::strCat;

namespace {

constexpr uint16_t kRxDesc = 1024;
constexpr uint16_t kTxDesc = 1024;
constexpr uint32_t kMbufCache = 256;
constexpr uint32_t kFdbCapacity = 4096;
// Ethernet header, two VLAN tags and the FCS on top of the MTU.
constexpr uint32_t kMaxL2Overhead = RTE_ETHER_HDR_LEN + 2 * RTE_VLAN_HLEN + RTE_ETHER_CRC_LEN;
constexpr uint32_t kMinJumboPoolMbufs = 2048;

std::string rteError(int rc) { return rte_strerror(rc < 0 ? -rc : rc); }

// "net_af_packet0,iface=veth0" -> "net_af_packet0"; a PCI address stays as it is.
std::string deviceName(const std::string& device) { return device.substr(0, device.find(',')); }

// Splits "10.0.1.23/24" into the address bytes.
void addIp(PortView& view, const std::string& cidr) {
  std::string addr = cidr.substr(0, cidr.find('/'));
  uint8_t buf[16];
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1) {
    view.ipv4.push_back(load32(buf));
  } else if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) {
    view.ipv6.push_back(loadIpv6(buf));
  }
}

}  // namespace

struct Switch::Slot {
  uint16_t index = kNoSlot;
  bool is_uplink = false;
  size_t network = 0;
  PortSpec spec;           // pod ports
  uint16_t port_id = 0;    // uplinks: the ethdev
  uint16_t queues = 1;     // RX queues (uplinks) or queue pairs (pod ports)
  uint16_t tx_queues = 1;  // uplinks
  std::array<rte_spinlock_t, kMaxWorkers> txq_locks{};  // uplinks with fewer TX queues than workers
  PortCounters baseline;  // worker counters are never reset; a reused slot starts from here
  PortView view;
};

struct Switch::NetworkState {
  common::NetworkConfig config;
  uint16_t uplink_slot = kNoSlot;
  MacAddr eni_mac;
  std::unique_ptr<Fdb> fdb;
  // Receive buffers of an uplink that cannot scatter a jumbo frame over several mbufs (null: the
  // shared pool).
  rte_mempool* rx_pool = nullptr;
  bool resetting = false;
};

Switch::Switch(const common::DataplaneConfig& config, std::shared_ptr<spdlog::logger> log)
    : config_(config), log_(std::move(log)) {
  for (auto& s : port_to_slot_) s.store(kNoSlot, std::memory_order_relaxed);
}

absl::StatusOr<std::unique_ptr<Switch>> Switch::create(const common::DataplaneConfig& config,
                                                       std::shared_ptr<spdlog::logger> log) {
  std::unique_ptr<Switch> sw(new Switch(config, std::move(log)));
  if (absl::Status s = sw->init(); !s.ok()) return s;
  return sw;
}

absl::Status Switch::init() {
  pool_ = rte_pktmbuf_pool_create("ena_dpdk_mbufs", config_.mbufs, kMbufCache, 0,
                                  RTE_MBUF_DEFAULT_BUF_SIZE, static_cast<int>(rte_socket_id()));
  if (pool_ == nullptr) {
    return absl::ResourceExhaustedError(
        strCat("mbuf pool of ", config_.mbufs, " buffers: ", rteError(rte_errno),
               " (reserve more hugepages or lower dataplane.mbufs)"));
  }
  const size_t qsbr_size = rte_rcu_qsbr_get_memsize(kMaxWorkers);
  qsbr_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("ena_dpdk_qsbr", qsbr_size, RTE_CACHE_LINE_SIZE));
  if (qsbr_ == nullptr || rte_rcu_qsbr_init(qsbr_, kMaxWorkers) != 0) {
    return absl::ResourceExhaustedError("cannot allocate the RCU state");
  }
  absl::StatusOr<std::unique_ptr<VhostPorts>> vhost = VhostPorts::create(qsbr_, log_);
  if (!vhost.ok()) return vhost.status();
  vhost_ = std::move(*vhost);
  const size_t uplinks = static_cast<size_t>(
      std::count_if(config_.networks.begin(), config_.networks.end(),
                    [](const common::NetworkConfig& n) { return n.uplink.has_value(); }));
  if (uplinks + config_.maxPorts > kMaxSlots) {
    return absl::InvalidArgumentError(
        strCat("dataplane.maxPorts: ", config_.maxPorts, " ports and ", uplinks,
               " uplinks exceed the switch's ", kMaxSlots, " port slots"));
  }

  std::vector<unsigned> lcores(config_.workers.begin(), config_.workers.end());
  if (lcores.empty()) {
    unsigned l;
    RTE_LCORE_FOREACH_WORKER(l) { lcores.push_back(l); }
  }
  if (lcores.empty()) {
    return absl::InvalidArgumentError(
        "dataplane.workers: no worker lcore; give the EAL at least two lcores (-l 0,1)");
  }
  if (lcores.size() > kMaxWorkers) {
    return absl::InvalidArgumentError(strCat("dataplane.workers: at most ", kMaxWorkers));
  }
  for (size_t i = 0; i < lcores.size(); ++i) {
    if (lcores[i] >= RTE_MAX_LCORE || !rte_lcore_is_enabled(lcores[i]) ||
        lcores[i] == rte_get_main_lcore()) {
      return absl::InvalidArgumentError(
          strCat("dataplane.workers[", i, "]: lcore ", lcores[i],
                 " is not a worker lcore of the EAL core list (-l) other than the main lcore"));
    }
  }
  for (size_t i = 0; i < lcores.size(); ++i) {
    workers_.push_back(std::make_unique<Worker>(lcores[i], static_cast<unsigned>(i), &table_, qsbr_,
                                                &vhost_->links(), pool_, config_.burstSize));
  }

  absl::MutexLock lock(&mu_);
  const uint64_t aging = uint64_t{config_.macAgingSeconds} * rte_get_tsc_hz();
  for (const common::NetworkConfig& nc : config_.networks) {
    auto net = std::make_unique<NetworkState>();
    net->config = nc;
    if (nc.mode == common::NetworkMode::L2) net->fdb = std::make_unique<Fdb>(kFdbCapacity, aging);
    networks_.push_back(std::move(net));
    if (nc.uplink) {
      if (absl::Status s = startUplink(*networks_.back()); !s.ok()) return s;
    }
  }
  publish(Grace::Wait);
  for (auto& w : workers_) {
    int rc = rte_eal_remote_launch(&Worker::launch, w.get(), w->lcore());
    if (rc != 0) {
      return absl::InternalError(strCat("launch worker on lcore ", w->lcore(), ": ", rteError(rc)));
    }
  }
  log_->info("switch started workers={} networks={} mbufs={}", workers_.size(), networks_.size(),
             config_.mbufs);
  return absl::OkStatus();
}

absl::StatusOr<uint16_t> Switch::configureUplink(uint16_t port_id, uint16_t rxq, uint16_t txq,
                                                 uint32_t mtu, rte_mempool* rx_pool) {
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port_id, &info); rc != 0) {
    return absl::InternalError(strCat("device info: ", rteError(rc)));
  }
  rxq = std::min<uint16_t>(rxq, info.max_rx_queues);
  txq = std::min<uint16_t>(txq, info.max_tx_queues);
  rte_eth_conf conf{};
  if (rxq > 1 && info.flow_type_rss_offloads != 0) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf =
        (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
  }
  if (mtu > RTE_ETHER_MTU) {
    if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) {
      conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
    }
    if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) {
      conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
    }
  }
  // ethdev's own frame overhead: what max_rx_pktlen allows above max_mtu when the driver says.
  const uint32_t overhead = info.max_mtu != UINT16_MAX && info.max_rx_pktlen > info.max_mtu
                                ? info.max_rx_pktlen - info.max_mtu
                                : RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
  if (mtu >= info.min_mtu && mtu <= info.max_mtu && mtu + overhead <= info.max_rx_pktlen) {
    conf.rxmode.mtu = mtu;
  }
  if (int rc = rte_eth_dev_configure(port_id, rxq, txq, &conf); rc != 0) {
    return absl::InternalError(strCat("configure: ", rteError(rc)));
  }
  uint16_t nb_rxd = kRxDesc, nb_txd = kTxDesc;
  rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &nb_rxd, &nb_txd);
  const int socket = rte_eth_dev_socket_id(port_id) < 0 ? 0 : rte_eth_dev_socket_id(port_id);
  for (uint16_t q = 0; q < rxq; ++q) {
    rte_eth_rxconf rxconf = info.default_rxconf;
    rxconf.offloads = conf.rxmode.offloads;
    if (int rc = rte_eth_rx_queue_setup(port_id, q, nb_rxd, socket, &rxconf, rx_pool); rc != 0) {
      return absl::InternalError(strCat("RX queue ", q, ": ", rteError(rc)));
    }
  }
  for (uint16_t q = 0; q < txq; ++q) {
    rte_eth_txconf txconf = info.default_txconf;
    txconf.offloads = conf.txmode.offloads;
    if (int rc = rte_eth_tx_queue_setup(port_id, q, nb_txd, socket, &txconf); rc != 0) {
      return absl::InternalError(strCat("TX queue ", q, ": ", rteError(rc)));
    }
  }
  rte_eth_dev_callback_register(port_id, RTE_ETH_EVENT_INTR_RESET,
                                reinterpret_cast<rte_eth_dev_cb_fn>(&Switch::onEthEvent), this);
  if (int rc = rte_eth_dev_start(port_id); rc != 0) {
    return absl::InternalError(strCat("start: ", rteError(rc)));
  }
  return txq;
}

absl::Status Switch::startUplink(NetworkState& net) {
  const common::UplinkConfig& up = *net.config.uplink;
  const std::string field = strCat("dataplane.networks[", net.config.name, "].uplink.device");
  const std::string name = deviceName(up.device);
  uint16_t port_id = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0) {
    int rc = rte_dev_probe(up.device.c_str());
    if (rc != 0 || rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0) {
      return absl::FailedPreconditionError(
          strCat(field, ": cannot probe \"", up.device, "\": ", rteError(rc),
                 common::isPciAddress(up.device)
                     ? " (is it bound to vfio-pci or igb_uio, and allowed by the EAL -a list?)"
                     : ""));
    }
  }
  auto free_slot = std::find(slots_.begin(), slots_.end(), nullptr);
  auto slot = std::make_unique<Slot>();
  slot->index = static_cast<uint16_t>(free_slot - slots_.begin());
  slot->is_uplink = true;
  slot->network = static_cast<size_t>(
      std::find_if(networks_.begin(), networks_.end(), [&](auto& n) { return n.get() == &net; }) -
      networks_.begin());
  slot->port_id = port_id;
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port_id, &info); rc != 0) {
    return absl::FailedPreconditionError(strCat(field, ": device info: ", rteError(rc)));
  }
  // A device that cannot scatter a frame over several mbufs receives each into one: on a jumbo
  // network it gets buffers that hold a whole frame (net_af_packet also needs them to be at
  // least its framesz, see docs/dataplane.md).
  if (net.config.mtu > RTE_ETHER_MTU && !(info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER)) {
    const uint32_t room = RTE_ALIGN_CEIL(net.config.mtu + kMaxL2Overhead, 1024);
    const uint32_t count =
        std::max<uint32_t>(kMinJumboPoolMbufs, 2u * up.queues * (kRxDesc + kMaxBurst));
    net.rx_pool = rte_pktmbuf_pool_create(
        strCat("edp_rx_", net.config.name).c_str(), count, kMbufCache, 0,
        static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + room), static_cast<int>(rte_socket_id()));
    if (net.rx_pool == nullptr) {
      return absl::ResourceExhaustedError(strCat(field, ": jumbo receive pool of ", count, " x ",
                                                 room, " bytes: ", rteError(rte_errno)));
    }
  }
  absl::StatusOr<uint16_t> txq = configureUplink(port_id, static_cast<uint16_t>(up.queues),
                                                 static_cast<uint16_t>(workers_.size()),
                                                 net.config.mtu, net.rx_pool ? net.rx_pool : pool_);
  if (!txq.ok()) {
    return absl::FailedPreconditionError(
        strCat(field, ": ", common::toStd(txq.status().message())));
  }
  slot->tx_queues = *txq;
  rte_eth_dev_info_get(port_id, &info);
  slot->queues = std::min<uint16_t>(static_cast<uint16_t>(up.queues), info.nb_rx_queues);
  if (net.config.mode == common::NetworkMode::L2) rte_eth_promiscuous_enable(port_id);
  if (net.config.mtu != RTE_ETHER_MTU && rte_eth_dev_set_mtu(port_id, net.config.mtu) != 0) {
    log_->warn("uplink MTU not applied network={} device={} mtu={}", net.config.name, up.device,
               net.config.mtu);
  }
  rte_ether_addr mac{};
  rte_eth_macaddr_get(port_id, &mac);
  std::memcpy(net.eni_mac.bytes.data(), mac.addr_bytes, 6);
  if (net.config.mac) net.eni_mac = *parseMac(*net.config.mac);
  for (auto& l : slot->txq_locks) rte_spinlock_init(&l);
  slot->view = PortView{.slot = slot->index,
                        .generation = generations_[slot->index],
                        .network = static_cast<uint16_t>(slot->network),
                        .is_uplink = true,
                        .has_mac = false,
                        .mac = net.eni_mac};
  net.uplink_slot = slot->index;
  port_to_slot_[port_id].store(slot->index, std::memory_order_relaxed);
  log_->info("uplink started network={} device={} port={} mac={} rxq={} txq={}", net.config.name,
             up.device, port_id, formatMac(net.eni_mac), slot->queues, slot->tx_queues);
  *free_slot = std::move(slot);
  return absl::OkStatus();
}

void Switch::publish(Grace wait, std::unique_ptr<Slot> close_after) {
  auto t = std::make_unique<DataplaneTable>();
  t->storage.reserve(kMaxSlots);
  const size_t nworkers = workers_.size();
  t->poll.resize(nworkers);
  for (const auto& n : networks_) {
    NetworkView v;
    v.mode = n->config.mode;
    v.uplink = n->resetting ? kNoSlot : n->uplink_slot;
    v.eni_mac = n->eni_mac;
    v.fdb = n->fdb.get();
    t->networks.push_back(std::move(v));
  }
  for (const auto& s : slots_) {
    if (!s) continue;
    NetworkState& net = *networks_[s->network];
    if (s->is_uplink && net.resetting) continue;
    t->storage.push_back(s->view);
    const PortView* v = &t->storage.back();
    t->slots[s->index] = v;
    NetworkView& nv = t->networks[s->network];
    if (!s->is_uplink) {
      nv.ports.push_back(s->index);
      for (uint32_t a : v->ipv4) nv.ipv4_owner[a] = s->index;
      for (const Ipv6Addr& a : v->ipv6) nv.ipv6_owner[a] = s->index;
    }
    // Stable queue-to-worker maps: they depend only on the slot and queue, so a queue never
    // moves between workers while an older table may still be in use.
    for (uint16_t q = 0; q < s->queues; ++q) {
      t->poll[(s->index + q) % nworkers].push_back(
          RxQueue{.slot = s->index, .queue = q, .port_id = s->port_id, .vhost = !s->is_uplink});
    }
    SlotTx& tx = t->tx[s->index];
    tx.vhost = !s->is_uplink;
    tx.port_id = s->port_id;
    for (uint16_t q = 0; tx.vhost && q < s->queues; ++q) tx.rings |= 1u << toPodRing(q);
    const uint16_t txqs = s->is_uplink ? s->tx_queues : s->queues;
    for (size_t w = 0; w < nworkers; ++w) {
      const uint16_t q = static_cast<uint16_t>(w % txqs);
      tx.queue[w] = tx.vhost ? toPodRing(q) : q;
      tx.lock[w] = s->is_uplink && nworkers > txqs ? &s->txq_locks[q] : nullptr;
    }
  }
  const DataplaneTable* raw = t.get();
  table_.store(raw, std::memory_order_release);
  // The old table is retired: freed once every worker has finished a pass begun before the
  // store above (its quiescent report after `token`).
  const uint64_t token = rte_rcu_qsbr_start(qsbr_);
  retired_.push_back(
      Retired{.token = token, .table = std::move(current_), .slot = std::move(close_after)});
  current_ = std::move(t);
  reclaim(wait == Grace::Wait || retired_.size() > kMaxRetiredTables);
}

void Switch::reclaim(bool wait) {
  while (!retired_.empty() && rte_rcu_qsbr_check(qsbr_, retired_.front().token, wait) == 1) {
    Retired r = std::move(retired_.front());
    retired_.pop_front();
    if (r.slot) {
      closeSlot(*r.slot);
      closing_[r.slot->index] = false;
    }
  }
}

bool Switch::reclaimWithin(absl::Duration limit) {
  const absl::Time until = absl::Now() + limit;
  for (;;) {
    reclaim(/*wait=*/false);
    if (retired_.empty() || absl::Now() >= until) return retired_.empty();
    rte_pause();
  }
}

bool Switch::ControlGate::enter(absl::Time deadline) {
  absl::MutexLock lock(&m_);
  const auto idle = [](bool* busy) { return !*busy; };
  if (!m_.AwaitWithDeadline(absl::Condition(+idle, &busy_), deadline)) return false;
  busy_ = true;
  return true;
}

void Switch::ControlGate::leave() {
  absl::MutexLock lock(&m_);
  busy_ = false;
}

namespace {
// Holds the switch's control gate for one call.
template <typename Gate>
class GateHold {
 public:
  explicit GateHold(Gate& gate) : gate_(gate) {}
  ~GateHold() { gate_.leave(); }
  GateHold(const GateHold&) = delete;
  GateHold& operator=(const GateHold&) = delete;

 private:
  Gate& gate_;
};

absl::Status notAdmitted(std::string_view call) {
  return absl::DeadlineExceededError(
      strCat(call,
             ": the caller's deadline passed while other control calls ran; nothing "
             "changed, try again"));
}
}  // namespace

absl::StatusOr<PortStatus> Switch::addPort(PortSpec spec, absl::Time deadline) {
  if (absl::Status s = validatePortSpec(spec, config_); !s.ok()) return s;
  if (!gate_.enter(deadline)) return notAdmitted("AddPort");
  GateHold<ControlGate> hold(gate_);
  absl::MutexLock lock(&mu_);
  if (stopped_) return absl::UnavailableError("the dataplane is shutting down");
  const size_t net_index =
      static_cast<size_t>(std::find_if(networks_.begin(), networks_.end(),
                                       [&](auto& n) { return n->config.name == spec.network; }) -
                          networks_.begin());
  NetworkState& net = *networks_[net_index];
  if (net.config.mode == common::NetworkMode::Vpc) {
    const std::string eni = formatMac(net.eni_mac);
    if (spec.mac.empty()) spec.mac = eni;
    if (spec.mac != eni) {
      return absl::InvalidArgumentError(strCat("mac: ports on vpc network \"", net.config.name,
                                               "\" use the ENI's MAC ", eni, ", not ", spec.mac));
    }
  }
  for (const auto& s : slots_) {
    if (!s || s->is_uplink) continue;
    if (s->spec.id == spec.id) {
      if (s->spec == spec) return statusOf(*s);
      return absl::AlreadyExistsError(
          strCat("id: port \"", spec.id, "\" exists with a different configuration"));
    }
    if (s->spec.socket_path == spec.socket_path) {
      return absl::AlreadyExistsError(strCat("socket_path: \"", spec.socket_path,
                                             "\" is already used by port \"", s->spec.id, "\""));
    }
    if (s->network != net_index) continue;
    for (size_t i = 0; i < spec.ips.size(); ++i) {
      const std::string addr = spec.ips[i].substr(0, spec.ips[i].find('/'));
      for (const std::string& other : s->spec.ips) {
        if (other.substr(0, other.find('/')) == addr) {
          return absl::AlreadyExistsError(
              strCat("ips[", i, "]: ", addr, " is already used by port \"", s->spec.id, "\""));
        }
      }
    }
  }
  if (port_order_.size() >= config_.maxPorts) {
    return absl::ResourceExhaustedError(
        strCat("all ", config_.maxPorts, " ports are in use (dataplane.maxPorts)"));
  }
  // A slot still closing (its grace period not over) is not free yet.
  auto free_slot = slots_.begin();
  while (free_slot != slots_.end() &&
         (*free_slot != nullptr || closing_[static_cast<size_t>(free_slot - slots_.begin())])) {
    ++free_slot;
  }
  if (free_slot == slots_.end()) {
    return absl::ResourceExhaustedError(strCat("all ", kMaxSlots, " port slots are in use"));
  }
  // A deleted port on this socket path may still be closing: rte_vhost knows a path once.
  if (std::any_of(retired_.begin(), retired_.end(), [&](const Retired& r) {
        return r.slot && r.slot->spec.socket_path == spec.socket_path;
      })) {
    reclaim(/*wait=*/true);
  }
  // validatePortSpec checked the text; where the path leads depends on the links on the way,
  // and both modes touch it (client: create and remove; server: connect for ever).
  absl::StatusOr<ResolvedSocketPath> resolved =
      resolveSocketPath(spec.socket_path, config_.allowedSocketDirs, "socket_path");
  if (!resolved.ok()) return resolved.status();
  if (spec.vhost_mode == VhostMode::Client) {
    // We create the socket: a leftover from a crashed run is removed, a live one is refused.
    if (absl::Status s = common::removeStaleSocket(spec.socket_path); !s.ok()) {
      return absl::AlreadyExistsError(strCat("socket_path: ", common::toStd(s.message())));
    }
    if (absl::Status s = createSocketDirs(*resolved, 0755, "socket_path"); !s.ok()) return s;
  }

  auto slot = std::make_unique<Slot>();
  slot->index = static_cast<uint16_t>(free_slot - slots_.begin());
  slot->network = net_index;
  slot->spec = spec;
  slot->queues = static_cast<uint16_t>(spec.queues);
  const absl::Time t_open = absl::Now();
  if (absl::Status s = vhost_->open(slot->index, spec); !s.ok()) return s;
  if (spec.vhost_mode == VhostMode::Client) {
    absl::Status perm =
        common::setFilePermissions(spec.socket_path, *common::parseFileMode(spec.perm), spec.owner);
    if (!perm.ok()) {
      vhost_->close(slot->index);
      return absl::FailedPreconditionError(strCat("socket_path: ", common::toStd(perm.message())));
    }
  }
  uint8_t& gen = generations_[slot->index];
  ++gen;
  slot->view = PortView{.slot = slot->index,
                        .generation = gen,
                        .network = static_cast<uint16_t>(net_index),
                        .is_uplink = false,
                        .has_mac = !spec.mac.empty(),
                        .mac = spec.mac.empty() ? MacAddr{} : *parseMac(spec.mac)};
  for (const std::string& ip : spec.ips) addIp(slot->view, ip);
  slot->baseline = countersOf(slot->index);
  const uint16_t index = slot->index;
  *free_slot = std::move(slot);
  port_order_.push_back(index);
  const absl::Time t_publish = absl::Now();
  publish(Grace::Defer);  // no older table refers to the new slot: nothing to wait for
  const absl::Time t_save = absl::Now();
  if (absl::Status s = saveState(config_.stateFile, portSpecsLocked()); !s.ok()) {
    log_->error("state not saved file={} error=\"{}\"", config_.stateFile,
                common::toStd(s.message()));
  }
  const absl::Time t_done = absl::Now();
  log_->info(
      "port added id={} network={} socket={} mode={} queues={} slot={} open_us={} publish_us={} "
      "save_us={}",
      spec.id, spec.network, spec.socket_path,
      spec.vhost_mode == VhostMode::Server ? "server" : "client", spec.queues, index,
      absl::ToInt64Microseconds(t_publish - t_open), absl::ToInt64Microseconds(t_save - t_publish),
      absl::ToInt64Microseconds(t_done - t_save));
  if (absl::Now() >= deadline) {
    // The caller has given up (or will before our answer arrives): it must not find a port it
    // was told nothing about. Taken out again as DeletePort would.
    port_order_.pop_back();
    removeSlot(index);
    if (absl::Status s = saveState(config_.stateFile, portSpecsLocked()); !s.ok()) {
      log_->error("state not saved file={} error=\"{}\"", config_.stateFile,
                  common::toStd(s.message()));
    }
    log_->warn("port removed again: complete only after the caller's deadline id={} slot={}",
               spec.id, index);
    return absl::DeadlineExceededError(
        "AddPort: the port was ready only after the caller's deadline and was removed again; "
        "try again");
  }
  return statusOf(*slots_[index]);
}

absl::StatusOr<bool> Switch::deletePort(const std::string& id, const std::string& uid,
                                        absl::Time deadline) {
  if (!gate_.enter(deadline)) return notAdmitted("DeletePort");
  GateHold<ControlGate> hold(gate_);
  absl::MutexLock lock(&mu_);
  auto it = std::find_if(port_order_.begin(), port_order_.end(),
                         [&](uint16_t s) { return slots_[s]->spec.id == id; });
  if (it == port_order_.end()) return false;
  if (!uid.empty() && slots_[*it]->spec.uid != uid) {
    log_->info("port kept: DeletePort named another incarnation id={} uid={} requested_uid={}", id,
               slots_[*it]->spec.uid, uid);
    return false;
  }
  const uint16_t index = *it;
  port_order_.erase(it);
  const absl::Time t_remove = absl::Now();
  removeSlot(index);
  const absl::Time t_save = absl::Now();
  if (absl::Status s = saveState(config_.stateFile, portSpecsLocked()); !s.ok()) {
    log_->error("state not saved file={} error=\"{}\"", config_.stateFile,
                common::toStd(s.message()));
  }
  log_->info("port deleted id={} slot={} remove_us={} save_us={}", id, index,
             absl::ToInt64Microseconds(t_save - t_remove),
             absl::ToInt64Microseconds(absl::Now() - t_save));
  return true;
}

void Switch::removeSlot(uint16_t index) {
  // The slot is closed once no worker can still poll or transmit to it: at once when the workers
  // report quickly (they do on dedicated cores), else by a later control call or poll(). Its
  // index stays reserved until then; an AddPort for its socket path waits for it.
  closing_[index] = true;
  publish(Grace::Defer, std::move(slots_[index]));
  reclaimWithin(kSyncCloseWait);
}

void Switch::closeSlot(const Slot& s) {
  if (!s.is_uplink) {
    vhost_->close(s.index);
    if (s.spec.vhost_mode == VhostMode::Client) {
      std::error_code ec;  // rte_vhost removes the socket it created; this is belt and braces
      std::filesystem::remove(s.spec.socket_path, ec);
    }
    return;
  }
  rte_eth_dev_callback_unregister(s.port_id, RTE_ETH_EVENT_INTR_RESET,
                                  reinterpret_cast<rte_eth_dev_cb_fn>(&Switch::onEthEvent), this);
  port_to_slot_[s.port_id].store(kNoSlot, std::memory_order_relaxed);
  rte_eth_dev_stop(s.port_id);
  rte_eth_dev_close(s.port_id);
}

PortCounters Switch::countersOf(uint16_t slot) const {
  PortCounters c;
  for (const auto& w : workers_) {
    const SlotCounters& s = w->counters(slot);
    c.rx_packets += s.rx_packets.load(std::memory_order_relaxed);
    c.rx_bytes += s.rx_bytes.load(std::memory_order_relaxed);
    c.tx_packets += s.tx_packets.load(std::memory_order_relaxed);
    c.tx_bytes += s.tx_bytes.load(std::memory_order_relaxed);
    for (size_t i = 0; i < kDropReasonCount; ++i) {
      c.drops[i] += s.drops[i].load(std::memory_order_relaxed);
    }
  }
  return c;
}

namespace {
PortCounters minus(PortCounters a, const PortCounters& b) {
  a.rx_packets -= b.rx_packets;
  a.rx_bytes -= b.rx_bytes;
  a.tx_packets -= b.tx_packets;
  a.tx_bytes -= b.tx_bytes;
  for (size_t i = 0; i < kDropReasonCount; ++i) a.drops[i] -= b.drops[i];
  return a;
}
}  // namespace

PortStatus Switch::statusOf(const Slot& s) const {
  PortStatus st;
  st.spec = s.spec;
  st.connected = vhost_->connected(s.index);
  st.worker_lcore = workers_[s.index % workers_.size()]->lcore();
  st.counters = minus(countersOf(s.index), s.baseline);
  return st;
}

absl::StatusOr<PortStatus> Switch::getPort(const std::string& id) {
  absl::MutexLock lock(&mu_);
  for (uint16_t s : port_order_) {
    if (slots_[s]->spec.id == id) return statusOf(*slots_[s]);
  }
  return absl::NotFoundError(strCat("id: no port \"", id, "\""));
}

std::vector<PortStatus> Switch::listPorts(const std::string& network) {
  absl::MutexLock lock(&mu_);
  std::vector<PortStatus> out;
  for (uint16_t s : port_order_) {
    if (network.empty() || slots_[s]->spec.network == network) out.push_back(statusOf(*slots_[s]));
  }
  return out;
}

std::vector<PortSpec> Switch::portSpecsLocked() const {
  std::vector<PortSpec> out;
  for (uint16_t s : port_order_) out.push_back(slots_[s]->spec);
  return out;
}

std::vector<NetworkStatus> Switch::listNetworks() {
  absl::MutexLock lock(&mu_);
  std::vector<NetworkStatus> out;
  for (size_t i = 0; i < networks_.size(); ++i) {
    const NetworkState& n = *networks_[i];
    NetworkStatus st;
    st.name = n.config.name;
    st.mode = n.config.mode;
    st.mtu = n.config.mtu;
    st.port_count =
        static_cast<uint32_t>(std::count_if(port_order_.begin(), port_order_.end(),
                                            [&](uint16_t s) { return slots_[s]->network == i; }));
    if (n.uplink_slot != kNoSlot) {
      const Slot& s = *slots_[n.uplink_slot];
      UplinkStatus up;
      up.device = n.config.uplink->device;
      up.port_id = s.port_id;
      up.mac = formatMac(n.eni_mac);
      up.queues = s.queues;
      rte_eth_link link{};
      rte_eth_link_get_nowait(s.port_id, &link);
      up.link_up = link.link_status == RTE_ETH_LINK_UP;
      up.speed_mbps = link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : link.link_speed;
      up.counters = countersOf(s.index);
      int count = rte_eth_xstats_get_names(s.port_id, nullptr, 0);
      if (count > 0) {
        std::vector<rte_eth_xstat_name> names(count);
        std::vector<rte_eth_xstat> values(count);
        if (rte_eth_xstats_get_names(s.port_id, names.data(), count) == count &&
            rte_eth_xstats_get(s.port_id, values.data(), count) == count) {
          for (int x = 0; x < count; ++x) {
            std::string_view name = names[values[x].id].name;
            if (name.find("allowance_exceeded") != std::string_view::npos) {
              up.xstats.emplace_back(std::string(name), values[x].value);
            }
          }
        }
      }
      st.up = up.link_up && !n.resetting;
      st.uplink = std::move(up);
    }
    out.push_back(std::move(st));
  }
  return out;
}

std::vector<WorkerStatus> Switch::listWorkers() {
  absl::MutexLock lock(&mu_);
  std::vector<WorkerStatus> out;
  for (const auto& w : workers_) {
    WorkerStatus st;
    st.lcore = w->lcore();
    st.queue_count = current_ ? static_cast<uint32_t>(current_->poll[w->index()].size()) : 0;
    st.busy_cycles = w->busyCycles();
    st.total_cycles = w->totalCycles();
    for (uint16_t s = 0; s < kMaxSlots; ++s) {
      st.rx_packets += w->counters(s).rx_packets.load(std::memory_order_relaxed);
      st.tx_packets += w->counters(s).tx_packets.load(std::memory_order_relaxed);
    }
    out.push_back(st);
  }
  return out;
}

int Switch::onEthEvent(uint16_t port_id, int type, void* arg, void*) {
  // DPDK's interrupt thread: only atomics here; the main loop does the work.
  auto* self = static_cast<Switch*>(arg);
  const uint16_t slot = self->port_to_slot_[port_id].load(std::memory_order_relaxed);
  if (slot != kNoSlot && type == RTE_ETH_EVENT_INTR_RESET) {
    self->reset_requested_[slot].store(true, std::memory_order_relaxed);
  }
  return 0;
}

void Switch::poll() {
  absl::MutexLock lock(&mu_);
  if (stopped_) return;
  reclaim(/*wait=*/false);
  for (const auto& s : slots_) {
    if (!s || !s->is_uplink) continue;
    if (!reset_requested_[s->index].exchange(false, std::memory_order_relaxed)) continue;
    // ENA reset (RTE_ETH_EVENT_INTR_RESET): take the uplink out of the table, reset and
    // reconfigure it, put it back. Pod-to-pod traffic keeps flowing meanwhile.
    NetworkState& net = *networks_[s->network];
    log_->warn("uplink reset network={} device={}", net.config.name, net.config.uplink->device);
    net.resetting = true;
    publish(Grace::Wait);  // no worker touches the uplink after this
    rte_eth_dev_stop(s->port_id);
    int rc = rte_eth_dev_reset(s->port_id);
    absl::StatusOr<uint16_t> txq =
        rc == 0 ? configureUplink(s->port_id, s->queues, static_cast<uint16_t>(workers_.size()),
                                  net.config.mtu, net.rx_pool ? net.rx_pool : pool_)
                : absl::InternalError(rteError(rc));
    if (!txq.ok()) {
      log_->error("uplink reset failed network={} error=\"{}\"; retrying", net.config.name,
                  common::toStd(txq.status().message()));
      reset_requested_[s->index].store(true, std::memory_order_relaxed);
      continue;
    }
    s->tx_queues = *txq;
    net.resetting = false;
    publish(Grace::Defer);
    log_->info("uplink reset done network={}", net.config.name);
  }
}

void Switch::stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  for (auto& w : workers_) w->requestStop();
  for (auto& w : workers_) rte_eal_wait_lcore(w->lcore());
  absl::MutexLock lock(&mu_);
  reclaim(/*wait=*/true);  // closes the slots still closing (the workers are offline)
  for (auto& s : slots_) {
    if (!s) continue;
    closeSlot(*s);
    s.reset();
  }
  log_->info("switch stopped");
}

Switch::~Switch() {
  stop();
  {
    absl::MutexLock lock(&mu_);
    retired_.clear();  // the workers are stopped
  }
  current_.reset();
  vhost_.reset();
  rte_free(qsbr_);
  {
    absl::MutexLock lock(&mu_);
    for (auto& n : networks_) rte_mempool_free(n->rx_pool);
  }
  rte_mempool_free(pool_);
}

}  // namespace enadpdk::vhostuser
