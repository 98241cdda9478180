#include "nodeprep/binding.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "common/strings.h"

namespace enadpdk::nodeprep {
namespace {

using common::PciDevice;
using common::strCat;
using common::toStd;

constexpr char kDriversProbe[] = "/sys/bus/pci/drivers_probe";

std::string devicePath(std::string_view address, std::string_view file) {
  return strCat("/sys/bus/pci/devices/", address, "/", file);
}

std::string driverName(const std::string& driver) { return driver.empty() ? "no driver" : driver; }

bool contains(const std::vector<std::string>& list, std::string_view value) {
  return !value.empty() && std::find(list.begin(), list.end(), value) != list.end();
}

const PciDevice* findDevice(const std::vector<PciDevice>& devices, std::string_view address) {
  auto it = std::find_if(devices.begin(), devices.end(),
                         [&](const PciDevice& d) { return d.address == address; });
  return it == devices.end() ? nullptr : &*it;
}

absl::Status requireEna(const PciDevice& device, std::string_view key) {
  if (device.isEna()) return absl::OkStatus();
  return absl::InvalidArgumentError(strCat("bind.", key, ": ", device.address,
                                           " is not an ENA (vendor ", device.vendor, ", device ",
                                           device.device, "); nodeprep only binds ENAs"));
}

// The MAC of a device's live interface, lowercase; empty without one (or when unreadable).
std::string liveMac(const common::HostRoot& root, const PciDevice& device) {
  if (device.netdevs.empty()) return "";
  absl::StatusOr<std::string> mac =
      readHostFile(root, strCat("/sys/class/net/", device.netdevs.front(), "/address"));
  if (!mac.ok()) return "";
  std::string text = *mac;
  absl::AsciiStrToLower(&text);
  return text;
}

// The MAC to judge a device by: its live one, else the one an earlier run bound it with.
std::string knownMac(const common::HostRoot& root, const PciDevice& device,
                     const NodeState& state) {
  std::string mac = liveMac(root, device);
  if (!mac.empty() || !device.netdevs.empty()) return mac;
  for (const auto& [remembered, address] : state.macs) {
    if (address == device.address) return remembered;
  }
  return "";
}

// The interface name to judge a device by: its live one, else the name it was bound under.
std::string knownInterface(const PciDevice& device, const NodeState& state) {
  if (!device.netdevs.empty()) return device.netdevs.front();
  for (const auto& [ifname, address] : state.interfaces) {
    if (address == device.address) return ifname;
  }
  return "";
}

BindCandidate candidateOf(const common::HostRoot& root, const PciDevice& device,
                          const NodeState& state) {
  return {.device = device,
          .ifname = knownInterface(device, state),
          .mac = knownMac(root, device, state)};
}

// The device "eth1" names: the live interface, else the device an earlier run bound under it.
absl::StatusOr<BindCandidate> resolveInterface(const common::HostRoot& root,
                                               const std::string& ifname, const NodeState& state,
                                               const std::vector<PciDevice>& devices) {
  absl::StatusOr<std::string> address = common::pciAddressOfNetdev(root, ifname);
  if (address.ok()) {
    const PciDevice* device = findDevice(devices, *address);
    if (device == nullptr) {
      return absl::NotFoundError(
          strCat("bind.interfaces: ", ifname, " is at ", *address, ", which is not a PCI device"));
    }
    if (absl::Status ena = requireEna(*device, "interfaces"); !ena.ok()) return ena;
    BindCandidate candidate = candidateOf(root, *device, state);
    candidate.ifname = ifname;
    return candidate;
  }
  if (!absl::IsNotFound(address.status())) return address.status();
  auto remembered = state.interfaces.find(ifname);
  const PciDevice* device =
      remembered == state.interfaces.end() ? nullptr : findDevice(devices, remembered->second);
  if (device == nullptr || !device->netdevs.empty()) {
    return absl::NotFoundError(strCat("bind.interfaces: no interface ", ifname,
                                      " (and no device an earlier run bound under that name)"));
  }
  BindCandidate candidate = candidateOf(root, *device, state);
  candidate.ifname = ifname;
  return candidate;
}

// The ENA with MAC `mac` (lowercase): the one whose interface has it, else the device an earlier
// run bound with it. `what` says how the config named it, for the error.
absl::StatusOr<BindCandidate> resolveMac(const common::HostRoot& root, const std::string& mac,
                                         std::string_view key, std::string_view what,
                                         const NodeState& state,
                                         const std::vector<PciDevice>& devices) {
  for (const PciDevice& device : devices) {
    if (!device.netdevs.empty() && liveMac(root, device) == mac) {
      if (absl::Status ena = requireEna(device, key); !ena.ok()) return ena;
      return candidateOf(root, device, state);
    }
  }
  auto remembered = state.macs.find(mac);
  const PciDevice* device =
      remembered == state.macs.end() ? nullptr : findDevice(devices, remembered->second);
  if (device == nullptr || !device->netdevs.empty()) {
    return absl::NotFoundError(strCat("bind.", key, ": ", what, ": no interface has MAC ", mac,
                                      " (and no device an earlier run bound with it)"));
  }
  if (absl::Status ena = requireEna(*device, key); !ena.ok()) return ena;
  BindCandidate candidate = candidateOf(root, *device, state);
  candidate.mac = mac;
  return candidate;
}

// "0 (0a:...:01), 1 (0a:...:02)": what the metadata lists, for errors.
std::string listedEnis(const EniFactsByMac& enis) {
  std::vector<std::string> listed;
  for (const auto& [mac, eni] : enis) {
    listed.push_back(strCat("device index ", eni.device_number, " ", eni.eni_id, " (", mac, ")"));
  }
  return listed.empty() ? "none" : absl::StrJoin(listed, ", ");
}

// Why the judged device must not be bound; empty when it may be. `passing_over`: the reasons
// allExceptPrimary gives for leaving a device alone (the primary ENI is expected there).
std::vector<std::string> refusalReasons(const BindCandidate& candidate,
                                        const PrimaryEniFacts& facts, const EniSelectionFacts& enis,
                                        const std::set<std::string>& allowed, bool allow_list,
                                        bool force, bool passing_over) {
  std::vector<std::string> reasons;
  std::vector<std::string> primary =
      primaryReasons(facts, candidate.device.address, candidate.ifname);
  if (auto eni = enis.imds.find(candidate.mac);
      !candidate.mac.empty() && eni != enis.imds.end() && eni->second.device_number == 0) {
    primary.push_back(strCat("the instance metadata lists ", eni->second.eni_id, " (",
                             candidate.mac, ") at device index 0"));
  }
  if (!primary.empty() && !force) {
    reasons.push_back(passing_over
                          ? strCat("primary ENI (", absl::StrJoin(primary, "; "), ")")
                          : strCat("it looks like the primary ENI (", absl::StrJoin(primary, "; "),
                                   "); name it in nodeprep.bind.force to bind it anyway"));
  }
  // Only a live interface carries routes; the name of a device bound earlier may be reused.
  if (!candidate.device.netdevs.empty()) {
    if (auto routed = enis.vpc_cni.policy_routed.find(candidate.device.netdevs.front());
        routed != enis.vpc_cni.policy_routed.end()) {
      reasons.push_back(
          strCat("it carries policy routing as the AWS VPC CNI sets up for the ENIs "
                 "it manages (",
                 absl::StrJoin(routed->second, "; "), ")"));
    }
  }
  if (allow_list && !allowed.contains(candidate.device.address)) {
    reasons.push_back(strCat(
        "it is not on the allow list (",
        enis.vpc_cni.installed()
            ? strCat(
                  "the AWS VPC CNI is installed: ", absl::StrJoin(enis.vpc_cni.installed_by, ", "),
                  ", so only ENIs named in nodeprep.bind.deviceIndices, eniIds or macs are bound")
            : "nodeprep.bind.deviceIndices, eniIds and macs name the ENIs to bind",
        ")"));
  }
  return reasons;
}

}  // namespace

bool needsInstanceMetadata(const BindConfig& config) {
  return !config.deviceIndices.empty() || !config.eniIds.empty();
}

namespace {

bool forced(const BindConfig& config, const BindCandidate& candidate) {
  return contains(config.force, candidate.device.address) ||
         contains(config.force, candidate.ifname);
}

// Writes the steps of one bind; the first failure stops it.
absl::Status bindDevice(const BindCandidate& candidate, const std::string& driver,
                        const Host& host) {
  const std::string& address = candidate.device.address;
  if (absl::Status s = host.kernel.write(devicePath(address, "driver_override"), driver); !s.ok()) {
    return s;
  }
  if (!candidate.device.driver.empty()) {
    absl::Status s = host.kernel.write(
        strCat("/sys/bus/pci/drivers/", candidate.device.driver, "/unbind"), address);
    if (!s.ok()) return s;
  }
  return host.kernel.write(kDriversProbe, address);
}

// Hands a device whose bind failed back to the kernel: without an override, drivers_probe picks
// its native driver again. Returns what went wrong doing so, if anything.
std::string rollBack(const std::string& address, const Host& host) {
  absl::Status cleared = host.kernel.write(devicePath(address, "driver_override"), "\n");
  absl::Status probed = cleared.ok() ? host.kernel.write(kDriversProbe, address) : cleared;
  absl::StatusOr<PciDevice> after = common::readPciDevice(host.root, address);
  if (!probed.ok()) return strCat("; handing it back failed: ", toStd(probed.message()));
  if (!after.ok()) return strCat("; handing it back failed: ", toStd(after.status().message()));
  return strCat("; handed back to ", driverName(after->driver));
}

}  // namespace

std::string BindCandidate::label() const {
  return ifname.empty() ? device.address : strCat(device.address, " (", ifname, ")");
}

bool selectsDevices(const BindConfig& config) {
  return !config.pciAddresses.empty() || !config.interfaces.empty() ||
         !config.deviceIndices.empty() || !config.eniIds.empty() || !config.macs.empty() ||
         config.allExceptPrimary;
}

absl::StatusOr<BindPlan> planBinding(const common::HostRoot& root, const BindConfig& config,
                                     const std::string& driver, const NodeState& state,
                                     const PrimaryEniFacts& facts,
                                     const std::vector<PciDevice>& devices,
                                     const EniSelectionFacts& enis) {
  BindPlan plan;
  plan.driver = driver;
  std::vector<BindCandidate> explicit_candidates;
  for (const std::string& address : config.pciAddresses) {
    const PciDevice* device = findDevice(devices, address);
    if (device == nullptr) {
      return absl::NotFoundError(strCat("bind.pciAddresses: no PCI device ", address));
    }
    if (absl::Status ena = requireEna(*device, "pciAddresses"); !ena.ok()) return ena;
    explicit_candidates.push_back(candidateOf(root, *device, state));
  }
  for (const std::string& ifname : config.interfaces) {
    absl::StatusOr<BindCandidate> candidate = resolveInterface(root, ifname, state, devices);
    if (!candidate.ok()) return candidate.status();
    explicit_candidates.push_back(*std::move(candidate));
  }
  // The allow list: the devices named by what EC2 says about them.
  std::set<std::string> allowed;
  auto allow = [&](absl::StatusOr<BindCandidate> candidate) -> absl::Status {
    if (!candidate.ok()) return candidate.status();
    allowed.insert(candidate->device.address);
    explicit_candidates.push_back(*std::move(candidate));
    return absl::OkStatus();
  };
  for (const std::string& mac : config.macs) {
    if (absl::Status s = allow(resolveMac(root, mac, "macs", mac, state, devices)); !s.ok()) {
      return s;
    }
  }
  for (unsigned index : config.deviceIndices) {
    auto eni = std::find_if(enis.imds.begin(), enis.imds.end(),
                            [&](const auto& e) { return e.second.device_number == index; });
    if (eni == enis.imds.end()) {
      return absl::NotFoundError(strCat("bind.deviceIndices: no ENI is attached at device index ",
                                        index, " (the instance metadata lists ",
                                        listedEnis(enis.imds), ")"));
    }
    absl::Status s = allow(resolveMac(root, eni->first, "deviceIndices",
                                      strCat("device index ", index, " (", eni->second.eni_id, ")"),
                                      state, devices));
    if (!s.ok()) return s;
  }
  for (const std::string& id : config.eniIds) {
    auto eni = std::find_if(enis.imds.begin(), enis.imds.end(),
                            [&](const auto& e) { return e.second.eni_id == id; });
    if (eni == enis.imds.end()) {
      return absl::NotFoundError(strCat("bind.eniIds: ", id,
                                        " is not attached to this instance (the instance "
                                        "metadata lists ",
                                        listedEnis(enis.imds), ")"));
    }
    absl::Status s = allow(resolveMac(root, eni->first, "eniIds",
                                      strCat(id, " (device index ", eni->second.device_number, ")"),
                                      state, devices));
    if (!s.ok()) return s;
  }
  const bool allow_list = !allowed.empty() || enis.vpc_cni.installed();

  std::set<std::string> seen;
  auto accept = [&](BindCandidate candidate) {
    if (candidate.device.driver == driver) {
      plan.bound.push_back(std::move(candidate));
    } else {
      plan.bind.push_back(std::move(candidate));
    }
  };
  for (BindCandidate& candidate : explicit_candidates) {
    if (!seen.insert(candidate.device.address).second) continue;
    // A device already on the DPDK driver loses nothing by being left there.
    std::vector<std::string> reasons =
        candidate.device.driver == driver
            ? std::vector<std::string>{}
            : refusalReasons(candidate, facts, enis, allowed, allow_list, forced(config, candidate),
                             /*passing_over=*/false);
    if (!reasons.empty()) {
      plan.refused.push_back({.label = candidate.label(),
                              .reason = strCat("refusing to bind ", candidate.label(), ": ",
                                               absl::StrJoin(reasons, "; "))});
      continue;
    }
    accept(std::move(candidate));
  }
  if (config.allExceptPrimary && enis.vpc_cni.installed()) {
    plan.refused.push_back(
        {.label = "nodeprep.bind.allExceptPrimary",
         .reason = strCat("refusing bind.allExceptPrimary: the AWS VPC CNI is installed on this "
                          "node (",
                          absl::StrJoin(enis.vpc_cni.installed_by, ", "),
                          ") and every ENA but the primary includes the ENIs it attaches for "
                          "pods; name the DPDK ENIs in nodeprep.bind.deviceIndices, eniIds or "
                          "macs instead")});
  } else if (config.allExceptPrimary) {
    for (const PciDevice& device : devices) {
      if (!device.isEna() || seen.contains(device.address)) continue;
      BindCandidate candidate = candidateOf(root, device, state);
      std::vector<std::string> reasons = device.driver == driver
                                             ? std::vector<std::string>{}
                                             : refusalReasons(candidate, facts, enis, allowed,
                                                              allow_list, forced(config, candidate),
                                                              /*passing_over=*/true);
      if (!reasons.empty()) {
        plan.skipped.push_back(
            {.label = candidate.label(), .reason = strCat("none: ", absl::StrJoin(reasons, "; "))});
        continue;
      }
      if (device.isDpdkBound() && device.driver != driver) {
        plan.skipped.push_back(
            {.label = candidate.label(),
             .reason = strCat("none: already bound to ", device.driver, ", left alone")});
        continue;
      }
      accept(std::move(candidate));
    }
  }
  return plan;
}

void applyBinding(const BindPlan& plan, const Host& host, NodeState& state, Report& report) {
  for (const BindSkip& skip : plan.skipped)
    report.add("bind", skip.label, skip.reason, ActionStatus::Ok);
  for (const BindCandidate& candidate : plan.bound) {
    report.add("bind", candidate.label(), strCat("none: already bound to ", plan.driver),
               ActionStatus::Ok);
  }
  for (const BindCandidate& candidate : plan.bind) {
    const std::string& address = candidate.device.address;
    const std::string change = strCat(driverName(candidate.device.driver), " -> ", plan.driver);
    // What --undo puts back; the plan's read is the device as it was before this bind.
    const BoundDevice record{.driver = candidate.device.driver,
                             .driver_override = candidate.device.driver_override,
                             .bound_to = plan.driver};
    absl::Status status = bindDevice(candidate, plan.driver, host);
    if (status.ok()) {
      absl::StatusOr<PciDevice> after = common::readPciDevice(host.root, address);
      if (!after.ok()) {
        status = after.status();
      } else if (after->driver != plan.driver) {
        status = absl::InternalError(strCat(
            "bound to ", driverName(after->driver), " after drivers_probe, not ", plan.driver,
            plan.driver == common::kVfioPciDriver
                ? " (\"probe failed with error -22\" in dmesg means vfio needs no-IOMMU mode)"
                : ""));
      }
    }
    if (!status.ok()) {
      report.fail("bind", candidate.label(),
                  strCat(candidate.label(), ": ", change, " failed: ", toStd(status.message()),
                         rollBack(address, host)));
      return;
    }
    if (!candidate.ifname.empty()) state.interfaces[candidate.ifname] = address;
    if (!candidate.mac.empty()) state.macs[candidate.mac] = address;
    state.bound_devices[address] = record;
    report.add("bind", candidate.label(), change, ActionStatus::Changed);
  }
}

std::vector<std::string> deviceUsers(const common::HostRoot& root, const PciDevice& device) {
  std::vector<std::string> nodes;
  if (device.iommu_group) {
    nodes.push_back(strCat("/dev/vfio/", *device.iommu_group));
    nodes.push_back(strCat("/dev/vfio/noiommu-", *device.iommu_group));
  }
  std::error_code ec;
  for (std::filesystem::directory_iterator it(root.path(devicePath(device.address, "uio")), ec),
       end;
       !ec && it != end; it.increment(ec)) {
    nodes.push_back(strCat("/dev/", it->path().filename().string()));
  }
  std::vector<std::string> users;
  if (nodes.empty()) return users;
  for (std::filesystem::directory_iterator proc(root.path("/proc"), ec), end; !ec && proc != end;
       proc.increment(ec)) {
    const std::string pid = proc->path().filename().string();
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(), absl::ascii_isdigit)) continue;
    std::error_code fd_ec;
    for (std::filesystem::directory_iterator fd(proc->path() / "fd", fd_ec), fd_end;
         !fd_ec && fd != fd_end; fd.increment(fd_ec)) {
      std::error_code link_ec;
      const std::string target = std::filesystem::read_symlink(fd->path(), link_ec).string();
      if (link_ec || std::find(nodes.begin(), nodes.end(), target) == nodes.end()) continue;
      absl::StatusOr<std::string> comm = readHostFile(root, strCat("/proc/", pid, "/comm"));
      users.push_back(
          strCat(pid, comm.ok() ? strCat(" (", *comm, ")") : "", " has ", target, " open"));
      break;
    }
  }
  return users;
}

