#include "ipam/ipam.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"

#include "cni/errors.h"
#include "common/logging.h"
#include "common/strings.h"
#include "ipam/imds.h"

namespace enadpdk::ipam {

using cni::cniCodeOf;
using cni::CniError;
using cni::cniError;
using cni::IpConfig;
using cni::parseResult;
using cni::Result;
using cni::Route;
using cni::withCniCode;

namespace {

using common::strCat;

std::string describe(const LeaseKey& key) {
  return strCat("container=", key.containerId, " ifname=", key.ifName);
}

std::string addressesOf(const std::vector<IpConfig>& ips) {
  std::string out;
  for (const IpConfig& ip : ips) out = out.empty() ? ip.address : strCat(out, ",", ip.address);
  return out;
}

// The canonical form of a CIDR, so that "fd00::0005/64" and "fd00::5/64" compare equal.
std::string canonical(const std::string& cidr) {
  std::optional<IpPrefix> prefix = parseIpPrefix(cidr);
  return prefix ? prefix->toString() : cidr;
}

}  // namespace

Ipam::Ipam(IpamNetconf netconf, std::shared_ptr<spdlog::logger> logger, WallClock clock)
    : netconf_(std::move(netconf)), logger_(std::move(logger)), clock_(std::move(clock)) {}

absl::StatusOr<std::unique_ptr<LeaseStore>> Ipam::openStore() {
  absl::StatusOr<std::unique_ptr<LeaseStore>> store =
      LeaseStore::open(netconf_.stateDir / netconf_.network);
  if (!store.ok()) return withCniCode(store.status(), CniError::kLeaseStoreError);
  return store;
}

absl::StatusOr<Ipam::LockedLeases> Ipam::lockedLeases() {
  absl::StatusOr<std::unique_ptr<LeaseStore>> store = openStore();
  if (!store.ok()) return store.status();
  absl::StatusOr<LeaseStore::Guard> guard = (*store)->lock();
  if (!guard.ok()) return withCniCode(guard.status(), CniError::kLeaseStoreError);
  std::vector<std::filesystem::path> unreadable;
  absl::StatusOr<std::vector<Lease>> leases = (*store)->list(&unreadable);
  if (!leases.ok()) return withCniCode(leases.status(), CniError::kLeaseStoreError);
  return LockedLeases{.store = *std::move(store),
                      .guard = *std::move(guard),
                      .leases = *std::move(leases),
                      .unreadable = std::move(unreadable)};
}

absl::StatusOr<Capacity> Ipam::capacity() {
  absl::StatusOr<Pool> pool = loadPool();
  if (!pool.ok()) return pool.status();
  // An unreadable lease file holds no address ADD would skip, so it does not count (GC removes
  // it); it must not make the whole network unknown either.
  absl::StatusOr<LockedLeases> locked = lockedLeases();
  if (!locked.ok()) return locked.status();
  return Capacity{.freeLeases = pool->freeLeases(LeaseStore::addressesOf(locked->leases)),
                  .leases = locked->leases.size(),
                  .source = pool->description};
}

absl::StatusOr<Pool> Ipam::loadPool() {
  if (!netconf_.source) return missingSourceError(netconf_);
  const IpamNetworkConfig& source = *netconf_.source;
  if (!source.addresses.empty()) {
    absl::StatusOr<Pool> pool = staticPool(source.addresses, source.gateway, netconf_.sourceWhere);
    if (!pool.ok()) return withCniCode(pool.status(), CniError::kInvalidConfig);
    return pool;
  }
  // The client's budget, counted from here, bounds every metadata request of this command.
  const auto start = std::chrono::steady_clock::now();
  ImdsClient client({.endpoint = netconf_.imds.endpoint, .timeoutMs = netconf_.imds.timeoutMs});
  EniMetadataCache cache(netconf_.stateDir / "imds", netconf_.imds.endpoint,
                         netconf_.imds.ttlSeconds, clock_);
  const EniSources sources{.secondaryIps = source.uses(kSourceSecondaryIps),
                           .ipv4Prefixes = source.uses(kSourceIpv4Prefixes),
                           .ipv6Prefixes = source.uses(kSourceIpv6Prefixes)};
  const EniFetch what{.ipv4Prefixes = sources.ipv4Prefixes, .ipv6Prefixes = sources.ipv6Prefixes};
  std::string selector;
  std::function<absl::StatusOr<EniMetadata>()> fetch;
  if (source.eniMac) {
    std::string mac = *source.eniMac;
    absl::AsciiStrToLower(&mac);
    selector = "mac-" + mac;
    std::replace(selector.begin(), selector.end(), ':', '-');
    fetch = [&client, mac, what] { return client.fetchEni(mac, what); };
  } else {
    selector = strCat("device-", *source.deviceNumber);
    fetch = [&client, number = *source.deviceNumber, what]() -> absl::StatusOr<EniMetadata> {
      absl::StatusOr<std::string> mac = client.macOfDevice(number);
      if (!mac.ok()) return mac.status();
      return client.fetchEni(*mac, what);
    };
  }
  // The prefix lists are cached like the addresses, in entries of their own: an entry fetched
  // without them cannot serve a network that hands them out.
  if (what.ipv4Prefixes) selector += "-ipv4-prefix";
  if (what.ipv6Prefixes) selector += "-ipv6-prefix";
  absl::StatusOr<EniMetadata> eni = cache.get(selector, fetch);
  const auto elapsedMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - start)
                             .count();
  if (!eni.ok()) {
    logger_->debug("metadata failed network={} requests={} ms={} budget_ms={}", netconf_.network,
                   client.requestCount(), elapsedMs, client.budgetMs());
    // A spent budget is worth retrying (the service may only be slow); every other metadata
    // failure has its own code.
    if (absl::IsDeadlineExceeded(eni.status())) {
      return withCniCode(eni.status(), CniError::kTryAgainLater);
    }
    return withCniCode(eni.status(), CniError::kMetadataError);
  }
  if (client.requestCount() > 0) {
    logger_->debug("metadata fetched network={} eni={} requests={} ms={}", netconf_.network,
                   eni->mac, client.requestCount(), elapsedMs);
  }
  return eniPool(*eni, sources);
}

