#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/host_root.h"
#include "common/pci.h"
#include "nodeprep/host.h"
#include "nodeprep/node_state.h"
#include "nodeprep/nodeprep_config.h"
#include "nodeprep/primary_eni.h"
#include "nodeprep/report.h"

namespace enadpdk::nodeprep {

// An ENA the bind section selects.
struct BindCandidate {
  // The device as read when planning.
  common::PciDevice device{};
  // Its kernel interface: the current one, or the one an earlier run bound it under; may be
  // empty.
  std::string ifname{};

  // "0000:00:06.0 (eth1)", for the report.
  std::string label() const;
};

// An ENA left as it is, with the reason.
struct BindSkip {
  // The device's label.
  std::string label{};
  // Why it is left alone ("primary ENI: eth0 carries the default route").
  std::string reason{};
};

// The binding step's plan.
struct BindPlan {
  // The DPDK driver to bind to.
  std::string driver{};
  // Devices to bind.
  std::vector<BindCandidate> bind{};
  // Selected devices already bound to the driver (left alone).
  std::vector<BindCandidate> bound{};
  // Devices "allExceptPrimary" passes over: the primary ENI, and ENAs already bound to another
  // DPDK driver (a pod may be using them).
  std::vector<BindSkip> skipped{};
  // Explicitly selected devices that look like the primary ENI and are not named in force.
  // Any refusal fails the run before anything is written.
  std::vector<BindSkip> refused{};
};

// True when the bind section selects anything.
bool selectsDevices(const BindConfig& config);

// Selects the devices: by PCI address, by interface name (an interface that no longer exists is
// found through `state` when an earlier run bound it), and with allExceptPrimary every other ENA.
// NotFound for an unknown PCI address or interface, InvalidArgument for a device that is not an
// ENA. Reads only.
absl::StatusOr<BindPlan> planBinding(const common::HostRoot& root, const BindConfig& config,
                                     const std::string& driver, const NodeState& state,
                                     const PrimaryEniFacts& facts,
                                     const std::vector<common::PciDevice>& devices);

// Step 5: binds each planned device as dpdk-devbind does: driver_override, unbind from the
// current driver, drivers_probe, then checks the device's driver link. A device that does not end
// up on the driver is handed back to its kernel driver (override cleared, probed again) and fails
// the run. Records bound interfaces in `state`. Adds one "bind" action per device.
void applyBinding(const BindPlan& plan, const Host& host, NodeState& state, Report& report);

// Instead of applyBinding() (and describeBinding()) while a reboot that turns the IOMMU on is
// pending: binds nothing, and adds a warning "bind" action per device to bind saying it waits for
// the reboot (skipped and already bound devices as describeBinding() reports them).
void deferBinding(const BindPlan& plan, Report& report);

// --dry-run: adds the actions applyBinding() would take.
void describeBinding(const BindPlan& plan, Report& report);

}  // namespace enadpdk::nodeprep
