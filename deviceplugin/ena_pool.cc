#include "deviceplugin/ena_pool.h"

#include <filesystem>

#include "common/atomic_file.h"
#include "common/device_id.h"
#include "common/pci.h"
#include "common/slot_dir.h"
#include "common/strings.h"

namespace enadpdk::deviceplugin {

absl::StatusOr<std::unique_ptr<EnaPool>> EnaPool::create(const common::HostRoot& root,
                                                         EnaPoolSpec spec) {
  std::unique_ptr<EnaPool> pool(new EnaPool(root, std::move(spec)));
  for (const AttachmentNetwork& network : pool->spec_.networks) {
    for (const std::string& id : pool->deviceIds(network)) {
      if (absl::Status status = pool->ensureSlotDir(id); !status.ok()) return status;
    }
  }
  return pool;
}

EnaPool::EnaPool(const common::HostRoot& root, EnaPoolSpec spec)
    : ResourcePool(spec.prefix, spec.name), root_(root), spec_(std::move(spec)) {}

std::vector<std::string> EnaPool::deviceIds(const AttachmentNetwork& network) const {
  std::vector<std::string> ids;
  for (unsigned slot = 0; slot < spec_.config.slotsPerNetwork; ++slot) {
    ids.push_back(common::formatDeviceId(network.name, slot));
  }
  return ids;
}

std::string EnaPool::groupOf(const std::string& id) const { return id.substr(0, id.rfind('-')); }

absl::Status EnaPool::ensureSlotDir(const std::string& id) const {
  const std::filesystem::path parent = root_.path(spec_.config.dir);
  if (absl::Status status = common::makeDirectories(parent, 0755); !status.ok()) return status;
  return common::ensureSlotDirectory(parent / id, spec_.config.slotGroup);
}

void EnaPool::refresh(const HostState& host) {
  std::vector<Device> devices;
  for (const AttachmentNetwork& network : spec_.networks) {
    bool healthy = true;
    std::optional<int> numaNode;
    if (common::isPciAddress(network.uplink)) {
      const common::PciDevice* uplink = host.findPciDevice(network.uplink);
      healthy = uplink != nullptr && uplink->isDpdkBound();
      if (uplink != nullptr) numaNode = uplink->numa_node;
    }
    if (host.dataplaneNetworksUp) {
      auto it = host.dataplaneNetworksUp->find(network.name);
      healthy = healthy && it != host.dataplaneNetworksUp->end() && it->second;
    }
    for (std::string& id : deviceIds(network)) {
      devices.push_back({.id = std::move(id), .healthy = healthy, .numaNode = numaNode});
    }
  }
  publish(std::move(devices));
}

absl::StatusOr<ContainerAllocation> EnaPool::allocate(const std::vector<std::string>& ids) {
  if (absl::Status status = checkDeviceIds(ids, snapshot().devices, resourceName()); !status.ok()) {
    return status;
  }
  ContainerAllocation allocation;
  std::string list;
  for (const std::string& id : ids) {
    // A slot directory removed behind our back would make the container runtime fail the mount.
    if (absl::Status status = ensureSlotDir(id); !status.ok()) return status;
    allocation.mounts.push_back(
        {.hostPath = common::strCat(spec_.config.dir, "/", id),
         .containerPath = common::strCat(spec_.config.containerPath, "/", id),
         .readOnly = false});
    list += list.empty() ? id : common::strCat(",", id);
  }
  allocation.envs[kEnaDevicesEnv] = list;
  return allocation;
}

}  // namespace enadpdk::deviceplugin