bool checkBoundDevicesIdle(const common::HostRoot& root, const NodeState& state, Report& report) {
  bool idle = true;
  for (const auto& [address, record] : state.bound_devices) {
    absl::StatusOr<PciDevice> device = common::readPciDevice(root, address);
    if (!device.ok() || device->driver != record.bound_to) continue;
    const std::vector<std::string> users = deviceUsers(root, *device);
    if (users.empty()) continue;
    idle = false;
    report.fail("bind", address,
                strCat("refusing to give ", address, " back to ", driverName(record.driver),
                       ": it is in use (", absl::StrJoin(users, "; "),
                       "); stop the DPDK application (the ena-dpdk dataplane) first"),
                ActionStatus::Refused);
  }
  return idle;
}

void undoBinding(const Host& host, bool dry_run, NodeState& state, Report& report) {
  // Devices an older nodeprep bound: it did not record what they had before.
  std::set<std::string> unrecorded;
  for (const auto& [ifname, address] : state.interfaces) unrecorded.insert(address);
  for (const auto& [mac, address] : state.macs) unrecorded.insert(address);
  for (const std::string& address : unrecorded) {
    if (state.bound_devices.contains(address)) continue;
    report.add("bind", address,
               "none: bound by a nodeprep that did not record the driver it had before; left as "
               "it is (give it back with driver_override, unbind and drivers_probe)",
               ActionStatus::Warning);
  }
  std::set<std::string> given_back;
  for (const auto& [address, record] : state.bound_devices) {
    absl::StatusOr<PciDevice> device = common::readPciDevice(host.root, address);
    if (!device.ok()) {
      report.add("bind", address, strCat("none: ", toStd(device.status().message())),
                 ActionStatus::Warning);
      given_back.insert(address);
      continue;
    }
    if (device->driver != record.bound_to) {
      report.add("bind", address,
                 strCat("none: on ", driverName(device->driver), ", not on the ", record.bound_to,
                        " nodeprep bound it to"),
                 ActionStatus::Ok);
      given_back.insert(address);
      continue;
    }
    const std::string change = strCat(record.bound_to, " -> ", driverName(record.driver));
    if (dry_run) {
      report.add("bind", address, change, ActionStatus::Planned);
      continue;
    }
    // As dpdk-devbind binds to a named driver: override, unbind, probe; then the override the
    // device had ("\n" clears it).
    absl::Status status = host.kernel.write(devicePath(address, "driver_override"),
                                            record.driver.empty() ? "\n" : record.driver);
    if (status.ok()) {
      status =
          host.kernel.write(strCat("/sys/bus/pci/drivers/", record.bound_to, "/unbind"), address);
    }
    if (status.ok() && !record.driver.empty()) status = host.kernel.write(kDriversProbe, address);
    if (status.ok()) {
      status = host.kernel.write(devicePath(address, "driver_override"),
                                 record.driver_override.empty() ? "\n" : record.driver_override);
    }
    if (status.ok()) {
      absl::StatusOr<PciDevice> after = common::readPciDevice(host.root, address);
      if (!after.ok()) {
        status = after.status();
      } else if (after->driver != record.driver) {
        status = absl::InternalError(
            strCat("on ", driverName(after->driver), " after drivers_probe, not ", record.driver));
      }
    }
    if (!status.ok()) {
      report.fail("bind", address,
                  strCat(address, ": ", change, " failed: ", toStd(status.message())));
      continue;
    }
    report.add("bind", address, change, ActionStatus::Changed);
    given_back.insert(address);
  }
  if (dry_run) return;
  for (const std::string& address : given_back) state.bound_devices.erase(address);
  for (const std::string& address : unrecorded) {
    if (state.bound_devices.contains(address)) continue;
    std::erase_if(state.interfaces, [&](const auto& entry) { return entry.second == address; });
    std::erase_if(state.macs, [&](const auto& entry) { return entry.second == address; });
  }
}

