#pragma once

// The lease files of one network: `<stateDir>/<network>/<containerID>@<ifname>.lease`, one per
// attachment, guarded by an flock on `<stateDir>/<network>/lock`.

#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "cni/result.h"
#include "ipam/address.h"

namespace enadpdk::ipam {

// An attachment: the runtime's container ID and interface name (both already validated with
// validateContainerId / validateIfName, so they are safe in a file name).
struct LeaseKey {
  // CNI_CONTAINERID.
  std::string containerId{};
  // CNI_IFNAME.
  std::string ifName{};

  // Ordered by container ID, then interface name.
  auto operator<=>(const LeaseKey&) const = default;
};

// The addresses one attachment holds.
struct Lease {
  // Whose lease it is.
  LeaseKey key{};
  // The addresses (with prefix length) and gateways handed out, in result order.
  std::vector<cni::IpConfig> ips{};

  // Field-wise comparison.
  bool operator==(const Lease&) const = default;
};

// The file suffix of lease files.
inline constexpr char kLeaseSuffix[] = ".lease";
// The lock file in each network directory.
inline constexpr char kLockFileName[] = "lock";

// One network's lease directory. Every method except lock() expects the caller to hold the lock
// (so that a read-modify-write is atomic across processes). The lock is held only for this file
// work, never across network I/O (Ipam reads the metadata before it locks); each object has its own
// open file description of the lock file, so two objects (in two threads or two processes) exclude
// each other. Files are written atomically (mode 0600); the directory is created with mode 0700.
class LeaseStore {
 public:
  // Opens (creating if needed) `dir`, the network's directory, and its lock file. Errors name
  // the path and errno.
  static absl::StatusOr<std::unique_ptr<LeaseStore>> open(const std::filesystem::path& dir);
  ~LeaseStore();
  LeaseStore(const LeaseStore&) = delete;
  LeaseStore& operator=(const LeaseStore&) = delete;

  // Holds the store's exclusive lock until destroyed.
  class Guard {
   public:
    explicit Guard(int fd) : fd_(fd) {}
    Guard(Guard&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Guard& operator=(Guard&&) = delete;
    ~Guard();

   private:
    int fd_;
  };
  // Blocks until this process holds the exclusive lock.
  absl::StatusOr<Guard> lock();

  // The lease of `key`, or nullopt. A file that cannot be read or parsed is an error.
  absl::StatusOr<std::optional<Lease>> find(const LeaseKey& key) const;
  // Every lease, ordered by key. `unreadable` (when given) receives the lease files that cannot
  // be parsed instead of failing on them.
  absl::StatusOr<std::vector<Lease>> list(
      std::vector<std::filesystem::path>* unreadable = nullptr) const;
  // The addresses (without prefix length) that `leases` hold.
  static std::set<IpAddress> addressesOf(const std::vector<Lease>& leases);
  // Writes (replaces) the lease of `lease.key`.
  absl::Status put(const Lease& lease);
  // Removes the lease of `key`; OK when there is none.
  absl::Status remove(const LeaseKey& key);
  // Removes one lease file by path (GC of unreadable files); OK when it is gone.
  absl::Status removeFile(const std::filesystem::path& file);

  // The network's directory.
  const std::filesystem::path& dir() const { return dir_; }
  // The file that holds `key`'s lease.
  std::filesystem::path fileOf(const LeaseKey& key) const;

 private:
  LeaseStore(std::filesystem::path dir, int lockFd) : dir_(std::move(dir)), lockFd_(lockFd) {}
  absl::StatusOr<Lease> read(const std::filesystem::path& file) const;

  std::filesystem::path dir_;
  int lockFd_;
};

}  // namespace enadpdk::ipam
