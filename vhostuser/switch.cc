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

#include "common/logging.h"
#include "common/pci.h"
#include "common/strings.h"
#include "common/unix_socket.h"
#include "vhostuser/path_policy.h"
#include "vhostuser/rte_eth_dev.h"
#include "vhostuser/state_store.h"
#include "vhostuser/worker.h"

namespace enadpdk::vhostuser {

using common::strCat;

namespace {

constexpr uint32_t kMbufCache = 256;
constexpr uint32_t kFdbCapacity = 4096;
std::string rteError(int rc) { return rte_strerror(rc < 0 ? -rc : rc); }

// True for a network that bridges by MAC: it keeps a learning table (Fdb) and its uplink is
// promiscuous; a vpc network uses the ENI's MAC and demultiplexes by IP.
bool learnsMacs(NetworkMode mode) {
  switch (mode) {
    case NetworkMode::L2:
      return true;
    case NetworkMode::Vpc:
      return false;
  }
  return false;  // Not a NetworkMode value.
}

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

absl::StatusOr<std::unique_ptr<EthDev>> openRteEthDev(const std::string& device) {
  absl::StatusOr<std::unique_ptr<RteEthDev>> dev = RteEthDev::open(device);
  if (!dev.ok()) return dev.status();
  return std::unique_ptr<EthDev>(*std::move(dev));
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
  NetworkConfig config;
  uint16_t uplink_slot = kNoSlot;
  MacAddr eni_mac;
  std::unique_ptr<Fdb> fdb;
  int node = -1;  // the uplink's NUMA node
  // The uplink's device; created by init() or applyConfig() and never replaced, so the main loop
  // may use it without `mu_` (only the main loop does).
  std::unique_ptr<Uplink> uplink;
  bool resetting = false;  // out of the published table until its recovery succeeds
};

void Switch::WorkerDeleter::operator()(Worker* w) const {
  w->~Worker();
  rte_free(w);
}

Switch::Switch(const DataplaneConfig& config, std::shared_ptr<spdlog::logger> log,
               EthDevOpener open_device)
    : config_(config),
      log_(std::move(log)),
      open_device_(open_device ? std::move(open_device) : EthDevOpener(&openRteEthDev)),
      applied_(std::make_shared<const DataplaneConfig>(config)),
      ports_(config.maxPorts) {}

absl::StatusOr<std::unique_ptr<Switch>> Switch::create(const DataplaneConfig& config,
                                                       std::shared_ptr<spdlog::logger> log,
                                                       EthDevOpener open_device) {
  std::unique_ptr<Switch> sw(new Switch(config, std::move(log), std::move(open_device)));
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
                    [](const NetworkConfig& n) { return n.uplink.has_value(); }));
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
  const TxDrain drain = TxDrain::fromMicroseconds(config_.txDrainMicroseconds, rte_get_tsc_hz());
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
                                           &vhost_->links(), *pool, config_.burstSize, drain));
  }

  absl::MutexLock lock(&mu_);
  const uint64_t aging = uint64_t{config_.macAgingSeconds} * rte_get_tsc_hz();
  for (const NetworkConfig& nc : config_.networks) {
    auto net = std::make_unique<NetworkState>();
    net->config = nc;
    if (learnsMacs(nc.mode)) net->fdb = std::make_unique<Fdb>(kFdbCapacity, aging);
    networks_.push_back(std::move(net));
    if (nc.uplink) {
      if (absl::Status s = startUplink(*networks_.back()); !s.ok()) return s;
    }
  }
  // A first reading of the links, so that the control API does not report the networks down
  // until the main loop's first refresh.
  for (const auto& n : networks_) {
    if (n->uplink) n->uplink->refresh();
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
  log_->info(
      "switch started workers={} networks={} mbufs={} pool_nodes={} burst={} tx_drain_us={} "
      "tx_drain_cycles={}",
      workers_.size(), networks_.size(), config_.mbufs, nodes, config_.burstSize,
      config_.txDrainMicroseconds, drain.cycles());
  return absl::OkStatus();
}

