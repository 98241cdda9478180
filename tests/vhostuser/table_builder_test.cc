#include "vhostuser/table_builder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <set>
#include <vector>

namespace enadpdk::vhostuser {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

PortView view(uint16_t slot, uint16_t network) {
  PortView v;
  v.slot = slot;
  v.network = network;
  return v;
}

// A switch as the builder sees it: network 0 has an uplink in slot 0, network 1 is node-local.
struct Fixture {
  std::vector<NetworkPlan> networks;
  std::vector<PortView> views;
  std::vector<SlotPlan> slots;
  std::array<rte_spinlock_t, kMaxWorkers> locks{};

  Fixture(uint16_t uplink_rxq, uint16_t uplink_txq, int uplink_node) {
    views.reserve(64);
    networks.push_back(NetworkPlan{.mode = NetworkMode::Vpc,
                                   .uplink_slot = 0,
                                   .eni_mac = *parseMac("02:00:00:00:00:aa"),
                                   .fdb = nullptr,
                                   .node = uplink_node});
    networks.push_back(NetworkPlan{});  // l2, no uplink
    views.push_back(view(0, 0));
    views.back().is_uplink = true;
    slots.push_back(SlotPlan{.view = &views.back(),
                             .is_uplink = true,
                             .port_id = 3,
                             .rx_queues = uplink_rxq,
                             .tx_queues = uplink_txq,
                             .txq_locks = locks.data()});
  }
  void pod(uint16_t slot, uint16_t network, uint16_t queues, uint32_t ipv4) {
    views.push_back(view(slot, network));
    views.back().ipv4 = {ipv4};
    slots.push_back(SlotPlan{.view = &views.back(), .rx_queues = queues});
  }
};

// Every (slot, queue) polled, and by whom.
std::vector<std::pair<uint16_t, uint16_t>> polledBy(const DataplaneTable& t, unsigned worker) {
  std::vector<std::pair<uint16_t, uint16_t>> out;
  for (const RxQueue& q : t.poll[worker]) out.emplace_back(q.slot, q.queue);
  return out;
}

// A pod's IPv6 addresses and the link-local address derived from each lead to its slot.
TEST(TableBuilderTest, PodIpv6AddressesAndTheirLinkLocalAddressesAreOwned) {
  Fixture f(1, 1, -1);
  f.pod(1, 0, 1, 0x0a000001);
  f.views.back().ipv6 = {Ipv6Addr{0x26, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}};
  f.pod(2, 0, 1, 0x0a000002);
  f.views.back().ipv6 = {Ipv6Addr{0x26, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11}};
  std::unique_ptr<DataplaneTable> t = buildTable(f.networks, f.slots, Topology{{0}});
  const auto& owner = t->networks[0].ipv6_owner;
  EXPECT_EQ(owner.size(), 4u);
  EXPECT_EQ(owner.at(Ipv6Addr{0x26, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}), 1);
  EXPECT_EQ(owner.at(Ipv6Addr{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}), 1);
  EXPECT_EQ(owner.at(Ipv6Addr{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11}), 2);
}

TEST(TableBuilderTest, OneWorkerPollsEverythingWithItsOwnTxQueues) {
  Fixture f(/*uplink_rxq=*/1, /*uplink_txq=*/1, /*uplink_node=*/0);
  f.pod(1, 0, 1, 0x0a000001);
  f.pod(2, 1, 2, 0x0a000002);
  const Topology one{.worker_nodes = {0}};
  std::unique_ptr<DataplaneTable> t = buildTable(f.networks, f.slots, one);
  EXPECT_THAT(
      polledBy(*t, 0),
      ElementsAre(std::pair<uint16_t, uint16_t>{0, 0}, std::pair<uint16_t, uint16_t>{1, 0},
                  std::pair<uint16_t, uint16_t>{2, 0}, std::pair<uint16_t, uint16_t>{2, 1}));
  EXPECT_EQ(t->networks[0].uplink, 0);
  EXPECT_THAT(t->networks[0].ports, ElementsAre(1));
  EXPECT_THAT(t->networks[1].ports, ElementsAre(2));
  EXPECT_EQ(t->networks[0].ipv4_owner.at(0x0a000001), 1);
  ASSERT_NE(t->slots[2], nullptr);
  EXPECT_EQ(t->slots[2]->ipv4, std::vector<uint32_t>{0x0a000002});
  EXPECT_EQ(t->slots[3], nullptr);
  EXPECT_FALSE(t->tx[0].vhost);
  EXPECT_EQ(t->tx[0].port_id, 3);
  EXPECT_EQ(t->tx[0].lock[0], nullptr);
  EXPECT_TRUE(t->tx[2].vhost);
  EXPECT_EQ(t->tx[2].rings, (1u << toPodRing(0)) | (1u << toPodRing(1)));
}

TEST(TableBuilderTest, RssQueuesAndPodsSpreadOverWorkersWithStableAssignments) {
  Fixture f(/*uplink_rxq=*/2, /*uplink_txq=*/4, /*uplink_node=*/0);
  for (uint16_t s = 1; s <= 8; ++s) f.pod(s, 0, 1, 0x0a000000u + s);
  const Topology four{.worker_nodes = {0, 0, 0, 0}};
  std::unique_ptr<DataplaneTable> t = buildTable(f.networks, f.slots, four);
  // The uplink's two RSS queues land on two different workers.
  EXPECT_NE(pollingWorker(four, 0, 0, 0), pollingWorker(four, 0, 0, 1));
  std::set<std::pair<uint16_t, uint16_t>> seen;
  for (unsigned w = 0; w < 4; ++w) {
    EXPECT_FALSE(t->poll[w].empty()) << "worker " << w << " idle";
    for (const auto& q : polledBy(*t, w)) EXPECT_TRUE(seen.insert(q).second) << "polled twice";
  }
  EXPECT_EQ(seen.size(), 10u);
  // Enough TX queues: every worker has its own, no lock.
  for (unsigned w = 0; w < 4; ++w) {
    EXPECT_EQ(t->tx[0].queue[w], w);
    EXPECT_EQ(t->tx[0].lock[w], nullptr);
  }
  // Removing a port moves no other queue to another worker.
  Fixture g = f;
  g.slots.erase(g.slots.begin() + 3);
  std::unique_ptr<DataplaneTable> t2 = buildTable(g.networks, g.slots, four);
  for (unsigned w = 0; w < 4; ++w) {
    for (const auto& q : polledBy(*t2, w)) {
      EXPECT_EQ(pollingWorker(four, 0, q.first, q.second), w);
      const std::vector<std::pair<uint16_t, uint16_t>> before = polledBy(*t, w);
      EXPECT_TRUE(std::find(before.begin(), before.end(), q) != before.end());
    }
  }
}

TEST(TableBuilderTest, WorkersSharingAnUplinkTxQueueShareItsLock) {
  Fixture f(/*uplink_rxq=*/2, /*uplink_txq=*/2, /*uplink_node=*/0);
  const Topology four{.worker_nodes = {0, 0, 0, 0}};
  std::unique_ptr<DataplaneTable> t = buildTable(f.networks, f.slots, four);
  EXPECT_THAT(std::vector<uint16_t>(t->tx[0].queue.begin(), t->tx[0].queue.begin() + 4),
              ElementsAre(0, 1, 0, 1));
  EXPECT_EQ(t->tx[0].lock[0], &f.locks[0]);
  EXPECT_EQ(t->tx[0].lock[2], &f.locks[0]);
  EXPECT_EQ(t->tx[0].lock[1], &f.locks[1]);
  EXPECT_EQ(t->tx[0].lock[3], &f.locks[1]);
}

TEST(TableBuilderTest, AnUplinkInResetIsLeftOutButItsPodsStay) {
  Fixture f(/*uplink_rxq=*/1, /*uplink_txq=*/1, /*uplink_node=*/0);
  f.pod(1, 0, 1, 0x0a000001);
  f.networks[0].uplink_slot = kNoSlot;  // resetting
  std::unique_ptr<DataplaneTable> t = buildTable(f.networks, f.slots, Topology{{0, 0}});
  EXPECT_EQ(t->slots[0], nullptr);
  EXPECT_EQ(t->networks[0].uplink, kNoSlot);
  for (const auto& poll : t->poll) {
    for (const RxQueue& q : poll) EXPECT_NE(q.slot, 0) << "the uplink is still polled";
  }
  EXPECT_NE(t->slots[1], nullptr);
  EXPECT_THAT(t->networks[0].ports, ElementsAre(1));
}

// A fake two-node machine: workers 0 and 2 on node 0, 1 and 3 on node 1.
TEST(TableBuilderTest, NumaPortsArePolledByWorkersOnTheirUplinksNode) {
  const Topology two{.worker_nodes = {0, 1, 0, 1}};
  EXPECT_THAT(workersNear(two, 1), ElementsAre(1, 3));
  EXPECT_THAT(workersNear(two, 0), ElementsAre(0, 2));
  EXPECT_THAT(workersNear(two, -1), ElementsAre(0, 1, 2, 3));  // unknown node: anyone
  EXPECT_THAT(workersNear(two, 5), ElementsAre(0, 1, 2, 3));   // no worker there: anyone

  Fixture f(/*uplink_rxq=*/2, /*uplink_txq=*/4, /*uplink_node=*/1);
  for (uint16_t s = 1; s <= 6; ++s) f.pod(s, 0, 1, 0x0a000000u + s);
  for (uint16_t s = 7; s <= 10; ++s) f.pod(s, 1, 1, 0x0a000000u + s);
  std::unique_ptr<DataplaneTable> t = buildTable(f.networks, f.slots, two);
  std::set<unsigned> uplink_net_workers, local_net_workers;
  for (unsigned w = 0; w < 4; ++w) {
    for (const RxQueue& q : t->poll[w]) {
      (q.slot <= 6 ? uplink_net_workers : local_net_workers).insert(w);
    }
  }
  // The uplink's queues and the pods of its network: only node-1 workers, both of them.
  EXPECT_THAT(uplink_net_workers, UnorderedElementsAre(1, 3));
  // A node-local network has no node: its pods spread over every worker.
  EXPECT_EQ(local_net_workers.size(), 4u);
}

}  // namespace
}  // namespace enadpdk::vhostuser
