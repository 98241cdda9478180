#include "tests/support/fake_host.h"

#include <gmock/gmock.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <system_error>

#include "common/pci.h"

namespace enadpdk::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The target of the link at a host path, as written.
std::string linkTarget(const FakeHost& host, std::string_view host_path) {
  std::error_code ec;
  return fs::read_symlink(host.path(host_path), ec).string();
}

// The link at a host path resolved inside the fake root, as a host path.
std::string resolved(const FakeHost& host, std::string_view host_path) {
  std::error_code ec;
  return host.hostRoot().hostPath(fs::canonical(host.path(host_path), ec)).string();
}

TEST(FakeHostTest, RootIsATemporaryDirectoryRemovedAtTheEnd) {
  fs::path root;
  {
    FakeHost host;
    root = host.root();
    EXPECT_TRUE(fs::is_directory(root));
    EXPECT_EQ(host.hostRoot().root(), root);
    EXPECT_EQ(host.path("/sys/bus/pci"), root / "sys/bus/pci");
  }
  std::error_code ec;
  EXPECT_FALSE(fs::exists(root, ec));
}

TEST(FakeHostTest, NewHostHasAnEmptyPciBusAndProcFiles) {
  FakeHost host;
  for (const char* path : {"/sys/bus/pci/devices", "/sys/bus/pci/drivers",
                           "/sys/bus/pci/drivers_probe", "/sys/kernel/iommu_groups",
                           "/sys/class/net", "/proc/modules", "/proc/cpuinfo", "/proc/cmdline"}) {
    EXPECT_TRUE(host.exists(path)) << path;
  }
  EXPECT_FALSE(host.exists("/sys/module/vfio"));
  EXPECT_EQ(host.readFile("/proc/modules"), "");
  EXPECT_EQ(host.readFile("/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"), "0\n");
  EXPECT_EQ(host.readFile("/proc/mounts"),
            "sysfs /sys sysfs rw,relatime 0 0\nproc /proc proc rw,relatime 0 0\n");
}

TEST(FakeHostTest, PciDeviceLayoutMirrorsSysfs) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:06.0",
                     .driver = "vfio-pci",
                     .iommu_group = 3,
                     .noiommu = true,
                     .numa_node = 0});
  const std::string dev = "/sys/devices/pci0000:00/0000:00:06.0";
  EXPECT_EQ(host.readFile(dev + "/vendor"), "0x1d0f\n");
  EXPECT_EQ(host.readFile(dev + "/device"), "0xec20\n");
  EXPECT_EQ(host.readFile(dev + "/class"), "0x020000\n");
  EXPECT_EQ(host.readFile(dev + "/numa_node"), "0\n");
  EXPECT_EQ(host.readFile(dev + "/driver_override"), "(null)\n");
  EXPECT_EQ(linkTarget(host, "/sys/bus/pci/devices/0000:00:06.0"),
            "../../../devices/pci0000:00/0000:00:06.0");
  EXPECT_EQ(linkTarget(host, dev + "/driver"), "../../../bus/pci/drivers/vfio-pci");
  EXPECT_EQ(resolved(host, dev + "/driver"), "/sys/bus/pci/drivers/vfio-pci");
  EXPECT_EQ(resolved(host, dev + "/iommu_group"), "/sys/kernel/iommu_groups/3");
  EXPECT_EQ(resolved(host, "/sys/bus/pci/drivers/vfio-pci/0000:00:06.0"), dev);
  EXPECT_EQ(resolved(host, "/sys/kernel/iommu_groups/3/devices/0000:00:06.0"), dev);
  EXPECT_EQ(host.readFile("/sys/kernel/iommu_groups/3/name"), "vfio-noiommu\n");
  for (const char* file : {"bind", "unbind", "new_id"}) {
    EXPECT_TRUE(host.exists(std::string("/sys/bus/pci/drivers/vfio-pci/") + file)) << file;
  }
  // Binding to vfio-pci loaded vfio, switched it to no-IOMMU mode and created the nodes.
  EXPECT_EQ(host.readFile("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"), "Y\n");
  EXPECT_EQ(host.readFile("/proc/modules"),
            "vfio_pci 16384 0 - Live 0x0000000000000000\n"
            "vfio 16384 0 - Live 0x0000000000000000\n");
  EXPECT_TRUE(host.exists("/dev/vfio/vfio"));
  EXPECT_TRUE(host.exists("/dev/vfio/noiommu-3"));
  EXPECT_FALSE(host.exists("/dev/vfio/3"));
}