absl::Status Switch::startUplink(NetworkState& net) {
  const UplinkConfig& up = *net.config.uplink;
  const std::string field = strCat("dataplane.networks[", net.config.name, "].uplink.device");
  absl::StatusOr<std::unique_ptr<EthDev>> dev = open_device_(up.device);
  if (!dev.ok()) {
    return absl::FailedPreconditionError(
        strCat(field, ": ", common::toStd(dev.status().message())));
  }
  absl::StatusOr<EthDevInfo> info = (*dev)->info();
  if (!info.ok()) {
    return absl::FailedPreconditionError(
        strCat(field, ": ", common::toStd(info.status().message())));
  }
  // The uplink's RX queues fill from a pool on its own node, and its pods are polled there.
  net.node = info->numa_socket;
  absl::StatusOr<rte_mempool*> pool = poolOn(net.node);
  if (!pool.ok()) return pool.status();
  const std::optional<uint16_t> free_slot = ports_.freeSlot();
  if (!free_slot) return absl::ResourceExhaustedError(strCat(field, ": no free port slot"));
  absl::StatusOr<std::unique_ptr<Uplink>> uplink =
      Uplink::create(*std::move(dev),
                     UplinkParams{.network = net.config.name,
                                  .device = up.device,
                                  .rx_queues = static_cast<uint16_t>(up.queues),
                                  .tx_queues = static_cast<uint16_t>(workers_.size()),
                                  .rx_descriptors = static_cast<uint16_t>(up.rxDescriptors),
                                  .tx_descriptors = static_cast<uint16_t>(up.txDescriptors),
                                  .mtu = net.config.mtu,
                                  .promiscuous = learnsMacs(net.config.mode),
                                  .pool = *pool},
                     rtePoolFactory(), log_);
  if (!uplink.ok()) {
    return absl::FailedPreconditionError(
        strCat(field, ": ", common::toStd(uplink.status().message())));
  }
  net.uplink = *std::move(uplink);
  net.eni_mac = net.config.mac ? *parseMac(*net.config.mac) : net.uplink->mac();

  auto slot = std::make_unique<Slot>();
  slot->index = *free_slot;
  slot->is_uplink = true;
  slot->network = static_cast<size_t>(
      std::find_if(networks_.begin(), networks_.end(), [&](auto& n) { return n.get() == &net; }) -
      networks_.begin());
  slot->port_id = net.uplink->portId();
  slot->queues = net.uplink->rxQueues();
  slot->tx_queues = net.uplink->txQueues();
  for (auto& l : slot->txq_locks) rte_spinlock_init(&l);
  // An uplink added while running may get a slot a pod port had: its counters start from here,
  // and MAC table entries of that port do not lead to it.
  slot->baseline = countersOf(slot->index);
  slot->view = PortView{.slot = slot->index,
                        .generation = ++generations_[slot->index],
                        .network = static_cast<uint16_t>(slot->network),
                        .is_uplink = true,
                        .has_mac = false,
                        .mac = net.eni_mac};
  net.uplink_slot = slot->index;
  log_->info("uplink in network network={} device={} port={} mac={} rxq={} txq={} numa_node={}",
             net.config.name, up.device, slot->port_id, formatMac(net.eni_mac), slot->queues,
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
    // Workers report every pass (microseconds) that ends holding no TX packets, so at the latest
    // after dataplane.txDrainMicroseconds, unless their CPU is taken from them.
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
    log_->error("state not saved file={} error={}", config_.stateFile,
                common::logValue(common::toStd(s.message())));
  }
}

std::shared_ptr<const DataplaneConfig> Switch::appliedConfig() const {
  absl::MutexLock lock(&mu_);
  return applied_;
}

absl::StatusOr<PortStatus> Switch::addPort(PortSpec spec, absl::Time deadline) {
  // A reload meanwhile does not matter: the port is added as if before it.
  const std::shared_ptr<const DataplaneConfig> config = appliedConfig();
  if (absl::Status s = validatePortSpec(spec, *config); !s.ok()) return s;
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
        resolveSocketPath(spec.socket_path, config->allowedSocketDirs, "socket_path");
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
  NetworkState& net = *networks_[s.network];
  if (net.uplink) {
    if (absl::Status st = net.uplink->close(); !st.ok()) {
      log_->warn("uplink not closed network={} error={}", net.config.name,
                 common::logValue(common::toStd(st.message())));
    }
  }
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
      const UplinkSnapshot snap = n.uplink->snapshot();
      up.link_up = snap.link_up;
      up.speed_mbps = snap.speed_mbps;
      up.resets = snap.resets;
      up.reset_failures = snap.reset_failures;
      up.link_changes = snap.link_changes;
      up.counters = minus(countersOf(s.index), s.baseline);
      for (const EthXstat& x : snap.allowance) up.xstats.emplace_back(x.name, x.value);
      st.up = up.link_up && !n.resetting && !snap.in_reset;
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

absl::Status Switch::applyConfig(const DataplaneConfig& next) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return absl::UnavailableError("the dataplane is shutting down");
  std::vector<const NetworkConfig*> added;
  size_t uplinks = 0;
  for (const NetworkConfig& nc : next.networks) {
    if (nc.uplink) ++uplinks;
    if (std::none_of(networks_.begin(), networks_.end(),
                     [&](const auto& n) { return n->config.name == nc.name; })) {
      added.push_back(&nc);
    }
  }
  if (uplinks + next.maxPorts > kMaxSlots) {
    return absl::InvalidArgumentError(strCat("dataplane.maxPorts: ", next.maxPorts, " ports and ",
                                             uplinks, " uplinks exceed the switch's ", kMaxSlots,
                                             " port slots"));
  }
  for (const NetworkConfig* nc : added) {
    if (nc->uplink && common::isPciAddressSyntax(nc->uplink->device)) {
      return absl::FailedPreconditionError(
          strCat("dataplane.networks[", nc->name,
                 "].uplink.device: a PCI uplink is attached only at start"));
    }
  }
  const uint64_t aging = uint64_t{next.macAgingSeconds} * rte_get_tsc_hz();
  const size_t first_added = networks_.size();
  for (const NetworkConfig* nc : added) {
    auto net = std::make_unique<NetworkState>();
    net->config = *nc;
    if (learnsMacs(nc->mode)) net->fdb = std::make_unique<Fdb>(kFdbCapacity, aging);
    networks_.push_back(std::move(net));
    if (!nc->uplink) continue;
    if (absl::Status s = startUplink(*networks_.back()); !s.ok()) {
      dropNetworksFrom(first_added);
      return s;
    }
    networks_.back()->uplink->refresh();
  }
  for (const auto& n : networks_) {
    if (n->fdb) n->fdb->setAgingCycles(aging);
  }
  ports_.setMaxPorts(next.maxPorts);
  applied_ = std::make_shared<const DataplaneConfig>(next);
  if (!added.empty()) publish();  // no older table refers to the new networks' slots
  log_->info("switch reconfigured networks_added={} networks={} mac_aging_s={} max_ports={}",
             added.size(), networks_.size(), next.macAgingSeconds, next.maxPorts);
  return absl::OkStatus();
}

