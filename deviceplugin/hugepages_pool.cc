#include "deviceplugin/hugepages_pool.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <functional>
#include <random>
#include <system_error>

#include "absl/strings/str_format.h"
#include "common/atomic_file.h"
#include "common/logging.h"
#include "common/strings.h"
#include "deviceplugin/plugin_config.h"
#include "nlohmann/json.hpp"

namespace enadpdk::deviceplugin {
namespace {

namespace fs = std::filesystem;

// Devices without a NUMA node ("page-<k>").
constexpr int kNoNode = -1;

std::string deviceId(int node, unsigned index) {
  return node == kNoNode ? absl::StrFormat("page-%u", index)
                         : absl::StrFormat("node%d-%u", node, index);
}

// Parses "node<N>-<k>" / "page-<k>"; false for anything else.
bool parseDeviceId(const std::string& id, int& node, unsigned& index) {
  const std::size_t dash = id.rfind('-');
  if (dash == std::string::npos) return false;
  const std::string_view head(id.data(), dash);
  const std::string_view tail(id.data() + dash + 1, id.size() - dash - 1);
  auto [end, error] = std::from_chars(tail.data(), tail.data() + tail.size(), index);
  if (tail.empty() || error != std::errc() || end != tail.data() + tail.size()) return false;
  if (head == "page") {
    node = kNoNode;
    return true;
  }
  if (!head.starts_with("node") || head.size() == 4) return false;
  auto [nodeEnd, nodeError] = std::from_chars(head.data() + 4, head.data() + head.size(), node);
  return nodeError == std::errc() && nodeEnd == head.data() + head.size();
}

std::string newAllocationId() {
  std::random_device random;
  return absl::StrFormat("%08x%08x", random(), random());
}

std::int64_t toMillis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// The pages of `ids` (valid device IDs) by node.
PagesPerNode pagesPerNode(const std::vector<std::string>& ids) {
  PagesPerNode pages;
  for (const std::string& id : ids) {
    int node = kNoNode;
    unsigned index = 0;
    if (parseDeviceId(id, node, index)) ++pages[node];
  }
  return pages;
}

// The undo steps of a half-done allocation, run in reverse order unless dismissed.
class Undo {
 public:
  Undo() = default;
  Undo(const Undo&) = delete;
  Undo& operator=(const Undo&) = delete;
  ~Undo() {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) (*it)();
  }
  void add(std::function<void()> step) { steps_.push_back(std::move(step)); }
  void dismiss() { steps_.clear(); }

