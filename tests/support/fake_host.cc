#include "tests/support/fake_host.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <system_error>

#include "absl/strings/numbers.h"
#include "common/atomic_file.h"
#include "common/fnv1a.h"

namespace enadpdk::testing {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kVfioPci = "vfio-pci";
constexpr std::string_view kNoiommuParameter =
    "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode";

// Modules whose dependencies or side effects the fake host models.
struct KnownModule {
  std::string_view name;
  std::string_view dependency;
  std::string_view pci_driver;
};
constexpr KnownModule kKnownModules[] = {
    {"vfio_pci", "vfio", "vfio-pci"},
    {"igb_uio", "uio", "igb_uio"},
    {"uio_pci_generic", "uio", "uio_pci_generic"},
    {"ena", "", "ena"},
};

bool isUioDriver(std::string_view driver) {
  return driver == "igb_uio" || driver == "uio_pci_generic";
}

void expectOk(const std::error_code& ec, std::string_view what, const fs::path& path) {
  if (ec) ADD_FAILURE() << "FakeHost: " << what << " " << path << ": " << ec.message();
}

// Replaces `path` atomically (temporary file + rename; no fsync, a test tree need not survive a
// crash) so that concurrent readers never see a partly written file.
void writeAtomically(const fs::path& path, std::string_view content) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  expectOk(ec, "create directory", path.parent_path());
  const fs::path tmp = path.parent_path() / ("." + path.filename().string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out.flush()) ADD_FAILURE() << "FakeHost: cannot write " << tmp;
  }
  fs::rename(tmp, path, ec);
  expectOk(ec, "rename into", path);
}

// "0.0.0.0/0" -> (destination, mask) as the kernel stores them (network byte order).
bool parseCidr(std::string_view cidr, uint32_t& address, uint32_t& mask) {
  size_t slash = cidr.find('/');
  if (slash == std::string_view::npos) return false;
  std::string ip(cidr.substr(0, slash));
  std::string_view prefix_text = cidr.substr(slash + 1);
  int prefix = -1;
  in_addr parsed{};
  if (!absl::SimpleAtoi(absl::string_view(prefix_text.data(), prefix_text.size()), &prefix) ||
      prefix < 0 || prefix > 32 || inet_pton(AF_INET, ip.c_str(), &parsed) != 1)
    return false;
  address = parsed.s_addr;
  mask = htonl(prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix));
  return true;
}

// "0-1,3" for nodes {0, 1, 3}, as sysfs writes node and CPU lists.
std::string rangeList(const std::vector<int>& sorted) {
  std::string out;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? fmt::format("{}", sorted[i]) : fmt::format("{}-{}", sorted[i], sorted[j]);
    i = j + 1;
  }
  return out;
}

std::string hugepagesDir(HugepageSize size) {
  return size == HugepageSize::Size1G ? "hugepages-1048576kB" : "hugepages-2048kB";
}

}  // namespace

FakeHost::FakeHost() {
  std::error_code ec;
  std::string tmpl = (fs::temp_directory_path(ec) / "ena-dpdk-fakehost-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "FakeHost: cannot create a temporary directory from " << tmpl;
  }
  root_ = tmpl;
  makeDir("/sys/bus/pci/devices");
  makeDir("/sys/bus/pci/drivers");
  writeFile("/sys/bus/pci/drivers_probe", "");
  makeDir("/sys/kernel/iommu_groups");
  makeDir("/sys/class/net");
  makeDir("/sys/devices/system/node");
  makeDir("/dev");
  writeFile("/proc/modules", "");
  writeHugepageTotals();
  writeRoutes();
  mounts_ = {{.source = "sysfs", .target = "/sys", .fstype = "sysfs"},
             {.source = "proc", .target = "/proc", .fstype = "proc"}};
  writeMounts();
  setKernelCmdline("BOOT_IMAGE=/boot/vmlinuz root=/dev/nvme0n1p1 ro console=ttyS0");
  setCpuFlags({});
}

FakeHost::~FakeHost() {
  std::error_code ec;
  fs::remove_all(root_, ec);
}

fs::path FakeHost::path(std::string_view host_path) const { return hostRoot().path(host_path); }

std::string FakeHost::deviceDir(std::string_view address) const {
  // Devices hang off their root bus ("pci0000:00"), three levels below /sys like on a real host.
  return fmt::format("/sys/devices/pci{}/{}", address.substr(0, 7), address);
}