void Switch::dropNetworksFrom(size_t first) {
  while (networks_.size() > first) {
    const uint16_t slot = networks_.back()->uplink_slot;
    if (slot != kNoSlot) {
      closeSlot(*slots_[slot]);
      slots_[slot].reset();
      ports_.releaseSlot(slot);
    }
    networks_.pop_back();
  }
}

void Switch::refreshUplinks() {
  // The devices are read on the main loop's thread without `mu_` (no other thread touches them,
  // see the class comment); readers get the uplinks' snapshots. ENA reads its allowance
  // counters with an admin command: once a second is plenty.
  const absl::Time now = absl::Now();
  if (now < next_refresh_) return;
  next_refresh_ = now + kRefreshPeriod;
  std::vector<NetworkState*> nets;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    for (const auto& n : networks_) nets.push_back(n.get());  // only appended, on this thread
  }
  for (NetworkState* n : nets) {
    if (!n->uplink) continue;
    const bool was_up = n->uplink->snapshot().link_up;
    n->uplink->refresh();
    const UplinkSnapshot snap = n->uplink->snapshot();
    if (snap.link_up != was_up && !snap.in_reset) {
      log_->info("uplink link {} network={} speed_mbps={}", snap.link_up ? "up" : "down",
                 n->config.name, snap.speed_mbps);
    }
  }
}

void Switch::resetUplinks() {
  // ENA reset (RTE_ETH_EVENT_INTR_RESET, raised by the PMD's watchdog inside rte_timer_manage):
  // take the uplink out of the table, wait until no worker uses it, recover it (stop, reset,
  // configure as before, start), put it back. Pod-to-pod traffic keeps flowing meanwhile, and
  // pod ports stay up.
  const absl::Time now = absl::Now();
  std::vector<NetworkState*> due;
  uint64_t token = 0;
  bool published = false;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    for (const auto& n : networks_) {
      if (!n->uplink || !n->uplink->needsRecovery(now)) continue;
      due.push_back(n.get());
      if (!n->resetting) {
        n->resetting = true;
        published = true;
      }
    }
    if (due.empty()) return;
    if (published) token = publish();
  }
  if (published) awaitGrace(token);  // no worker touches those uplinks after this
  for (NetworkState* n : due) {
    if (!n->uplink->recover(now).ok()) continue;  // logged, counted, retried after a backoff
    absl::MutexLock lock(&mu_);
    n->resetting = false;
    publish();
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
  std::vector<std::pair<unsigned, std::uint64_t>> progress;
  for (const auto& w : workers_) progress.emplace_back(w->lcore(), w->totalCycles());
  watchdog_.observe(std::chrono::steady_clock::now(), progress);
}

void Switch::pauseWorkerForTest(unsigned index, bool paused) {
  workers_.at(index)->pauseForTest(paused);
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
    networks_.clear();  // the uplinks and their receive pools
  }
  for (const auto& [node, pool] : pools_) rte_mempool_free(pool);
}

}  // namespace enadpdk::vhostuser
