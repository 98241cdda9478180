#include "vhostuser/port_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace enadpdk::vhostuser {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = PortTable::Admission::Kind;

const MacAddr kEni = *parseMac("02:00:00:00:00:aa");

std::vector<NetworkFacts> networks() {
  return {NetworkFacts{.name = "eni1", .mode = NetworkMode::Vpc, .eni_mac = kEni},
          NetworkFacts{.name = "local", .mode = NetworkMode::L2, .eni_mac = {}}};
}

PortSpec spec(const std::string& id, const std::string& network, const std::string& ip) {
  PortSpec s;
  s.id = id;
  s.network = network;
  s.socket_path = "/run/vhost/" + id + ".sock";
  s.ips = {ip};
  return s;
}

// Admits and inserts; the slot it got.
uint16_t add(PortTable& t, PortSpec s) {
  absl::StatusOr<PortTable::Admission> a = t.admit(std::move(s), networks());
  EXPECT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->kind, Kind::New);
  t.insert(a->slot, a->network, a->spec);
  return a->slot;
}

TEST(PortTableTest, NewPortsTakeTheLowestFreeSlotAfterTheUplinks) {
  PortTable t(8);
  t.reserveSlot(0);  // the uplink
  EXPECT_EQ(add(t, spec("a", "eni1", "10.0.0.1/24")), 1);
  EXPECT_EQ(add(t, spec("b", "eni1", "10.0.0.2/24")), 2);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.countInNetwork(0), 2u);
  EXPECT_EQ(t.countInNetwork(1), 0u);
}

TEST(PortTableTest, VpcPortsGetTheEniMacAndRefuseAnother) {
  PortTable t(8);
  absl::StatusOr<PortTable::Admission> a = t.admit(spec("a", "eni1", "10.0.0.1/24"), networks());
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->spec.mac, "02:00:00:00:00:aa");
  EXPECT_EQ(a->network, 0u);
  PortSpec other = spec("b", "eni1", "10.0.0.2/24");
  other.mac = "02:00:00:00:00:bb";
  absl::StatusOr<PortTable::Admission> refused = t.admit(other, networks());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("use the ENI's MAC 02:00:00:00:00:aa"));
}

TEST(PortTableTest, AnIdenticalRequestIsTheExistingPortAndAChangedOneConflicts) {
  PortTable t(8);
  const uint16_t slot = add(t, spec("a", "eni1", "10.0.0.1/24"));
  absl::StatusOr<PortTable::Admission> again =
      t.admit(spec("a", "eni1", "10.0.0.1/24"), networks());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->kind, Kind::Existing);
  EXPECT_EQ(again->slot, slot);
  absl::StatusOr<PortTable::Admission> changed =
      t.admit(spec("a", "eni1", "10.0.0.9/24"), networks());
  EXPECT_EQ(changed.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(changed.status().message(), HasSubstr("id: port \"a\" exists"));
}

