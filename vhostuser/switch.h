#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "vhostuser/dataplane_config.h"
#include "vhostuser/eth_dev.h"
#include "vhostuser/forwarding.h"
#include "vhostuser/port_spec.h"
#include "vhostuser/port_table.h"
#include "vhostuser/table_builder.h"
#include "vhostuser/uplink.h"
#include "vhostuser/vhost_ports.h"
#include "vhostuser/worker_watchdog.h"

struct rte_mempool;
struct rte_rcu_qsbr;

namespace enadpdk::vhostuser {

// Counters of one port or uplink as seen from the switch (sums over workers since the port was
// created).
struct PortCounters {
  uint64_t rx_packets = 0;  // received by the switch from the port
  uint64_t rx_bytes = 0;
  uint64_t tx_packets = 0;  // sent by the switch to the port
  uint64_t tx_bytes = 0;
  std::array<uint64_t, kDropReasonCount> drops{};  // indexed by DropReason
};

// A port with its live state, as the control API reports it.
struct PortStatus {
  PortSpec spec;
  bool connected = false;
  unsigned worker_lcore = 0;  // the worker polling its first queue
  PortCounters counters;
};

// An uplink's live state.
struct UplinkStatus {
  std::string device;
  uint16_t port_id = 0;
  std::string mac;
  bool link_up = false;
  uint32_t speed_mbps = 0;
  uint32_t queues = 0;          // RX queues (RSS)
  uint32_t tx_queues = 0;       // TX queues (one per worker when the device has enough)
  int numa_node = -1;           // of the device; -1 unknown
  uint64_t resets = 0;          // resets done (RTE_ETH_EVENT_INTR_RESET, ENA watchdog)
  uint64_t reset_failures = 0;  // reset attempts that failed (retried)
  uint64_t link_changes = 0;    // link up/down transitions seen
  PortCounters counters;
  std::vector<std::pair<std::string, uint64_t>> xstats;  // ENA allowance counters and the like
};

struct NetworkStatus {
  std::string name;
  NetworkMode mode = NetworkMode::L2;
  uint32_t mtu = 0;
  std::optional<UplinkStatus> uplink;
  bool up = true;  // false while the uplink is down or being reset
  uint32_t port_count = 0;
};

struct WorkerStatus {
  unsigned lcore = 0;
  uint32_t queue_count = 0;  // RX queues it polls
  uint64_t busy_cycles = 0;
  uint64_t total_cycles = 0;
  uint64_t rx_packets = 0;
  uint64_t tx_packets = 0;
};

class Worker;
struct DataplaneTable;

// Finds (probing when needed) the ethdev of an uplink's device string.
using EthDevOpener =
    std::function<absl::StatusOr<std::unique_ptr<EthDev>>(const std::string& device)>;

// The DPDK switch: owns the uplinks (ethdevs) and the pods' vhost-user ports (rte_vhost, see
// VhostPorts), publishes forwarding tables to the poll-mode workers and answers the control API.
// Its parts: PortTable (admission rules, slots), buildTable (the table the workers use), the
// uplinks, the state file (port_spec.h), the workers (worker.h).
//
// Threading and memory ordering:
// - Control calls (gRPC handlers, the main loop) serialise on `mu_`. AddPort and DeletePort are
//   first admitted one at a time by `gate_` (with the caller's deadline), then take `mu_`.
// - Workers never take `mu_`. They load the published DataplaneTable (`table_`, release store
//   by the control thread, acquire load by the worker once per pass) and report a quiescent state
//   to RCU (rte_rcu_qsbr) after every pass. A replaced table is retired with the RCU token taken
//   right after the store, and freed, with the slot a DeletePort took out, only when every
//   worker has reported after that token (reclaim).
// - Nobody waits for an RCU grace period while holding `mu_`: DeletePort waits at most
//   kSyncCloseWait for its slot's grace period with `mu_` released (else a later call or poll()
//   closes it; the slot and its socket path stay reserved until then), an AddPort whose socket
//   path is still closing, an uplink reset (it must stop the ethdev) and a backlog of more than
//   kMaxRetiredTables retired tables wait with `mu_` released too. Adding a port never waits for
//   other reasons (no older table refers to the new slot).
// - Per-queue TX locks of a shared uplink TX queue live in the uplink's slot, which outlives
//   every table that points at them (the slot is closed only after its grace period).
// - The uplink ethdevs are touched only by the thread that created the switch (the EAL main
//   lcore: create(), applyConfig(), poll(), stop()), so the ENA PMD's watchdog timer, armed on
//   the lcore that starts the device, fires from that thread's rte_timer_manage(). Control calls
//   read uplinks through a snapshot that poll() refreshes.
// - Pod connection state arrives from rte_vhost's thread (VhostPorts), uplink reset requests
//   from DPDK's interrupt thread, both through relaxed atomics that poll() reads.
// Lock order: `gate_`, then `mu_`, then VhostPorts' own.
class Switch {
 public:
  // Creates the switch on an initialised EAL: one mbuf pool per NUMA node with a worker or an
  // uplink, the uplinks, one worker per lcore in `config.workers` (or every worker lcore the EAL
  // has when empty), each allocated on its lcore's node. Workers start at once.
  // `open_device` finds an uplink's device (the ethdev seam); empty: RteEthDev::open, the real
  // one. Tests hand in a fake.
  static absl::StatusOr<std::unique_ptr<Switch>> create(const DataplaneConfig& config,
                                                        std::shared_ptr<spdlog::logger> log,
                                                        EthDevOpener open_device = {});
  ~Switch();
  Switch(const Switch&) = delete;
  Switch& operator=(const Switch&) = delete;

