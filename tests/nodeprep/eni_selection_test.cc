// ENI selection beside the AWS VPC CNI (issue 16, part 1), on fake hosts: an EKS node whose VPC
// CNI is installed (its conflist or its ipamd checkpoint), manages a secondary ENI with a per-ENI
// policy routing table and rules, and whose instance metadata (a real HTTP fake, reached by the
// real client) lists the ENIs with their device indexes and IDs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <sstream>

#include "common/pci.h"
#include "nodeprep/binding.h"
#include "nodeprep/eni_metadata.h"
#include "nodeprep/node_state.h"
#include "nodeprep/routing_tables.h"
#include "nodeprep/vpc_cni.h"
#include "tests/nodeprep/nodeprep_harness.h"
#include "tests/support/fake_imds.h"

namespace enadpdk::testing {
namespace {

using nodeprep::Action;
using nodeprep::ActionStatus;
using nodeprep::exitStatus;
using nodeprep::Report;
using nodeprep::RoutingRule;
using nodeprep::TableRoute;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// The node: eth0 the primary ENI (device index 0), eth1 the DPDK ENI the bootstrap attached at
// device index 1 with the no_manage tag, eth2 an ENI the VPC CNI attached at device index 2 for
// pods (its table is device index + 1 = 3).
constexpr char kPrimaryPci[] = "0000:00:05.0";
constexpr char kDpdkPci[] = "0000:00:06.0";
constexpr char kVpcCniPci[] = "0000:00:07.0";
constexpr char kPrimaryMac[] = "0a:00:00:00:00:01";
constexpr char kDpdkMac[] = "0a:00:00:00:00:02";
constexpr char kVpcCniMac[] = "0a:00:00:00:00:03";
constexpr char kPrimaryEni[] = "eni-00000000000000001";
constexpr char kDpdkEni[] = "eni-0d0d0d0d0d0d0d0d0";
constexpr char kVpcCniEni[] = "eni-0c0c0c0c0c0c0c0c0";
constexpr char kConflist[] = "/etc/cni/net.d/10-aws.conflist";
constexpr char kIpamCheckpoint[] = "/var/run/aws-node/ipam.json";

std::string driverOf(const Harness& h, std::string_view address) {
  absl::StatusOr<common::PciDevice> device = common::readPciDevice(h.host.hostRoot(), address);
  EXPECT_TRUE(device.ok()) << device.status();
  return device.ok() ? device->driver : "";
}

class EniSelectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    buildAl2Node(h_);
    // buildAl2Node() gave eth0 and eth1 derived MACs; give them EC2's.
    h_.host
        .addPciDevice(
            {.address = kPrimaryPci, .driver = "ena", .netdev = "eth0", .mac = kPrimaryMac})
        .addPciDevice({.address = kDpdkPci, .driver = "ena", .netdev = "eth1", .mac = kDpdkMac})
        .addPciDevice(
            {.address = kVpcCniPci, .driver = "ena", .netdev = "eth2", .mac = kVpcCniMac});
    absl::StatusOr<std::unique_ptr<FakeImds>> imds = FakeImds::start();
    ASSERT_TRUE(imds.ok()) << imds.status();
    imds_ = *std::move(imds);
    addEni(kPrimaryMac, 0, kPrimaryEni);
    addEni(kDpdkMac, 1, kDpdkEni);
    addEni(kVpcCniMac, 2, kVpcCniEni);
  }

  void addEni(const std::string& mac, unsigned index, const std::string& id) {
    imds_->addEni({.mac = mac,
                   .deviceNumber = index,
                   .localIpv4s = {"10.0.0.10"},
                   .subnetIpv4Cidr = "10.0.0.0/24"});
    imds_->set("network/interfaces/macs/" + mac + "/interface-id", id);
  }

