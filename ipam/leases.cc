#include "ipam/leases.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/atomic_file.h"
#include "common/json_text.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace enadpdk::ipam {

using cni::IpConfig;

namespace {

using common::strCat;

absl::Status errnoError(std::string_view what, const std::filesystem::path& path, int error) {
  return absl::InternalError(strCat(what, " ", path.string(), ": ", std::strerror(error)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<LeaseStore>> LeaseStore::open(const std::filesystem::path& dir) {
  if (absl::Status status = common::makeDirectories(dir, 0700); !status.ok()) return status;
  const std::filesystem::path lockFile = dir / kLockFileName;
  int fd = ::open(lockFile.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return errnoError("cannot open lock file", lockFile, errno);
  return std::unique_ptr<LeaseStore>(new LeaseStore(dir, fd));
}

LeaseStore::~LeaseStore() { ::close(lockFd_); }

LeaseStore::Guard::~Guard() {
  if (fd_ >= 0) ::flock(fd_, LOCK_UN);
}

absl::StatusOr<LeaseStore::Guard> LeaseStore::lock() {
  while (::flock(lockFd_, LOCK_EX) != 0) {
    if (errno != EINTR) return errnoError("cannot lock", dir_ / kLockFileName, errno);
  }
  return Guard(lockFd_);
}

std::filesystem::path LeaseStore::fileOf(const LeaseKey& key) const {
  // Container IDs cannot contain '@' (validateContainerId), so the first '@' separates the parts.
  return dir_ / strCat(key.containerId, "@", key.ifName, kLeaseSuffix);
}

absl::StatusOr<Lease> LeaseStore::read(const std::filesystem::path& file) const {
  absl::StatusOr<std::string> text = common::readFile(file);
  if (!text.ok()) return text.status();
  Lease lease;
  try {
    nlohmann::json json = nlohmann::json::parse(*text);
    lease.key = {.containerId = json.at("containerID").get<std::string>(),
                 .ifName = json.at("ifname").get<std::string>()};
    for (const nlohmann::json& ip : json.at("ips")) {
      lease.ips.push_back({.address = ip.at("address").get<std::string>(),
                           .gateway = ip.value("gateway", std::string())});
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(
        strCat("lease file ", file.string(), " is corrupt: ", common::clipped(e.what())));
  }
  // ADD hands out an address of every family of the pool or fails, so a lease without any
  // address was not written by us: answering it would make ADD succeed with no IP.
  if (lease.ips.empty()) {
    return absl::DataLossError(strCat("lease file ", file.string(),
                                      " is corrupt: it holds no address (DEL or GC removes it)"));
  }
  for (const IpConfig& ip : lease.ips) {
    if (!parseIpPrefix(ip.address)) {
      return absl::DataLossError(strCat("lease file ", file.string(), " is corrupt: address \"",
                                        common::clipped(ip.address), "\" is not a CIDR"));
    }
  }
  return lease;
}

absl::StatusOr<std::optional<Lease>> LeaseStore::find(const LeaseKey& key) const {
  absl::StatusOr<Lease> lease = read(fileOf(key));
  if (absl::IsNotFound(lease.status())) return std::nullopt;
  if (!lease.ok()) return lease.status();
  return std::optional<Lease>(std::move(*lease));
}

absl::StatusOr<std::vector<Lease>> LeaseStore::list(
    std::vector<std::filesystem::path>* unreadable) const {
  std::vector<Lease> leases;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, error)) {
    const std::string name = entry.path().filename().string();
    // Only lease files; the lock file and writeFileAtomic's ".<name>.tmp.XXXXXX" files are not.
    if (name.starts_with(".") || !name.ends_with(kLeaseSuffix)) continue;
    absl::StatusOr<Lease> lease = read(entry.path());
    if (absl::IsNotFound(lease.status())) continue;
    if (!lease.ok()) {
      if (unreadable == nullptr) return lease.status();
      unreadable->push_back(entry.path());
      continue;
    }
    leases.push_back(std::move(*lease));
  }
  if (error) return errnoError("cannot list", dir_, error.value());
  std::sort(leases.begin(), leases.end(),
            [](const Lease& a, const Lease& b) { return a.key < b.key; });
  return leases;
}

std::set<IpAddress> LeaseStore::addressesOf(const std::vector<Lease>& leases) {
  std::set<IpAddress> used;
  for (const Lease& lease : leases) {
    for (const IpConfig& ip : lease.ips) used.insert(parseIpPrefix(ip.address)->address);
  }
  return used;
}

absl::Status LeaseStore::put(const Lease& lease) {
  nlohmann::json ips = nlohmann::json::array();
  for (const IpConfig& ip : lease.ips) {
    nlohmann::json j = {{"address", ip.address}};
    if (!ip.gateway.empty()) j["gateway"] = ip.gateway;
    ips.push_back(std::move(j));
  }
  nlohmann::json json = {
      {"containerID", lease.key.containerId}, {"ifname", lease.key.ifName}, {"ips", ips}};
  return common::writeFileAtomic(fileOf(lease.key), common::dumpJson(json) + "\n", 0600);
}

absl::Status LeaseStore::remove(const LeaseKey& key) { return removeFile(fileOf(key)); }

absl::Status LeaseStore::removeFile(const std::filesystem::path& file) {
  if (::unlink(file.c_str()) != 0 && errno != ENOENT) {
    return errnoError("cannot remove", file, errno);
  }
  return absl::OkStatus();
}

}  // namespace enadpdk::ipam
