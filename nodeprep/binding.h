#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/host_root.h"
#include "common/pci.h"
#include "nodeprep/eni_metadata.h"
#include "nodeprep/host.h"
#include "nodeprep/node_state.h"
#include "nodeprep/nodeprep_config.h"
#include "nodeprep/primary_eni.h"
#include "nodeprep/report.h"
#include "nodeprep/vpc_cni.h"

namespace enadpdk::nodeprep {

// An ENA the bind section selects.
struct BindCandidate {
  // The device as read when planning.
  common::PciDevice device{};
  // Its kernel interface: the current one, or the one an earlier run bound it under; may be
  // empty.
  std::string ifname{};
  // Its MAC address, lowercase: from sysfs while it has an interface, else the one an earlier
  // run bound it with; may be empty.
  std::string mac{};

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
  // Selected devices nodeprep must not take: one that looks like the primary ENI (unless named
  // in force), carries policy routing (the VPC CNI's), or is not on the allow list; and
  // allExceptPrimary on a node with the VPC CNI. Any refusal fails the run before anything is
  // written.
  std::vector<BindSkip> refused{};
};

// What planBinding() judges ENIs by besides the primary-ENI facts.
struct EniSelectionFacts {
  // The attached ENIs as the instance metadata lists them; empty when it was not asked (only
  // deviceIndices and eniIds need it).
  EniFactsByMac imds{};
  // The VPC CNI's presence and the interfaces with policy routing.
  VpcCniFacts vpc_cni{};
};

// True when the bind section names ENIs by what EC2 says about them (device index, ENI ID), so
// that the instance metadata must be asked.
bool needsInstanceMetadata(const BindConfig& config);

// True when the bind section selects anything.
bool selectsDevices(const BindConfig& config);

// Selects the devices: by PCI address, by interface name (an interface that no longer exists is
// found through `state` when an earlier run bound it), by MAC, device index or ENI ID (through
// the MAC: sysfs, or `state` for a device an earlier run bound), and with allExceptPrimary every
// other ENA; then judges each as BindPlan::refused says. NotFound for an unknown PCI address,
// interface, MAC, device index or ENI ID, InvalidArgument for a device that is not an ENA. Reads
// only.
absl::StatusOr<BindPlan> planBinding(const common::HostRoot& root, const BindConfig& config,
                                     const std::string& driver, const NodeState& state,
                                     const PrimaryEniFacts& facts,
                                     const std::vector<common::PciDevice>& devices,
                                     const EniSelectionFacts& enis = {});

// Step 5: binds each planned device as dpdk-devbind does: driver_override, unbind from the
// current driver, drivers_probe, then checks the device's driver link. A device that does not end
// up on the driver is handed back to its kernel driver (override cleared, probed again) and fails
// the run. Records bound interfaces and MACs in `state`, and in `state.bound_devices` the driver
// and driver_override each device had. Adds one "bind" action per device.
void applyBinding(const BindPlan& plan, const Host& host, NodeState& state, Report& report);

// The processes that hold a device open: "1234 (dpdk-testpmd) has /dev/vfio/noiommu-0 open",
// from the /proc/<pid>/fd links to its vfio group node (/dev/vfio/<group>,
// /dev/vfio/noiommu-<group>) or its /dev/uio<N>. Empty when nothing does (or nothing can be
// told: a device on another driver has no such node).
std::vector<std::string> deviceUsers(const common::HostRoot& root, const common::PciDevice& device);

// --undo, before anything is written: a "refused" bind action for each device in
// `state.bound_devices` that is still on the driver nodeprep bound it to and open in a process
// (deviceUsers()). True when there is none.
bool checkBoundDevicesIdle(const common::HostRoot& root, const NodeState& state, Report& report);

// --undo: gives each device in `state.bound_devices` that is still on the driver nodeprep bound
// it to back to the driver it had before (driver_override set to it, unbind, drivers_probe, the
// driver link checked) and restores its driver_override. A device on another driver by now
// (after a reboot, or moved by someone) is left alone. Devices an older nodeprep bound without
// recording their driver (in `state.interfaces`/`macs` only) get a warning and stay bound. A
// failure is reported and the device stays recorded; the others go on. Given-back devices leave
// `state` (also their interfaces and MACs). With `dry_run` only plans. Adds "bind" actions.
void undoBinding(const Host& host, bool dry_run, NodeState& state, Report& report);

// Instead of applyBinding() (and describeBinding()) while a reboot that turns the IOMMU on is
// pending: binds nothing, and adds a warning "bind" action per device to bind saying it waits for
// the reboot (skipped and already bound devices as describeBinding() reports them).
void deferBinding(const BindPlan& plan, Report& report);

// --dry-run: adds the actions applyBinding() would take.
void describeBinding(const BindPlan& plan, Report& report);

}  // namespace enadpdk::nodeprep
