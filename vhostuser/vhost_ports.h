#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <spdlog/logger.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "vhostuser/forwarding.h"
#include "vhostuser/port_spec.h"

struct rte_rcu_qsbr;

namespace enadpdk::vhostuser {

// Virtqueue numbering of a virtio-net device: queue pair q has the ring the switch fills (the
// pod's RX) at 2q and the ring it drains (the pod's TX) at 2q + 1.
inline constexpr uint16_t toPodRing(uint16_t pair) { return static_cast<uint16_t>(2 * pair); }
inline constexpr uint16_t fromPodRing(uint16_t pair) { return static_cast<uint16_t>(2 * pair + 1); }

// The live vhost-user connection of one pod port, as the workers see it.
//
// Memory-ordering contract: rte_vhost's callbacks write these (on its event thread, or on the
// control thread inside rte_vhost_driver_unregister); workers read them. `vid` is published with
// a release store once the device is ready and read with an acquire load. A worker uses a vid
// only between two of its RCU quiescent reports and never keeps it across one. destroy_device
// stores -1 and then waits for an RCU grace period before it returns to rte_vhost, which frees
// the device (and unmaps the pod's memory) only after that: so no worker ever touches a freed
// device.
struct alignas(64) VhostLink {
  // The rte_vhost device id from new_device to destroy_device; -1 otherwise.
  std::atomic<int> vid{-1};
  // Bit r is set while virtqueue r is ready (vring_state_changed). Only rings below
  // 2 * kMaxPortQueues are tracked.
  std::atomic<uint32_t> ready{0};
};

// The pod ports' vhost-user sockets, driven through DPDK's rte_vhost library directly (as Open
// vSwitch does): one rte_vhost socket per port, no ethdev, so the number of ports is not bound by
// RTE_MAX_ETHPORTS and the workers call rte_vhost_enqueue_burst/rte_vhost_dequeue_burst without a
// PMD in between.
//
// Threading: open() and close() are called by the switch's control thread (serialised by the
// switch). rte_vhost calls the device callbacks on its event thread and, from close(), on the
// control thread; they only take `mu_` (never held while calling into rte_vhost) and wait for RCU
// grace periods, so close() cannot deadlock with a callback in progress. Lock order: the
// switch's mutex, then `mu_`.
class VhostPorts {
 public:
  // Feature bits never offered to pods: checksum and segmentation offloads the switch would have
  // to complete in software before a frame reaches the VPC or another pod, and features that
  // cost per packet without helping a switch (indirect descriptors, guest announce).
  static const uint64_t kDisabledFeatures;

  // Creates the registry. rte_vhost's callbacks carry no context pointer, so at most one
  // VhostPorts exists per process (a second create() fails). Workers must be registered with
  // `qsbr`, which must outlive this object.
  static absl::StatusOr<std::unique_ptr<VhostPorts>> create(rte_rcu_qsbr* qsbr,
                                                            std::shared_ptr<spdlog::logger> log);
  // Closes every socket still open.
  ~VhostPorts();
  VhostPorts(const VhostPorts&) = delete;
  VhostPorts& operator=(const VhostPorts&) = delete;

  // Opens the socket of `spec` for port slot `slot`: in vhost mode server (the pod creates the
  // socket) the switch connects as a client and reconnects for ever; in mode client it creates
  // the socket (which must not exist; the caller removes stale ones and sets permissions after).
  // Offers multi-queue only when the port has more than one queue pair, and mergeable RX buffers
  // (frames up to 9001 MTU). On error nothing is left registered.
  absl::Status open(uint16_t slot, const PortSpec& spec) ABSL_LOCKS_EXCLUDED(mu_);

  // Closes the socket of `slot` (removing it when the switch created it). When this returns, the
  // device is gone and no worker uses it. Idempotent.
  void close(uint16_t slot) ABSL_LOCKS_EXCLUDED(mu_);

  // The per-slot connection state the workers read.
  const std::array<VhostLink, kMaxSlots>& links() const { return links_; }
  // Whether a pod is connected to `slot` and its device is ready.
  bool connected(uint16_t slot) const {
    return links_[slot].vid.load(std::memory_order_relaxed) >= 0;
  }

 private:
  VhostPorts(rte_rcu_qsbr* qsbr, std::shared_ptr<spdlog::logger> log)
      : qsbr_(qsbr), log_(std::move(log)) {}

  // The slot whose socket device `vid` belongs to, or kNoSlot.
  uint16_t slotOf(int vid) ABSL_LOCKS_EXCLUDED(mu_);

  // rte_vhost_device_ops callbacks (static: rte_vhost passes only the device id).
  static int onNewDevice(int vid);
  static void onDestroyDevice(int vid);
  static int onVringStateChanged(int vid, uint16_t ring, int enable);
  static int onNewConnection(int vid);
  static void onDestroyConnection(int vid);

  rte_rcu_qsbr* const qsbr_;
  const std::shared_ptr<spdlog::logger> log_;
  std::array<VhostLink, kMaxSlots> links_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, uint16_t> slot_by_path_ ABSL_GUARDED_BY(mu_);
  std::array<std::string, kMaxSlots> path_of_slot_ ABSL_GUARDED_BY(mu_);
};

}  // namespace enadpdk::vhostuser