absl::StatusOr<std::vector<IpConfig>> Ipam::allocate(const Pool& pool,
                                                     const std::vector<Lease>& leases) {
  if (pool.ranges.empty()) {
    const bool prefixes = netconf_.source && (netconf_.source->uses(kSourceIpv4Prefixes) ||
                                              netconf_.source->uses(kSourceIpv6Prefixes));
    return cniError(absl::StatusCode::kResourceExhausted,
                    strCat("network \"", netconf_.network, "\": the ", pool.description,
                           prefixes ? " has no addresses to hand out from the sources \""
                                    : " has no secondary addresses to hand out",
                           prefixes ? absl::StrJoin(netconf_.source->sources, "\", \"") : "",
                           prefixes ? "\"" : ""),
                    CniError::kPoolExhausted);
  }
  const std::set<IpAddress> used = LeaseStore::addressesOf(leases);
  std::vector<IpConfig> ips;
  for (int family : {4, 6}) {
    if (!pool.hasFamily(family)) continue;
    std::optional<IpConfig> ip = pool.firstFree(family, used);
    if (!ip) {
      const std::uint64_t size = pool.size(family);
      return cniError(absl::StatusCode::kResourceExhausted,
                      strCat("network \"", netconf_.network, "\": address pool exhausted: the ",
                             pool.description, " has ", size, " IPv", family,
                             size == 1 ? " address and it is leased" : " addresses, all leased"),
                      CniError::kPoolExhausted);
    }
    ips.push_back(std::move(*ip));
  }
  return ips;
}

std::vector<Route> Ipam::routes() const {
  std::vector<Route> out;
  if (!netconf_.source) return out;
  for (const IpamRoute& route : netconf_.source->routes) {
    out.push_back({.dst = route.dst, .gw = route.gw.value_or("")});
  }
  return out;
}