FakeHost& FakeHost::addPciDevice(const FakePciDevice& spec) {
  if (devices_.contains(spec.address)) removePciDevice(spec.address);
  Device& device = devices_[spec.address];
  device.spec = spec;
  device.spec.driver.clear();
  device.ifindex = next_ifindex_++;
  const std::string dir = deviceDir(spec.address);
  writeFile(dir + "/vendor", "0x" + spec.vendor + "\n");
  writeFile(dir + "/device", "0x" + spec.device + "\n");
  writeFile(dir + "/class", "0x" + spec.class_code + "\n");
  writeFile(dir + "/numa_node", fmt::format("{}\n", spec.numa_node.value_or(-1)));
  writeFile(dir + "/driver_override",
            (spec.driver_override.empty() ? "(null)" : spec.driver_override) + "\n");
  makeLink("/sys/bus/pci/devices/" + spec.address, "../../.." + dir.substr(4));
  if (spec.iommu_group) {
    const std::string group = fmt::format("/sys/kernel/iommu_groups/{}", *spec.iommu_group);
    makeLink(dir + "/iommu_group", "../../.." + group.substr(4));
    makeLink(group + "/devices/" + spec.address, "../../../.." + dir.substr(4));
    if (spec.noiommu) writeFile(group + "/name", "vfio-noiommu\n");
  }
  return setDriver(spec.address, spec.driver);
}

FakeHost& FakeHost::removePciDevice(std::string_view address) {
  auto it = devices_.find(address);
  if (it == devices_.end()) {
    ADD_FAILURE() << "FakeHost: no PCI device " << address;
    return *this;
  }
  unbind(it->second);
  const std::optional<int> group = it->second.spec.iommu_group;
  removePath(deviceDir(address));
  removePath(fmt::format("/sys/bus/pci/devices/{}", address));
  if (group) removePath(fmt::format("/sys/kernel/iommu_groups/{}/devices/{}", *group, address));
  devices_.erase(it);
  if (group) {
    // The kernel drops an IOMMU group with its last device.
    const std::string group_dir = fmt::format("/sys/kernel/iommu_groups/{}", *group);
    bool in_use = std::any_of(devices_.begin(), devices_.end(), [&](const auto& entry) {
      return entry.second.spec.iommu_group == group;
    });
    if (!in_use) removePath(group_dir);
  }
  return *this;
}

FakeHost& FakeHost::setDriver(std::string_view address, std::string_view driver) {
  auto it = devices_.find(address);
  if (it == devices_.end()) {
    ADD_FAILURE() << "FakeHost: no PCI device " << address;
    return *this;
  }
  unbind(it->second);
  it->second.spec.driver = driver;
  bind(it->second);
  return *this;
}

void FakeHost::unbind(Device& device) {
  if (device.spec.driver.empty()) return;
  const std::string& address = device.spec.address;
  const std::string dir = deviceDir(address);
  removePath(dir + "/driver");
  removePath(fmt::format("/sys/bus/pci/drivers/{}/{}", device.spec.driver, address));
  if (!device.spec.netdev.empty()) removePath("/sys/class/net/" + device.spec.netdev);
  removePath(dir + "/net");
  if (device.uio) {
    removePath(fmt::format("/sys/class/uio/uio{}", *device.uio));
    removePath(fmt::format("/dev/uio{}", *device.uio));
    device.uio.reset();
  }
  removePath(dir + "/uio");
  const bool was_vfio = device.spec.driver == kVfioPci;
  device.spec.driver.clear();
  if (was_vfio && device.spec.iommu_group) syncVfioGroupNode(*device.spec.iommu_group);
}

