#include "deviceplugin/ena_pool.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>

#include "absl/strings/ascii.h"
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

std::string enaDevicesEnvName(const std::string& name) {
  if (name == kEnaResource) return kEnaDevicesEnv;
  std::string env = common::strCat(kEnaDevicesEnv, "_", name);
  for (char& c : env) c = c == '-' ? '_' : absl::ascii_toupper(static_cast<unsigned char>(c));
  return env;
}

std::size_t healthyWithin(std::size_t slots, const NetworkAddresses& addresses, std::size_t held) {
  const std::uint64_t leasesOfHeld = std::min<std::uint64_t>(addresses.leases, held);
  const std::uint64_t allowed = addresses.freeLeases > UINT64_MAX - leasesOfHeld
                                    ? UINT64_MAX
                                    : addresses.freeLeases + leasesOfHeld;
  return static_cast<std::size_t>(std::min<std::uint64_t>(slots, allowed));
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
    const std::vector<std::string> ids = deviceIds(network);
    std::vector<bool> withAddress(ids.size(), true);
    if (auto it = host.networkAddresses.find(network.name); it != host.networkAddresses.end()) {
      // The attachments pods hold come first, so that the kubelet's free ones (healthy minus
      // held) number exactly the free addresses; then the lowest IDs.
      const NetworkAddresses& addresses = it->second;
      std::vector<std::size_t> order;
      for (int pass = 0; pass < 2; ++pass) {
        for (std::size_t i = 0; i < ids.size(); ++i) {
          const bool isHeld = addresses.held && addresses.held->count(ids[i]) > 0;
          if (isHeld == (pass == 0)) order.push_back(i);
        }
      }
      std::size_t held = addresses.leases;  // the kubelet's view unknown: every lease is held
      if (addresses.held) {
        held = std::count_if(ids.begin(), ids.end(),
                             [&](const std::string& id) { return addresses.held->count(id) > 0; });
      }
      const std::size_t allowed = healthyWithin(ids.size(), addresses, held);
      for (std::size_t k = 0; k < order.size(); ++k) withAddress[order[k]] = k < allowed;
    }
    for (std::size_t i = 0; i < ids.size(); ++i) {
      devices.push_back({.id = ids[i], .healthy = healthy && withAddress[i], .numaNode = numaNode});
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
  allocation.envs[enaDevicesEnvName(spec_.name)] = list;
  return allocation;
}

}  // namespace enadpdk::deviceplugin
