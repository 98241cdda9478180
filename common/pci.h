#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/host_root.h"

namespace enadpdk::common {

// PCI devices as the kernel describes them in sysfs (/sys/bus/pci/devices/<address>/...), read
// under a HostRoot so that tests use a fake host. Every function here only reads the host; all are
// thread-safe. A device can disappear or change driver at any time (hot-unplug, rebinding), so a
// PciDevice is a snapshot.

// Amazon's PCI vendor ID.
inline constexpr char kEnaVendorId[] = "1d0f";
// The ENA virtual functions EC2 instances expose (without and with LLQ).
inline constexpr char kEnaVfDeviceId[] = "ec20";
inline constexpr char kEnaVfLlqDeviceId[] = "ec21";
// The kernel drivers through which DPDK drives a PCI device (node prep binds ENAs to one, the
// device plugin offers the ENAs bound to one).
inline constexpr char kVfioPciDriver[] = "vfio-pci";
inline constexpr char kIgbUioDriver[] = "igb_uio";
inline constexpr char kUioPciGenericDriver[] = "uio_pci_generic";

// True for kVfioPciDriver, kIgbUioDriver and kUioPciGenericDriver.
bool isDpdkDriver(std::string_view driver);

// True for a PCI address in the kernel's canonical form: lowercase hex
// "<domain>:<bus>:<device>.<function>" as in "0000:00:06.0" (domain of 4 or more digits, bus of 2,
// device 00-1f, function 0-7).
bool isPciAddress(std::string_view address);

// Returns the canonical form of a PCI address written as "0000:00:06.0" or "00:06.0" (domain 0
// assumed), in either case. InvalidArgument, naming the input and the expected form, otherwise.
absl::StatusOr<std::string> normalizePciAddress(std::string_view address);

// One PCI device as read from sysfs. Every member has an initializer so that designated
// initializers may leave any out (GCC's -Wmissing-field-initializers).
struct PciDevice {
  // Canonical PCI address ("0000:00:06.0").
  std::string address{};
  // Vendor ID: four lowercase hex digits, no "0x" ("1d0f" for Amazon).
  std::string vendor{};
  // Device ID: four lowercase hex digits, no "0x" ("ec20").
  std::string device{};
  // Class code: six lowercase hex digits, no "0x" ("020000" = Ethernet controller).
  std::string class_code{};
  // Name of the bound driver ("ena", "vfio-pci"); empty when no driver is bound.
  std::string driver{};
  // IOMMU group number; nullopt when the device has none.
  std::optional<int> iommu_group{};
  // True when the IOMMU group is a vfio no-IOMMU group (its name is "vfio-noiommu"): the device
  // node is then /dev/vfio/noiommu-<group>.
  bool noiommu = false;
  // NUMA node of the device; nullopt when sysfs says -1 or has no numa_node file.
  std::optional<int> numa_node{};
  // Kernel network interfaces of the device (from <device>/net/), sorted; empty unless a kernel
  // network driver is bound.
  std::vector<std::string> netdevs{};
  // Driver forced by driver_override; empty when unset ("(null)").
  std::string driver_override{};

  // True for an Amazon ENA: vendor 1d0f and device ec20, ec21, 0ec2 or 1ec2.
  bool isEna() const;
  // True when bound to a driver that hands the device to DPDK: vfio-pci, igb_uio or
  // uio_pci_generic.
  bool isDpdkBound() const;

  // Member-wise equality, e.g. to notice that a device changed between two reads.
  friend bool operator==(const PciDevice&, const PciDevice&) = default;
};

// Every PCI device under /sys/bus/pci/devices, sorted by address. Entries that are not PCI
// addresses are skipped, as are devices that vanish while being read. NotFound, naming the path,
// when /sys/bus/pci/devices does not exist; other read failures name the file.
absl::StatusOr<std::vector<PciDevice>> listPciDevices(const HostRoot& root);

// The device at `address` (any form normalizePciAddress accepts). InvalidArgument for a malformed
// address, NotFound for a device that does not exist.
absl::StatusOr<PciDevice> readPciDevice(const HostRoot& root, std::string_view address);

// The PCI address of kernel network interface `ifname`, from the /sys/class/net/<ifname>/device
// link. InvalidArgument for a name that cannot be an interface name; NotFound for an unknown
// interface or one without a PCI device (lo, veth, bridges...).
absl::StatusOr<std::string> pciAddressOfNetdev(const HostRoot& root, std::string_view ifname);

// The host device nodes (paths on the host, not under the root) a DPDK application needs to drive
// `device`: for vfio-pci "/dev/vfio/vfio" and "/dev/vfio/<group>" (or "/dev/vfio/noiommu-<group>"
// in no-IOMMU mode); for igb_uio and uio_pci_generic "/dev/uio<N>" from <device>/uio/uio<N>.
// FailedPrecondition when the device is not DPDK-bound or sysfs lacks its group or uio entry.
absl::StatusOr<std::vector<std::string>> dpdkDeviceNodes(const HostRoot& root,
                                                         const PciDevice& device);

}  // namespace enadpdk::common