TEST(FakeHostTest, NetdevLayoutMirrorsSysfs) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:05.0", .driver = "ena", .netdev = "eth0"})
      .addVirtualInterface("lo");
  const std::string dev = "/sys/devices/pci0000:00/0000:00:05.0";
  EXPECT_EQ(linkTarget(host, "/sys/class/net/eth0"),
            "../../devices/pci0000:00/0000:00:05.0/net/eth0");
  EXPECT_EQ(linkTarget(host, "/sys/class/net/eth0/device"), "../../../0000:00:05.0");
  EXPECT_EQ(resolved(host, "/sys/class/net/eth0/device"), dev);
  EXPECT_EQ(host.readFile("/sys/class/net/eth0/address"), "02:00:00:00:05:00\n");
  EXPECT_EQ(host.readFile("/sys/class/net/eth0/ifindex"), "2\n");
  EXPECT_EQ(host.readFile("/sys/class/net/lo/ifindex"), "3\n");
  EXPECT_EQ(resolved(host, "/sys/class/net/lo"), "/sys/devices/virtual/net/lo");
  EXPECT_FALSE(host.exists("/sys/class/net/lo/device"));
  EXPECT_TRUE(host.exists("/sys/bus/pci/drivers/ena/bind"));
  EXPECT_FALSE(host.exists("/sys/module/vfio"));
}

TEST(FakeHostTest, UioLayoutMirrorsSysfs) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:06.0", .driver = "igb_uio"});
  const std::string dev = "/sys/devices/pci0000:00/0000:00:06.0";
  EXPECT_EQ(host.readFile(dev + "/uio/uio0/name"), "igb_uio\n");
  EXPECT_EQ(resolved(host, "/sys/class/uio/uio0"), dev + "/uio/uio0");
  EXPECT_TRUE(host.exists("/dev/uio0"));
  EXPECT_TRUE(host.exists("/sys/module/uio"));
}

TEST(FakeHostTest, SetDriverMovesLinksAndDependentEntries) {
  FakeHost host;
  host.addPciDevice(
      {.address = "0000:00:06.0", .driver = "ena", .iommu_group = 1, .netdev = "eth1"});
  const std::string dev = "/sys/devices/pci0000:00/0000:00:06.0";
  ASSERT_TRUE(host.exists("/sys/class/net/eth1"));

  host.setDriver("0000:00:06.0", "vfio-pci");
  EXPECT_EQ(resolved(host, dev + "/driver"), "/sys/bus/pci/drivers/vfio-pci");
  EXPECT_FALSE(host.exists("/sys/bus/pci/drivers/ena/0000:00:06.0"));
  EXPECT_TRUE(host.exists("/sys/bus/pci/drivers/vfio-pci/0000:00:06.0"));
  EXPECT_FALSE(host.exists("/sys/class/net/eth1"));
  EXPECT_FALSE(host.exists(dev + "/net"));
  EXPECT_TRUE(host.exists("/dev/vfio/1"));
  EXPECT_EQ(host.readFile("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"), "N\n");

  host.setDriver("0000:00:06.0", "");
  EXPECT_FALSE(host.exists(dev + "/driver"));
  EXPECT_FALSE(host.exists("/sys/bus/pci/drivers/vfio-pci/0000:00:06.0"));
  EXPECT_FALSE(host.exists("/dev/vfio/1"));

  host.setDriver("0000:00:06.0", "ena");
  EXPECT_EQ(resolved(host, "/sys/class/net/eth1/device"), dev);
}

TEST(FakeHostTest, UioNumbersAreReused) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:06.0", .driver = "igb_uio"})
      .addPciDevice({.address = "0000:00:07.0", .driver = "igb_uio"});
  EXPECT_TRUE(host.exists("/sys/devices/pci0000:00/0000:00:07.0/uio/uio1"));
  host.setDriver("0000:00:06.0", "");
  EXPECT_FALSE(host.exists("/dev/uio0"));
  host.addPciDevice({.address = "0000:00:08.0", .driver = "uio_pci_generic"});
  EXPECT_TRUE(host.exists("/sys/devices/pci0000:00/0000:00:08.0/uio/uio0"));
  EXPECT_TRUE(host.exists("/dev/uio0"));
}

