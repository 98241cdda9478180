// Tests of the test helper: the emulation must behave like the kernel, or the nodeprep tests that
// rely on it prove nothing.
#include "tests/support/fake_kernel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/pci.h"

namespace enadpdk::testing {
namespace {

std::string driverOf(const FakeHost& host, std::string_view address) {
  absl::StatusOr<common::PciDevice> device = common::readPciDevice(host.hostRoot(), address);
  return device.ok() ? device->driver : "?";
}

TEST(FakeKernelTest, GrantsHugepagesUpToTheLimit) {
  FakeHost host;
  host.addNumaNode(0, {}).addNumaNode(1, {});
  FakeKernel kernel(host);
  kernel.limitHugepages(HugepageSize::Size1G, 3);
  const std::string total = "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages";

  ASSERT_TRUE(kernel.write(total, "4").ok());

  EXPECT_EQ(host.readFile(total), "3\n");
  EXPECT_EQ(host.readFile("/sys/devices/system/node/node0/hugepages/hugepages-1048576kB/"
                          "nr_hugepages"),
            "2\n");
  EXPECT_EQ(host.readFile("/sys/devices/system/node/node1/hugepages/hugepages-1048576kB/"
                          "nr_hugepages"),
            "1\n");
  // No limit on 2M.
  ASSERT_TRUE(kernel.write("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "64").ok());
  EXPECT_EQ(host.readFile("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"), "64\n");
}

TEST(FakeKernelTest, BindsThroughOverrideUnbindAndProbe) {
  FakeHost host;
  host.loadModule("vfio-pci")
      .addPciDevice(
          {.address = "0000:00:06.0", .driver = "ena", .iommu_group = 4, .netdev = "eth1"});
  FakeKernel kernel(host);

  ASSERT_TRUE(kernel.write("/sys/bus/pci/devices/0000:00:06.0/driver_override", "vfio-pci").ok());
  ASSERT_TRUE(kernel.write("/sys/bus/pci/drivers/ena/unbind", "0000:00:06.0").ok());
  EXPECT_EQ(driverOf(host, "0000:00:06.0"), "");
  EXPECT_FALSE(host.exists("/sys/class/net/eth1"));
  ASSERT_TRUE(kernel.write("/sys/bus/pci/drivers_probe", "0000:00:06.0").ok());
  EXPECT_EQ(driverOf(host, "0000:00:06.0"), "vfio-pci");
  EXPECT_TRUE(host.exists("/dev/vfio/4"));
}

TEST(FakeKernelTest, VfioProbeWithoutIommuNeedsNoIommuMode) {
  FakeHost host;
  host.loadModule("vfio-pci").addPciDevice({.address = "0000:00:06.0", .netdev = "eth1"});
  FakeKernel kernel(host);
  ASSERT_TRUE(kernel.write("/sys/bus/pci/devices/0000:00:06.0/driver_override", "vfio-pci").ok());

  ASSERT_TRUE(kernel.write("/sys/bus/pci/drivers_probe", "0000:00:06.0").ok());
  EXPECT_EQ(driverOf(host, "0000:00:06.0"), "");

  ASSERT_TRUE(kernel.write("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "1").ok());
  EXPECT_EQ(host.readFile("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"), "Y\n");
  ASSERT_TRUE(kernel.write("/sys/bus/pci/drivers_probe", "0000:00:06.0").ok());
  EXPECT_EQ(driverOf(host, "0000:00:06.0"), "vfio-pci");
}

TEST(FakeKernelTest, ProbeWithoutOverrideBindsTheNativeDriver) {
  FakeHost host;
  host.loadModule("ena").addPciDevice({.address = "0000:00:06.0", .netdev = "eth1"});
  FakeKernel kernel(host);
  ASSERT_TRUE(kernel.write("/sys/bus/pci/drivers_probe", "0000:00:06.0").ok());
  EXPECT_EQ(driverOf(host, "0000:00:06.0"), "ena");
  EXPECT_TRUE(host.exists("/sys/class/net/eth1"));
}

TEST(FakeKernelTest, MissingControlFileIsNotFound) {
  FakeHost host;
  FakeKernel kernel(host);
  EXPECT_TRUE(absl::IsNotFound(
      kernel.write("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "1")));
  EXPECT_FALSE(host.exists("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"));
}

TEST(FakeKernelTest, CommandsLoadModulesAndMount) {
  FakeHost host;
  FakeKernel kernel(host);
  kernel.commandRan({"modprobe", "vfio-pci"});
  EXPECT_TRUE(host.exists("/sys/bus/pci/drivers/vfio-pci"));
  EXPECT_EQ(host.readFile("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"), "N\n");
  kernel.commandRan({"mount", "-t", "hugetlbfs", "-o", "pagesize=1G", "nodev",
                     host.path("/dev/hugepages-1Gi").string()});
  EXPECT_THAT(
      host.readFile("/proc/mounts"),
      ::testing::HasSubstr("nodev /dev/hugepages-1Gi hugetlbfs rw,relatime,pagesize=1024M"));
}

}  // namespace
}  // namespace enadpdk::testing
