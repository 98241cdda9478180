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
#include "vhostuser/state_store.h"
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
  int node = -1;  // the uplink's NUMA node
  // Receive buffers of an uplink that cannot scatter a jumbo frame over several mbufs (null: the
  // node's shared pool).
  rte_mempool* rx_pool = nullptr;
  bool resetting = false;
  // What the control API reports of the uplink, refreshed by poll() (link, allowance counters)
  // and by resets.
  bool link_up = false;
  uint32_t speed_mbps = 0;
  uint64_t resets = 0;
  uint64_t reset_failures = 0;
  uint64_t link_changes = 0;
  std::vector<std::pair<std::string, uint64_t>> xstats;
};

void Switch::WorkerDeleter::operator()(Worker* w) const {
  w->~Worker();
  rte_free(w);
}

Switch::Switch(const common::DataplaneConfig& config, std::shared_ptr<spdlog::logger> log)
    : config_(config), log_(std::move(log)), ports_(config.maxPorts) {
  for (auto& s : port_to_slot_) s.store(kNoSlot, std::memory_order_relaxed);
}

absl::StatusOr<std::unique_ptr<Switch>> Switch::create(const common::DataplaneConfig& config,
                                                       std::shared_ptr<spdlog::logger> log) {
  std::unique_ptr<Switch> sw(new Switch(config, std::move(log)));
  if (absl::Status s = sw->init(); !s.ok()) return s;
  return sw;
}

absl::StatusOr<rte_mempool*> Switch::poolOn(int node) {
  node = std::max(node, 0);
  for (const auto& [n, pool] : pools_) {
    if (n == node) return pool;
  }
  // The first pool keeps the name it always had (memory reports and tools look for it).
  const std::string name =
      pools_.empty() ? std::string("ena_dpdk_mbufs") : strCat("ena_dpdk_mbufs_", node);
  rte_mempool* pool = rte_pktmbuf_pool_create(name.c_str(), config_.mbufs, kMbufCache, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, node);
  if (pool == nullptr) {
    return absl::ResourceExhaustedError(strCat(
        "mbuf pool of ", config_.mbufs, " buffers on NUMA node ", node, ": ", rteError(rte_errno),
        " (reserve more hugepages on that node or lower "
        "dataplane.mbufs)"));
  }
  pools_.emplace_back(node, pool);
  return pool;
}

absl::Status Switch::init() {
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
    topology_.worker_nodes.push_back(static_cast<int>(rte_lcore_to_socket_id(lcores[i])));
  }
  // Each worker, with its counters and TX buffers, lives in its own node's memory and dequeues
  // from pods into its own node's pool.
  for (size_t i = 0; i < lcores.size(); ++i) {
    const int node = topology_.worker_nodes[i];
    absl::StatusOr<rte_mempool*> pool = poolOn(node);
    if (!pool.ok()) return pool.status();
    void* mem = rte_zmalloc_socket("ena_dpdk_worker", sizeof(Worker), RTE_CACHE_LINE_SIZE, node);
    if (mem == nullptr) {
      return absl::ResourceExhaustedError(
          strCat("dataplane.workers[", i, "]: cannot allocate the worker on NUMA node ", node));
    }
    workers_.emplace_back(new (mem) Worker(lcores[i], static_cast<unsigned>(i), &table_, qsbr_,
                                           &vhost_->links(), *pool, config_.burstSize));
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
  publish();
  reclaim(/*wait=*/true);  // no worker runs yet
  for (auto& w : workers_) {
    int rc = rte_eal_remote_launch(&Worker::launch, w.get(), w->lcore());
    if (rc != 0) {
      return absl::InternalError(strCat("launch worker on lcore ", w->lcore(), ": ", rteError(rc)));
    }
  }
  std::string nodes;
  for (const auto& [node, pool] : pools_) nodes += strCat(nodes.empty() ? "" : ",", node);
  log_->info("switch started workers={} networks={} mbufs={} pool_nodes={}", workers_.size(),
             networks_.size(), config_.mbufs, nodes);
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
  const std::optional<uint16_t> free_slot = ports_.freeSlot();
  if (!free_slot) return absl::ResourceExhaustedError(strCat(field, ": no free port slot"));
  auto slot = std::make_unique<Slot>();
  slot->index = *free_slot;
  slot->is_uplink = true;
  slot->network = static_cast<size_t>(
      std::find_if(networks_.begin(), networks_.end(), [&](auto& n) { return n.get() == &net; }) -
      networks_.begin());
  slot->port_id = port_id;
  net.node = std::max(rte_eth_dev_socket_id(port_id), -1);
  absl::StatusOr<rte_mempool*> node_pool = poolOn(net.node);
  if (!node_pool.ok()) return node_pool.status();
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
        static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + room), std::max(net.node, 0));
    if (net.rx_pool == nullptr) {
      return absl::ResourceExhaustedError(strCat(field, ": jumbo receive pool of ", count, " x ",
                                                 room, " bytes: ", rteError(rte_errno)));
    }
  }
  absl::StatusOr<uint16_t> txq = configureUplink(
      port_id, static_cast<uint16_t>(up.queues), static_cast<uint16_t>(workers_.size()),
      net.config.mtu, net.rx_pool ? net.rx_pool : *node_pool);
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
  log_->info("uplink started network={} device={} port={} mac={} rxq={} txq={} numa_node={}",
             net.config.name, up.device, port_id, formatMac(net.eni_mac), slot->queues,
             slot->tx_queues, net.node);
  ports_.reserveSlot(slot->index);
  slots_[slot->index] = std::move(slot);
  return absl::OkStatus();
}

