#include "nodeprep/nodeprep.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "common/pci.h"
#include "nodeprep/kernel_args.h"
#include "nodeprep/node_state.h"
#include "tests/nodeprep/nodeprep_harness.h"

namespace enadpdk::testing {
namespace {

using nodeprep::Action;
using nodeprep::ActionStatus;
using nodeprep::exitStatus;
using nodeprep::Report;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using Argv = std::vector<std::string>;

constexpr char k1GFile[] = "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages";
constexpr char k2MFile[] = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";
constexpr char kNoiommu[] = "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode";
constexpr char kArgs4[] = "default_hugepagesz=1G hugepagesz=1G hugepages=4";

std::string driverOf(const Harness& h, std::string_view address) {
  absl::StatusOr<common::PciDevice> device = common::readPciDevice(h.host.hostRoot(), address);
  EXPECT_TRUE(device.ok()) << device.status();
  return device.ok() ? device->driver : "";
}

// The status of the run's last action before the state file's: a failed run still saves what it
// changed before the failure (the record --undo reverts), as the report's very last action.
ActionStatus lastStepStatus(const Report& report) {
  auto last = std::find_if(report.actions.rbegin(), report.actions.rend(),
                           [](const Action& a) { return a.step != "state"; });
  EXPECT_NE(last, report.actions.rend());
  return last == report.actions.rend() ? ActionStatus::Ok : last->status;
}

Argv mountArgv(const Harness& h, std::string_view size, std::string_view host_path) {
  return {"mount",
          "-t",
          "hugetlbfs",
          "-o",
          std::string("pagesize=") + std::string(size),
          "nodev",
          h.host.path(host_path).string()};
}

MATCHER(IsChangeless, "ok or warning") {
  return arg == ActionStatus::Ok || arg == ActionStatus::Warning;
}

TEST(NodeprepTest, PreparesAFreshAl2Node) {
  Harness h;
  buildAl2Node(h);
  const std::string grub_before = h.host.readFile("/etc/default/grub");
  const std::string cfg_before = h.host.readFile("/boot/grub2/grub.cfg");

  Report report = h.run(issueConfig());

  EXPECT_EQ(exitStatus(report), 0) << report.error;
  EXPECT_TRUE(report.ready);
  EXPECT_FALSE(report.rebootRequired);
  EXPECT_FALSE(report.kubeletRestartRequired);
  // Mounts (step 3) before the module (step 4); the grant was complete, so GRUB is left alone.
  EXPECT_THAT(h.commands.invocations(),
              ElementsAre(mountArgv(h, "1G", "/dev/hugepages-1Gi"),
                          mountArgv(h, "2M", "/dev/hugepages"), Argv{"modprobe", "vfio-pci"}));
  EXPECT_EQ(h.host.readFile(k1GFile), "4\n");
  EXPECT_EQ(h.host.readFile(kNoiommu), "Y\n");
  EXPECT_EQ(driverOf(h, "0000:00:06.0"), "vfio-pci");
  EXPECT_EQ(driverOf(h, "0000:00:05.0"), "ena");
  EXPECT_TRUE(h.host.exists("/sys/class/net/eth0"));
  EXPECT_EQ(h.host.readFile("/etc/default/grub"), grub_before);
  EXPECT_EQ(h.host.readFile("/boot/grub2/grub.cfg"), cfg_before);
  EXPECT_THAT(h.host.readFile("/proc/mounts"),
              AllOf(HasSubstr("nodev /dev/hugepages-1Gi hugetlbfs rw,relatime,pagesize=1024M"),
                    HasSubstr("nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M")));
  EXPECT_THAT(report.actions, Contains(Action{.step = "hugepages",
                                              .target = k1GFile,
                                              .change = "0 -> 4",
                                              .status = ActionStatus::Changed}));
  EXPECT_THAT(report.actions, Contains(Action{.step = "bind",
                                              .target = "0000:00:06.0 (eth1)",
                                              .change = "ena -> vfio-pci",
                                              .status = ActionStatus::Changed}));
  EXPECT_THAT(report.actions, Contains(Action{.step = "vfio",
                                              .target = kNoiommu,
                                              .change = "N -> Y (the host has no IOMMU)",
                                              .status = ActionStatus::Changed}));
  // Stock vfio-pci: write combining is reported, not fatal.
  EXPECT_THAT(report.actions, Contains(AllOf(Field(&Action::target, "write-combining"),
                                             Field(&Action::status, ActionStatus::Warning))));
  absl::StatusOr<nodeprep::NodeState> state =
      nodeprep::loadNodeState(h.host.hostRoot(), nodeprep::kDefaultStateFile);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->interfaces, (std::map<std::string, std::string>{{"eth1", "0000:00:06.0"}}));
}

TEST(NodeprepTest, SecondRunOnAPreparedNodeChangesNothing) {
  Harness h;
  buildAl2Node(h);
  ASSERT_EQ(exitStatus(h.run(issueConfig())), 0);
  const std::string digest = h.host.treeDigest();
  h.commands.clearLog();

  // eth1 is gone now (bound to vfio-pci); the state file still says which device it was.
  Report report = h.run(issueConfig());

  EXPECT_EQ(exitStatus(report), 0) << report.error;
  EXPECT_TRUE(report.ready);
  EXPECT_THAT(statuses(report), Each(IsChangeless())) << nodeprep::reportJson(report);
  EXPECT_FALSE(report.changedAnything());
  EXPECT_THAT(h.commands.invocations(), IsEmpty());
  EXPECT_EQ(h.host.treeDigest(), digest);
  EXPECT_THAT(report.actions, Contains(Action{.step = "bind",
                                              .target = "0000:00:06.0 (eth1)",
                                              .change = "none: already bound to vfio-pci",
                                              .status = ActionStatus::Ok}));
}

TEST(NodeprepTest, Al2NodeShortOf1GPagesGetsGrubArgumentsAndAsksForAReboot) {
  Harness h;
  buildAl2Node(h);
  h.kernel.limitHugepages(HugepageSize::Size1G, 2);

  Report report = h.run(issueConfig());

  EXPECT_EQ(exitStatus(report), 3) << report.error;
  EXPECT_TRUE(report.rebootRequired);
  EXPECT_FALSE(report.ready);
  EXPECT_EQ(h.host.readFile(k1GFile), "2\n");
  EXPECT_THAT(h.host.readFile("/etc/default/grub"),
              HasSubstr(std::string("\nGRUB_CMDLINE_LINUX=\"selinux=0 ") + kArgs4 + "\"\n"));
  // The rest of the file, including GRUB_CMDLINE_LINUX_DEFAULT, is as it was.
  EXPECT_THAT(h.host.readFile("/etc/default/grub"),
              HasSubstr("GRUB_CMDLINE_LINUX_DEFAULT=\"console=tty0 console=ttyS0,115200n8 "));
  EXPECT_THAT(h.host.readFile("/boot/grub2/grub.cfg"), HasSubstr(kArgs4));
  EXPECT_THAT(h.commands.invocations(),
              ElementsAre(Argv{"grub2-mkconfig", "-o", h.host.path("/boot/grub2/grub.cfg")},
                          mountArgv(h, "1G", "/dev/hugepages-1Gi"),
                          mountArgv(h, "2M", "/dev/hugepages"), Argv{"modprobe", "vfio-pci"}));
  EXPECT_THAT(report.actions, Contains(AllOf(Field(&Action::step, "hugepages"),
                                             Field(&Action::status, ActionStatus::Warning),
                                             Field(&Action::change, HasSubstr("0 -> 2")))));
  // The other steps still ran: the node is ready once rebooted.
  EXPECT_EQ(driverOf(h, "0000:00:06.0"), "vfio-pci");

  // Until the reboot, another run writes no GRUB files and still asks for the reboot.
  h.commands.clearLog();
  const std::string grub = h.host.readFile("/etc/default/grub");
  const std::string cfg = h.host.readFile("/boot/grub2/grub.cfg");
  Report again = h.run(issueConfig());
  EXPECT_EQ(exitStatus(again), 3);
  EXPECT_THAT(h.commands.invocations(), IsEmpty());
  EXPECT_EQ(h.host.readFile("/etc/default/grub"), grub);
  EXPECT_EQ(h.host.readFile("/boot/grub2/grub.cfg"), cfg);

  // After the reboot the kernel reserved the pages at boot.
  h.host
      .setKernelCmdline(std::string("BOOT_IMAGE=/boot/vmlinuz root=UUID=1 ro selinux=0 ") + kArgs4)
      .setHugepages(0, HugepageSize::Size1G, 4, 4);
  Report rebooted = h.run(issueConfig());
  EXPECT_EQ(exitStatus(rebooted), 0) << rebooted.error;
  EXPECT_TRUE(rebooted.ready);
}

TEST(NodeprepTest, RefusesToRebootAgainWhenTheBootReservationCameUpShort) {
  Harness h;
  buildAl2Node(h);
  h.host.setKernelCmdline(std::string("ro selinux=0 ") + kArgs4);
  h.host.writeFile("/etc/default/grub",
                   std::string("GRUB_CMDLINE_LINUX=\"selinux=0 ") + kArgs4 + "\"\n");
  h.host.writeFile("/boot/grub2/grub.cfg", std::string("linux16 /vmlinuz ro selinux=0 ") + kArgs4);
  h.kernel.limitHugepages(HugepageSize::Size1G, 3);

  Report report = h.run(issueConfig());

  EXPECT_EQ(exitStatus(report), 1);
  EXPECT_FALSE(report.rebootRequired);
  EXPECT_THAT(report.error, HasSubstr("a reboot will not help"));
}

TEST(NodeprepTest, Al2023NodeUsesGrubby) {
  Harness h;
  buildAl2023Node(h);
  nodeprep::NodeprepConfig config = issueConfig();
  config.hugepages.persist = nodeprep::PersistMode::Always;

  Report report = h.run(config);

  // The runtime grant was complete: the arguments are for the next boots, no reboot is needed.
  EXPECT_EQ(exitStatus(report), 0) << report.error;
  EXPECT_FALSE(report.rebootRequired);
  EXPECT_THAT(
      h.commands.invocations(),
      ElementsAre(Argv{"grubby", "--info=DEFAULT"},
                  Argv{"grubby", "--update-kernel=ALL", std::string("--args=") + kArgs4},
                  Argv{"grubby", "--info=DEFAULT"}, mountArgv(h, "1G", "/dev/hugepages-1Gi"),
                  mountArgv(h, "2M", "/dev/hugepages"), Argv{"modprobe", "vfio-pci"}));
  EXPECT_EQ(h.host.readFile("/boot/loader/entries/al2023.conf"),
            std::string("title Amazon Linux 2023\noptions root=UUID=1 ro console=tty0 "
                        "nvme_core.io_timeout=4294967295 ") +
                kArgs4 + "\n");
  EXPECT_FALSE(h.host.exists("/etc/default/grub"));

  // Second run: grubby is only asked.
  h.commands.clearLog();
  const std::string digest = h.host.treeDigest();
  Report again = h.run(config);
  EXPECT_EQ(exitStatus(again), 0);
  EXPECT_THAT(h.commands.invocations(), ElementsAre(Argv{"grubby", "--info=DEFAULT"}));
  EXPECT_EQ(h.host.treeDigest(), digest);
  EXPECT_FALSE(again.changedAnything()) << nodeprep::reportJson(again);
}

TEST(NodeprepTest, Al2023NodeShortOfPagesReplacesEarlierArgumentsAndAsksForAReboot) {
  Harness h;
  buildAl2023Node(h);
  h.host.writeFile("/boot/loader/entries/al2023.conf",
                   "title Amazon Linux 2023\noptions ro hugepagesz=2M hugepages=64 quiet\n");
  h.kernel.limitHugepages(HugepageSize::Size1G, 1);

  Report report = h.run(issueConfig());

  EXPECT_EQ(exitStatus(report), 3) << report.error;
  EXPECT_EQ(h.host.readFile("/boot/loader/entries/al2023.conf"),
            std::string("title Amazon Linux 2023\noptions ro quiet ") + kArgs4 + "\n");
}

TEST(NodeprepTest, KernelGrantingFewerPagesFailsWhenNoKernelArgumentCanHelp) {
  struct Case {
    std::string name;
    unsigned pages1G;
    unsigned pages2M;
    nodeprep::PersistMode persist;
    HugepageSize limited;
    int limit;
    std::string error;
  };
  const Case cases[] = {
      {"2M short", 0, 512, nodeprep::PersistMode::Auto, HugepageSize::Size2M, 100,
       "the kernel granted only 100 of 512 2M pages"},
      {"1G short, persist never", 4, 0, nodeprep::PersistMode::Never, HugepageSize::Size1G, 1,
       "hugepages.persist is \"never\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Harness h;
    buildAl2Node(h);
    h.kernel.limitHugepages(c.limited, c.limit);
    nodeprep::NodeprepConfig config = issueConfig();
    config.hugepages.pages1G = c.pages1G;
    config.hugepages.pages2M = c.pages2M;
    config.hugepages.persist = c.persist;

    Report report = h.run(config);

    EXPECT_EQ(exitStatus(report), 1);
    EXPECT_FALSE(report.ready);
    EXPECT_THAT(report.error, HasSubstr(c.error));
    EXPECT_EQ(lastStepStatus(report), ActionStatus::Failed);
    // The run stopped at the failure: nothing was mounted or bound.
    EXPECT_THAT(h.commands.invocations(), IsEmpty());
    EXPECT_EQ(driverOf(h, "0000:00:06.0"), "ena");
  }
}

TEST(NodeprepTest, FailingHostCommandsStopTheRunWithTheirStderr) {
  struct Case {
    std::string name;
    std::string command;
    std::string stderr_text;
    unsigned pages1G_limit;
    std::string error;
  };
  const Case cases[] = {
      {"modprobe", "modprobe", "modprobe: FATAL: Module vfio-pci not found", 4,
       "modprobe vfio-pci exited with status 1: modprobe: FATAL: Module vfio-pci not found"},
      {"mount", "mount", "mount: /dev/hugepages-1Gi: permission denied", 4,
       "exited with status 1: mount: /dev/hugepages-1Gi: permission denied"},
      {"grub2-mkconfig", "grub2-mkconfig", "grub2-mkconfig: cannot probe disk", 2,
       "exited with status 1: grub2-mkconfig: cannot probe disk; /etc/default/grub restored"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Harness h;
    buildAl2Node(h);
    h.kernel.limitHugepages(HugepageSize::Size1G, static_cast<int>(c.pages1G_limit));
    h.commands.add(c.command, "echo '" + c.stderr_text + "' >&2; exit 1");
    const std::string grub = h.host.readFile("/etc/default/grub");

    Report report = h.run(issueConfig());

    EXPECT_EQ(exitStatus(report), 1);
    EXPECT_THAT(report.error, HasSubstr(c.error));
    EXPECT_EQ(lastStepStatus(report), ActionStatus::Failed);
    EXPECT_EQ(h.host.readFile("/etc/default/grub"), grub);
    EXPECT_EQ(driverOf(h, "0000:00:06.0"), "ena");
  }
}

TEST(NodeprepTest, InstanceWithAnIommuKeepsNoIommuModeOff) {
  Harness h;
  buildAl2Node(h);
  h.host
      .addPciDevice(
          {.address = "0000:00:05.0", .driver = "ena", .iommu_group = 5, .netdev = "eth0"})
      .addPciDevice(
          {.address = "0000:00:06.0", .driver = "ena", .iommu_group = 6, .netdev = "eth1"});

  Report report = h.run(issueConfig());

  EXPECT_EQ(exitStatus(report), 0) << report.error;
  EXPECT_EQ(h.host.readFile(kNoiommu), "N\n");
  EXPECT_THAT(report.actions, Contains(Action{.step = "vfio",
                                              .target = kNoiommu,
                                              .change = "none: the host has an IOMMU",
                                              .status = ActionStatus::Ok}));
  EXPECT_EQ(driverOf(h, "0000:00:06.0"), "vfio-pci");
  EXPECT_TRUE(h.host.exists("/dev/vfio/6"));
}

TEST(NodeprepTest, RefusesToBindThePrimaryEniAndWritesNothing) {
  struct Case {
    std::string name;
    nodeprep::BindConfig bind;
    std::string default_route;  // interface with the default route
    std::string node_address;   // --node-address, held by eth1 (10.0.0.6)
    std::string reason;
  };
  const Case cases[] = {
      {"eth0 by name", {.interfaces = {"eth0"}}, "eth0", "", "eth0 carries the default route"},
      {"eth0 by address",
       {.pciAddresses = {"0000:00:05.0"}},
       "eth0",
       "",
       "it is device index 0 (the lowest ENA PCI address)"},
      {"default route on eth1",
       {.interfaces = {"eth1"}},
       "eth1",
       "",
       "eth1 carries the default route"},
      {"node address on eth1",
       {.interfaces = {"eth1"}},
       "eth0",
       "10.0.0.6",
       "eth1 holds the node address 10.0.0.6"},
      {"named twice, once forced elsewhere",
       {.interfaces = {"eth0", "eth1"}, .force = {"eth1"}},
       "eth0",
       "",
       "it is eth0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Harness h;
    h.host.setCpuFlags({"pse", "pdpe1gb"})
        .addNumaNode(0, {})
        .addPciDevice({.address = "0000:00:05.0", .driver = "ena", .netdev = "eth0"})
        .addPciDevice({.address = "0000:00:06.0", .driver = "ena", .netdev = "eth1"})
        .addDefaultRoute(c.default_route);
    h.addresses.addresses = {{"eth0", {"10.0.0.5"}}, {"eth1", {"10.0.0.6", "fe80::1"}}};
    nodeprep::NodeprepConfig config = issueConfig();
    config.bind = c.bind;
    const std::string digest = h.host.treeDigest();

    Report report = h.run(config, {.node_address = c.node_address});

    EXPECT_EQ(exitStatus(report), 1);
    EXPECT_THAT(report.error, AllOf(HasSubstr("refusing to bind"), HasSubstr(c.reason),
                                    HasSubstr("nodeprep.bind.force")));
    EXPECT_THAT(report.actions, Contains(Field(&Action::status, ActionStatus::Refused)));
    EXPECT_EQ(h.host.treeDigest(), digest);
    EXPECT_THAT(h.commands.invocations(), IsEmpty());
  }
}

TEST(NodeprepTest, ForceBindsADeviceThatLooksPrimary) {
  Harness h;
  buildAl2Node(h);
  nodeprep::NodeprepConfig config = issueConfig();
  config.bind = {.pciAddresses = {"0000:00:05.0"}, .force = {"0000:00:05.0"}};
  h.host.writeFile("/proc/net/route",
                   "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n");

  Report report = h.run(config);

  EXPECT_EQ(exitStatus(report), 0) << report.error;
  EXPECT_EQ(driverOf(h, "0000:00:05.0"), "vfio-pci");
}

TEST(NodeprepTest, AllExceptPrimaryBindsEverySecondaryEna) {
  Harness h;
  buildAl2Node(h);
  h.host.addPciDevice({.address = "0000:00:07.0", .driver = "ena", .netdev = "eth2"})
      .addPciDevice({.address = "0000:00:08.0", .driver = "igb_uio"})
      .addPciDevice({.address = "0000:00:03.0",
                     .vendor = "8086",
                     .device = "100e",
                     .driver = "e1000",
                     .netdev = "eth9"});
  nodeprep::NodeprepConfig config = issueConfig();
  config.bind = {.allExceptPrimary = true};

  Report report = h.run(config);

  EXPECT_EQ(exitStatus(report), 0) << report.error;
  EXPECT_EQ(driverOf(h, "0000:00:05.0"), "ena");
  EXPECT_EQ(driverOf(h, "0000:00:06.0"), "vfio-pci");
  EXPECT_EQ(driverOf(h, "0000:00:07.0"), "vfio-pci");
  EXPECT_EQ(driverOf(h, "0000:00:08.0"), "igb_uio");
  EXPECT_EQ(driverOf(h, "0000:00:03.0"), "e1000");
  EXPECT_THAT(actionsOf(report, "bind"),
              ElementsAre(Field(&Action::change, HasSubstr("none: primary ENI (eth0 carries the "
                                                           "default route")),
                          Field(&Action::change, "none: already bound to igb_uio, left alone"),
                          Field(&Action::change, "ena -> vfio-pci"),
                          Field(&Action::change, "ena -> vfio-pci")));
}

TEST(NodeprepTest, BadBindSelectionsFailBeforeAnythingIsWritten) {
  struct Case {
    std::string name;
    nodeprep::BindConfig bind;
    std::string error;
  };
  const Case cases[] = {
      {"unknown interface", {.interfaces = {"eth7"}}, "bind.interfaces: no interface eth7"},
      {"unknown device",
       {.pciAddresses = {"0000:00:1f.0"}},
       "bind.pciAddresses: no PCI device 0000:00:1f.0"},
      {"not an ENA",
       {.pciAddresses = {"0000:00:03.0"}},
       "0000:00:03.0 is not an ENA (vendor 8086, device 100e)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Harness h;
    buildAl2Node(h);
    h.host.addPciDevice({.address = "0000:00:03.0", .vendor = "8086", .device = "100e"});
    nodeprep::NodeprepConfig config = issueConfig();
    config.bind = c.bind;
    const std::string digest = h.host.treeDigest();

    Report report = h.run(config);

    EXPECT_EQ(exitStatus(report), 1);
    EXPECT_THAT(report.error, HasSubstr(c.error));
    EXPECT_EQ(h.host.treeDigest(), digest);
  }
}

TEST(NodeprepTest, FailedBindHandsTheDeviceBackToTheKernel) {
  Harness h;
  buildAl2Node(h);
  nodeprep::NodeprepConfig config = issueConfig();
  // Without an IOMMU and without no-IOMMU mode, vfio-pci cannot take the device.
  config.vfio.noiommu = nodeprep::NoIommuMode::Never;

  Report report = h.run(config);

  EXPECT_EQ(exitStatus(report), 1);
  EXPECT_THAT(report.error, AllOf(HasSubstr("0000:00:06.0 (eth1)"),
                                  HasSubstr("ena -> vfio-pci failed: bound to no driver"),
                                  HasSubstr("handed back to ena")));
  EXPECT_EQ(driverOf(h, "0000:00:06.0"), "ena");
  EXPECT_TRUE(h.host.exists("/sys/class/net/eth1"));
  EXPECT_EQ(h.host.readFile("/sys/bus/pci/devices/0000:00:06.0/driver_override"), "(null)\n");
}

TEST(NodeprepTest, DryRunWritesNothing) {
  Harness h;
  buildAl2Node(h);
  const std::string digest = h.host.treeDigest();

  Report report = h.run(issueConfig(), {.dry_run = true});

  EXPECT_EQ(exitStatus(report), 0) << report.error;
  EXPECT_FALSE(report.ready);
  EXPECT_EQ(h.host.treeDigest(), digest);
  EXPECT_THAT(h.commands.invocations(), IsEmpty());
  EXPECT_THAT(report.actions, Contains(Action{.step = "hugepages",
                                              .target = k1GFile,
                                              .change = "0 -> 4",
                                              .status = ActionStatus::Planned}));
  EXPECT_THAT(report.actions, Contains(Action{.step = "bind",
                                              .target = "0000:00:06.0 (eth1)",
                                              .change = "ena -> vfio-pci",
                                              .status = ActionStatus::Planned}));
  EXPECT_THAT(
      report.actions,
      Contains(Action{.step = "mounts",
                      .target = "/dev/hugepages-1Gi",
                      .change = "mount -t hugetlbfs -o pagesize=1G nodev /dev/hugepages-1Gi",
                      .status = ActionStatus::Planned}));
}

TEST(NodeprepTest, DryRunOnAPreparedNodeSaysReady) {
  Harness h;
  buildAl2023Node(h);
  nodeprep::NodeprepConfig config = issueConfig();
  config.hugepages.persist = nodeprep::PersistMode::Always;
  ASSERT_EQ(exitStatus(h.run(config)), 0);
  h.commands.clearLog();
  const std::string digest = h.host.treeDigest();

  Report report = h.run(config, {.dry_run = true});

  EXPECT_TRUE(report.ready) << nodeprep::reportJson(report);
  EXPECT_EQ(h.host.treeDigest(), digest);
  // Only the read-only query.
  EXPECT_THAT(h.commands.invocations(), ElementsAre(Argv{"grubby", "--info=DEFAULT"}));
}

TEST(NodeprepTest, NsenterRunsCommandsInTheHostNamespacesOnHostPaths) {
  Harness h;
  buildAl2Node(h);
  h.commands.addNsenter();
  nodeprep::NodeprepConfig config = issueConfig();
  config.hostExec = nodeprep::HostExec::Nsenter;

  Report report = h.run(config);

  EXPECT_EQ(exitStatus(report), 0) << report.error;
  const std::string proc = h.host.path("/proc/1/ns/").string();
  const Argv prefix = {"nsenter",
                       "--mount=" + proc + "mnt",
                       "--uts=" + proc + "uts",
                       "--ipc=" + proc + "ipc",
                       "--net=" + proc + "net",
                       "--"};
  auto wrapped = [&](const Argv& argv) {
    Argv line = prefix;
    line.insert(line.end(), argv.begin(), argv.end());
    return line;
  };
  const Argv mount1g = {"mount",       "-t",    "hugetlbfs",         "-o",
                        "pagesize=1G", "nodev", "/dev/hugepages-1Gi"};
  const Argv mount2m = {"mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "nodev", "/dev/hugepages"};
  const Argv modprobe = {"modprobe", "vfio-pci"};
  EXPECT_THAT(h.commands.invocations(), ElementsAre(wrapped(mount1g), mount1g, wrapped(mount2m),
                                                    mount2m, wrapped(modprobe), modprobe));
  // Mount points are still created through the host root.
  EXPECT_TRUE(h.host.exists("/dev/hugepages-1Gi"));
}

TEST(NodeprepTest, MountPointInTheWayFailsBeforeAnythingIsWritten) {
  struct Case {
    std::string name;
    FakeMount mount;
    std::string error;
  };
  const Case cases[] = {
      {"tmpfs",
       {.source = "tmpfs", .target = "/dev/hugepages", .fstype = "tmpfs"},
       "/dev/hugepages already has a tmpfs mount"},
      {"hugetlbfs of the other size",
       {.source = "hugetlbfs",
        .target = "/dev/hugepages-1Gi",
        .fstype = "hugetlbfs",
        .options = "rw,relatime,pagesize=2M"},
       "/dev/hugepages-1Gi is a hugetlbfs mount with options \"rw,relatime,pagesize=2M\", not "
       "pagesize=1G"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Harness h;
    buildAl2Node(h);
    h.host.addMount(c.mount);
    const std::string digest = h.host.treeDigest();

    Report report = h.run(issueConfig());

    EXPECT_EQ(exitStatus(report), 1);
    EXPECT_THAT(report.error, HasSubstr(c.error));
    EXPECT_EQ(h.host.treeDigest(), digest);
    EXPECT_THAT(h.commands.invocations(), IsEmpty());
  }
}

TEST(NodeprepTest, UnsupportedPageSizeFailsWithAClearReason) {
  Harness h;
  buildAl2Node(h);
  h.host.setCpuFlags({"fpu", "pse", "lm"});
  const std::string digest = h.host.treeDigest();

  Report report = h.run(issueConfig());

  EXPECT_EQ(exitStatus(report), 1);
  EXPECT_THAT(report.error,
              HasSubstr("1G hugepages are asked for but the CPU lacks the pdpe1gb flag"));
  EXPECT_EQ(h.host.treeDigest(), digest);
}

TEST(NodeprepTest, PerNumaNodeReservesOnEveryNodeAndPersistsTheTotal) {
  Harness h;
  buildAl2Node(h);
  h.host.addNumaNode(1, {.cpulist = "2-3"});
  h.kernel.limitHugepages(HugepageSize::Size1G, 3);
  nodeprep::NodeprepConfig config = issueConfig();
  config.hugepages.pages1G = 2;
  config.hugepages.perNumaNode = true;

  Report report = h.run(config);

  EXPECT_EQ(exitStatus(report), 3) << report.error;
  const std::string node = "/sys/devices/system/node/node";
  EXPECT_EQ(h.host.readFile(node + "0/hugepages/hugepages-1048576kB/nr_hugepages"), "2\n");
  EXPECT_EQ(h.host.readFile(node + "1/hugepages/hugepages-1048576kB/nr_hugepages"), "1\n");
  EXPECT_THAT(h.host.readFile("/etc/default/grub"), HasSubstr(kArgs4));
}

TEST(NodeprepTest, NeverLowersAReservation) {
  Harness h;
  buildAl2Node(h);
  h.host.setHugepages(0, HugepageSize::Size2M, 1024, 1000);
  nodeprep::NodeprepConfig config = issueConfig();
  config.hugepages.pages2M = 512;

  Report report = h.run(config);

  EXPECT_EQ(exitStatus(report), 0) << report.error;
  EXPECT_EQ(h.host.readFile(k2MFile), "1024\n");
}

class NodeprepKubeletTest : public ::testing::Test {
 protected:
  void SetUp() override {
    buildAl2Node(h_);
    h_.host.writeFile("/proc/sys/kernel/random/boot_id", "4f1d0c6e-0000-4000-8000-000000000001\n")
        .writeFile("/proc/uptime", "500.25 900.00\n");
  }
  // A kubelet process that started `seconds` after boot.
  void startKubelet(double seconds) {
    const long ticks = static_cast<long>(seconds * static_cast<double>(::sysconf(_SC_CLK_TCK)));
    h_.host.writeFile("/proc/4242/comm", "kubelet\n")
        .writeFile("/proc/4242/stat",
                   "4242 (kubelet) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 12 0 " +
                       std::to_string(ticks) + " 0 0\n");
  }
  Harness h_;
};

TEST_F(NodeprepKubeletTest, KubeletStartedBeforeTheReservationMustRestart) {
  startKubelet(10);

  Report report = h_.run(issueConfig());

  EXPECT_EQ(exitStatus(report), 0) << report.error;
  EXPECT_TRUE(report.kubeletRestartRequired);
  EXPECT_THAT(actionsOf(report, "kubelet"),
              ElementsAre(Field(&Action::status, ActionStatus::Warning)));
  // A later run in the same boot still knows, from the state file.
  Report again = h_.run(issueConfig());
  EXPECT_TRUE(again.kubeletRestartRequired);
  // Once the kubelet restarted, it sees the pages.
  startKubelet(600);
  Report restarted = h_.run(issueConfig());
  EXPECT_FALSE(restarted.kubeletRestartRequired);
  EXPECT_THAT(actionsOf(restarted, "kubelet"), IsEmpty());
}

TEST_F(NodeprepKubeletTest, NoKubeletOrPagesAlreadyThereNeedNoRestart) {
  Report report = h_.run(issueConfig());  // user data: the kubelet has not started yet
  EXPECT_FALSE(report.kubeletRestartRequired);
  startKubelet(700);  // it starts after nodeprep
  Report later = h_.run(issueConfig());
  EXPECT_FALSE(later.kubeletRestartRequired);
}

TEST_F(NodeprepKubeletTest, DryRunPredictsTheRestart) {
  startKubelet(10);
  Report report = h_.run(issueConfig(), {.dry_run = true});
  EXPECT_TRUE(report.kubeletRestartRequired);
}

}  // namespace
}  // namespace enadpdk::testing

// ---- IOMMU (docs/nodeprep.md, "IOMMU")

namespace enadpdk::testing {
namespace {

constexpr char kDmar[] = "/sys/firmware/acpi/tables/DMAR";
constexpr char kIvrs[] = "/sys/firmware/acpi/tables/IVRS";
constexpr char kIommuArgs[] = "intel_iommu=on iommu=1";
constexpr char kBootCmdline[] = "BOOT_IMAGE=/boot/vmlinuz-5.10 root=UUID=1 ro selinux=0";

// The report's vfio mode, or "<none>".
std::string vfioMode(const Report& report) { return report.vfio ? report.vfio->mode : "<none>"; }
std::string vfioReason(const Report& report) { return report.vfio ? report.vfio->reason : ""; }

// What the kernel shows once it has enabled the IOMMU: every ENA in an IOMMU group.
void giveDevicesIommuGroups(Harness& h) {
  h.host
      .addPciDevice(
          {.address = "0000:00:05.0", .driver = "ena", .iommu_group = 5, .netdev = "eth0"})
      .addPciDevice(
          {.address = "0000:00:06.0", .driver = "ena", .iommu_group = 6, .netdev = "eth1"});
}

TEST(NodeprepIommuTest, VirtualisedInstanceUsesNoIommuMode) {
  Harness h;
  buildAl2Node(h);
  h.host.setKernelCmdline(kBootCmdline);
  const std::string grub = h.host.readFile("/etc/default/grub");

  Report report = h.run(issueConfig());

  EXPECT_EQ(exitStatus(report), 0) << report.error;
  EXPECT_EQ(vfioMode(report), "noiommu");
  EXPECT_EQ(vfioReason(report), "the instance has no IOMMU (no ACPI DMAR or IVRS table)");
  EXPECT_EQ(h.host.readFile(kNoiommu), "Y\n");
  EXPECT_EQ(driverOf(h, "0000:00:06.0"), "vfio-pci");
  EXPECT_EQ(h.host.readFile("/etc/default/grub"), grub);
  EXPECT_THAT(nodeprep::reportJson(report),
              HasSubstr("\"vfio\": {\n    \"mode\": \"noiommu\",\n    \"reason\": \"the instance "
                        "has no IOMMU"));
}

TEST(NodeprepIommuTest, MetalIntelInstanceGetsTheIommuThroughGrubAndAReboot) {
  Harness h;
  buildAl2Node(h);
  h.host.setKernelCmdline(kBootCmdline).writeFile(kDmar, "DMAR");

  // Before the reboot: the arguments go on GRUB_CMDLINE_LINUX, binding waits.
  Report report = h.run(issueConfig());

  EXPECT_EQ(exitStatus(report), 3) << report.error;
  EXPECT_TRUE(report.rebootRequired);
  EXPECT_FALSE(report.ready);
  EXPECT_EQ(vfioMode(report), "pending-reboot");
  EXPECT_THAT(vfioReason(report), HasSubstr("Intel VT-d (ACPI DMAR table) is present"));
  EXPECT_THAT(h.host.readFile("/etc/default/grub"),
              HasSubstr(std::string("\nGRUB_CMDLINE_LINUX=\"selinux=0 ") + kIommuArgs + "\"\n"));
  EXPECT_THAT(h.host.readFile("/boot/grub2/grub.cfg"), HasSubstr(kIommuArgs));
  // Hugepages were granted, so grub2-mkconfig ran for the IOMMU only; no module, no no-IOMMU mode.
  EXPECT_THAT(
      h.commands.invocations(),
      ElementsAre(mountArgv(h, "1G", "/dev/hugepages-1Gi"), mountArgv(h, "2M", "/dev/hugepages"),
                  Argv{"grub2-mkconfig", "-o", h.host.path("/boot/grub2/grub.cfg")}));
  EXPECT_FALSE(h.host.exists(kNoiommu));
  EXPECT_EQ(driverOf(h, "0000:00:06.0"), "ena");
  EXPECT_THAT(
      report.actions,
      Contains(AllOf(Field(&Action::step, "bind"), Field(&Action::target, "0000:00:06.0 (eth1)"),
                     Field(&Action::change, HasSubstr("deferred: ena -> vfio-pci")),
                     Field(&Action::status, ActionStatus::Warning))));

  // Until the reboot, a run writes nothing and still asks for it.
  h.commands.clearLog();
  const std::string digest = h.host.treeDigest();
  Report again = h.run(issueConfig());
  EXPECT_EQ(exitStatus(again), 3) << again.error;
  EXPECT_EQ(vfioMode(again), "pending-reboot");
  EXPECT_THAT(h.commands.invocations(), IsEmpty());
  EXPECT_EQ(h.host.treeDigest(), digest);
  EXPECT_FALSE(again.changedAnything()) << nodeprep::reportJson(again);

  // After the reboot the kernel has IOMMU groups: vfio-pci with the IOMMU, no no-IOMMU mode.
  h.host.setKernelCmdline(std::string(kBootCmdline) + " " + kIommuArgs);
  giveDevicesIommuGroups(h);
  Report rebooted = h.run(issueConfig());
  EXPECT_EQ(exitStatus(rebooted), 0) << rebooted.error;
  EXPECT_TRUE(rebooted.ready);
  EXPECT_EQ(vfioMode(rebooted), "iommu");
  EXPECT_EQ(vfioReason(rebooted), "the kernel has an IOMMU enabled (/sys/kernel/iommu_groups/5)");
  EXPECT_EQ(driverOf(h, "0000:00:06.0"), "vfio-pci");
  EXPECT_TRUE(h.host.exists("/dev/vfio/6"));
  EXPECT_FALSE(h.host.exists("/dev/vfio/noiommu-6"));
  EXPECT_EQ(h.host.readFile(kNoiommu), "N\n");
  EXPECT_THAT(rebooted.actions, Contains(Action{.step = "vfio",
                                                .target = kNoiommu,
                                                .change = "none: the host has an IOMMU",
                                                .status = ActionStatus::Ok}));

  // And then a run changes nothing.
  h.commands.clearLog();
  const std::string prepared = h.host.treeDigest();
  Report settled = h.run(issueConfig());
  EXPECT_EQ(exitStatus(settled), 0) << settled.error;
  EXPECT_EQ(vfioMode(settled), "iommu");
  EXPECT_THAT(h.commands.invocations(), IsEmpty());
  EXPECT_EQ(h.host.treeDigest(), prepared);
  EXPECT_FALSE(settled.changedAnything()) << nodeprep::reportJson(settled);
}

TEST(NodeprepIommuTest, Al2023PutsHugepageAndIommuArgumentsThroughGrubby) {
  Harness h;
  buildAl2023Node(h);
  h.host.writeFile(kDmar, "DMAR");
  h.kernel.limitHugepages(HugepageSize::Size1G, 2);

  Report report = h.run(issueConfig());

  EXPECT_EQ(exitStatus(report), 3) << report.error;
  EXPECT_EQ(vfioMode(report), "pending-reboot");
  EXPECT_THAT(h.commands.invocations(),
              Contains(Argv{"grubby", "--update-kernel=ALL", std::string("--args=") + kIommuArgs}));
  EXPECT_EQ(h.host.readFile("/boot/loader/entries/al2023.conf"),
            std::string("title Amazon Linux 2023\noptions root=UUID=1 ro console=tty0 "
                        "nvme_core.io_timeout=4294967295 ") +
                kArgs4 + " " + kIommuArgs + "\n");
  EXPECT_EQ(driverOf(h, "0000:00:06.0"), "ena");
}

TEST(NodeprepIommuTest, AmdInstanceNeedsNoArgumentAndUsesTheIommuTheKernelEnabled) {
  Harness h;
  buildAl2Node(h);
  h.host.setKernelCmdline(kBootCmdline).writeFile(kIvrs, "IVRS");
  giveDevicesIommuGroups(h);
  const std::string grub = h.host.readFile("/etc/default/grub");

  Report report = h.run(issueConfig());

  EXPECT_EQ(exitStatus(report), 0) << report.error;
  EXPECT_EQ(vfioMode(report), "iommu");
  EXPECT_EQ(h.host.readFile(kNoiommu), "N\n");
  EXPECT_EQ(driverOf(h, "0000:00:06.0"), "vfio-pci");
  EXPECT_EQ(h.host.readFile("/etc/default/grub"), grub);
}

TEST(NodeprepIommuTest, AmdIommuTheKernelLeftOffIsNotOverridden) {
  Harness h;
  buildAl2Node(h);
  h.host.setKernelCmdline(std::string(kBootCmdline) + " amd_iommu=off").writeFile(kIvrs, "IVRS");
  const std::string grub = h.host.readFile("/etc/default/grub");
  const std::string cfg = h.host.readFile("/boot/grub2/grub.cfg");

  Report report = h.run(issueConfig());

  // No kernel argument, no reboot: no-IOMMU mode, and the report says why.
  EXPECT_EQ(exitStatus(report), 0) << report.error;
  EXPECT_EQ(vfioMode(report), "noiommu");
  EXPECT_THAT(vfioReason(report),
              AllOf(HasSubstr("AMD-Vi (ACPI IVRS table)"), HasSubstr("(amd_iommu=off)")));
  EXPECT_EQ(h.host.readFile("/etc/default/grub"), grub);
  EXPECT_EQ(h.host.readFile("/boot/grub2/grub.cfg"), cfg);
  EXPECT_EQ(h.host.readFile(kNoiommu), "Y\n");
  EXPECT_EQ(driverOf(h, "0000:00:06.0"), "vfio-pci");
}

TEST(NodeprepIommuTest, NoIommuKeyKeepsTodaysBehaviourOnMetal) {
  Harness h;
  buildAl2Node(h);
  h.host.setKernelCmdline(kBootCmdline).writeFile(kDmar, "DMAR");
  const std::string grub = h.host.readFile("/etc/default/grub");
  nodeprep::NodeprepConfig config = issueConfig();
  config.vfio.iommu = nodeprep::IommuMode::NoIommu;

  Report report = h.run(config);

  EXPECT_EQ(exitStatus(report), 0) << report.error;
  EXPECT_FALSE(report.rebootRequired);
  EXPECT_EQ(vfioMode(report), "noiommu");
  EXPECT_THAT(vfioReason(report), HasSubstr("vfio.iommu is \"noiommu\""));
  EXPECT_EQ(h.host.readFile("/etc/default/grub"), grub);
  EXPECT_EQ(h.host.readFile(kNoiommu), "Y\n");
  EXPECT_EQ(driverOf(h, "0000:00:06.0"), "vfio-pci");
}

TEST(NodeprepIommuTest, RequiredFailsBeforeAnythingIsWrittenWithoutAnIommu) {
  struct Case {
    std::string name;
    std::string table;  // ACPI table to create, or empty
    std::string reason;
  };
  const Case cases[] = {
      {"virtualised", "", "the instance has no IOMMU"},
      {"Intel, not enabled", kDmar, "boot with \"intel_iommu=on iommu=1\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Harness h;
    buildAl2Node(h);
    h.host.setKernelCmdline(kBootCmdline);
    if (!c.table.empty()) h.host.writeFile(c.table, "table");
    nodeprep::NodeprepConfig config = issueConfig();
    config.vfio.iommu = nodeprep::IommuMode::Required;
    const std::string digest = h.host.treeDigest();

    Report report = h.run(config);

    EXPECT_EQ(exitStatus(report), 1);
    EXPECT_THAT(report.error,
                AllOf(HasSubstr("vfio.iommu is \"required\" but the kernel has no IOMMU enabled"),
                      HasSubstr(c.reason)));
    EXPECT_EQ(h.host.treeDigest(), digest);
    EXPECT_THAT(h.commands.invocations(), IsEmpty());
  }
}

TEST(NodeprepIommuTest, RequiredUsesTheIommuTheKernelEnabled) {
  Harness h;
  buildAl2Node(h);
  h.host.writeFile(kDmar, "DMAR");
  giveDevicesIommuGroups(h);
  nodeprep::NodeprepConfig config = issueConfig();
  config.vfio.iommu = nodeprep::IommuMode::Required;

  Report report = h.run(config);

  EXPECT_EQ(exitStatus(report), 0) << report.error;
  EXPECT_EQ(vfioMode(report), "iommu");
  EXPECT_EQ(h.host.readFile(kNoiommu), "N\n");
  EXPECT_EQ(driverOf(h, "0000:00:06.0"), "vfio-pci");
}

TEST(NodeprepIommuTest, DryRunOnMetalPlansTheArgumentsAndWritesNothing) {
  Harness h;
  buildAl2Node(h);
  h.host.setKernelCmdline(kBootCmdline).writeFile(kDmar, "DMAR");
  const std::string digest = h.host.treeDigest();

  Report report = h.run(issueConfig(), {.dry_run = true});

  EXPECT_EQ(exitStatus(report), 0) << report.error;
  EXPECT_FALSE(report.ready);
  EXPECT_EQ(vfioMode(report), "pending-reboot");
  EXPECT_THAT(report.actions,
              Contains(Action{.step = "kernel-args",
                              .target = "/etc/default/grub",
                              .change = std::string("GRUB_CMDLINE_LINUX: add ") + kIommuArgs,
                              .status = ActionStatus::Planned}));
  EXPECT_THAT(report.actions, Contains(AllOf(Field(&Action::step, "bind"),
                                             Field(&Action::change, HasSubstr("deferred")))));
  EXPECT_EQ(h.host.treeDigest(), digest);
  EXPECT_THAT(h.commands.invocations(), IsEmpty());
}

}  // namespace
}  // namespace enadpdk::testing