TEST(PortTableTest, SocketPathsAreUniqueAcrossNetworksAndIpsWithinANetwork) {
  PortTable t(8);
  add(t, spec("a", "eni1", "10.0.0.1/24"));
  PortSpec same_socket = spec("b", "local", "10.9.0.1/24");
  same_socket.socket_path = "/run/vhost/a.sock";
  absl::StatusOr<PortTable::Admission> a = t.admit(same_socket, networks());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(a.status().message(),
              HasSubstr("socket_path: \"/run/vhost/a.sock\" is already used"));
  // The same address with another prefix length is the same address.
  absl::StatusOr<PortTable::Admission> ip = t.admit(spec("c", "eni1", "10.0.0.1/32"), networks());
  EXPECT_EQ(ip.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(ip.status().message(), HasSubstr("ips[0]: 10.0.0.1 is already used by port \"a\""));
  // Another network may reuse it.
  EXPECT_TRUE(t.admit(spec("d", "local", "10.0.0.1/24"), networks()).ok());
}

// Pods of a vpc network share the ENI's MAC; each forms its link-local address from the low 64
// bits of its IPv6 address, so two ports whose addresses share them would claim one.
TEST(PortTableTest, VpcPortsWhoseDerivedLinkLocalAddressesCollideConflict) {
  PortTable t(8);
  add(t, spec("a", "eni1", "2600:1f14::c0:10/64"));
  absl::StatusOr<PortTable::Admission> same_low =
      t.admit(spec("b", "eni1", "2600:1f15::c0:10/64"), networks());
  EXPECT_EQ(same_low.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(same_low.status().message(),
              HasSubstr("ips[0]: 2600:1f15::c0:10 gives the link-local address fe80::c0:10 that "
                        "port \"a\" derives from 2600:1f14::c0:10"));
  absl::StatusOr<PortTable::Admission> as_link_local =
      t.admit(spec("c", "eni1", "fe80::c0:10"), networks());
  EXPECT_EQ(as_link_local.status().code(), absl::StatusCode::kAlreadyExists);
  // Other low bits, or another network, or an l2 network (own MACs), are fine.
  EXPECT_TRUE(t.admit(spec("d", "eni1", "2600:1f14::c0:11/64"), networks()).ok());
  EXPECT_TRUE(t.admit(spec("e", "local", "2600:1f15::c0:10/64"), networks()).ok());
  PortSpec dual = spec("f", "eni1", "10.0.0.6/24");
  dual.ips.push_back("2600:1f14::c0:12/64");
  add(t, dual);
  absl::StatusOr<PortTable::Admission> second = t.admit(
      [] {
        PortSpec s = spec("g", "eni1", "10.0.0.7/24");
        s.ips.push_back("2600:1f16::c0:12/64");
        return s;
      }(),
      networks());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(second.status().message(), HasSubstr("ips[1]: "));
}

TEST(PortTableTest, MaxPortsAndSlotsAreEnforced) {
  PortTable t(2);
  add(t, spec("a", "eni1", "10.0.0.1/24"));
  add(t, spec("b", "eni1", "10.0.0.2/24"));
  absl::StatusOr<PortTable::Admission> full = t.admit(spec("c", "eni1", "10.0.0.3/24"), networks());
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.status().message(), HasSubstr("all 2 ports are in use (dataplane.maxPorts)"));

  PortTable slots(kMaxSlots + 1);
  for (uint16_t s = 0; s < kMaxSlots; ++s) slots.reserveSlot(s);
  absl::StatusOr<PortTable::Admission> none =
      slots.admit(spec("c", "eni1", "10.0.0.3/24"), networks());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(none.status().message(), HasSubstr("port slots are in use"));
}

TEST(PortTableTest, AClosingPortKeepsItsSlotAndSocketPathUntilClosed) {
  PortTable t(8);
  const uint16_t a = add(t, spec("a", "eni1", "10.0.0.1/24"));
  t.beginClose(a);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_TRUE(t.closing(a));
  EXPECT_EQ(t.find("a").kind, PortTable::Match::Kind::NotFound);
  // Another port does not get the closing slot.
  EXPECT_EQ(add(t, spec("b", "eni1", "10.0.0.2/24")), a + 1);
  // The same socket path must wait for the close.
  absl::StatusOr<PortTable::Admission> again =
      t.admit(spec("a", "eni1", "10.0.0.1/24"), networks());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->kind, Kind::WaitForClose);
  EXPECT_EQ(again->slot, a);
  t.finishClose(a);
  EXPECT_FALSE(t.closing(a));
  EXPECT_EQ(add(t, spec("a", "eni1", "10.0.0.1/24")), a);
}

TEST(PortTableTest, DeleteMatchesTheIncarnationByUid) {
  PortTable t(8);
  PortSpec s = spec("a", "eni1", "10.0.0.1/24");
  s.uid = "u1";
  const uint16_t slot = add(t, s);
  EXPECT_EQ(t.find("a").kind, PortTable::Match::Kind::Found);
  EXPECT_EQ(t.find("a", "u1").kind, PortTable::Match::Kind::Found);
  EXPECT_EQ(t.find("a", "u1").slot, slot);
  EXPECT_EQ(t.find("a", "u2").kind, PortTable::Match::Kind::OtherIncarnation);
  EXPECT_EQ(t.find("b").kind, PortTable::Match::Kind::NotFound);
}

TEST(PortTableTest, SpecsKeepCreationOrderAcrossSlotReuse) {
  PortTable t(8);
  const uint16_t a = add(t, spec("a", "eni1", "10.0.0.1/24"));
  add(t, spec("b", "eni1", "10.0.0.2/24"));
  t.beginClose(a);
  t.finishClose(a);
  EXPECT_EQ(add(t, spec("c", "eni1", "10.0.0.3/24")), a);  // reuses slot 0 ...
  std::vector<std::string> ids;
  for (const PortSpec& s : t.specs()) ids.push_back(s.id);
  EXPECT_THAT(ids, ElementsAre("b", "c"));  // ... but is newer than b
  ASSERT_NE(t.at(a), nullptr);
  EXPECT_EQ(t.at(a)->spec.id, "c");
}

}  // namespace
}  // namespace enadpdk::vhostuser
