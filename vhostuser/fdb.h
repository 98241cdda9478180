#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "vhostuser/packet.h"

namespace enadpdk::vhostuser {

// Where a learned MAC lives: a port slot and the slot's generation when it was learned (a slot
// reused by a new port gets a new generation, so stale entries never reach the new port).
struct FdbLocation {
  uint16_t slot = 0;
  uint8_t generation = 0;
  friend bool operator==(const FdbLocation&, const FdbLocation&) = default;
};

// The MAC-learning table of one l2 network: fixed capacity, set-associative (4 entries per
// bucket), no allocation after construction.
//
// Concurrency contract: any number of worker lcores may call learn() and lookup() at the same
// time without locks. Each entry is two 64-bit words updated with relaxed atomics; racing
// learners of the same MAC may both insert (lookup returns either, aging removes the spare) and
// a reader may see a just-replaced entry as expired (it then floods once). Nothing here blocks.
// Entries age out lazily: an entry not refreshed for `aging_cycles` is treated as empty. The
// aging time is a relaxed atomic too, which the control thread may change (setAgingCycles).
class Fdb {
 public:
  // `capacity` is rounded up to a power of two ≥ 4. `aging_cycles` in the same unit as the
  // `now` arguments (TSC cycles in the dataplane).
  Fdb(uint32_t capacity, uint64_t aging_cycles);

  // Records that `mac` was seen on `where` at `now`. Returns false when the MAC is new and its
  // bucket holds no free or expired entry (the table is full there). Hot path: noexcept, no
  // allocation, no locks.
  bool learn(const MacAddr& mac, FdbLocation where, uint64_t now) noexcept;

  // Where `mac` was last seen, unless that entry has aged out. Hot path.
  std::optional<FdbLocation> lookup(const MacAddr& mac, uint64_t now) const noexcept;

  // Number of live (not aged-out) entries at `now`. Control thread; O(capacity).
  uint32_t size(uint64_t now) const;

  uint32_t capacity() const { return mask_ + 1; }

  // A new aging time (a config reload): applies to every entry at once, also to those learned
  // before. Any thread; workers see it within a pass (relaxed).
  void setAgingCycles(uint64_t aging_cycles);

 private:
  static constexpr uint32_t kWays = 4;
  struct Entry {
    std::atomic<uint64_t> key{0};   // mac(48) | slot(8) << 48 | generation(8) << 56; 0 = empty
    std::atomic<uint64_t> seen{0};  // `now` of the last refresh
  };
  uint32_t bucketOf(uint64_t mac) const noexcept;

  std::unique_ptr<Entry[]> entries_;
  uint32_t mask_;
  uint32_t bucket_mask_;
  std::atomic<uint64_t> aging_cycles_;
  // Refresh `seen` at most this often per entry, so steady traffic does not keep writing the
  // shared cache line.
  std::atomic<uint64_t> refresh_cycles_;
};

}  // namespace enadpdk::vhostuser