absl::StatusOr<std::optional<Lease>> Ipam::findLocked(LeaseStore& store, const LeaseKey& key) {
  absl::StatusOr<LeaseStore::Guard> guard = store.lock();
  if (!guard.ok()) return withCniCode(guard.status(), CniError::kLeaseStoreError);
  absl::StatusOr<std::optional<Lease>> existing = store.find(key);
  if (!existing.ok()) return withCniCode(existing.status(), CniError::kLeaseStoreError);
  return existing;
}

absl::StatusOr<Result> Ipam::add(const LeaseKey& key) {
  if (!netconf_.source) return missingSourceError(netconf_);
  absl::StatusOr<std::unique_ptr<LeaseStore>> store = openStore();
  if (!store.ok()) return store.status();
  LeaseStore& leases = **store;
  auto answer = [&](const Lease& lease) {
    return Result{.cniVersion = netconf_.cniVersion, .ips = lease.ips, .routes = routes()};
  };
  auto reused = [&](const Lease& lease) {
    logger_->info("lease reused network={} {} ips={}", netconf_.network, describe(key),
                  addressesOf(lease.ips));
    return answer(lease);
  };

  // 1. A repeated ADD answers from its lease, without the metadata.
  absl::StatusOr<std::optional<Lease>> existing = findLocked(leases, key);
  if (!existing.ok()) return existing.status();
  if (*existing) return reused(**existing);

  // 2. The pool, read without the lock: waiting for the metadata service must not make every
  // other invocation on the network wait behind us.
  absl::StatusOr<Pool> pool = loadPool();
  if (!pool.ok()) return pool.status();

  // 3. Under the lock, choose from what is leased now. The pool may be a moment old (as a cached
  // one may be a TTL old), but the leases are read under the lock, so an address is never handed
  // out twice; and an ADD of the same attachment that finished meanwhile is answered as a repeat.
  absl::StatusOr<LeaseStore::Guard> guard = leases.lock();
  if (!guard.ok()) return withCniCode(guard.status(), CniError::kLeaseStoreError);
  existing = leases.find(key);
  if (!existing.ok()) return withCniCode(existing.status(), CniError::kLeaseStoreError);
  if (*existing) return reused(**existing);
  absl::StatusOr<std::vector<Lease>> all = leases.list();
  if (!all.ok()) return withCniCode(all.status(), CniError::kLeaseStoreError);
  absl::StatusOr<std::vector<IpConfig>> ips = allocate(*pool, *all);
  if (!ips.ok()) return ips.status();
  Lease lease{.key = key, .ips = std::move(*ips)};
  if (absl::Status status = leases.put(lease); !status.ok()) {
    return withCniCode(status, CniError::kLeaseStoreError);
  }
  logger_->info("lease added network={} {} ips={} source={}", netconf_.network, describe(key),
                addressesOf(lease.ips), common::logValue(pool->description));
  return answer(lease);
}

absl::Status Ipam::del(const LeaseKey& key) {
  absl::StatusOr<std::unique_ptr<LeaseStore>> store = openStore();
  if (!store.ok()) return store.status();
  absl::StatusOr<LeaseStore::Guard> guard = (*store)->lock();
  if (!guard.ok()) return withCniCode(guard.status(), CniError::kLeaseStoreError);
  // Read first only to log what goes; an unreadable file is removed all the same.
  absl::StatusOr<std::optional<Lease>> existing = (*store)->find(key);
  if (absl::Status status = (*store)->remove(key); !status.ok()) {
    return withCniCode(status, CniError::kLeaseStoreError);
  }
  if (existing.ok() && *existing) {
    logger_->info("lease released network={} {} ips={}", netconf_.network, describe(key),
                  addressesOf((*existing)->ips));
  } else {
    logger_->debug("no lease to release network={} {}", netconf_.network, describe(key));
  }
  return absl::OkStatus();
}