TEST(FakeHostTest, RemovePciDeviceRemovesEveryReference) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:06.0", .driver = "vfio-pci", .iommu_group = 5})
      .addPciDevice({.address = "0000:00:05.0", .driver = "ena", .netdev = "eth0"});
  const std::string before = host.treeDigest();
  host.removePciDevice("0000:00:06.0").removePciDevice("0000:00:05.0");
  for (const char* path :
       {"/sys/devices/pci0000:00/0000:00:06.0", "/sys/bus/pci/devices/0000:00:06.0",
        "/sys/bus/pci/drivers/vfio-pci/0000:00:06.0", "/sys/kernel/iommu_groups/5", "/dev/vfio/5",
        "/sys/class/net/eth0", "/sys/bus/pci/drivers/ena/0000:00:05.0"}) {
    EXPECT_FALSE(host.exists(path)) << path;
  }
  absl::StatusOr<std::vector<common::PciDevice>> devices = common::listPciDevices(host.hostRoot());
  ASSERT_TRUE(devices.ok()) << devices.status();
  EXPECT_TRUE(devices->empty());
  EXPECT_NE(host.treeDigest(), before);
}

TEST(FakeHostTest, NumaNodesAndHugepageTotals) {
  FakeHost host;
  host.addNumaNode(0, {.nr_1g = 4, .free_1g = 3, .nr_2m = 8, .free_2m = 8})
      .addNumaNode(1, {.nr_1g = 2, .free_1g = 2, .cpulist = "2-3"});
  const std::string node0 = "/sys/devices/system/node/node0/hugepages/";
  EXPECT_EQ(host.readFile(node0 + "hugepages-1048576kB/nr_hugepages"), "4\n");
  EXPECT_EQ(host.readFile(node0 + "hugepages-1048576kB/free_hugepages"), "3\n");
  EXPECT_EQ(host.readFile(node0 + "hugepages-2048kB/nr_hugepages"), "8\n");
  EXPECT_EQ(host.readFile("/sys/devices/system/node/node1/cpulist"), "2-3\n");
  EXPECT_EQ(host.readFile("/sys/devices/system/node/online"), "0-1\n");
  const std::string totals = "/sys/kernel/mm/hugepages/";
  EXPECT_EQ(host.readFile(totals + "hugepages-1048576kB/nr_hugepages"), "6\n");
  EXPECT_EQ(host.readFile(totals + "hugepages-1048576kB/free_hugepages"), "5\n");
  EXPECT_EQ(host.readFile(totals + "hugepages-2048kB/free_hugepages"), "8\n");

  host.setHugepages(1, HugepageSize::Size1G, 6, 1);
  EXPECT_EQ(host.readFile("/sys/devices/system/node/node1/hugepages/hugepages-1048576kB/"
                          "nr_hugepages"),
            "6\n");
  EXPECT_EQ(host.readFile(totals + "hugepages-1048576kB/nr_hugepages"), "10\n");
  EXPECT_EQ(host.readFile(totals + "hugepages-1048576kB/free_hugepages"), "4\n");
}