int Switch::nodeOf(const NetworkState& net) const {
  return net.uplink_slot == kNoSlot ? -1 : net.node;
}

uint64_t Switch::publish(std::unique_ptr<Slot> close_after) {
  std::vector<NetworkPlan> nets;
  nets.reserve(networks_.size());
  for (const auto& n : networks_) {
    nets.push_back(NetworkPlan{.mode = n->config.mode,
                               .uplink_slot = n->resetting ? kNoSlot : n->uplink_slot,
                               .eni_mac = n->eni_mac,
                               .fdb = n->fdb.get(),
                               .node = nodeOf(*n)});
  }
  std::vector<SlotPlan> plans;
  for (const auto& s : slots_) {
    if (!s) continue;
    plans.push_back(SlotPlan{.view = &s->view,
                             .is_uplink = s->is_uplink,
                             .port_id = s->port_id,
                             .rx_queues = s->queues,
                             .tx_queues = s->tx_queues,
                             .txq_locks = s->txq_locks.data()});
  }
  std::unique_ptr<const DataplaneTable> t = buildTable(nets, plans, topology_);
  table_.store(t.get(), std::memory_order_release);
  // The old table is retired: freed once every worker has finished a pass begun before the
  // store above (its quiescent report after `token`).
  const uint64_t token = rte_rcu_qsbr_start(qsbr_);
  retired_.push_back(
      Retired{.token = token, .table = std::move(current_), .slot = std::move(close_after)});
  current_ = std::move(t);
  reclaim(/*wait=*/false);
  return token;
}

void Switch::reclaim(bool wait) {
  while (!retired_.empty() && rte_rcu_qsbr_check(qsbr_, retired_.front().token, wait) == 1) {
    Retired r = std::move(retired_.front());
    retired_.pop_front();
    if (r.slot) {
      closeSlot(*r.slot);
      ports_.finishClose(r.slot->index);
    }
  }
}

bool Switch::awaitGrace(uint64_t token, absl::Duration limit) {
  const absl::Time until =
      limit == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + limit;
  for (unsigned spins = 0;; ++spins) {
    if (rte_rcu_qsbr_check(qsbr_, token, false) == 1) return true;
    if (absl::Now() >= until) return false;
    // Workers report every pass (microseconds) unless their CPU is taken from them.
    if (spins < 1000) {
      rte_pause();
    } else {
      absl::SleepFor(absl::Microseconds(100));
    }
  }
}