  // What aws-node leaves on a node: its conflist and checkpoint, and for eth2 the table
  // "device number + 1" with the ENI's routes and one rule per pod IP on it.
  void installVpcCni() {
    h_.host.writeFile(kConflist, R"({"cniVersion": "0.4.0", "name": "aws-cni", "plugins": [)"
                                 R"({"type": "aws-cni"}, {"type": "egress-cni"}]})");
    h_.host.writeFile(kIpamCheckpoint, R"({"version": "vpc-cni-ipam/1", "allocations": []})");
    h_.routing.route_list = {
        {.table = nodeprep::kMainTable, .destination = "0.0.0.0/0", .devices = {"eth0"}},
        {.table = nodeprep::kMainTable, .destination = "10.0.0.0/24", .devices = {"eth0"}},
        {.table = 3, .destination = "0.0.0.0/0", .devices = {"eth2"}},
        {.table = 3, .destination = "10.0.0.1/32", .devices = {"eth2"}},
    };
    h_.routing.rule_list = {
        {.priority = 0, .table = nodeprep::kLocalTable},
        {.priority = 512, .table = nodeprep::kMainTable, .destination = "10.0.0.51/32"},
        {.priority = 1536, .table = 3, .source = "10.0.0.51/32"},
        {.priority = 1536, .table = 3, .source = "10.0.0.52/32"},
        {.priority = 32766, .table = nodeprep::kMainTable},
    };
  }

  nodeprep::NodeprepConfig config(nodeprep::BindConfig bind) const {
    nodeprep::NodeprepConfig c = issueConfig();
    c.bind = std::move(bind);
    c.imds = {.endpoint = imds_->endpoint(), .timeoutMs = 2000};
    return c;
  }

  // Runs nodeprep with `bind` and expects a refusal that changed nothing on the host; returns the
  // refused actions.
  std::vector<Action> expectRefused(const nodeprep::BindConfig& bind, bool dry_run = false) {
    const std::string before = h_.host.treeDigest();
    Report report = h_.run(config(bind), {.dry_run = dry_run});
    EXPECT_EQ(exitStatus(report), 1);
    EXPECT_TRUE(report.failed());
    EXPECT_FALSE(report.ready);
    EXPECT_EQ(h_.host.treeDigest(), before) << "a refused run wrote to the host";
    EXPECT_THAT(h_.commands.invocations(), IsEmpty());
    EXPECT_EQ(driverOf(h_, kPrimaryPci), "ena");
    EXPECT_EQ(driverOf(h_, kDpdkPci), "ena");
    EXPECT_EQ(driverOf(h_, kVpcCniPci), "ena");
    std::vector<Action> refused;
    for (const Action& a : report.actions) {
      if (a.status == ActionStatus::Refused) refused.push_back(a);
    }
    EXPECT_THAT(refused, Not(IsEmpty()));
    return refused;
  }

  // Runs nodeprep with `bind` and expects the DPDK ENI, and only it, bound.
  Report expectDpdkEniBound(const nodeprep::BindConfig& bind) {
    Report report = h_.run(config(bind));
    EXPECT_EQ(exitStatus(report), 0) << report.error;
    EXPECT_EQ(driverOf(h_, kDpdkPci), "vfio-pci");
    EXPECT_EQ(driverOf(h_, kPrimaryPci), "ena");
    EXPECT_EQ(driverOf(h_, kVpcCniPci), "ena");
    EXPECT_THAT(actionsOf(report, "bind"),
                ElementsAre(AllOf(Field(&Action::target, "0000:00:06.0 (eth1)"),
                                  Field(&Action::change, "ena -> vfio-pci"),
                                  Field(&Action::status, ActionStatus::Changed))));
    return report;
  }

  Harness h_;
  std::unique_ptr<FakeImds> imds_;
};

// ---- the ENI meant for DPDK is bound, however it is named