 private:
  std::vector<std::function<void()>> steps_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HugepagesPool>> HugepagesPool::create(
    const common::HostRoot& root, HugepagesPoolSpec spec, HugetlbfsMounter& mounter,
    const Clock& clock, std::shared_ptr<spdlog::logger> logger) {
  std::unique_ptr<HugepagesPool> pool(
      new HugepagesPool(root, std::move(spec), mounter, clock, std::move(logger)));
  absl::MutexLock lock(&pool->mu_);
  if (absl::Status status = common::makeDirectories(pool->mountPoint(""), 0755); !status.ok()) {
    return status;
  }
  if (absl::Status status = pool->load(); !status.ok()) return status;
  if (absl::Status status = pool->reconcile(); !status.ok()) return status;
  return pool;
}

HugepagesPool::HugepagesPool(const common::HostRoot& root, HugepagesPoolSpec spec,
                             HugetlbfsMounter& mounter, const Clock& clock,
                             std::shared_ptr<spdlog::logger> logger)
    : ResourcePool(spec.prefix, std::string(hugepageKind(spec.pageSize).resource)),
      root_(root),
      spec_(std::move(spec)),
      kind_(hugepageKind(spec_.pageSize)),
      cgroups_(root_, findHugetlbHierarchy(root_, spec_.cgroupFs), spec_.config.chargeCgroup),
      mounter_(mounter),
      clock_(clock),
      logger_(std::move(logger)) {}

fs::path HugepagesPool::mountPoint(const std::string& id) const {
  fs::path dir = root_.path(spec_.config.mountDir);
  return id.empty() ? dir : dir / id;
}

std::string HugepagesPool::mountOptions(common::HugepageSize size, std::size_t pages) {
  const HugepageKind& kind = hugepageKind(size);
  const std::uint64_t amount = pages * kind.mountUnitsPerPage;
  return common::strCat("pagesize=", kind.mountPageSize, ",size=", amount, kind.mountUnit,
                        ",min_size=", amount, kind.mountUnit, ",mode=1777");
}

void HugepagesPool::removeLeftovers(const std::string& id) {
  std::error_code ec;
  fs::remove(mountPoint(id), ec);
  if (absl::Status status = cgroups_.remove(id); !status.ok()) {
    logger_->warn("cannot remove hugepages charge cgroup allocation={} error={}", id,
                  common::logValue(common::toStd(status.message())));
  }
}

absl::Status HugepagesPool::load() {
  const fs::path path = mountPoint(kHugepagesStateFile);
  absl::StatusOr<std::string> text = common::readFile(path);
  if (absl::IsNotFound(text.status())) return absl::OkStatus();
  if (!text.ok()) return text.status();
  try {
    const nlohmann::json state = nlohmann::json::parse(*text);
    for (const nlohmann::json& entry : state.at("allocations")) {
      HugepageAllocation allocation{
          .id = entry.at("id").get<std::string>(),
          .devices = entry.at("devices").get<std::vector<std::string>>(),
          .created = std::chrono::system_clock::time_point(
              std::chrono::milliseconds(entry.at("createdMs").get<std::int64_t>()))};
      allocations_[allocation.id] = std::move(allocation);
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(common::strCat(path.string(), ": malformed allocation record (",
                                              e.what(), "); remove it to start over"));
  }
  return absl::OkStatus();
}

absl::Status HugepagesPool::reconcile() {
  bool changed = false;
  for (auto it = allocations_.begin(); it != allocations_.end();) {
    if (mounter_.isMounted(mountPoint(it->first))) {
      ++it;
      continue;
    }
    logger_->warn("hugepages allocation lost its mount, forgetting it allocation={}", it->first);
    removeLeftovers(it->first);
    it = allocations_.erase(it);
    changed = true;
  }
  std::error_code ec;
  for (fs::directory_iterator dir(mountPoint(""), ec), end; !ec && dir != end; dir.increment(ec)) {
    const std::string name = dir->path().filename().string();
    if (!dir->is_directory() || allocations_.contains(name)) continue;
    if (mounter_.isMounted(dir->path())) {
      if (absl::Status status = mounter_.unmount(dir->path()); !status.ok()) return status;
    }
    logger_->warn("removing hugepages mount point without a record path={}", dir->path().string());
    // A record-less allocation's charge cgroup has its name; charge cgroups of other names may
    // belong to the other hugepages resource (they may share chargeCgroup) and are left alone.
    removeLeftovers(name);
  }
  return changed ? save() : absl::OkStatus();
}

absl::Status HugepagesPool::save() const {
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& [id, allocation] : allocations_) {
    entries.push_back(
        {{"id", id}, {"devices", allocation.devices}, {"createdMs", toMillis(allocation.created)}});
  }
  nlohmann::json state = {{"allocations", entries}};
  return common::writeFileAtomic(mountPoint(kHugepagesStateFile), state.dump(2), 0600);
}

void HugepagesPool::refresh(const HostState& host) {
  std::vector<Device> devices;
  {
    absl::MutexLock lock(&mu_);
    std::map<int, std::set<unsigned>> held;  // allocated device indexes by node
    std::map<int, std::uint64_t> unused;     // pages promised to allocations but not yet used
    for (const auto& [id, allocation] : allocations_) {
      absl::StatusOr<std::uint64_t> free = mounter_.unusedPages(mountPoint(id));
      if (!free.ok()) {
        logger_->warn("cannot read hugepages use allocation={} error={}", id,
                      common::logValue(common::toStd(free.status().message())));
      }
      std::uint64_t remaining = free.ok() ? *free : 0;
      // The unused pages count against the nodes of the allocation's devices, in their order.
      for (const std::string& device : allocation.devices) {
        int node = kNoNode;
        unsigned index = 0;
        if (!parseDeviceId(device, node, index)) continue;
        held[node].insert(index);
        if (remaining > 0) {
          ++unused[node];
          --remaining;
        }
      }
    }
    std::set<int> listed;
    for (const HugepageNode& hugepages : host.hugepageNodes(spec_.pageSize)) {
      const int node = hugepages.node.value_or(kNoNode);
      listed.insert(node);
      const std::set<unsigned>& taken = held[node];
      for (unsigned index : taken) {
        devices.push_back(
            {.id = deviceId(node, index), .healthy = true, .numaNode = hugepages.node});
      }
      std::uint64_t offer =
          hugepages.freePages > unused[node] ? hugepages.freePages - unused[node] : 0;
      for (unsigned index = 0; offer > 0; ++index) {
        if (taken.contains(index)) continue;
        devices.push_back(
            {.id = deviceId(node, index), .healthy = true, .numaNode = hugepages.node});
        --offer;
      }
    }
    // Allocated devices of a node that sysfs no longer shows stay listed until released.
    for (const auto& [node, indexes] : held) {
      if (listed.contains(node)) continue;
      for (unsigned index : indexes) {
        devices.push_back({.id = deviceId(node, index),
                           .healthy = true,
                           .numaNode = node == kNoNode ? std::nullopt : std::optional<int>(node)});
      }
    }
  }
  publish(std::move(devices));
}

absl::StatusOr<ContainerAllocation> HugepagesPool::allocate(const std::vector<std::string>& ids) {
  if (absl::Status status = checkDeviceIds(ids, snapshot().devices, resourceName()); !status.ok()) {
    return status;
  }
  const std::string id = newAllocationId();
  const std::string filePrefix = ealFilePrefix(id);
  const PagesPerNode pages = pagesPerNode(ids);
  absl::StatusOr<std::vector<EalHugepageFile>> files =
      ealHugepageFiles(spec_.pageSize, filePrefix, pages);
  if (!files.ok()) return files.status();

  // Each step registers its undo as it succeeds; they run unless the allocation is recorded.
  Undo undo;
  const fs::path dir = mountPoint(id);
  if (::mkdir(dir.c_str(), 0755) != 0) {
    return absl::InternalError(
        common::strCat("cannot create mount point ", dir.string(), ": ", std::strerror(errno)));
  }
  undo.add([dir] {
    std::error_code ec;
    fs::remove(dir, ec);
  });
  absl::StatusOr<fs::path> cgroupProcs = cgroups_.create(id);
  if (!cgroupProcs.ok()) return cgroupProcs.status();
  undo.add([this, id] { (void)cgroups_.remove(id); });
  if (absl::Status status = mounter_.mount(dir, mountOptions(spec_.pageSize, ids.size()));
      !status.ok()) {
    return status;
  }
  // A lazy unmount frees the pages (and uncharges them) once the last file user is gone.
  undo.add([this, dir] { (void)mounter_.unmount(dir); });
  HugepageFaultRequest fault{.cgroupProcs = *cgroupProcs};
  for (const EalHugepageFile& file : *files) {
    fault.files.push_back(
        {.path = dir / file.name, .bytes = file.pages * kind_.bytes, .node = file.node});
  }
  if (absl::Status status = mounter_.fault(fault); !status.ok()) {
    logger_->warn("cannot fault in hugepages allocation={} error={}", id,
                  common::logValue(common::toStd(status.message())));
    return status;
  }
  {
    absl::MutexLock lock(&mu_);
    allocations_[id] = {.id = id, .devices = ids, .created = clock_.now()};
    if (absl::Status status = save(); !status.ok()) {
      allocations_.erase(id);
      return status;
    }
  }
  undo.dismiss();
  logger_->info("hugepages allocated allocation={} pages={} path={} cgroup={}", id, ids.size(),
                dir.string(), cgroups_.path(id).string());
  ContainerAllocation allocation;
  allocation.mounts.push_back({.hostPath = common::strCat(spec_.config.mountDir, "/", id),
                               .containerPath = spec_.config.containerPath,
                               .readOnly = false});
  allocation.envs[ealEnvName(name())] =
      ealArguments(spec_.pageSize, spec_.config.containerPath, filePrefix, pages);
  return allocation;
}

absl::StatusOr<std::vector<std::string>> HugepagesPool::collectGarbage(
    const std::set<std::string>& held, std::chrono::seconds grace) {
  absl::MutexLock lock(&mu_);
  const auto now = clock_.now();
  std::vector<std::string> released;
  for (auto it = allocations_.begin(); it != allocations_.end();) {
    const HugepageAllocation& allocation = it->second;
    const bool inUse = std::any_of(allocation.devices.begin(), allocation.devices.end(),
                                   [&](const std::string& d) { return held.contains(d); });
    if (inUse || now - allocation.created < grace) {
      ++it;
      continue;
    }
    const fs::path dir = mountPoint(allocation.id);
    if (mounter_.isMounted(dir)) {
      if (absl::Status status = mounter_.unmount(dir); !status.ok()) {
        logger_->error("cannot release hugepages allocation={} error={}", allocation.id,
                       common::logValue(common::toStd(status.message())));
        ++it;
        continue;
      }
    }
    removeLeftovers(allocation.id);
    logger_->info("hugepages released allocation={} pages={}", allocation.id,
                  allocation.devices.size());
    released.push_back(allocation.id);
    it = allocations_.erase(it);
  }
  if (!released.empty()) {
    if (absl::Status status = save(); !status.ok()) return status;
  }
  return released;
}

std::vector<HugepageAllocation> HugepagesPool::allocations() const {
  absl::MutexLock lock(&mu_);
  std::vector<HugepageAllocation> out;
  for (const auto& [id, allocation] : allocations_) out.push_back(allocation);
  return out;
}

}  // namespace enadpdk::deviceplugin