namespace {
// Reports a plan without carrying it out: its skipped and already-bound devices, and for each
// device to bind, `change(candidate)` with `status`.
template <typename Change>
void reportPlan(const BindPlan& plan, Report& report, Change change, ActionStatus status) {
  for (const BindSkip& skip : plan.skipped)
    report.add("bind", skip.label, skip.reason, ActionStatus::Ok);
  for (const BindCandidate& candidate : plan.bound) {
    report.add("bind", candidate.label(), strCat("none: already bound to ", plan.driver),
               ActionStatus::Ok);
  }
  for (const BindCandidate& candidate : plan.bind) {
    report.add("bind", candidate.label(), change(candidate), status);
  }
}
}  // namespace

void deferBinding(const BindPlan& plan, Report& report) {
  reportPlan(
      plan, report,
      [&](const BindCandidate& c) {
        return strCat("deferred: ", driverName(c.device.driver), " -> ", plan.driver,
                      " after the reboot that turns the IOMMU on");
      },
      ActionStatus::Warning);
}

void describeBinding(const BindPlan& plan, Report& report) {
  reportPlan(
      plan, report,
      [&](const BindCandidate& c) {
        return strCat(driverName(c.device.driver), " -> ", plan.driver);
      },
      ActionStatus::Planned);
}

}  // namespace enadpdk::nodeprep