void FakeHost::bind(Device& device) {
  const FakePciDevice& spec = device.spec;
  if (spec.driver.empty()) return;
  const std::string dir = deviceDir(spec.address);
  loadModule(spec.driver);
  makeDriverDir(spec.driver);
  makeLink(dir + "/driver", "../../../bus/pci/drivers/" + spec.driver);
  makeLink(fmt::format("/sys/bus/pci/drivers/{}/{}", spec.driver, spec.address),
           "../../../.." + dir.substr(4));
  if (spec.driver == kVfioPci) {
    if (spec.noiommu) writeFile(kNoiommuParameter, "Y\n");
    if (spec.iommu_group) syncVfioGroupNode(*spec.iommu_group);
  } else if (isUioDriver(spec.driver)) {
    int uio = 0;
    while (std::any_of(devices_.begin(), devices_.end(),
                       [&](const auto& entry) { return entry.second.uio == uio; })) {
      ++uio;
    }
    device.uio = uio;
    const std::string uio_dir = fmt::format("{}/uio/uio{}", dir, uio);
    writeFile(uio_dir + "/name", spec.driver + "\n");
    makeLink(fmt::format("/sys/class/uio/uio{}", uio), "../.." + uio_dir.substr(4));
    writeFile(fmt::format("/dev/uio{}", uio), "");
  } else if (!spec.netdev.empty()) {
    const std::string net_dir = dir + "/net/" + spec.netdev;
    const std::string mac = spec.mac.empty()
                                ? fmt::format("02:00:00:{}:{}:0{}", spec.address.substr(5, 2),
                                              spec.address.substr(8, 2), spec.address.substr(11, 1))
                                : spec.mac;
    writeFile(net_dir + "/address", mac + "\n");
    writeFile(net_dir + "/ifindex", fmt::format("{}\n", device.ifindex));
    writeFile(net_dir + "/operstate", "up\n");
    makeLink(net_dir + "/device", "../../../" + spec.address);
    makeLink("/sys/class/net/" + spec.netdev, "../.." + net_dir.substr(4));
  }
}

void FakeHost::syncVfioGroupNode(int group) {
  bool bound = false;
  bool noiommu = false;
  for (const auto& [address, device] : devices_) {
    if (device.spec.iommu_group != group) continue;
    noiommu = noiommu || device.spec.noiommu;
    bound = bound || device.spec.driver == kVfioPci;
  }
  const std::string node = fmt::format("/dev/vfio/{}{}", noiommu ? "noiommu-" : "", group);
  if (bound) {
    writeFile(node, "");
  } else {
    removePath(node);
  }
}

void FakeHost::makeDriverDir(std::string_view driver) {
  const std::string dir = fmt::format("/sys/bus/pci/drivers/{}", driver);
  if (exists(dir)) return;
  for (const char* file : {"bind", "unbind", "new_id", "remove_id"}) {
    writeFile(fmt::format("{}/{}", dir, file), "");
  }
}

FakeHost& FakeHost::loadModule(std::string_view name) {
  std::string module(name);
  std::replace(module.begin(), module.end(), '-', '_');
  if (std::find(modules_.begin(), modules_.end(), module) != modules_.end()) return *this;
  const auto known = std::find_if(std::begin(kKnownModules), std::end(kKnownModules),
                                  [&](const KnownModule& m) { return m.name == module; });
  if (known != std::end(kKnownModules) && !known->dependency.empty()) {
    loadModule(known->dependency);
  }
  modules_.push_back(module);
  writeProcModules();
  makeDir("/sys/module/" + module);
  if (module == "vfio") {
    writeFile(kNoiommuParameter, "N\n");
    writeFile("/dev/vfio/vfio", "");
  }
  if (known != std::end(kKnownModules)) makeDriverDir(known->pci_driver);
  return *this;
}

void FakeHost::writeProcModules() {
  std::string proc_modules;
  for (auto it = modules_.rbegin(); it != modules_.rend(); ++it) {
    // The kernel lists the most recently loaded module first.
    proc_modules += fmt::format("{} 16384 0 - Live 0x0000000000000000\n", *it);
  }
  writeFile("/proc/modules", proc_modules);
}

FakeHost& FakeHost::unloadModule(std::string_view name) {
  std::string module(name);
  std::replace(module.begin(), module.end(), '-', '_');
  auto loaded = std::find(modules_.begin(), modules_.end(), module);
  if (loaded == modules_.end()) {
    ADD_FAILURE() << "FakeHost: rmmod " << module << ": not loaded";
    return *this;
  }
  for (const KnownModule& m : kKnownModules) {
    if (m.dependency == module &&
        std::find(modules_.begin(), modules_.end(), m.name) != modules_.end()) {
      ADD_FAILURE() << "FakeHost: rmmod " << module << ": in use by " << m.name;
      return *this;
    }
  }
  const auto known = std::find_if(std::begin(kKnownModules), std::end(kKnownModules),
                                  [&](const KnownModule& m) { return m.name == module; });
  if (known != std::end(kKnownModules)) {
    for (const auto& [address, device] : devices_) {
      if (device.spec.driver == known->pci_driver) {
        ADD_FAILURE() << "FakeHost: rmmod " << module << ": " << address << " is bound to it";
        return *this;
      }
    }
    removePath(fmt::format("/sys/bus/pci/drivers/{}", known->pci_driver));
  }
  modules_.erase(loaded);
  writeProcModules();
  removePath("/sys/module/" + module);
  if (module == "vfio") {
    removePath("/dev/vfio/vfio");
    std::error_code ec;
    if (fs::is_empty(path("/dev/vfio"), ec)) removePath("/dev/vfio");
  }
  return *this;
}

