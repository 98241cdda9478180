#include "vhostuser/vhost_ports.h"

#include <rte_rcu_qsbr.h>
#include <rte_vhost.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/strings.h"

namespace enadpdk::vhostuser {

using common::strCat;

namespace {

// rte_vhost's device callbacks receive only a device id, so they find the registry here. At most
// one VhostPorts exists at a time (create() enforces it); rte_vhost itself is process-wide state.
std::atomic<VhostPorts*> g_ports{nullptr};

constexpr uint32_t kTrackedRings = 2 * kMaxPortQueues;

// Virtio feature bits (virtio 1.1, 5.1.3; <linux/virtio_net.h> does not compile as C++).
enum VirtioFeature : unsigned {
  kNetCsum = 0,
  kNetGuestCsum = 1,
  kNetGuestTso4 = 7,
  kNetGuestTso6 = 8,
  kNetGuestEcn = 9,
  kNetGuestUfo = 10,
  kNetHostTso4 = 11,
  kNetHostTso6 = 12,
  kNetHostEcn = 13,
  kNetHostUfo = 14,
  kNetGuestAnnounce = 21,
  kNetMq = 22,
  kRingIndirectDesc = 28,
};

constexpr uint64_t bit(VirtioFeature f) { return uint64_t{1} << f; }

}  // namespace

const uint64_t VhostPorts::kDisabledFeatures =
    bit(kNetCsum) | bit(kNetGuestCsum) | bit(kNetGuestTso4) | bit(kNetGuestTso6) |
    bit(kNetGuestEcn) | bit(kNetGuestUfo) | bit(kNetHostTso4) | bit(kNetHostTso6) |
    bit(kNetHostEcn) | bit(kNetHostUfo) | bit(kRingIndirectDesc) | bit(kNetGuestAnnounce);

absl::StatusOr<std::unique_ptr<VhostPorts>> VhostPorts::create(
    rte_rcu_qsbr* qsbr, std::shared_ptr<spdlog::logger> log) {
  std::unique_ptr<VhostPorts> ports(new VhostPorts(qsbr, std::move(log)));
  VhostPorts* expected = nullptr;
  if (!g_ports.compare_exchange_strong(expected, ports.get())) {
    return absl::FailedPreconditionError("a vhost-user port registry already exists");
  }
  return ports;
}

VhostPorts::~VhostPorts() {
  for (uint16_t slot = 0; slot < kMaxSlots; ++slot) close(slot);
  g_ports.store(nullptr);
}

absl::Status VhostPorts::open(uint16_t slot, const PortSpec& spec) {
  const char* path = spec.socket_path.c_str();
  {
    absl::MutexLock lock(&mu_);
    if (!path_of_slot_[slot].empty() || slot_by_path_.contains(spec.socket_path)) {
      return absl::InternalError(strCat("vhost-user slot ", slot, " or socket is already open"));
    }
    // Before the socket exists, so that the callbacks of its first connection find the slot.
    slot_by_path_[spec.socket_path] = slot;
    path_of_slot_[slot] = spec.socket_path;
    links_[slot].vid.store(-1, std::memory_order_relaxed);
    links_[slot].ready.store(0, std::memory_order_relaxed);
  }
  // The pod's vhostMode is its own side: a "server" pod creates the socket, so rte_vhost is the
  // client (RTE_VHOST_USER_CLIENT reconnects for ever unless NO_RECONNECT is given).
  uint64_t flags = RTE_VHOST_USER_NET_COMPLIANT_OL_FLAGS;
  if (spec.vhost_mode == VhostMode::Server) flags |= RTE_VHOST_USER_CLIENT;
  if (rte_vhost_driver_register(path, flags) != 0) {
    absl::MutexLock lock(&mu_);
    slot_by_path_.erase(spec.socket_path);
    path_of_slot_[slot].clear();
    return absl::InternalError("cannot register the vhost-user socket with rte_vhost");
  }
  auto fail = [&](std::string_view what) {
    close(slot);
    return absl::InternalError(strCat("vhost-user socket: ", what));
  };
  uint64_t disabled = kDisabledFeatures;
  // One queue pair: a pod asking for more fails to start instead of sending on rings nobody
  // polls.
  if (spec.queues <= 1) disabled |= bit(kNetMq);
  if (rte_vhost_driver_disable_features(path, disabled) != 0) {
    return fail("cannot disable features");
  }
  static const rte_vhost_device_ops kOps = {
      .new_device = &VhostPorts::onNewDevice,
      .destroy_device = &VhostPorts::onDestroyDevice,
      .vring_state_changed = &VhostPorts::onVringStateChanged,
      .features_changed = nullptr,
      .new_connection = &VhostPorts::onNewConnection,
      .destroy_connection = &VhostPorts::onDestroyConnection,
      .guest_notified = nullptr,
      .reserved = {nullptr},
  };
  if (rte_vhost_driver_callback_register(path, &kOps) != 0) return fail("cannot set callbacks");
  if (rte_vhost_driver_start(path) != 0) {
    return fail(spec.vhost_mode == VhostMode::Client ? "cannot listen (see the dataplane log)"
                                                     : "cannot start");
  }
  return absl::OkStatus();
}

void VhostPorts::close(uint16_t slot) {
  std::string path;
  {
    absl::MutexLock lock(&mu_);
    path = path_of_slot_[slot];
  }
  if (path.empty()) return;
  // Runs destroy_device (and its grace period) for a connected pod before it returns; removes
  // the socket file when rte_vhost created it.
  if (rte_vhost_driver_unregister(path.c_str()) != 0) {
    log_->error("vhost-user socket not unregistered path={}", path);
  }
  VhostLink& link = links_[slot];
  if (link.vid.exchange(-1, std::memory_order_release) >= 0) {
    // destroy_device did not run (it always does for a running device); be safe anyway.
    rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
  }
  link.ready.store(0, std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  slot_by_path_.erase(path);
  path_of_slot_[slot].clear();
}

uint16_t VhostPorts::slotOf(int vid) {
  char path[PATH_MAX];
  if (rte_vhost_get_ifname(vid, path, sizeof(path)) != 0) return kNoSlot;
  absl::MutexLock lock(&mu_);
  auto it = slot_by_path_.find(std::string(path));
  return it == slot_by_path_.end() ? kNoSlot : it->second;
}

int VhostPorts::onNewConnection(int vid) {
  VhostPorts* self = g_ports.load();
  const uint16_t slot = self ? self->slotOf(vid) : kNoSlot;
  if (slot == kNoSlot) return -1;
  // AddPort checked where the socket path leads, but in server mode rte_vhost reconnects by path
  // for as long as the port exists: a pod that replaces its socket with a symbolic link (to
  // another pod's socket, say) must not get us connected there. A connection made through
  // anything but a socket file at the path itself is refused before any message is read.
  char path[PATH_MAX] = {};
  struct stat st {};
  if (rte_vhost_get_ifname(vid, path, sizeof(path)) != 0 || ::lstat(path, &st) != 0 ||
      !S_ISSOCK(st.st_mode)) {
    self->log_->error(
        "vhost-user connection refused: the socket path is no longer a socket (a symbolic link?) "
        "slot={} path={}",
        slot, path);
    return -1;
  }
  self->links_[slot].ready.store(0, std::memory_order_relaxed);
  return 0;
}

void VhostPorts::onDestroyConnection(int vid) {
  VhostPorts* self = g_ports.load();
  const uint16_t slot = self ? self->slotOf(vid) : kNoSlot;
  if (slot == kNoSlot) return;
  self->links_[slot].ready.store(0, std::memory_order_relaxed);
}

int VhostPorts::onNewDevice(int vid) {
  VhostPorts* self = g_ports.load();
  const uint16_t slot = self ? self->slotOf(vid) : kNoSlot;
  if (slot == kNoSlot) return -1;
  // The workers poll: the pod need not kick us (an eventfd write per burst on its side).
  const uint16_t rings = rte_vhost_get_vring_num(vid);
  for (uint16_t r = 0; r < rings; ++r) rte_vhost_enable_guest_notification(vid, r, 0);
  self->links_[slot].vid.store(vid, std::memory_order_release);
  uint64_t features = 0;
  rte_vhost_get_negotiated_features(vid, &features);
  self->log_->info("vhost-user device ready slot={} vid={} rings={} features={:#x}", slot, vid,
                   rings, features);
  return 0;
}

void VhostPorts::onDestroyDevice(int vid) {
  VhostPorts* self = g_ports.load();
  const uint16_t slot = self ? self->slotOf(vid) : kNoSlot;
  if (slot == kNoSlot) return;
  VhostLink& link = self->links_[slot];
  int expected = vid;
  if (!link.vid.compare_exchange_strong(expected, -1, std::memory_order_release)) return;
  // rte_vhost frees the device and unmaps the pod's memory when we return: wait until every
  // worker has passed a quiescent state, after which none can still use `vid`.
  rte_rcu_qsbr_synchronize(self->qsbr_, RTE_QSBR_THRID_INVALID);
  self->log_->info("vhost-user device gone slot={} vid={}", slot, vid);
}

int VhostPorts::onVringStateChanged(int vid, uint16_t ring, int enable) {
  VhostPorts* self = g_ports.load();
  const uint16_t slot = self ? self->slotOf(vid) : kNoSlot;
  if (slot == kNoSlot || ring >= kTrackedRings) return 0;
  const uint32_t bit = 1u << ring;
  std::atomic<uint32_t>& ready = self->links_[slot].ready;
  if (enable) {
    ready.fetch_or(bit, std::memory_order_release);
  } else {
    ready.fetch_and(~bit, std::memory_order_release);
  }
  return 0;
}

}  // namespace enadpdk::vhostuser
