#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/host_root.h"

namespace enadpdk::testing {

// A PCI device for FakeHost::addPciDevice. Only `address` is required; the defaults describe an
// unbound ENA. (Members without another default are initialized with {} so that designated
// initializers may leave them out under -Wmissing-field-initializers.)
struct FakePciDevice {
  // Canonical PCI address ("0000:00:06.0").
  std::string address{};
  // Vendor ID, four hex digits without "0x".
  std::string vendor = "1d0f";
  // Device ID, four hex digits without "0x".
  std::string device = "ec20";
  // Class code, six hex digits without "0x".
  std::string class_code = "020000";
  // Bound driver; empty for none. Binding loads the driver's module (see FakeHost::loadModule).
  std::string driver{};
  // Content of driver_override; empty for unset ("(null)").
  std::string driver_override{};
  // IOMMU group; nullopt for none.
  std::optional<int> iommu_group{};
  // The IOMMU group is a vfio no-IOMMU group (its name file says "vfio-noiommu", its device node
  // is /dev/vfio/noiommu-<group>, and vfio's enable_unsafe_noiommu_mode reads "Y").
  bool noiommu = false;
  // NUMA node; nullopt writes "-1" as the kernel does on single-node hosts.
  std::optional<int> numa_node{};
  // The kernel interface the device has while a kernel network driver (any driver but vfio-pci,
  // igb_uio or uio_pci_generic) is bound; empty for none.
  std::string netdev{};
  // MAC address of the interface; derived from the PCI address when empty.
  std::string mac{};
};

// Hugepage counts and CPUs of one NUMA node for FakeHost::addNumaNode.
struct FakeNumaNode {
  // 1 GiB pages reserved.
  int nr_1g = 0;
  // 1 GiB pages free.
  int free_1g = 0;
  // 2 MiB pages reserved.
  int nr_2m = 0;
  // 2 MiB pages free.
  int free_2m = 0;
  // Content of the node's cpulist ("0-1").
  std::string cpulist = "0-1";
};

// The hugepage sizes the fake host supports.
enum class HugepageSize { Size2M, Size1G };

// A route for FakeHost::addRoute (IPv4, as /proc/net/route lists it).
struct FakeRoute {
  // Output interface.
  std::string ifname{};
  // Destination network in CIDR form; "0.0.0.0/0" is the default route.
  std::string destination = "0.0.0.0/0";
  // Gateway address; empty for a directly connected network.
  std::string gateway{};
  // Route metric.
  int metric = 0;
};

// A line of /proc/mounts for FakeHost::addMount.
struct FakeMount {
  // Mount source ("hugetlbfs").
  std::string source{};
  // Mount point on the host ("/dev/hugepages-1Gi").
  std::string target{};
  // File system type ("hugetlbfs").
  std::string fstype{};
  // Mount options ("rw,relatime,pagesize=1024M").
  std::string options = "rw,relatime";
};

// Builds a fake Linux host under a fresh temporary directory (removed by the destructor), laid out
// as the real kernel lays out sysfs and procfs, so that code reading the host through a
// common::HostRoot can be tested hermetically. The fluent methods describe the host:
//
//   FakeHost host;
//   host.addPciDevice({.address = "0000:00:06.0", .driver = "vfio-pci", .iommu_group = 3})
//       .addPciDevice({.address = "0000:00:05.0", .driver = "ena", .netdev = "eth0"})
//       .addNumaNode(0, {.nr_1g = 4, .free_1g = 4})
//       .addDefaultRoute("eth0");
//
// A new host has an empty PCI bus (/sys/bus/pci/{devices,drivers,drivers_probe}), no IOMMU groups,
// no network interfaces, no NUMA nodes, zero hugepages of both sizes, no loaded modules, sysfs and
// proc in /proc/mounts, a plain /proc/cmdline and a /proc/cpuinfo of two processors without flags.
// Files are replaced atomically, so code under test may read the tree from another thread while a
// test mutates it. Failures to write the tree are reported as GoogleTest failures. Not
// thread-safe: one thread drives a FakeHost.
class FakeHost {
 public:
  // Creates the temporary root and the skeleton described above.
  FakeHost();
  // Removes the temporary root and everything in it.
  ~FakeHost();
  FakeHost(const FakeHost&) = delete;
  FakeHost& operator=(const FakeHost&) = delete;

  // The HostRoot that maps host paths into this fake host.
  common::HostRoot hostRoot() const { return common::HostRoot(root_); }
  // The temporary directory that stands for "/".
  const std::filesystem::path& root() const { return root_; }
  // Where host path `host_path` ("/sys/...") lives under the root.
  std::filesystem::path path(std::string_view host_path) const;

