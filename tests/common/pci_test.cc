#include "common/pci.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/fake_host.h"

namespace enadpdk::testing {
namespace {

using common::dpdkDeviceNodes;
using common::isPciAddress;
using common::listPciDevices;
using common::normalizePciAddress;
using common::pciAddressOfNetdev;
using common::PciDevice;
using common::readPciDevice;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string message(const absl::Status& status) { return std::string(status.message()); }

TEST(PciAddressTest, NormalizesGoodAddresses) {
  struct Case {
    std::string input;
    std::string expected;
  };
  const Case cases[] = {
      {"0000:00:06.0", "0000:00:06.0"}, {"00:06.0", "0000:00:06.0"},
      {"0000:00:1F.7", "0000:00:1f.7"}, {"0000:AB:1f.0", "0000:ab:1f.0"},
      {"ff:00.1", "0000:ff:00.1"},      {"10000:00:00.0", "10000:00:00.0"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::string> normalized = normalizePciAddress(c.input);
    ASSERT_TRUE(normalized.ok()) << c.input << ": " << normalized.status();
    EXPECT_EQ(*normalized, c.expected) << c.input;
    EXPECT_TRUE(isPciAddress(*normalized)) << *normalized;
  }
}

TEST(PciAddressTest, RejectsBadAddresses) {
  const std::string bad[] = {"",
                             "0000:00:06",
                             "0000:00:06.8",
                             "0000:00:20.0",
                             "000:00:06.0",
                             "00:6.0",
                             "0000:0:06.0",
                             "0000:00:06.0 ",
                             " 00:06.0",
                             "0000-00-06.0",
                             "eth0",
                             "0000:00:06.00",
                             "g000:00:06.0",
                             "0:00:06.0",
                             "00000:00:06.0",
                             "0000:00:06:0"};
  for (const std::string& input : bad) {
    absl::StatusOr<std::string> normalized = normalizePciAddress(input);
    ASSERT_FALSE(normalized.ok()) << "accepted \"" << input << "\" as " << *normalized;
    EXPECT_EQ(normalized.status().code(), absl::StatusCode::kInvalidArgument) << input;
    EXPECT_THAT(message(normalized.status()),
                HasSubstr("invalid PCI address \"" + input + "\": expected"));
  }
}

TEST(PciAddressTest, CanonicalFormOnly) {
  EXPECT_TRUE(isPciAddress("0000:00:06.0"));
  EXPECT_FALSE(isPciAddress("00:06.0"));
  EXPECT_FALSE(isPciAddress("0000:00:0A.0"));
}

TEST(PciDeviceTest, IsEnaByVendorAndDevice) {
  struct Case {
    std::string vendor;
    std::string device;
    bool ena;
  };
  const Case cases[] = {{"1d0f", "ec20", true}, {"1d0f", "ec21", true},  {"1d0f", "0ec2", true},
                        {"1d0f", "1ec2", true}, {"1d0f", "8061", false}, {"8086", "ec20", false},
                        {"1af4", "1000", false}};
  for (const Case& c : cases) {
    EXPECT_EQ((PciDevice{.vendor = c.vendor, .device = c.device}.isEna()), c.ena)
        << c.vendor << ":" << c.device;
  }
}

TEST(PciDeviceTest, IsDpdkBoundByDriver) {
  for (const char* driver : {"vfio-pci", "igb_uio", "uio_pci_generic"}) {
    EXPECT_TRUE(PciDevice{.driver = driver}.isDpdkBound()) << driver;
  }
  for (const char* driver : {"", "ena", "virtio-pci", "vfio"}) {
    EXPECT_FALSE(PciDevice{.driver = driver}.isDpdkBound()) << driver;
  }
}

TEST(PciEnumerationTest, ReadsVfioDeviceWithIommuGroup) {
  FakeHost host;
  host.addPciDevice(
      {.address = "0000:00:06.0", .driver = "vfio-pci", .iommu_group = 3, .numa_node = 1});
  absl::StatusOr<PciDevice> device = readPciDevice(host.hostRoot(), "0000:00:06.0");
  ASSERT_TRUE(device.ok()) << device.status();
  EXPECT_EQ(*device, (PciDevice{.address = "0000:00:06.0",
                                .vendor = "1d0f",
                                .device = "ec20",
                                .class_code = "020000",
                                .driver = "vfio-pci",
                                .iommu_group = 3,
                                .noiommu = false,
                                .numa_node = 1}));
  EXPECT_TRUE(device->isEna());
  EXPECT_TRUE(device->isDpdkBound());
  absl::StatusOr<std::vector<std::string>> nodes = dpdkDeviceNodes(host.hostRoot(), *device);
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  EXPECT_THAT(*nodes, ElementsAre("/dev/vfio/vfio", "/dev/vfio/3"));
}

TEST(PciEnumerationTest, ReadsNoIommuGroup) {
  FakeHost host;
  host.addPciDevice(
      {.address = "0000:00:07.0", .driver = "vfio-pci", .iommu_group = 0, .noiommu = true});
  absl::StatusOr<PciDevice> device = readPciDevice(host.hostRoot(), "00:07.0");
  ASSERT_TRUE(device.ok()) << device.status();
  EXPECT_EQ(device->iommu_group, 0);
  EXPECT_TRUE(device->noiommu);
  absl::StatusOr<std::vector<std::string>> nodes = dpdkDeviceNodes(host.hostRoot(), *device);
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  EXPECT_THAT(*nodes, ElementsAre("/dev/vfio/vfio", "/dev/vfio/noiommu-0"));
}

TEST(PciEnumerationTest, ReadsUioBoundDevicesAndTheirNodes) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:06.0", .driver = "igb_uio"})
      .addPciDevice({.address = "0000:00:07.0", .driver = "uio_pci_generic"});
  absl::StatusOr<std::vector<PciDevice>> devices = listPciDevices(host.hostRoot());
  ASSERT_TRUE(devices.ok()) << devices.status();
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].driver, "igb_uio");
  EXPECT_EQ((*devices)[1].driver, "uio_pci_generic");
  EXPECT_EQ((*devices)[0].iommu_group, std::nullopt);
  absl::StatusOr<std::vector<std::string>> first = dpdkDeviceNodes(host.hostRoot(), (*devices)[0]);
  absl::StatusOr<std::vector<std::string>> second = dpdkDeviceNodes(host.hostRoot(), (*devices)[1]);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(*first, ElementsAre("/dev/uio0"));
  EXPECT_THAT(*second, ElementsAre("/dev/uio1"));
}

