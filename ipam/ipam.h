#pragma once

// The operations of ena-dpdk-ipam on one network: hand out, release, check and garbage-collect
// leases of the network's pool, and report whether ADD can succeed.

#include <cstdint>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "absl/status/statusor.h"
#include "cni/result.h"
#include "ipam/config.h"
#include "ipam/imds_cache.h"
#include "ipam/leases.h"
#include "ipam/pool.h"

namespace enadpdk::ipam {

// How many attachments a network's addresses allow (Ipam::capacity()).
struct Capacity {
  // Leases that can still be made: Pool::freeLeases() of the leased addresses.
  std::uint64_t freeLeases = 0;
  // Leases that exist (readable lease files).
  std::uint64_t leases = 0;
  // The pool's description ("static pool", "ENI 0a:1b:2c:3d:4e:5f").
  std::string source{};

  // Field-wise comparison.
  bool operator==(const Capacity&) const = default;
};

// One invocation's IPAM work. Every error carries its CNI code (cni/errors.h): 7 for config
// problems, CniError::kMetadataError, CniError::kPoolExhausted, CniError::kLeaseStoreError,
// CniError::kLeaseMismatch, and for STATUS kPluginNotAvailable (50). Leases live in
// <stateDir>/<network>/ (ipam_leases.h), the metadata cache in <stateDir>/imds/. Safe to run in
// many processes (or threads, one object each) at once: every read-modify-write of a network's
// leases holds its lock, and no lock is held while the metadata service is asked (ADD reads the
// pool first, then locks to choose and write the lease). All metadata requests of one command share
// one budget (imdsBudgetMs()); a spent budget is CniError::kTryAgainLater (11).
class Ipam {
 public:
  // `logger` receives one line per change; `clock` dates metadata cache entries.
  Ipam(IpamNetconf netconf, std::shared_ptr<spdlog::logger> logger, WallClock clock);

  // Returns the addresses of `key`'s lease, creating it when there is none: one free address of
  // each family the pool has (all or nothing). A repeated ADD returns the same addresses. The
  // result has the lease's ips (with gateways) and the configured routes, and no interfaces.
  absl::StatusOr<cni::Result> add(const LeaseKey& key);

  // Releases `key`'s lease; OK when there is none. Needs no address source.
  absl::Status del(const LeaseKey& key);

  // Checks that `key` holds a lease and that prevResult (when the config has one) lists every
  // leased address.
  absl::Status check(const LeaseKey& key);

  // Releases every lease whose key is not among the config's valid attachments, and removes lease
  // files that cannot be read.
  absl::Status gc();

  // OK when ADD could hand out addresses now: the pool loads (the metadata answers) and has a
  // free address of each of its families; else code 50 saying why.
  absl::Status status();

  // What the network can still give: loads the pool (through the metadata cache, like ADD), then
  // counts the leases under the lock. Errors as ADD's (no source: 7, metadata, lease store).
  absl::StatusOr<Capacity> capacity();

  // Loads the pool (static, or from the metadata through the cache), without any lock. Each call
  // has its own metadata budget. Public for tests.
  absl::StatusOr<Pool> loadPool();

 private:
  absl::StatusOr<std::unique_ptr<LeaseStore>> openStore();
  // A network's leases read under its lock, which stays held while the object lives.
  struct LockedLeases {
    std::unique_ptr<LeaseStore> store;
    LeaseStore::Guard guard;  // destroyed before `store`, whose lock file it unlocks
    std::vector<Lease> leases;
    // Lease files that cannot be parsed.
    std::vector<std::filesystem::path> unreadable;
  };
  // Opens the store, locks it and lists the leases (code kLeaseStoreError on failure).
  absl::StatusOr<LockedLeases> lockedLeases();
  // `key`'s lease, read under the store's lock (released on return).
  static absl::StatusOr<std::optional<Lease>> findLocked(LeaseStore& store, const LeaseKey& key);
  // The free addresses for a new lease given the leases that exist; CniError::kPoolExhausted
  // otherwise.
  absl::StatusOr<std::vector<cni::IpConfig>> allocate(const Pool& pool,
                                                      const std::vector<Lease>& leases);
  std::vector<cni::Route> routes() const;

  IpamNetconf netconf_;
  std::shared_ptr<spdlog::logger> logger_;
  WallClock clock_;
};

}  // namespace enadpdk::ipam
