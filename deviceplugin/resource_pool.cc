#include "deviceplugin/resource_pool.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/time/time.h"
#include "common/strings.h"
#include "deviceplugin/preferred_allocation.h"

namespace enadpdk::deviceplugin {

ResourcePool::ResourcePool(const std::string& prefix, std::string name)
    : name_(std::move(name)), resourceName_(common::strCat(prefix, "/", name_)) {}

ResourcePool::Snapshot ResourcePool::snapshot() const {
  absl::MutexLock lock(&mu_);
  return {.devices = devices_, .version = version_};
}

bool ResourcePool::waitForChange(std::uint64_t version, const std::atomic<bool>& stop,
                                 std::chrono::milliseconds timeout) const {
  absl::MutexLock lock(&mu_);
  auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return version_ != version || stop.load();
  };
  mu_.AwaitWithTimeout(absl::Condition(&changed), absl::FromChrono(timeout));
  return version_ != version;
}

void ResourcePool::wake() const {
  // Releasing an absl::Mutex re-evaluates the conditions of its waiters.
  absl::MutexLock lock(&mu_);
}

void ResourcePool::publish(std::vector<Device> devices) {
  std::sort(devices.begin(), devices.end(),
            [](const Device& a, const Device& b) { return a.id < b.id; });
  absl::MutexLock lock(&mu_);
  if (version_ != 0 && devices == devices_) return;
  devices_ = std::move(devices);
  ++version_;
}

std::string ResourcePool::groupOf(const std::string&) const { return {}; }

std::vector<std::string> ResourcePool::preferredAllocation(const PreferenceRequest& request) const {
  const Snapshot current = snapshot();
  std::vector<Candidate> candidates;
  for (const std::string& id : request.available) {
    auto it = std::find_if(current.devices.begin(), current.devices.end(),
                           [&](const Device& d) { return d.id == id; });
    candidates.push_back({.id = id,
                          .numaNode = it != current.devices.end() ? it->numaNode : std::nullopt,
                          .group = groupOf(id)});
  }
  return choosePreferred(candidates, request.mustInclude, request.size);
}

std::string pciDeviceEnvName(const std::string& resourceName) {
  std::string name = "PCIDEVICE_";
  for (char c : resourceName) name.push_back(absl::ascii_isalnum(c) ? absl::ascii_toupper(c) : '_');
  return name;
}

absl::Status checkDeviceIds(const std::vector<std::string>& ids, const std::vector<Device>& devices,
                            const std::string& resourceName) {
  if (ids.empty()) {
    return absl::InvalidArgumentError(
        common::strCat("no device IDs in the request for ", resourceName));
  }
  std::set<std::string> seen;
  for (const std::string& id : ids) {
    if (!seen.insert(id).second) {
      return absl::InvalidArgumentError(
          common::strCat("device \"", id, "\" is requested twice for ", resourceName));
    }
    if (std::none_of(devices.begin(), devices.end(), [&](const Device& d) { return d.id == id; })) {
      return absl::InvalidArgumentError(
          common::strCat("\"", id, "\" is not a device of ", resourceName));
    }
  }
  return absl::OkStatus();
}

}  // namespace enadpdk::deviceplugin
