#include "nodeprep/binding.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/nodeprep/nodeprep_harness.h"

namespace enadpdk::testing {
namespace {

using nodeprep::BindCandidate;
using nodeprep::BindPlan;
using nodeprep::NodeState;
using nodeprep::PrimaryEniFacts;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

absl::StatusOr<BindPlan> plan(const FakeHost& host, const nodeprep::BindConfig& config,
                              const NodeState& state = {}) {
  absl::StatusOr<std::vector<common::PciDevice>> devices = common::listPciDevices(host.hostRoot());
  if (!devices.ok()) return devices.status();
  const PrimaryEniFacts facts{.default_route_interfaces = {"eth0"}, .first_ena = "0000:00:05.0"};
  return nodeprep::planBinding(host.hostRoot(), config, "vfio-pci", state, facts, *devices);
}

std::vector<std::string> addresses(const std::vector<BindCandidate>& candidates) {
  std::vector<std::string> out;
  for (const BindCandidate& c : candidates) out.push_back(c.device.address);
  return out;
}

TEST(BindingTest, SelectsByAddressAndInterfaceOnce) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:05.0", .driver = "ena", .netdev = "eth0"})
      .addPciDevice({.address = "0000:00:06.0", .driver = "ena", .netdev = "eth1"})
      .addPciDevice({.address = "0000:00:07.0", .driver = "vfio-pci"});
  absl::StatusOr<BindPlan> p =
      plan(host, {.pciAddresses = {"0000:00:06.0", "0000:00:07.0"}, .interfaces = {"eth1"}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(addresses(p->bind), ElementsAre("0000:00:06.0"));
  EXPECT_THAT(addresses(p->bound), ElementsAre("0000:00:07.0"));
  EXPECT_EQ(p->bind[0].label(), "0000:00:06.0 (eth1)");
  EXPECT_THAT(p->refused, IsEmpty());
}

TEST(BindingTest, RemembersInterfacesThatWentAwayWithTheirBinding) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:05.0", .driver = "ena", .netdev = "eth0"})
      .addPciDevice({.address = "0000:00:06.0", .driver = "vfio-pci"});
  const NodeState state{.interfaces = {{"eth1", "0000:00:06.0"}}};

  absl::StatusOr<BindPlan> p = plan(host, {.interfaces = {"eth1"}}, state);

  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->bound, ElementsAre(Field(&BindCandidate::ifname, "eth1")));
  // Without the memory, "eth1" means nothing any more.
  absl::StatusOr<BindPlan> forgotten = plan(host, {.interfaces = {"eth1"}});
  EXPECT_TRUE(absl::IsNotFound(forgotten.status()));
  EXPECT_THAT(std::string(forgotten.status().message()), HasSubstr("no interface eth1"));
}

TEST(BindingTest, APrimaryAlreadyOnTheDriverIsNotRefused) {
  FakeHost host;
  host.addPciDevice({.address = "0000:00:05.0", .driver = "vfio-pci"});
  absl::StatusOr<BindPlan> p = plan(host, {.pciAddresses = {"0000:00:05.0"}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->refused, IsEmpty());
  EXPECT_THAT(addresses(p->bound), ElementsAre("0000:00:05.0"));
}

TEST(BindingTest, SelectsDevices) {
  EXPECT_FALSE(nodeprep::selectsDevices({}));
  EXPECT_TRUE(nodeprep::selectsDevices({.interfaces = {"eth1"}}));
  EXPECT_TRUE(nodeprep::selectsDevices({.pciAddresses = {"0000:00:06.0"}}));
  EXPECT_TRUE(nodeprep::selectsDevices({.allExceptPrimary = true}));
}

}  // namespace
}  // namespace enadpdk::testing