TEST(FakeHostTest, CpuinfoHasAFlagsLinePerProcessor) {
  FakeHost host;
  host.setCpuFlags({"fpu", "pse", "pdpe1gb"}, 3);
  const std::string cpuinfo = host.readFile("/proc/cpuinfo");
  EXPECT_THAT(cpuinfo, StartsWith("processor\t: 0\n"));
  EXPECT_THAT(cpuinfo, HasSubstr("processor\t: 2\n"));
  size_t lines = 0;
  for (size_t pos = cpuinfo.find("flags\t\t: fpu pse pdpe1gb\n"); pos != std::string::npos;
       pos = cpuinfo.find("flags\t\t: fpu pse pdpe1gb\n", pos + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 3u);
}

TEST(FakeHostTest, RoutesUseTheKernelFormat) {
  FakeHost host;
  host.addDefaultRoute("eth0")
      .addRoute({.ifname = "eth0", .destination = "10.0.0.0/24"})
      .addRoute(
          {.ifname = "eth1", .destination = "0.0.0.0/0", .gateway = "10.0.1.1", .metric = 10001});
  const std::string table = host.readFile("/proc/net/route");
  std::vector<std::string> lines;
  for (size_t start = 0, end; (end = table.find('\n', start)) != std::string::npos;
       start = end + 1) {
    std::string line = table.substr(start, end - start);
    EXPECT_EQ(line.size(), 127u) << line;
    lines.push_back(line.substr(0, line.find_last_not_of(' ') + 1));
  }
  EXPECT_THAT(lines,
              ElementsAre("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\t"
                          "Window\tIRTT",
                          "eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0",
                          "eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
                          "eth1\t00000000\t0101000A\t0003\t0\t0\t10001\t00000000\t0\t0\t0"));
}

TEST(FakeHostTest, MountsCmdlineAndModules) {
  FakeHost host;
  host.addMount({.source = "hugetlbfs",
                 .target = "/dev/hugepages-1Gi",
                 .fstype = "hugetlbfs",
                 .options = "rw,relatime,pagesize=1024M"})
      .setKernelCmdline("ro hugepagesz=1G")
      .loadModule("vfio-pci");
  EXPECT_THAT(
      host.readFile("/proc/mounts"),
      HasSubstr("\nhugetlbfs /dev/hugepages-1Gi hugetlbfs rw,relatime,pagesize=1024M 0 0\n"));
  EXPECT_EQ(host.readFile("/proc/cmdline"), "ro hugepagesz=1G\n");
  EXPECT_EQ(host.readFile("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"), "N\n");
  EXPECT_TRUE(host.exists("/sys/module/vfio_pci"));
  EXPECT_TRUE(host.exists("/sys/bus/pci/drivers/vfio-pci/bind"));
  const std::string digest = host.treeDigest();
  host.loadModule("vfio_pci");
  EXPECT_EQ(host.treeDigest(), digest) << "loading a loaded module changed the host";
}

TEST(FakeHostTest, WriteReadRemove) {
  FakeHost host;
  host.writeFile("/etc/default/grub", "GRUB_CMDLINE_LINUX=\"\"\n");
  EXPECT_EQ(host.readFile("/etc/default/grub"), "GRUB_CMDLINE_LINUX=\"\"\n");
  EXPECT_TRUE(host.exists("/etc/default/grub"));
  host.removePath("/etc/default");
  EXPECT_FALSE(host.exists("/etc/default/grub"));
  EXPECT_NONFATAL_FAILURE(EXPECT_EQ(host.readFile("/etc/default/grub"), ""), "/etc/default/grub");
}

TEST(FakeHostTest, DigestChangesOnWritesOnly) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:06.0", .driver = "vfio-pci", .iommu_group = 0})
      .addNumaNode(0, {.nr_1g = 1, .free_1g = 1})
      .writeFile("/etc/default/grub", "A\n");
  const std::string digest = host.treeDigest();
  EXPECT_EQ(digest.size(), 16u);
  EXPECT_EQ(host.treeDigest(), digest);

  // Reading the host, as code under test does, changes nothing.
  ASSERT_TRUE(common::listPciDevices(host.hostRoot()).ok());
  host.readFile("/etc/default/grub");
  EXPECT_EQ(host.treeDigest(), digest);

  host.writeFile("/etc/default/grub", "B\n");  // same size, other content
  const std::string written = host.treeDigest();
  EXPECT_NE(written, digest);
  host.writeFile("/etc/default/grub", "A\n");
  EXPECT_EQ(host.treeDigest(), digest);

  host.setDriver("0000:00:06.0", "igb_uio");  // a re-link
  EXPECT_NE(host.treeDigest(), digest);
  host.setDriver("0000:00:06.0", "vfio-pci");
  const std::string relinked = host.treeDigest();  // igb_uio's driver directory stays behind

  std::error_code ec;
  fs::permissions(host.path("/etc/default/grub"), fs::perms::owner_exec, fs::perm_options::add, ec);
  ASSERT_FALSE(ec);
  const std::string chmodded = host.treeDigest();
  EXPECT_NE(chmodded, relinked);

  host.writeFile("/run/new-empty-file", "");
  EXPECT_NE(host.treeDigest(), chmodded);
}

}  // namespace
}  // namespace enadpdk::testing