  // Adds a PCI device: /sys/devices/pci0000:00/<bdf>/{vendor,device,class,numa_node,
  // driver_override}, the /sys/bus/pci/devices/<bdf> link, the IOMMU group
  // (/sys/kernel/iommu_groups/<N>/devices/<bdf>, <bdf>/iommu_group link, the name file for
  // no-IOMMU groups) and everything setDriver() creates for `device.driver`. Replaces a device
  // already at that address.
  FakeHost& addPciDevice(const FakePciDevice& device);
  // Removes a PCI device and every link and node that refers to it (hot-unplug).
  FakeHost& removePciDevice(std::string_view address);
  // Binds the device to `driver` as the kernel would, or unbinds it when `driver` is empty: moves
  // the <bdf>/driver and /sys/bus/pci/drivers/<driver>/<bdf> links (creating the driver's
  // directory with bind, unbind and new_id files and loading its module), and keeps what depends
  // on the driver in step: the kernel interface (<bdf>/net/<if>, /sys/class/net/<if>) exists under
  // a kernel network driver, <bdf>/uio/uio<N>, /sys/class/uio/uio<N> and /dev/uio<N> (lowest free
  // N) under igb_uio or uio_pci_generic, and /dev/vfio/<group> (or noiommu-<group>) while a device
  // of the group is bound to vfio-pci.
  FakeHost& setDriver(std::string_view address, std::string_view driver);

  // Adds a virtual network interface (no device link): /sys/class/net/<name> ->
  // /sys/devices/virtual/net/<name>.
  FakeHost& addVirtualInterface(std::string_view name);

  // Adds NUMA node `node`: /sys/devices/system/node/node<N>/{cpulist,hugepages/...}, and updates
  // /sys/devices/system/node/online and the hugepage totals in /sys/kernel/mm/hugepages.
  FakeHost& addNumaNode(int node, const FakeNumaNode& numa_node);
  // Sets the reserved (`nr`) and free hugepages of one size on an existing NUMA node and updates
  // the totals.
  FakeHost& setHugepages(int node, HugepageSize size, int nr, int free);

  // Writes /proc/cpuinfo with `processors` entries, each with a "flags" line listing `flags`.
  FakeHost& setCpuFlags(const std::vector<std::string>& flags, int processors = 2);
  // Adds a route to /proc/net/route, written in the kernel's format (hex, little-endian).
  FakeHost& addRoute(const FakeRoute& route);
  // Adds a default route via `gateway` on `ifname`.
  FakeHost& addDefaultRoute(std::string_view ifname, std::string_view gateway = "10.0.0.1");
  // Adds a line to /proc/mounts.
  FakeHost& addMount(const FakeMount& mount);
  // Removes the last /proc/mounts line mounted at `target` (a host path), as umount does; a test
  // failure when there is none.
  FakeHost& removeMount(std::string_view target);
  // Replaces /proc/cmdline (a newline is appended).
  FakeHost& setKernelCmdline(std::string_view cmdline);
  // Loads a kernel module ('-' and '_' are the same, as for modprobe) and its dependencies: a line
  // in /proc/modules and /sys/module/<name>/. vfio also gets
  // /sys/module/vfio/parameters/enable_unsafe_noiommu_mode ("N") and /dev/vfio/vfio; the modules
  // of vfio-pci, igb_uio, uio_pci_generic and ena create their PCI driver directory.
  FakeHost& loadModule(std::string_view name);
  // Unloads a loaded kernel module, as rmmod does: undoes what loadModule() created for it
  // (its /proc/modules line, /sys/module/<name>/, its PCI driver directory, vfio's
  // /dev/vfio/vfio and an empty /dev/vfio). Its dependencies stay loaded. A test failure when it
  // is not loaded, another loaded module depends on it, or a device is bound to its driver.
  FakeHost& unloadModule(std::string_view name);

  // Writes a file (creating its parent directories) at a host path.
  FakeHost& writeFile(std::string_view host_path, std::string_view content);
  // Removes a file, link or directory tree at a host path.
  FakeHost& removePath(std::string_view host_path);
  // Content of the file at a host path; a test failure and "" when it cannot be read.
  std::string readFile(std::string_view host_path) const;
  // True when something (a dangling link too) exists at a host path.
  bool exists(std::string_view host_path) const;

  // A digest of the whole tree: every entry's path, type, permissions and file content or link
  // target. Equal digests mean nothing was written, removed or re-linked in between.
  std::string treeDigest() const;

 private:
  struct Device {
    FakePciDevice spec;
    int ifindex = 0;
    std::optional<int> uio;
  };

  std::string deviceDir(std::string_view address) const;
  void makeDir(std::string_view host_path);
  void makeLink(std::string_view host_path, const std::filesystem::path& target);
  void makeDriverDir(std::string_view driver);
  void unbind(Device& device);
  void bind(Device& device);
  void syncVfioGroupNode(int group);
  void writeHugepageTotals();
  void writeRoutes();
  void writeMounts();
  void writeProcModules();

  std::filesystem::path root_;
  std::map<std::string, Device, std::less<>> devices_;
  std::map<int, FakeNumaNode> numa_nodes_;
  std::vector<std::string> modules_;  // loaded modules, in load order
  std::vector<FakeRoute> routes_;
  std::vector<FakeMount> mounts_;
  int next_ifindex_ = 2;
};

}  // namespace enadpdk::testing
