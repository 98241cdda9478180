#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/host_root.h"
#include "deviceplugin/plugin_config.h"
#include "deviceplugin/resource_pool.h"

namespace enadpdk::deviceplugin {

// The environment variable listing a container's dpdk.aws/ena attachments.
inline constexpr char kEnaDevicesEnv[] = "ENA_DPDK_DEVICES";

// What the dpdk.aws/ena resource is built from; equal specs give identical resources.
struct EnaPoolSpec {
  // Resource prefix ("dpdk.aws").
  std::string prefix = kDefaultResourcePrefix;
  // Resource name without prefix: kEnaResource, or a network's own resource ("ena-eni1").
  std::string name = kEnaResource;
  // The resource's config section.
  EnaResourceConfig config{};
  // The dataplane networks with an uplink that this resource offers (attachmentResources()).
  std::vector<AttachmentNetwork> networks{};

  friend bool operator==(const EnaPoolSpec&, const EnaPoolSpec&) = default;
};

// dpdk.aws/ena: `slotsPerNetwork` attachments per dataplane network with an uplink, device IDs
// "<network>-<NN>". An attachment's NUMA node is its uplink's; it is healthy while the uplink
// (a PCI device) exists and is bound to a DPDK driver, and the dataplane, when reachable, reports
// the network up. Each attachment has a slot directory <dir>/<ID> that Allocate mounts at
// <containerPath>/<ID>; the CNI later puts the vhost-user socket there. With a slot group the
// directories are root:<slotGroup> mode 02770 (pods enter them through fsGroup), else 0770.
class EnaPool final : public ResourcePool {
 public:
  // Creates the slot directories (under `root`) that do not exist yet and, with a slot group,
  // gives the existing ones its owner and mode (common::ensureSlotDirectory). A slot path that
  // is a symbolic link or not a directory is an error. Errors name the path.
  static absl::StatusOr<std::unique_ptr<EnaPool>> create(const common::HostRoot& root,
                                                         EnaPoolSpec spec);

  void refresh(const HostState& host) override;
  absl::StatusOr<ContainerAllocation> allocate(const std::vector<std::string>& ids) override;

  // The device IDs of `network` ("eni1-00" ... ).
  std::vector<std::string> deviceIds(const AttachmentNetwork& network) const;

 protected:
  // The network of an attachment.
  std::string groupOf(const std::string& id) const override;

 private:
  EnaPool(const common::HostRoot& root, EnaPoolSpec spec);
  // Creates the slot directory of `id` when missing and fixes its owner and mode.
  absl::Status ensureSlotDir(const std::string& id) const;

  const common::HostRoot root_;
  const EnaPoolSpec spec_;
};

}  // namespace enadpdk::deviceplugin