TEST_F(EniSelectionTest, BindsTheDpdkEniByDeviceIndexBesideTheVpcCni) {
  installVpcCni();
  expectDpdkEniBound({.deviceIndices = {1}});
  EXPECT_EQ(imds_->tokenRequests(), 1u);
  // The state remembers the MAC: the bound device has no interface left to read it from.
  absl::StatusOr<nodeprep::NodeState> state =
      nodeprep::loadNodeState(h_.host.hostRoot(), nodeprep::kDefaultStateFile);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_THAT(state->macs, ElementsAre(Pair(kDpdkMac, kDpdkPci)));
  EXPECT_THAT(state->interfaces, ElementsAre(Pair("eth1", kDpdkPci)));
}

TEST_F(EniSelectionTest, BindsTheDpdkEniByEniIdBesideTheVpcCni) {
  installVpcCni();
  expectDpdkEniBound({.eniIds = {kDpdkEni}});
}

TEST_F(EniSelectionTest, BindsTheDpdkEniByMacWithoutAskingTheMetadata) {
  installVpcCni();
  expectDpdkEniBound({.macs = {kDpdkMac}});
  EXPECT_EQ(imds_->tokenRequests(), 0u);
  EXPECT_EQ(imds_->totalGetRequests(), 0u);
}

TEST_F(EniSelectionTest, SecondRunFindsTheBoundEniThroughTheStateAndChangesNothing) {
  installVpcCni();
  expectDpdkEniBound({.deviceIndices = {1}});
  h_.commands.clearLog();
  const std::string before = h_.host.treeDigest();
  for (const nodeprep::BindConfig& bind :
       {nodeprep::BindConfig{.deviceIndices = {1}}, nodeprep::BindConfig{.eniIds = {kDpdkEni}},
        nodeprep::BindConfig{.macs = {kDpdkMac}}}) {
    Report report = h_.run(config(bind));
    EXPECT_EQ(exitStatus(report), 0) << report.error;
    EXPECT_THAT(actionsOf(report, "bind"),
                ElementsAre(AllOf(Field(&Action::change, "none: already bound to vfio-pci"),
                                  Field(&Action::status, ActionStatus::Ok))));
  }
  EXPECT_EQ(h_.host.treeDigest(), before);
  EXPECT_THAT(h_.commands.invocations(), IsEmpty());
}

TEST_F(EniSelectionTest, WithoutTheVpcCniTheOldSelectionsStillWork) {
  expectDpdkEniBound({.interfaces = {"eth1"}});
}

// ---- what must not be bound is refused, naming why, before anything is written

TEST_F(EniSelectionTest, RefusesTheVpcCniManagedEniNamingItsRoutesAndRules) {
  installVpcCni();
  for (const nodeprep::BindConfig& bind :
       {nodeprep::BindConfig{.deviceIndices = {2}}, nodeprep::BindConfig{.eniIds = {kVpcCniEni}},
        nodeprep::BindConfig{.macs = {kVpcCniMac}}}) {
    EXPECT_THAT(
        expectRefused(bind),
        ElementsAre(
            AllOf(Field(&Action::target, "0000:00:07.0 (eth2)"),
                  Field(&Action::change,
                        AllOf(HasSubstr("refusing to bind 0000:00:07.0 (eth2): it carries policy "
                                        "routing as the AWS VPC CNI sets up"),
                              HasSubstr("eth2 has routes in policy routing table 3 used by 2 rules "
                                        "(\"1536: from 10.0.0.51/32 lookup 3\", \"1536: from "
                                        "10.0.0.52/32 lookup 3\")"),
                              Not(HasSubstr("allow list")))))));
  }
}

TEST_F(EniSelectionTest, RefusesAnEniWithPolicyRoutingEvenWithoutTheVpcCniMarkers) {
  // aws-node may not have written its conflist yet while its routes are already there.
  installVpcCni();
  h_.host.removePath(kConflist).removePath(kIpamCheckpoint);
  EXPECT_THAT(expectRefused({.interfaces = {"eth2"}}),
              ElementsAre(Field(&Action::change, AllOf(HasSubstr("policy routing table 3"),
                                                       Not(HasSubstr("allow list"))))));
}