absl::Status Ipam::check(const LeaseKey& key) {
  absl::StatusOr<std::unique_ptr<LeaseStore>> store = openStore();
  if (!store.ok()) return store.status();
  absl::StatusOr<LeaseStore::Guard> guard = (*store)->lock();
  if (!guard.ok()) return withCniCode(guard.status(), CniError::kLeaseStoreError);
  absl::StatusOr<std::optional<Lease>> lease = (*store)->find(key);
  if (!lease.ok()) return withCniCode(lease.status(), CniError::kLeaseStoreError);
  if (!*lease) {
    return cniError(absl::StatusCode::kNotFound,
                    strCat("network \"", netconf_.network, "\": no lease for container ",
                           key.containerId, " interface ", key.ifName),
                    CniError::kLeaseMismatch);
  }
  if (!netconf_.prevResult) return absl::OkStatus();
  absl::StatusOr<Result> prev =
      parseResult(*netconf_.prevResult, "prevResult", netconf_.cniVersion);
  if (!prev.ok()) return withCniCode(prev.status(), CniError::kInvalidConfig);
  for (const IpConfig& leased : (*lease)->ips) {
    bool listed = std::any_of(prev->ips.begin(), prev->ips.end(), [&](const IpConfig& ip) {
      return canonical(ip.address) == canonical(leased.address);
    });
    if (!listed) {
      return cniError(absl::StatusCode::kFailedPrecondition,
                      strCat("network \"", netconf_.network, "\": prevResult lacks the address ",
                             leased.address, " leased to container ", key.containerId,
                             " interface ", key.ifName),
                      CniError::kLeaseMismatch);
    }
  }
  return absl::OkStatus();
}

absl::Status Ipam::gc() {
  if (!netconf_.validAttachments) {
    return cniError(absl::StatusCode::kInvalidArgument,
                    "cni.dev/valid-attachments: missing (GC needs the list of valid attachments)",
                    CniError::kInvalidConfig);
  }
  const std::set<LeaseKey> valid(netconf_.validAttachments->begin(),
                                 netconf_.validAttachments->end());
  absl::StatusOr<LockedLeases> locked = lockedLeases();
  if (!locked.ok()) return locked.status();
  std::unique_ptr<LeaseStore>& store = locked->store;
  const std::vector<std::filesystem::path>& unreadable = locked->unreadable;
  for (const Lease& lease : locked->leases) {
    if (valid.count(lease.key) > 0) continue;
    if (absl::Status status = store->remove(lease.key); !status.ok()) {
      return withCniCode(status, CniError::kLeaseStoreError);
    }
    logger_->info("lease collected network={} {} ips={}", netconf_.network, describe(lease.key),
                  addressesOf(lease.ips));
  }
  for (const std::filesystem::path& file : unreadable) {
    if (absl::Status status = store->removeFile(file); !status.ok()) {
      return withCniCode(status, CniError::kLeaseStoreError);
    }
    logger_->warn("unreadable lease file removed network={} file={}", netconf_.network,
                  file.string());
  }
  return absl::OkStatus();
}

absl::Status Ipam::status() {
  if (!netconf_.source) return missingSourceError(netconf_);
  // As in ADD: the metadata first, then the lock only to read the leases.
  auto unavailable = [](const absl::Status& why) {
    return withCniCode(absl::UnavailableError(why.message()), CniError::kPluginNotAvailable);
  };
  absl::StatusOr<Pool> pool = loadPool();
  if (!pool.ok()) {
    if (cniCodeOf(pool.status(), CniError::kInvalidConfig) == CniError::kInvalidConfig) {
      return pool.status();
    }
    return unavailable(pool.status());
  }
  absl::StatusOr<std::unique_ptr<LeaseStore>> store = openStore();
  if (!store.ok()) return unavailable(store.status());
  absl::StatusOr<LeaseStore::Guard> guard = (*store)->lock();
  if (!guard.ok()) return unavailable(guard.status());
  absl::StatusOr<std::vector<Lease>> leases = (*store)->list();
  if (!leases.ok()) return unavailable(leases.status());
  absl::StatusOr<std::vector<IpConfig>> ips = allocate(*pool, *leases);
  if (!ips.ok()) return unavailable(ips.status());
  return absl::OkStatus();
}

}  // namespace enadpdk::ipam