TEST(PciEnumerationTest, ReadsUnboundDevice) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:08.0"});
  absl::StatusOr<PciDevice> device = readPciDevice(host.hostRoot(), "0000:00:08.0");
  ASSERT_TRUE(device.ok()) << device.status();
  EXPECT_EQ(device->driver, "");
  EXPECT_EQ(device->driver_override, "");
  EXPECT_THAT(device->netdevs, IsEmpty());
  EXPECT_FALSE(device->isDpdkBound());
  absl::StatusOr<std::vector<std::string>> nodes = dpdkDeviceNodes(host.hostRoot(), *device);
  EXPECT_EQ(nodes.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(message(nodes.status()), HasSubstr("not bound to a DPDK driver (driver: none)"));
}

TEST(PciEnumerationTest, ReadsKernelBoundDeviceWithNetdev) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:05.0", .driver = "ena", .netdev = "eth0"})
      .addVirtualInterface("lo");
  absl::StatusOr<PciDevice> device = readPciDevice(host.hostRoot(), "0000:00:05.0");
  ASSERT_TRUE(device.ok()) << device.status();
  EXPECT_EQ(device->driver, "ena");
  EXPECT_THAT(device->netdevs, ElementsAre("eth0"));
  EXPECT_EQ(dpdkDeviceNodes(host.hostRoot(), *device).status().code(),
            absl::StatusCode::kFailedPrecondition);

  absl::StatusOr<std::string> address = pciAddressOfNetdev(host.hostRoot(), "eth0");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(*address, "0000:00:05.0");
}