TEST_F(EniSelectionTest, RefusesAnEniNotOnTheAllowListWhereTheVpcCniIsInstalled) {
  installVpcCni();
  // eth1 is the DPDK ENI, but named only by interface: nothing proves it is not the VPC CNI's.
  EXPECT_THAT(expectRefused({.interfaces = {"eth1"}}),
              ElementsAre(AllOf(
                  Field(&Action::target, "0000:00:06.0 (eth1)"),
                  Field(&Action::change,
                        "refusing to bind 0000:00:06.0 (eth1): it is not on the allow list (the "
                        "AWS VPC CNI is installed: /etc/cni/net.d/10-aws.conflist, "
                        "/var/run/aws-node/ipam.json, so only ENIs named in "
                        "nodeprep.bind.deviceIndices, eniIds or macs are bound)"))));
}

TEST_F(EniSelectionTest, RefusesAnEniNotOnTheAllowListTheConfigGives) {
  // No VPC CNI, but the config names the DPDK ENIs: a PCI address outside them is refused.
  EXPECT_THAT(expectRefused({.pciAddresses = {kVpcCniPci}, .deviceIndices = {1}}),
              ElementsAre(Field(&Action::change,
                                HasSubstr("refusing to bind 0000:00:07.0 (eth2): it is not on the "
                                          "allow list (nodeprep.bind.deviceIndices, eniIds and "
                                          "macs name the ENIs to bind)"))));
}

TEST_F(EniSelectionTest, RefusesThePrimaryEniByDeviceIndex) {
  installVpcCni();
  EXPECT_THAT(expectRefused({.deviceIndices = {0}}),
              ElementsAre(Field(&Action::change,
                                AllOf(HasSubstr("refusing to bind 0000:00:05.0 (eth0): it looks "
                                                "like the primary ENI (eth0 carries the default "
                                                "route"),
                                      HasSubstr("the instance metadata lists "
                                                "eni-00000000000000001 (0a:00:00:00:00:01) at "
                                                "device index 0")))));
}

TEST_F(EniSelectionTest, RefusesEveryBadDeviceAndNamesEach) {
  installVpcCni();
  EXPECT_THAT(expectRefused({.interfaces = {"eth0", "eth2"}, .deviceIndices = {1}}),
              UnorderedElementsAre(
                  Field(&Action::change, AllOf(HasSubstr("(eth0): it looks like the primary"),
                                               HasSubstr("not on the allow list"))),
                  Field(&Action::change, AllOf(HasSubstr("(eth2): it carries policy routing"),
                                               HasSubstr("not on the allow list")))));
}

TEST_F(EniSelectionTest, RefusesAllExceptPrimaryWhereAwsNodeIsInstalled) {
  for (std::string_view marker : {kConflist, kIpamCheckpoint}) {
    SCOPED_TRACE(marker);
    h_.host.writeFile(marker, "{}");
    EXPECT_THAT(
        expectRefused({.allExceptPrimary = true}),
        ElementsAre(AllOf(
            Field(&Action::target, "nodeprep.bind.allExceptPrimary"),
            Field(&Action::change,
                  std::string("refusing bind.allExceptPrimary: the AWS VPC CNI is installed on "
                              "this node (") +
                      std::string(marker) +
                      ") and every ENA but the primary includes the ENIs it attaches for pods; "
                      "name the DPDK ENIs in nodeprep.bind.deviceIndices, eniIds or macs "
                      "instead"))));
    h_.host.removePath(marker);
  }
}

TEST_F(EniSelectionTest, AllExceptPrimaryWithoutTheVpcCniPassesOverPolicyRoutedEnis) {
  installVpcCni();
  h_.host.removePath(kConflist).removePath(kIpamCheckpoint);
  Report report = h_.run(config({.allExceptPrimary = true}));
  EXPECT_EQ(exitStatus(report), 0) << report.error;
  EXPECT_EQ(driverOf(h_, kDpdkPci), "vfio-pci");
  EXPECT_EQ(driverOf(h_, kVpcCniPci), "ena");
  EXPECT_THAT(actionsOf(report, "bind"),
              ElementsAre(Field(&Action::change, HasSubstr("none: primary ENI (")),
                          Field(&Action::change, HasSubstr("none: it carries policy routing")),
                          Field(&Action::change, "ena -> vfio-pci")));
}