  // Adds a vhost-user port. OK with the existing port for an identical request; AlreadyExists
  // for a conflicting one (same id, or IP/socket already used); InvalidArgument naming the
  // field; ResourceExhausted when `maxPorts` ports exist. Other ports keep forwarding
  // throughout.
  //
  // `deadline` is the caller's (the gRPC deadline): a call that is not admitted before it (other
  // AddPort/DeletePort calls ahead of it) gives up with DeadlineExceeded and changes nothing, and
  // a port that is complete only after it (socket opened, table published, state saved) is
  // removed again and DeadlineExceeded returned. So a caller that sees OK owns the port, and a
  // caller whose deadline passed knows the port exists only if the answer was on its way when
  // the deadline passed; DeletePort with the request's uid settles that (docs/cni.md, "Ports
  // in doubt").
  absl::StatusOr<PortStatus> addPort(PortSpec spec, absl::Time deadline = absl::InfiniteFuture())
      ABSL_LOCKS_EXCLUDED(mu_);
  // Deletes a port; returns whether it existed (deleting a missing port succeeds). With a
  // non-empty `uid` only the port of that uid is deleted (false when the id has another uid).
  // DeadlineExceeded, with nothing deleted, when the call is not admitted before `deadline`.
  absl::StatusOr<bool> deletePort(const std::string& id, const std::string& uid = "",
                                  absl::Time deadline = absl::InfiniteFuture())
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<PortStatus> getPort(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<PortStatus> listPorts(const std::string& network) ABSL_LOCKS_EXCLUDED(mu_);
  // Cheap: uplink state comes from the snapshot poll() keeps, not from the devices.
  std::vector<NetworkStatus> listNetworks() ABSL_LOCKS_EXCLUDED(mu_);

  // Applies what a running switch can change of `next` (a config reload, vhostuser/
  // config_reload.h): adds the networks of `next` it does not have (their uplinks started as
  // create() starts them; vdev uplinks only, ethdev hot plug through the EthDevOpener), and takes
  // macAgingSeconds (every l2 network's MAC table at once), maxPorts, allowedSocketDirs and socket
  // for the ports added from then on. `next` must differ from the running config in nothing
  // else (planReload() checks). All or nothing: InvalidArgument when the uplinks and maxPorts
  // exceed the port slots, FailedPrecondition naming the network whose uplink could not start,
  // and nothing changed. Called by the thread that called create() (it starts uplinks); holds
  // `mu_` meanwhile (control calls wait for the uplinks' start, as at create()), and publishes one
  // table when networks were added: other ports keep forwarding throughout.
  absl::Status applyConfig(const DataplaneConfig& next) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<WorkerStatus> listWorkers() ABSL_LOCKS_EXCLUDED(mu_);

  // Housekeeping from the main loop (the thread that called create()): retired tables, uplink
  // resets requested by the driver, link changes, the uplink snapshot, the workers' progress.
  void poll() ABSL_LOCKS_EXCLUDED(mu_);

  // The dataplane's health (any thread): OK while poll() runs and every worker completes poll
  // passes; Unavailable naming the worker that has completed none for kStallLimit (1 s), or a
  // main loop that has not polled for as long.
  absl::Status health() const { return watchdog_.health(); }
  // Test seam: pauses or resumes worker `index` (Worker::pauseForTest).
  void pauseWorkerForTest(unsigned index, bool paused);

  // Stops the workers and closes every port. Idempotent; also done by the destructor. Called by
  // the thread that called create().
  void stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Slot;
  struct NetworkState;
  struct WorkerDeleter {
    void operator()(Worker* w) const;
  };
  Switch(const DataplaneConfig& config, std::shared_ptr<spdlog::logger> log,
         EthDevOpener open_device);

  absl::Status init();
  // The mbuf pool of NUMA node `node`, created on first use.
  absl::StatusOr<rte_mempool*> poolOn(int node);
  absl::Status startUplink(NetworkState& net) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Refreshes the uplinks' snapshots (link, stats, allowance counters), once per kRefreshPeriod.
  void refreshUplinks() ABSL_LOCKS_EXCLUDED(mu_);
  // Recovers the uplinks whose driver asked for a reset (RTE_ETH_EVENT_INTR_RESET), or whose
  // last recovery failed and is due again.
  void resetUplinks() ABSL_LOCKS_EXCLUDED(mu_);

  // Builds and publishes a table from the current slots and retires the previous one, with
  // `close_after` (a slot just taken out of the port table) to close when its grace period
  // ends. Returns the retired table's RCU token. Never waits.
  uint64_t publish(std::unique_ptr<Slot> close_after = nullptr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Frees the retired tables (and closes the retired slots) whose grace period has ended; with
  // `wait` (only when no worker runs), all of them.
  void reclaim(bool wait) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits, without `mu_`, until every worker has passed `token` or `limit` has passed; true
  // when they have.
  bool awaitGrace(uint64_t token, absl::Duration limit = absl::InfiniteDuration())
      ABSL_LOCKS_EXCLUDED(mu_);
  // After a publish: waits (without `mu_`) for the oldest retired table while more than
  // kMaxRetiredTables are retired, so that starved workers bound memory, not control calls.
  void drainBacklog() ABSL_LOCKS_EXCLUDED(mu_);
  // Takes a port out of the port table and the forwarding table; returns the RCU token after
  // which its slot can be closed (reclaim does it).
  uint64_t removePort(uint16_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void saveStateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  PortCounters countersOf(uint16_t slot) const;
  PortStatus statusOf(const Slot& s) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<NetworkFacts> networkFactsLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The NUMA node whose workers poll the network's ports (its uplink's; -1 without uplink).
  int nodeOf(const NetworkState& net) const;
  // Closes a pod port's socket, or stops and closes an uplink's ethdev. Only for a slot no
  // published table refers to.
  void closeSlot(const Slot& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes back the networks from index `first` on, which no published table has seen: closes
  // their uplinks and frees their slots (applyConfig's undo).
  void dropNetworksFrom(size_t first) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The config as last applied (applyConfig), for AddPort.
  std::shared_ptr<const DataplaneConfig> appliedConfig() const ABSL_LOCKS_EXCLUDED(mu_);

  // The config as created: the keys only a restart changes are read from here.
  const DataplaneConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  WorkerWatchdog watchdog_{std::chrono::milliseconds(1000)};
  const EthDevOpener open_device_;
  std::vector<std::pair<int, rte_mempool*>> pools_;  // per NUMA node; set up by init()
  rte_rcu_qsbr* qsbr_ = nullptr;
  std::unique_ptr<VhostPorts> vhost_;
  std::vector<std::unique_ptr<Worker, WorkerDeleter>> workers_;
  Topology topology_;  // of workers_, fixed after init()
  std::atomic<const DataplaneTable*> table_{nullptr};

  // Admits one AddPort/DeletePort at a time, so that a call waiting behind others can give up at
  // its deadline (absl::Mutex::Lock cannot time out). Taken before `mu_`, never while holding it.
  class ControlGate {
   public:
    // Waits until no other call is admitted, at most until `deadline`; false when it passed.
    bool enter(absl::Time deadline);
    void leave();

   private:
    absl::Mutex m_;
    bool busy_ ABSL_GUARDED_BY(m_) = false;
  };
  ControlGate gate_;

  mutable absl::Mutex mu_;
  // The config as last applied: `config_` with the live keys of the last applyConfig().
  std::shared_ptr<const DataplaneConfig> applied_ ABSL_GUARDED_BY(mu_);
  // Only appended to while running (applyConfig), so a NetworkState outlives every table.
  std::vector<std::unique_ptr<NetworkState>> networks_ ABSL_GUARDED_BY(mu_);
  PortTable ports_ ABSL_GUARDED_BY(mu_);
  std::array<std::unique_ptr<Slot>, kMaxSlots> slots_ ABSL_GUARDED_BY(mu_);
  std::array<uint8_t, kMaxSlots> generations_ ABSL_GUARDED_BY(mu_){};
  std::unique_ptr<const DataplaneTable> current_ ABSL_GUARDED_BY(mu_);
  // Replaced tables that a worker may still be reading, oldest first, each with the RCU token
  // taken when it was replaced.
  struct Retired {
    uint64_t token = 0;
    std::unique_ptr<const DataplaneTable> table;
    std::unique_ptr<Slot> slot;  // a removed port, closed when the grace period ends
  };
  // How long DeletePort waits for the grace period before leaving the close to a later call.
  static constexpr absl::Duration kSyncCloseWait = absl::Milliseconds(5);
  std::deque<Retired> retired_ ABSL_GUARDED_BY(mu_);
  // More retired tables than this and the control call that published waits (bounds memory
  // while workers are starved).
  static constexpr size_t kMaxRetiredTables = 32;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;

  // When refreshUplinks() next reads the devices (main loop only).
  absl::Time next_refresh_ = absl::InfinitePast();
  static constexpr absl::Duration kRefreshPeriod = absl::Seconds(1);
};

}  // namespace enadpdk::vhostuser