TEST(PciEnumerationTest, NetdevLookupFailures) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:05.0", .driver = "ena", .netdev = "eth0"})
      .addVirtualInterface("lo");
  struct Case {
    std::string ifname;
    absl::StatusCode code;
    std::string message;
  };
  const Case cases[] = {
      {"eth9", absl::StatusCode::kNotFound, "network interface eth9 not found"},
      {"lo", absl::StatusCode::kNotFound, "network interface lo has no device"},
      {"", absl::StatusCode::kInvalidArgument, "invalid network interface name \"\""},
      {"../eth0", absl::StatusCode::kInvalidArgument, "invalid network interface name"},
      {"..", absl::StatusCode::kInvalidArgument, "invalid network interface name"},
      {"averyveryverylongname", absl::StatusCode::kInvalidArgument,
       "invalid network interface name"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::string> address = pciAddressOfNetdev(host.hostRoot(), c.ifname);
    EXPECT_EQ(address.status().code(), c.code) << c.ifname;
    EXPECT_THAT(message(address.status()), HasSubstr(c.message)) << c.ifname;
  }
}

TEST(PciEnumerationTest, NetdevGoesAwayWhenBoundToDpdk) {
  FakeHost host;
  host.addPciDevice(
      {.address = "0000:00:06.0", .driver = "ena", .iommu_group = 1, .netdev = "eth1"});
  host.setDriver("0000:00:06.0", "vfio-pci");
  absl::StatusOr<PciDevice> device = readPciDevice(host.hostRoot(), "0000:00:06.0");
  ASSERT_TRUE(device.ok()) << device.status();
  EXPECT_EQ(device->driver, "vfio-pci");
  EXPECT_THAT(device->netdevs, IsEmpty());
  EXPECT_EQ(pciAddressOfNetdev(host.hostRoot(), "eth1").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(PciEnumerationTest, NumaNode) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:05.0"})
      .addPciDevice({.address = "0000:00:06.0", .numa_node = 0})
      .addPciDevice({.address = "0000:00:07.0", .numa_node = 1})
      .addPciDevice({.address = "0000:00:08.0", .numa_node = 1})
      .removePath("/sys/bus/pci/devices/0000:00:08.0/numa_node");
  absl::StatusOr<std::vector<PciDevice>> devices = listPciDevices(host.hostRoot());
  ASSERT_TRUE(devices.ok()) << devices.status();
  ASSERT_EQ(devices->size(), 4u);
  EXPECT_EQ(host.readFile("/sys/bus/pci/devices/0000:00:05.0/numa_node"), "-1\n");
  EXPECT_EQ((*devices)[0].numa_node, std::nullopt);
  EXPECT_EQ((*devices)[1].numa_node, 0);
  EXPECT_EQ((*devices)[2].numa_node, 1);
  EXPECT_EQ((*devices)[3].numa_node, std::nullopt);
}

TEST(PciEnumerationTest, ReadsNonEnaDevice) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:03.0",
                     .vendor = "1af4",
                     .device = "1000",
                     .driver = "virtio-pci",
                     .netdev = "ens3"});
  absl::StatusOr<PciDevice> device = readPciDevice(host.hostRoot(), "0000:00:03.0");
  ASSERT_TRUE(device.ok()) << device.status();
  EXPECT_EQ(device->vendor, "1af4");
  EXPECT_EQ(device->device, "1000");
  EXPECT_FALSE(device->isEna());
  EXPECT_THAT(device->netdevs, ElementsAre("ens3"));
}

TEST(PciEnumerationTest, ListsSortedByAddress) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:1f.0"})
      .addPciDevice({.address = "0000:00:05.0"})
      .addPciDevice({.address = "0000:00:0a.0"});
  absl::StatusOr<std::vector<PciDevice>> devices = listPciDevices(host.hostRoot());
  ASSERT_TRUE(devices.ok()) << devices.status();
  std::vector<std::string> addresses;
  for (const PciDevice& device : *devices) addresses.push_back(device.address);
  EXPECT_THAT(addresses, ElementsAre("0000:00:05.0", "0000:00:0a.0", "0000:00:1f.0"));
}

TEST(PciEnumerationTest, EmptyBusListsNothing) {
  FakeHost host;
  absl::StatusOr<std::vector<PciDevice>> devices = listPciDevices(host.hostRoot());
  ASSERT_TRUE(devices.ok()) << devices.status();
  EXPECT_THAT(*devices, IsEmpty());
}