TEST_F(EniSelectionTest, DryRunShowsTheSameRefusals) {
  installVpcCni();
  EXPECT_THAT(expectRefused({.deviceIndices = {2}}, /*dry_run=*/true),
              ElementsAre(Field(&Action::change, HasSubstr("policy routing table 3"))));
  EXPECT_THAT(expectRefused({.allExceptPrimary = true}, /*dry_run=*/true),
              ElementsAre(Field(&Action::target, "nodeprep.bind.allExceptPrimary")));
}

TEST_F(EniSelectionTest, UnknownEnisAndAnUnreachableMetadataServiceFailBeforeAnyWrite) {
  installVpcCni();
  struct Case {
    nodeprep::BindConfig bind;
    std::string error;
  };
  const Case cases[] = {
      {{.deviceIndices = {5}},
       "bind.deviceIndices: no ENI is attached at device index 5 (the instance metadata lists "
       "device index 0 eni-00000000000000001 (0a:00:00:00:00:01), device index 1 "
       "eni-0d0d0d0d0d0d0d0d0 (0a:00:00:00:00:02), device index 2 eni-0c0c0c0c0c0c0c0c0 "
       "(0a:00:00:00:00:03))"},
      {{.eniIds = {"eni-0123456789abcdef0"}},
       "bind.eniIds: eni-0123456789abcdef0 is not attached to this instance"},
      {{.macs = {"0a:00:00:00:00:09"}},
       "bind.macs: 0a:00:00:00:00:09: no interface has MAC 0a:00:00:00:00:09 (and no device an "
       "earlier run bound with it)"},
  };
  for (const Case& c : cases) {
    const std::string before = h_.host.treeDigest();
    Report report = h_.run(config(c.bind));
    EXPECT_EQ(exitStatus(report), 1);
    EXPECT_THAT(report.error, HasSubstr(c.error));
    EXPECT_EQ(h_.host.treeDigest(), before);
  }
  imds_->failWith(500);
  const std::string before = h_.host.treeDigest();
  Report report = h_.run(config({.deviceIndices = {1}}));
  EXPECT_EQ(exitStatus(report), 1);
  EXPECT_THAT(report.error,
              AllOf(HasSubstr("cannot find the ENIs nodeprep.bind.deviceIndices or eniIds name: "
                              "instance metadata service " +
                              imds_->endpoint()),
                    HasSubstr("HTTP 500")));
  EXPECT_EQ(h_.host.treeDigest(), before);
}

TEST_F(EniSelectionTest, CliRefusalExitsOneWithOneStderrLine) {
  installVpcCni();
  FakeHost config_dir;
  config_dir.writeFile("/config.json", R"({"nodeprep": {"hugepages": {"1G": 4},
      "bind": {"allExceptPrimary": true}}})");
  const std::string config_path = config_dir.path("/config.json").string();
  const std::string before = h_.host.treeDigest();
  for (bool dry_run : {false, true}) {
    std::vector<std::string> args = {"ena-dpdk-nodeprep", "--config", config_path, "--root",
                                     h_.host.root().string()};
    if (dry_run) args.push_back("--dry-run");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(
        nodeprep::nodeprepMain(static_cast<int>(argv.size()), argv.data(), out, err, h_.seams()),
        1);
    const std::string stderr_text = err.str();
    EXPECT_THAT(stderr_text, HasSubstr("ena-dpdk-nodeprep: refusing bind.allExceptPrimary: the AWS "
                                       "VPC CNI is installed on this node"));
    EXPECT_EQ(std::count(stderr_text.begin(), stderr_text.end(), '\n'), 1);
    EXPECT_THAT(out.str(), HasSubstr("\"status\": \"refused\""));
  }
  EXPECT_EQ(h_.host.treeDigest(), before);
}

