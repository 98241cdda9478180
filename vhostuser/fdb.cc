#include "vhostuser/fdb.h"

#include <bit>

namespace enadpdk::vhostuser {
namespace {

constexpr uint64_t kMacMask = (uint64_t{1} << 48) - 1;

uint64_t packKey(uint64_t mac, FdbLocation where) {
  return mac | static_cast<uint64_t>(where.slot & 0xff) << 48 |
         static_cast<uint64_t>(where.generation) << 56;
}

FdbLocation unpackLocation(uint64_t key) {
  return {static_cast<uint16_t>(key >> 48 & 0xff), static_cast<uint8_t>(key >> 56)};
}

// Age of an entry; workers read the TSC at slightly different moments, so another lcore may
// have stored a `seen` a little after our `now`: treat that as age 0, not as a huge age.
int64_t ageOf(uint64_t now, uint64_t seen) {
  int64_t age = static_cast<int64_t>(now - seen);
  return age < 0 ? 0 : age;
}

}  // namespace

Fdb::Fdb(uint32_t capacity, uint64_t aging_cycles)
    : aging_cycles_(aging_cycles), refresh_cycles_(aging_cycles / 16) {
  uint32_t cap = std::bit_ceil(capacity < kWays ? kWays : capacity);
  entries_ = std::make_unique<Entry[]>(cap);
  mask_ = cap - 1;
  bucket_mask_ = cap / kWays - 1;
}

void Fdb::setAgingCycles(uint64_t aging_cycles) {
  aging_cycles_.store(aging_cycles, std::memory_order_relaxed);
  refresh_cycles_.store(aging_cycles / 16, std::memory_order_relaxed);
}

uint32_t Fdb::bucketOf(uint64_t mac) const noexcept {
  // Fibonacci hashing spreads sequential MACs (common with generated pod MACs).
  return static_cast<uint32_t>((mac * 0x9E3779B97F4A7C15ull) >> 40) & bucket_mask_;
}

bool Fdb::learn(const MacAddr& mac, FdbLocation where, uint64_t now) noexcept {
  const uint64_t m = mac.toU64();
  if (m == 0) return false;  // the all-zero MAC would look like an empty entry
  const uint64_t key = packKey(m, where);
  const auto aging = static_cast<int64_t>(aging_cycles_.load(std::memory_order_relaxed));
  const auto refresh = static_cast<int64_t>(refresh_cycles_.load(std::memory_order_relaxed));
  Entry* bucket = &entries_[bucketOf(m) * kWays];
  for (uint32_t i = 0; i < kWays; ++i) {
    uint64_t k = bucket[i].key.load(std::memory_order_relaxed);
    if ((k & kMacMask) != m) continue;
    if (k != key) bucket[i].key.store(key, std::memory_order_relaxed);  // moved port
    if (k != key || ageOf(now, bucket[i].seen.load(std::memory_order_relaxed)) >= refresh) {
      bucket[i].seen.store(now, std::memory_order_relaxed);
    }
    return true;
  }
  for (uint32_t i = 0; i < kWays; ++i) {
    uint64_t k = bucket[i].key.load(std::memory_order_relaxed);
    bool free = k == 0 || ageOf(now, bucket[i].seen.load(std::memory_order_relaxed)) > aging;
    if (!free) continue;
    // Publish `seen` first so a reader never pairs the new key with an expired time.
    bucket[i].seen.store(now, std::memory_order_relaxed);
    if (bucket[i].key.compare_exchange_strong(k, key, std::memory_order_relaxed)) return true;
  }
  return false;
}

std::optional<FdbLocation> Fdb::lookup(const MacAddr& mac, uint64_t now) const noexcept {
  const uint64_t m = mac.toU64();
  const Entry* bucket = &entries_[bucketOf(m) * kWays];
  const auto aging = static_cast<int64_t>(aging_cycles_.load(std::memory_order_relaxed));
  for (uint32_t i = 0; i < kWays; ++i) {
    uint64_t k = bucket[i].key.load(std::memory_order_relaxed);
    if (k == 0 || (k & kMacMask) != m) continue;
    if (ageOf(now, bucket[i].seen.load(std::memory_order_relaxed)) > aging) return std::nullopt;
    return unpackLocation(k);
  }
  return std::nullopt;
}

uint32_t Fdb::size(uint64_t now) const {
  uint32_t n = 0;
  const auto aging = static_cast<int64_t>(aging_cycles_.load(std::memory_order_relaxed));
  for (uint32_t i = 0; i <= mask_; ++i) {
    uint64_t k = entries_[i].key.load(std::memory_order_relaxed);
    if (k != 0 && ageOf(now, entries_[i].seen.load(std::memory_order_relaxed)) <= aging) ++n;
  }
  return n;
}

}  // namespace enadpdk::vhostuser