FakeHost& FakeHost::addVirtualInterface(std::string_view name) {
  const std::string dir = fmt::format("/sys/devices/virtual/net/{}", name);
  writeFile(dir + "/address", "00:00:00:00:00:00\n");
  writeFile(dir + "/ifindex", fmt::format("{}\n", next_ifindex_++));
  writeFile(dir + "/operstate", "unknown\n");
  makeLink(fmt::format("/sys/class/net/{}", name), "../.." + dir.substr(4));
  return *this;
}

FakeHost& FakeHost::addNumaNode(int node, const FakeNumaNode& numa_node) {
  numa_nodes_[node] = numa_node;
  writeFile(fmt::format("/sys/devices/system/node/node{}/cpulist", node), numa_node.cpulist + "\n");
  std::vector<int> nodes;
  for (const auto& entry : numa_nodes_) nodes.push_back(entry.first);
  writeFile("/sys/devices/system/node/online", rangeList(nodes) + "\n");
  setHugepages(node, HugepageSize::Size1G, numa_node.nr_1g, numa_node.free_1g);
  return setHugepages(node, HugepageSize::Size2M, numa_node.nr_2m, numa_node.free_2m);
}

FakeHost& FakeHost::setHugepages(int node, HugepageSize size, int nr, int free) {
  auto it = numa_nodes_.find(node);
  if (it == numa_nodes_.end()) {
    ADD_FAILURE() << "FakeHost: no NUMA node " << node;
    return *this;
  }
  (size == HugepageSize::Size1G ? it->second.nr_1g : it->second.nr_2m) = nr;
  (size == HugepageSize::Size1G ? it->second.free_1g : it->second.free_2m) = free;
  const std::string dir =
      fmt::format("/sys/devices/system/node/node{}/hugepages/{}", node, hugepagesDir(size));
  writeFile(dir + "/nr_hugepages", fmt::format("{}\n", nr));
  writeFile(dir + "/free_hugepages", fmt::format("{}\n", free));
  writeHugepageTotals();
  return *this;
}

void FakeHost::writeHugepageTotals() {
  for (HugepageSize size : {HugepageSize::Size2M, HugepageSize::Size1G}) {
    int nr = 0;
    int free = 0;
    for (const auto& [node, numa] : numa_nodes_) {
      nr += size == HugepageSize::Size1G ? numa.nr_1g : numa.nr_2m;
      free += size == HugepageSize::Size1G ? numa.free_1g : numa.free_2m;
    }
    const std::string dir = "/sys/kernel/mm/hugepages/" + hugepagesDir(size);
    writeFile(dir + "/nr_hugepages", fmt::format("{}\n", nr));
    writeFile(dir + "/free_hugepages", fmt::format("{}\n", free));
  }
}

FakeHost& FakeHost::setCpuFlags(const std::vector<std::string>& flags, int processors) {
  std::string cpuinfo;
  for (int cpu = 0; cpu < processors; ++cpu) {
    cpuinfo += fmt::format(
        "processor\t: {}\nvendor_id\t: GenuineIntel\n"
        "model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz\nflags\t\t: {}\n\n",
        cpu, fmt::join(flags, " "));
  }
  return writeFile("/proc/cpuinfo", cpuinfo);
}

FakeHost& FakeHost::addRoute(const FakeRoute& route) {
  uint32_t destination = 0;
  uint32_t mask = 0;
  in_addr gateway{};
  if (!parseCidr(route.destination, destination, mask) ||
      (!route.gateway.empty() && inet_pton(AF_INET, route.gateway.c_str(), &gateway) != 1)) {
    ADD_FAILURE() << "FakeHost: bad route " << route.destination << " via " << route.gateway;
    return *this;
  }
  routes_.push_back(route);
  writeRoutes();
  return *this;
}

FakeHost& FakeHost::addDefaultRoute(std::string_view ifname, std::string_view gateway) {
  return addRoute({.ifname = std::string(ifname), .gateway = std::string(gateway)});
}