// ---- the pieces

TEST(PolicyRoutedInterfacesTest, OnlyTablesOtherThanMainLocalAndDefaultCount) {
  const std::vector<TableRoute> routes = {
      {.table = nodeprep::kMainTable, .destination = "0.0.0.0/0", .devices = {"eth0"}},
      {.table = nodeprep::kLocalTable, .destination = "10.0.0.5/32", .devices = {"eth1"}},
      {.table = nodeprep::kDefaultTable, .destination = "0.0.0.0/0", .devices = {"eth1"}},
      {.table = 2, .destination = "0.0.0.0/0", .devices = {"eth1"}},
      {.table = 4, .destination = "::/0", .devices = {"eth1", "eth3"}},
  };
  const std::vector<RoutingRule> rules = {
      {.priority = 1536, .table = 2, .source = "10.0.0.7/32"},
      {.priority = 100, .table = 7, .iif = "eth5"},
      {.priority = 100, .table = nodeprep::kMainTable, .oif = "eth6"},
  };
  EXPECT_THAT(
      nodeprep::policyRoutedInterfaces(rules, routes),
      ElementsAre(
          Pair("eth1", ElementsAre("eth1 has routes in policy routing tables 2, 4 used by 1 rule "
                                   "(\"1536: from 10.0.0.7/32 lookup 2\")")),
          Pair("eth3", ElementsAre("eth3 has routes in policy routing table 4")),
          Pair("eth5", ElementsAre("rule \"100: from all iif eth5 lookup 7\" names eth5"))));
}

TEST(PolicyRoutedInterfacesTest, QuotesAFewRulesOfABusyNode) {
  std::vector<RoutingRule> rules;
  for (int i = 0; i < 5; ++i) {
    rules.push_back(
        {.priority = 1536, .table = 3, .source = "10.0.0." + std::to_string(i) + "/32"});
  }
  auto reasons = nodeprep::policyRoutedInterfaces(
      rules, {{.table = 3, .destination = "0.0.0.0/0", .devices = {"eth2"}}});
  ASSERT_THAT(reasons, ElementsAre(Pair("eth2", ElementsAre(HasSubstr("used by 5 rules")))));
  EXPECT_THAT(reasons["eth2"][0],
              AllOf(HasSubstr("10.0.0.2/32 lookup 3\", ...)"), Not(HasSubstr("10.0.0.3/32"))));
}

TEST(GatherVpcCniFactsTest, FindsTheMarkersAndPassesRoutingErrorsOn) {
  FakeHost host;
  FakeRoutingTables routing;
  absl::StatusOr<nodeprep::VpcCniFacts> facts =
      nodeprep::gatherVpcCniFacts(host.hostRoot(), routing);
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_FALSE(facts->installed());
  host.writeFile("/run/aws-node/ipam.json", "{}");
  facts = nodeprep::gatherVpcCniFacts(host.hostRoot(), routing);
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_THAT(facts->installed_by, ElementsAre("/run/aws-node/ipam.json"));
  routing.failure = absl::PermissionDeniedError("netlink: Operation not permitted");
  EXPECT_EQ(nodeprep::gatherVpcCniFacts(host.hostRoot(), routing).status().message(),
            "cannot read the routing rules: netlink: Operation not permitted");
}

TEST(NetlinkRoutingTablesTest, ReadsThisNamespacesRulesAndRoutes) {
  // Every network namespace has the IPv4 rules "0: from all lookup local" and
  // "32766: from all lookup main".
  nodeprep::NetlinkRoutingTables routing;
  absl::StatusOr<std::vector<RoutingRule>> rules = routing.rules();
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_THAT(*rules,
              ::testing::Contains(RoutingRule{.priority = 32766, .table = nodeprep::kMainTable}));
  EXPECT_THAT(*rules,
              ::testing::Contains(RoutingRule{.priority = 0, .table = nodeprep::kLocalTable}));
  absl::StatusOr<std::vector<TableRoute>> routes = routing.routes();
  ASSERT_TRUE(routes.ok()) << routes.status();
  for (const TableRoute& route : *routes) {
    EXPECT_THAT(route.destination, HasSubstr("/")) << "a route without a CIDR destination";
  }
}