void Switch::drainBacklog() {
  for (;;) {
    uint64_t oldest;
    {
      absl::MutexLock lock(&mu_);
      reclaim(/*wait=*/false);
      if (retired_.size() <= kMaxRetiredTables) return;
      oldest = retired_.front().token;
    }
    awaitGrace(oldest);
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

std::vector<NetworkFacts> Switch::networkFactsLocked() const {
  std::vector<NetworkFacts> out;
  out.reserve(networks_.size());
  for (const auto& n : networks_) {
    out.push_back(
        NetworkFacts{.name = n->config.name, .mode = n->config.mode, .eni_mac = n->eni_mac});
  }
  return out;
}

void Switch::saveStateLocked() {
  if (absl::Status s = saveState(config_.stateFile, ports_.specs()); !s.ok()) {
    log_->error("state not saved file={} error=\"{}\"", config_.stateFile,
                common::toStd(s.message()));
  }
}

absl::StatusOr<PortStatus> Switch::addPort(PortSpec spec, absl::Time deadline) {
  if (absl::Status s = validatePortSpec(spec, config_); !s.ok()) return s;
  if (!gate_.enter(deadline)) return notAdmitted("AddPort");
  GateHold<ControlGate> hold(gate_);
  std::optional<absl::StatusOr<PortStatus>> result;
  uint64_t close_token = 0;  // a removed port still holding the socket path: wait for it
  uint64_t removed_token = 0;
  while (!result) {
    if (close_token != 0) awaitGrace(std::exchange(close_token, 0));
    absl::MutexLock lock(&mu_);
    if (stopped_) return absl::UnavailableError("the dataplane is shutting down");
    reclaim(/*wait=*/false);
    absl::StatusOr<PortTable::Admission> admission = ports_.admit(spec, networkFactsLocked());
    if (!admission.ok()) return admission.status();
    if (admission->kind == PortTable::Admission::Kind::Existing) {
      return statusOf(*slots_[admission->slot]);
    }
    if (admission->kind == PortTable::Admission::Kind::WaitForClose) {
      // rte_vhost knows a socket path once: the deleted port on it must be closed first.
      for (const Retired& r : retired_) {
        if (r.slot && r.slot->index == admission->slot) close_token = r.token;
      }
      if (close_token == 0) ports_.finishClose(admission->slot);  // cannot happen: not retired
      continue;
    }
    spec = std::move(admission->spec);
    const size_t net_index = admission->network;
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
    slot->index = admission->slot;
    slot->network = net_index;
    slot->spec = spec;
    slot->queues = static_cast<uint16_t>(spec.queues);
    const absl::Time t_open = absl::Now();
    if (absl::Status s = vhost_->open(slot->index, spec); !s.ok()) return s;
    if (spec.vhost_mode == VhostMode::Client) {
      absl::Status perm = common::setFilePermissions(spec.socket_path,
                                                     *common::parseFileMode(spec.perm), spec.owner);
      if (!perm.ok()) {
        vhost_->close(slot->index);
        return absl::FailedPreconditionError(
            strCat("socket_path: ", common::toStd(perm.message())));
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
    slots_[index] = std::move(slot);
    ports_.insert(index, net_index, spec);
    const absl::Time t_publish = absl::Now();
    publish();  // no older table refers to the new slot: nothing to wait for
    const absl::Time t_save = absl::Now();
    saveStateLocked();
    const absl::Time t_done = absl::Now();
    log_->info(
        "port added id={} network={} socket={} mode={} queues={} slot={} open_us={} "
        "publish_us={} save_us={}",
        spec.id, spec.network, spec.socket_path,
        spec.vhost_mode == VhostMode::Server ? "server" : "client", spec.queues, index,
        absl::ToInt64Microseconds(t_publish - t_open),
        absl::ToInt64Microseconds(t_save - t_publish), absl::ToInt64Microseconds(t_done - t_save));
    if (absl::Now() >= deadline) {
      // The caller has given up (or will before our answer arrives): it must not find a port it
      // was told nothing about. Taken out again as DeletePort would.
      removed_token = removePort(index);
      saveStateLocked();
      log_->warn("port removed again: complete only after the caller's deadline id={} slot={}",
                 spec.id, index);
      result = absl::DeadlineExceededError(
          "AddPort: the port was ready only after the caller's deadline and was removed again; "
          "try again");
    } else {
      result = statusOf(*slots_[index]);
    }
  }
  if (removed_token != 0 && awaitGrace(removed_token, kSyncCloseWait)) {
    absl::MutexLock lock(&mu_);
    reclaim(/*wait=*/false);
  }
  drainBacklog();
  return *std::move(result);
}

absl::StatusOr<bool> Switch::deletePort(const std::string& id, const std::string& uid,
                                        absl::Time deadline) {
  if (!gate_.enter(deadline)) return notAdmitted("DeletePort");
  GateHold<ControlGate> hold(gate_);
  uint64_t token;
  {
    absl::MutexLock lock(&mu_);
    const PortTable::Match match = ports_.find(id, uid);
    if (match.kind == PortTable::Match::Kind::NotFound) return false;
    if (match.kind == PortTable::Match::Kind::OtherIncarnation) {
      log_->info("port kept: DeletePort named another incarnation id={} uid={} requested_uid={}",
                 id, slots_[match.slot]->spec.uid, uid);
      return false;
    }
    const absl::Time t_remove = absl::Now();
    token = removePort(match.slot);
    const absl::Time t_save = absl::Now();
    saveStateLocked();
    log_->info("port deleted id={} slot={} remove_us={} save_us={}", id, match.slot,
               absl::ToInt64Microseconds(t_save - t_remove),
               absl::ToInt64Microseconds(absl::Now() - t_save));
  }
  // The slot is closed once no worker can still poll or transmit to it: at once when the
  // workers report quickly (they do on dedicated cores), else by a later control call or poll().
  // Its index and socket path stay reserved until then.
  if (awaitGrace(token, kSyncCloseWait)) {
    absl::MutexLock lock(&mu_);
    reclaim(/*wait=*/false);
  }
  drainBacklog();
  return true;
}

uint64_t Switch::removePort(uint16_t index) {
  ports_.beginClose(index);
  return publish(std::move(slots_[index]));
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
  st.worker_lcore =
      workers_[pollingWorker(topology_, nodeOf(*networks_[s.network]), s.index, 0)]->lcore();
  st.counters = minus(countersOf(s.index), s.baseline);
  return st;
}

absl::StatusOr<PortStatus> Switch::getPort(const std::string& id) {
  absl::MutexLock lock(&mu_);
  const PortTable::Match match = ports_.find(id);
  if (match.kind == PortTable::Match::Kind::Found) return statusOf(*slots_[match.slot]);
  return absl::NotFoundError(strCat("id: no port \"", id, "\""));
}

std::vector<PortStatus> Switch::listPorts(const std::string& network) {
  absl::MutexLock lock(&mu_);
  std::vector<PortStatus> out;
  for (const PortTable::Entry& e : ports_.entries()) {
    if (network.empty() || e.spec.network == network) out.push_back(statusOf(*slots_[e.slot]));
  }
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
    st.port_count = ports_.countInNetwork(i);
    if (n.uplink_slot != kNoSlot) {
      const Slot& s = *slots_[n.uplink_slot];
      UplinkStatus up;
      up.device = n.config.uplink->device;
      up.port_id = s.port_id;
      up.mac = formatMac(n.eni_mac);
      up.queues = s.queues;
      up.tx_queues = s.tx_queues;
      up.numa_node = n.node;
      up.link_up = n.link_up;
      up.speed_mbps = n.speed_mbps;
      up.resets = n.resets;
      up.reset_failures = n.reset_failures;
      up.link_changes = n.link_changes;
      up.counters = countersOf(s.index);
      up.xstats = n.xstats;
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

void Switch::refreshUplinks() {
  // The ethdevs are read here, on the main loop's thread, without `mu_`; only the results are
  // stored under it. No other thread touches them (see the class comment).
  struct Reading {
    size_t network;
    bool link_up;
    uint32_t speed;
    std::vector<std::pair<std::string, uint64_t>> xstats;
  };
  std::vector<std::pair<size_t, uint16_t>> uplinks;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    for (size_t i = 0; i < networks_.size(); ++i) {
      const NetworkState& n = *networks_[i];
      if (n.uplink_slot != kNoSlot && !n.resetting) {
        uplinks.emplace_back(i, slots_[n.uplink_slot]->port_id);
      }
    }
  }
  const absl::Time now = absl::Now();
  const bool read_xstats = now >= next_xstats_;
  if (read_xstats) next_xstats_ = now + kXstatsPeriod;
  std::vector<Reading> readings;
  for (const auto& [network, port_id] : uplinks) {
    Reading r{.network = network, .link_up = false, .speed = 0, .xstats = {}};
    rte_eth_link link{};
    rte_eth_link_get_nowait(port_id, &link);
    r.link_up = link.link_status == RTE_ETH_LINK_UP;
    r.speed = link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : link.link_speed;
    // ENA reads its allowance counters from the device with an admin command: once a second.
    const int count = read_xstats ? rte_eth_xstats_get_names(port_id, nullptr, 0) : 0;
    if (count > 0) {
      std::vector<rte_eth_xstat_name> names(static_cast<size_t>(count));
      std::vector<rte_eth_xstat> values(static_cast<size_t>(count));
      if (rte_eth_xstats_get_names(port_id, names.data(), count) == count &&
          rte_eth_xstats_get(port_id, values.data(), count) == count) {
        for (const rte_eth_xstat& x : values) {
          if (x.id >= static_cast<uint64_t>(count)) continue;
          const std::string_view name = names[x.id].name;
          if (name.find("allowance_exceeded") != std::string_view::npos) {
            r.xstats.emplace_back(std::string(name), x.value);
          }
        }
      }
    }
    readings.push_back(std::move(r));
  }
  absl::MutexLock lock(&mu_);
  for (Reading& r : readings) {
    NetworkState& n = *networks_[r.network];
    if (n.link_up != r.link_up) {
      ++n.link_changes;
      log_->info("uplink link {} network={} speed_mbps={}", r.link_up ? "up" : "down",
                 n.config.name, r.speed);
    }
    n.link_up = r.link_up;
    n.speed_mbps = r.speed;
    if (read_xstats) n.xstats = std::move(r.xstats);
  }
}

void Switch::resetUplinks() {
  std::vector<size_t> nets;
  uint64_t token = 0;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    for (size_t i = 0; i < networks_.size(); ++i) {
      NetworkState& n = *networks_[i];
      if (n.uplink_slot == kNoSlot) continue;
      if (!reset_requested_[n.uplink_slot].exchange(false, std::memory_order_relaxed)) continue;
      // ENA reset (RTE_ETH_EVENT_INTR_RESET): take the uplink out of the table, reset and
      // reconfigure it, put it back. Pod-to-pod traffic keeps flowing meanwhile.
      log_->warn("uplink reset network={} device={}", n.config.name, n.config.uplink->device);
      n.resetting = true;
      nets.push_back(i);
    }
    if (nets.empty()) return;
    token = publish();
  }
  awaitGrace(token);  // no worker touches the uplinks after this
  for (size_t i : nets) {
    uint16_t port_id, queues;
    uint32_t mtu;
    rte_mempool* pool;
    {
      absl::MutexLock lock(&mu_);
      const NetworkState& n = *networks_[i];
      port_id = slots_[n.uplink_slot]->port_id;
      queues = slots_[n.uplink_slot]->queues;
      mtu = n.config.mtu;
      pool = n.rx_pool != nullptr ? n.rx_pool : *poolOn(n.node);  // exists since startUplink
    }
    rte_eth_dev_stop(port_id);
    const int rc = rte_eth_dev_reset(port_id);
    absl::StatusOr<uint16_t> txq =
        rc == 0
            ? configureUplink(port_id, queues, static_cast<uint16_t>(workers_.size()), mtu, pool)
            : absl::InternalError(rteError(rc));
    absl::MutexLock lock(&mu_);
    NetworkState& n = *networks_[i];
    if (!txq.ok()) {
      ++n.reset_failures;
      log_->error("uplink reset failed network={} error=\"{}\"; retrying", n.config.name,
                  common::toStd(txq.status().message()));
      reset_requested_[n.uplink_slot].store(true, std::memory_order_relaxed);
      continue;
    }
    slots_[n.uplink_slot]->tx_queues = *txq;
    ++n.resets;
    n.resetting = false;
    publish();
    log_->info("uplink reset done network={} resets={}", n.config.name, n.resets);
  }
}

void Switch::poll() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    reclaim(/*wait=*/false);
  }
  resetUplinks();
  refreshUplinks();
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
  workers_.clear();
  rte_free(qsbr_);
  {
    absl::MutexLock lock(&mu_);
    for (auto& n : networks_) rte_mempool_free(n->rx_pool);
  }
  for (const auto& [node, pool] : pools_) rte_mempool_free(pool);
}

}  // namespace enadpdk::vhostuser