TEST(PciEnumerationTest, ReadsDriverOverride) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:06.0", .driver = "ena", .driver_override = "vfio-pci"});
  absl::StatusOr<PciDevice> device = readPciDevice(host.hostRoot(), "0000:00:06.0");
  ASSERT_TRUE(device.ok()) << device.status();
  EXPECT_EQ(device->driver_override, "vfio-pci");
}

TEST(PciEnumerationTest, UnknownAndMalformedAddresses) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:06.0"});
  absl::StatusOr<PciDevice> unknown = readPciDevice(host.hostRoot(), "0000:00:09.0");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(message(unknown.status()), HasSubstr("PCI device 0000:00:09.0 not found"));
  absl::StatusOr<PciDevice> malformed = readPciDevice(host.hostRoot(), "../../etc");
  EXPECT_EQ(malformed.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PciEnumerationTest, MissingPciBusNamesThePath) {
  FakeHost host;
  host.removePath("/sys/bus/pci");
  absl::StatusOr<std::vector<PciDevice>> devices = listPciDevices(host.hostRoot());
  EXPECT_EQ(devices.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(message(devices.status()),
              HasSubstr("cannot list PCI devices: " + host.path("/sys/bus/pci/devices").string() +
                        " does not exist"));
}

TEST(PciEnumerationTest, MalformedSysfsNamesTheFile) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:06.0"})
      .writeFile("/sys/bus/pci/devices/0000:00:06.0/numa_node", "zero\n");
  absl::StatusOr<std::vector<PciDevice>> devices = listPciDevices(host.hostRoot());
  EXPECT_EQ(devices.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(
      message(devices.status()),
      HasSubstr("malformed " + host.path("/sys/bus/pci/devices/0000:00:06.0/numa_node").string() +
                ": \"zero\""));

  host.writeFile("/sys/bus/pci/devices/0000:00:06.0/numa_node", "0\n")
      .writeFile("/sys/bus/pci/devices/0000:00:06.0/vendor", "0x1d0f0\n");
  EXPECT_THAT(message(readPciDevice(host.hostRoot(), "0000:00:06.0").status()),
              HasSubstr("vendor: \"0x1d0f0\""));
  host.removePath("/sys/bus/pci/devices/0000:00:06.0/vendor");
  EXPECT_THAT(message(readPciDevice(host.hostRoot(), "0000:00:06.0").status()),
              HasSubstr("0000:00:06.0/vendor"));
}

TEST(PciEnumerationTest, FollowsDriverChangesAndRemoval) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:06.0", .driver = "vfio-pci", .iommu_group = 2})
      .addPciDevice({.address = "0000:00:07.0", .driver = "vfio-pci", .iommu_group = 4});
  host.setDriver("0000:00:06.0", "").removePciDevice("0000:00:07.0");
  absl::StatusOr<std::vector<PciDevice>> devices = listPciDevices(host.hostRoot());
  ASSERT_TRUE(devices.ok()) << devices.status();
  ASSERT_EQ(devices->size(), 1u);
  EXPECT_EQ((*devices)[0].driver, "");
  EXPECT_EQ(readPciDevice(host.hostRoot(), "0000:00:07.0").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(PciEnumerationTest, VfioWithoutIommuGroupHasNoNodes) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:06.0", .driver = "vfio-pci"});
  absl::StatusOr<PciDevice> device = readPciDevice(host.hostRoot(), "0000:00:06.0");
  ASSERT_TRUE(device.ok()) << device.status();
  absl::StatusOr<std::vector<std::string>> nodes = dpdkDeviceNodes(host.hostRoot(), *device);
  EXPECT_EQ(nodes.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(message(nodes.status()), HasSubstr("bound to vfio-pci but has no IOMMU group"));
}

TEST(PciEnumerationTest, UioWithoutUioEntryHasNoNodes) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:06.0", .driver = "igb_uio"})
      .removePath("/sys/bus/pci/devices/0000:00:06.0/uio");
  absl::StatusOr<PciDevice> device = readPciDevice(host.hostRoot(), "0000:00:06.0");
  ASSERT_TRUE(device.ok()) << device.status();
  absl::StatusOr<std::vector<std::string>> nodes = dpdkDeviceNodes(host.hostRoot(), *device);
  EXPECT_EQ(nodes.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(message(nodes.status()), HasSubstr("bound to igb_uio but has no uio device"));
}

}  // namespace
}  // namespace enadpdk::testing
