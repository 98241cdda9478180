#include "nodeprep/primary_eni.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/nodeprep/nodeprep_harness.h"

namespace enadpdk::testing {
namespace {

using nodeprep::defaultRouteInterfaces;
using nodeprep::PrimaryEniFacts;
using nodeprep::primaryReasons;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(PrimaryEniTest, FindsIpv4DefaultRoutesInTheKernelsFormat) {
  FakeHost host;
  host.addRoute({.ifname = "eth1", .destination = "10.0.1.0/24"})
      .addDefaultRoute("eth0", "10.0.0.1")
      .addRoute(
          {.ifname = "eth2", .destination = "0.0.0.0/0", .gateway = "10.0.2.1", .metric = 1024});
  EXPECT_THAT(defaultRouteInterfaces(host.readFile("/proc/net/route"), ""),
              ElementsAre("eth0", "eth2"));
}

TEST(PrimaryEniTest, FindsIpv6DefaultRoutesButNotRejectRoutes) {
  const std::string zero(32, '0');
  const std::string table = zero + " 00 " + zero +
                            " 00 fe800000000000000000000000000001 00000400 00000001 00000000 "
                            "00000003 eth3\n" +
                            zero + " 00 " + zero + " 00 " + zero +
                            " ffffffff 00000001 00000000 00200200 lo\n" +
                            "fd000000000000000000000000000000 40 " + zero + " 00 " + zero +
                            " 00000100 00000001 00000000 00000001 eth4\n";
  EXPECT_THAT(defaultRouteInterfaces("", table), ElementsAre("eth3"));
}

TEST(PrimaryEniTest, GathersFactsFromTheHost) {
  Harness h;
  buildAl2Node(h);
  h.addresses.addresses = {{"eth0", {"10.0.0.5"}}, {"eth1", {"10.0.0.6", "fd00::6"}}};
  absl::StatusOr<std::vector<common::PciDevice>> devices =
      common::listPciDevices(h.host.hostRoot());
  ASSERT_TRUE(devices.ok());

  absl::StatusOr<PrimaryEniFacts> facts =
      nodeprep::gatherPrimaryEniFacts(h.host.hostRoot(), *devices, "fd00:0::6", h.addresses);

  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_THAT(facts->default_route_interfaces, ElementsAre("eth0"));
  EXPECT_EQ(facts->node_address, "fd00::6");
  EXPECT_THAT(facts->node_address_interfaces, ElementsAre("eth1"));
  EXPECT_EQ(facts->first_ena, "0000:00:05.0");
}

TEST(PrimaryEniTest, ReasonsNameEveryCriterion) {
  const PrimaryEniFacts facts{.default_route_interfaces = {"ens5"},
                              .node_address = "10.0.0.5",
                              .node_address_interfaces = {"ens6"},
                              .first_ena = "0000:00:05.0"};
  EXPECT_THAT(primaryReasons(facts, "0000:00:05.0", "ens5"),
              ElementsAre("ens5 carries the default route",
                          "it is device index 0 (the lowest ENA PCI address)"));
  EXPECT_THAT(primaryReasons(facts, "0000:00:06.0", "ens6"),
              ElementsAre("ens6 holds the node address 10.0.0.5"));
  EXPECT_THAT(primaryReasons(facts, "0000:00:07.0", "eth0"), ElementsAre("it is eth0"));
  EXPECT_THAT(primaryReasons(facts, "0000:00:07.0", "ens7"), IsEmpty());
  EXPECT_THAT(primaryReasons(facts, "0000:00:07.0", ""), IsEmpty());
}

}  // namespace
}  // namespace enadpdk::testing