void FakeHost::writeRoutes() {
  // The kernel pads every line of /proc/net/route to 127 characters.
  std::string table = fmt::format(
      "{:<127}\n",
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT");
  for (const FakeRoute& route : routes_) {
    uint32_t destination = 0;
    uint32_t mask = 0;
    in_addr gateway{};
    parseCidr(route.destination, destination, mask);
    if (!route.gateway.empty()) inet_pton(AF_INET, route.gateway.c_str(), &gateway);
    const int flags = route.gateway.empty() ? 0x1 : 0x3;  // RTF_UP | RTF_GATEWAY
    table += fmt::format(
        "{:<127}\n",
        fmt::format("{}\t{:08X}\t{:08X}\t{:04X}\t0\t0\t{}\t{:08X}\t0\t0\t0", route.ifname,
                    destination, gateway.s_addr, flags, route.metric, mask));
  }
  writeFile("/proc/net/route", table);
}

FakeHost& FakeHost::addMount(const FakeMount& mount) {
  mounts_.push_back(mount);
  writeMounts();
  return *this;
}

FakeHost& FakeHost::removeMount(std::string_view target) {
  for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) {
    if (it->target == target) {
      mounts_.erase(std::next(it).base());
      writeMounts();
      return *this;
    }
  }
  ADD_FAILURE() << "FakeHost: umount " << target << ": not mounted";
  return *this;
}

void FakeHost::writeMounts() {
  std::string table;
  for (const FakeMount& m : mounts_) {
    table += fmt::format("{} {} {} {} 0 0\n", m.source, m.target, m.fstype, m.options);
  }
  writeFile("/proc/mounts", table);
}

FakeHost& FakeHost::setKernelCmdline(std::string_view cmdline) {
  return writeFile("/proc/cmdline", std::string(cmdline) + "\n");
}

FakeHost& FakeHost::writeFile(std::string_view host_path, std::string_view content) {
  writeAtomically(path(host_path), content);
  return *this;
}

FakeHost& FakeHost::removePath(std::string_view host_path) {
  std::error_code ec;
  fs::remove_all(path(host_path), ec);
  expectOk(ec, "remove", path(host_path));
  return *this;
}

std::string FakeHost::readFile(std::string_view host_path) const {
  absl::StatusOr<std::string> content = common::readFile(path(host_path));
  if (!content.ok()) {
    ADD_FAILURE() << "FakeHost: " << content.status();
    return "";
  }
  return *std::move(content);
}

bool FakeHost::exists(std::string_view host_path) const {
  std::error_code ec;
  return fs::exists(fs::symlink_status(path(host_path), ec));
}

void FakeHost::makeDir(std::string_view host_path) {
  std::error_code ec;
  fs::create_directories(path(host_path), ec);
  expectOk(ec, "create directory", path(host_path));
}

void FakeHost::makeLink(std::string_view host_path, const fs::path& target) {
  const fs::path link = path(host_path);
  std::error_code ec;
  fs::create_directories(link.parent_path(), ec);
  expectOk(ec, "create directory", link.parent_path());
  // Create aside and rename over, so that a reader never finds the link missing.
  const fs::path tmp = link.parent_path() / ("." + link.filename().string() + ".tmp");
  fs::create_symlink(target, tmp, ec);
  expectOk(ec, "create link", tmp);
  fs::rename(tmp, link, ec);
  expectOk(ec, "rename into", link);
}

std::string FakeHost::treeDigest() const {
  std::vector<std::string> entries;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& entry = it->path();
    std::error_code entry_ec;
    const fs::file_status status = fs::symlink_status(entry, entry_ec);
    std::string record =
        fmt::format("{}\n{}:{:o}\n", entry.lexically_relative(root_).string(),
                    static_cast<int>(status.type()), static_cast<unsigned>(status.permissions()));
    if (fs::is_symlink(status)) {
      record += fs::read_symlink(entry, entry_ec).string();
    } else if (fs::is_regular_file(status)) {
      std::ifstream in(entry, std::ios::binary);
      record.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    entries.push_back(std::move(record));
  }
  expectOk(ec, "walk", root_);
  std::sort(entries.begin(), entries.end());
  // FNV-1a: stable across runs, and a collision between two states of one test is out of reach.
  uint64_t hash = common::kFnv1a64Offset;
  for (const std::string& record : entries) {
    hash = common::fnv1a64(record, hash);
    hash = common::fnv1a64("\xff", hash);  // record separator
  }
  return fmt::format("{:016x}", hash);
}

}  // namespace enadpdk::testing