TEST(RoutingRuleTest, DescribesARuleAsIpRuleDoes) {
  EXPECT_EQ((RoutingRule{.priority = 1536, .table = 3, .source = "10.0.0.5/32"}.describe()),
            "1536: from 10.0.0.5/32 lookup 3");
  EXPECT_EQ(
      (RoutingRule{
          .priority = 10, .table = 7, .destination = "10.1.0.0/16", .iif = "eth1", .oif = "eth2"}
           .describe()),
      "10: from all to 10.1.0.0/16 iif eth1 oif eth2 lookup 7");
}

TEST(ImdsEniMetadataTest, ListsTheAttachedEnisWithAToken) {
  absl::StatusOr<std::unique_ptr<FakeImds>> imds = FakeImds::start();
  ASSERT_TRUE(imds.ok()) << imds.status();
  (*imds)->addEni({.mac = "0a:00:00:00:00:01", .deviceNumber = 0});
  (*imds)->set("network/interfaces/macs/0a:00:00:00:00:01/interface-id", "eni-01234567");
  (*imds)->addEni({.mac = "0a:00:00:00:00:02", .deviceNumber = 1});
  (*imds)->set("network/interfaces/macs/0a:00:00:00:00:02/interface-id", "eni-0123456789abcdef0\n");
  nodeprep::ImdsEniMetadata metadata({.endpoint = (*imds)->endpoint(), .timeoutMs = 2000});
  absl::StatusOr<nodeprep::EniFactsByMac> enis = metadata.attachedEnis();
  ASSERT_TRUE(enis.ok()) << enis.status();
  EXPECT_THAT(
      *enis, ElementsAre(
                 Pair("0a:00:00:00:00:01", nodeprep::EniFacts{.mac = "0a:00:00:00:00:01",
                                                              .device_number = 0,
                                                              .eni_id = "eni-01234567"}),
                 Pair("0a:00:00:00:00:02", nodeprep::EniFacts{.mac = "0a:00:00:00:00:02",
                                                              .device_number = 1,
                                                              .eni_id = "eni-0123456789abcdef0"})));
  EXPECT_EQ((*imds)->tokenRequests(), 1u);
  EXPECT_EQ((*imds)->unauthorizedRequests(), 0u);
}

TEST(ImdsEniMetadataTest, ErrorsNameTheServiceAndWhatWasWrong) {
  absl::StatusOr<std::unique_ptr<FakeImds>> imds = FakeImds::start();
  ASSERT_TRUE(imds.ok()) << imds.status();
  const std::string endpoint = (*imds)->endpoint();
  nodeprep::ImdsEniMetadata metadata({.endpoint = endpoint, .timeoutMs = 2000});
  (*imds)->addEni({.mac = "0a:00:00:00:00:01", .deviceNumber = 0});
  // No interface-id: 404.
  absl::Status missing = metadata.attachedEnis().status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(missing.message(),
            "instance metadata service " + endpoint +
                ": GET /latest/meta-data/network/interfaces/macs/0a:00:00:00:00:01/interface-id: "
                "HTTP 404");
  (*imds)->set("network/interfaces/macs/0a:00:00:00:00:01/interface-id", "i-0abc");
  absl::Status bad = metadata.attachedEnis().status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(bad.message(), HasSubstr("interface-id: not an ENI ID"));
  nodeprep::ImdsEniMetadata nowhere({.endpoint = "http://127.0.0.1:1", .timeoutMs = 500});
  EXPECT_EQ(nowhere.attachedEnis().status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace enadpdk::testing
