#include "vhostuser/uplink.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rte_ethdev.h>

#include <memory>
#include <string>
#include <vector>

#include "spdlog/sinks/ostream_sink.h"
#include "tests/vhostuser/fake_eth_dev.h"

namespace enadpdk::vhostuser {
namespace {

using enadpdk::testing::FakeEthDev;
using enadpdk::testing::FakeEthDevState;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A pointer the fake never dereferences.
rte_mempool* fakePool(uintptr_t n) { return reinterpret_cast<rte_mempool*>(n * 64); }

// An ENA-like device: 8 queues, RSS, scatter, rings 128..8192 (RX) and 128..1024 (TX).
EthDevInfo enaInfo() {
  return EthDevInfo{.driver_name = "net_ena",
                    .numa_socket = 0,
                    .max_rx_queues = 8,
                    .max_tx_queues = 8,
                    .rx_desc_lim = {.nb_min = 128, .nb_max = 8192, .nb_align = 1},
                    .tx_desc_lim = {.nb_min = 128, .nb_max = 1024, .nb_align = 1},
                    .min_mtu = 128,
                    .max_mtu = 9216,
                    .max_rx_pktlen = 9234,
                    .rx_offload_capa = RTE_ETH_RX_OFFLOAD_SCATTER,
                    .tx_offload_capa = RTE_ETH_TX_OFFLOAD_MULTI_SEGS,
                    .flow_type_rss_offloads = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP,
                    .reta_size = 128,
                    .lsc_interrupt = true};
}

UplinkParams params() {
  return UplinkParams{.network = "eni1",
                      .device = "0000:00:06.0",
                      .rx_queues = 2,
                      .tx_queues = 2,
                      .rx_descriptors = 1024,
                      .tx_descriptors = 1024,
                      .mtu = 1500,
                      .promiscuous = false,
                      .pool = fakePool(1)};
}

struct PoolRequest {
  std::string name;
  uint32_t count = 0;
  uint16_t data_room = 0;
};

class UplinkTest : public ::testing::Test {
 protected:
  UplinkTest() {
    log_ = std::make_shared<spdlog::logger>(
        "uplink", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text_));
    log_->set_level(spdlog::level::debug);
    state_->info = enaInfo();
  }

  absl::StatusOr<std::unique_ptr<Uplink>> create(const UplinkParams& p) {
    RxPoolFactory pools = [this](const std::string& name, uint32_t count, uint16_t room,
                                 int) -> absl::StatusOr<std::shared_ptr<rte_mempool>> {
      pool_requests_.push_back({name, count, room});
      return std::shared_ptr<rte_mempool>(fakePool(2), [](rte_mempool*) {});
    };
    return Uplink::create(std::make_unique<FakeEthDev>(state_), p, pools, log_);
  }

  std::shared_ptr<FakeEthDevState> state_ = std::make_shared<FakeEthDevState>();
  std::ostringstream log_text_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<PoolRequest> pool_requests_;
};

TEST_F(UplinkTest, StartsWithinLimitsWithRss) {
  absl::StatusOr<std::unique_ptr<Uplink>> up = create(params());
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_THAT(state_->actions(), ElementsAre("configure", "start"));
  const EthDevConfig& c = state_->configs.at(0);
  EXPECT_EQ(c.rx_queues, 2);
  EXPECT_EQ(c.tx_queues, 2);
  EXPECT_EQ(c.rx_descriptors, 1024);
  EXPECT_EQ(c.tx_descriptors, 1024);
  EXPECT_EQ(c.rss_hf, RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
  EXPECT_EQ(c.mtu, 1500u);
  EXPECT_EQ(c.rx_offloads, 0u);
  EXPECT_TRUE(c.lsc_interrupt);
  EXPECT_EQ(c.rx_pool, fakePool(1));
  EXPECT_EQ((*up)->rxQueues(), 2);
  EXPECT_EQ((*up)->portId(), 3);
  EXPECT_EQ((*up)->mac(), state_->mac);
  EXPECT_THAT(log_text_.str(), ::testing::Not(HasSubstr("clamped")));
  EXPECT_NE(state_->sink, nullptr);
}

TEST_F(UplinkTest, RssOnlyWithSeveralQueuesAndMaskedByTheDevice) {
  UplinkParams p = params();
  p.rx_queues = 1;
  ASSERT_TRUE(create(p).ok());
  EXPECT_EQ(state_->configs.back().rss_hf, 0u);

  state_ = std::make_shared<FakeEthDevState>();
  state_->info = enaInfo();
  state_->info.flow_type_rss_offloads = RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_L2_PAYLOAD;
  ASSERT_TRUE(create(params()).ok());
  EXPECT_EQ(state_->configs.back().rss_hf, RTE_ETH_RSS_NONFRAG_IPV4_TCP);
  EXPECT_EQ(state_->configs.back().rx_queues, 2);
}

// net_af_packet: no ethdev RSS, but the kernel's socket fanout spreads flows over its queues.
TEST_F(UplinkTest, NoRssKeepsTheQueuesWithoutHashing) {
  state_->info.flow_type_rss_offloads = 0;
  absl::StatusOr<std::unique_ptr<Uplink>> up = create(params());
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(state_->configs.back().rx_queues, 2);
  EXPECT_EQ(state_->configs.back().rss_hf, 0u);
  EXPECT_THAT(log_text_.str(), ::testing::Not(HasSubstr("rx_queues clamped")));
}

struct ClampCase {
  std::string description;
  EthDevInfo info;
  UplinkParams params;
  uint16_t rx_queues, tx_queues, rx_descriptors, tx_descriptors;
  uint32_t mtu;
  std::vector<std::string> logged;  // what was clamped
};

class ClampTest : public UplinkTest, public ::testing::WithParamInterface<ClampCase> {};

TEST_P(ClampTest, ClampsToTheDevice) {
  const ClampCase& tc = GetParam();
  state_->info = tc.info;
  absl::StatusOr<std::unique_ptr<Uplink>> up = create(tc.params);
  ASSERT_TRUE(up.ok()) << up.status();
  const EthDevConfig& c = state_->configs.at(0);
  EXPECT_EQ(c.rx_queues, tc.rx_queues);
  EXPECT_EQ(c.tx_queues, tc.tx_queues);
  EXPECT_EQ(c.rx_descriptors, tc.rx_descriptors);
  EXPECT_EQ(c.tx_descriptors, tc.tx_descriptors);
  EXPECT_EQ(c.mtu, tc.mtu);
  for (const std::string& what : tc.logged) {
    EXPECT_THAT(log_text_.str(), HasSubstr("uplink " + what + " clamped")) << what;
  }
  // Each clamp is logged once, at create.
  const std::string text = log_text_.str();
  size_t lines = 0;
  for (size_t at = text.find(" clamped "); at != std::string::npos;
       at = text.find(" clamped ", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, tc.logged.size());
}

EthDevInfo withQueues(uint16_t rx, uint16_t tx) {
  EthDevInfo i = enaInfo();
  i.max_rx_queues = rx;
  i.max_tx_queues = tx;
  return i;
}

EthDevInfo withDescLimits(EthDescLimits rx, EthDescLimits tx) {
  EthDevInfo i = enaInfo();
  i.rx_desc_lim = rx;
  i.tx_desc_lim = tx;
  return i;
}

EthDevInfo withMtu(uint16_t min, uint16_t max, uint32_t pktlen) {
  EthDevInfo i = enaInfo();
  i.min_mtu = min;
  i.max_mtu = max;
  i.max_rx_pktlen = pktlen;
  return i;
}

UplinkParams with(uint16_t rxq, uint16_t txq, uint16_t rxd, uint16_t txd, uint32_t mtu) {
  UplinkParams p = params();
  p.rx_queues = rxq;
  p.tx_queues = txq;
  p.rx_descriptors = rxd;
  p.tx_descriptors = txd;
  p.mtu = mtu;
  return p;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ClampTest,
    ::testing::Values(
        ClampCase{
            "nothing to clamp", enaInfo(), with(4, 2, 2048, 512, 9001), 4, 2, 2048, 512, 9001, {}},
        ClampCase{"queues over the device's",
                  withQueues(2, 1),
                  with(8, 4, 1024, 1024, 1500),
                  2,
                  1,
                  1024,
                  1024,
                  1500,
                  {"rx_queues", "tx_queues"}},
        ClampCase{"rings below the minimum",
                  enaInfo(),
                  with(2, 2, 64, 64, 1500),
                  2,
                  2,
                  128,
                  128,
                  1500,
                  {"rx_descriptors", "tx_descriptors"}},
        ClampCase{"ENA's TX ring is at most 1024",
                  enaInfo(),
                  with(2, 2, 4096, 4096, 1500),
                  2,
                  2,
                  4096,
                  1024,
                  1500,
                  {"tx_descriptors"}},
        ClampCase{"aligned up, then capped",
                  withDescLimits({.nb_min = 64, .nb_max = 4096, .nb_align = 32},
                                 {.nb_min = 0, .nb_max = 1000, .nb_align = 64}),
                  with(2, 2, 1000, 999, 1500),
                  2,
                  2,
                  1024,
                  1000,
                  1500,
                  {"rx_descriptors", "tx_descriptors"}},
        ClampCase{"MTU over max_mtu",
                  withMtu(68, 1500, 1518),
                  with(2, 2, 1024, 1024, 9001),
                  2,
                  2,
                  1024,
                  1024,
                  1500,
                  {"mtu"}},
        ClampCase{"MTU over what max_rx_pktlen leaves",
                  withMtu(68, UINT16_MAX, 2048),
                  with(2, 2, 1024, 1024, 9001),
                  2,
                  2,
                  1024,
                  1024,
                  2030,
                  {"mtu"}},
        ClampCase{"MTU under min_mtu",
                  withMtu(576, 9000, 9018),
                  with(2, 2, 1024, 1024, 68),
                  2,
                  2,
                  1024,
                  1024,
                  576,
                  {"mtu"}}),
    [](const ::testing::TestParamInfo<ClampCase>& param) {
      return "Case" + std::to_string(param.index);
    });

TEST_F(UplinkTest, JumboScattersOnTheSharedPool) {
  UplinkParams p = params();
  p.mtu = 9001;
  ASSERT_TRUE(create(p).ok());
  const EthDevConfig& c = state_->configs.at(0);
  EXPECT_EQ(c.rx_offloads, RTE_ETH_RX_OFFLOAD_SCATTER);
  EXPECT_EQ(c.tx_offloads, RTE_ETH_TX_OFFLOAD_MULTI_SEGS);
  EXPECT_EQ(c.rx_pool, fakePool(1));
  EXPECT_TRUE(pool_requests_.empty());
  EXPECT_THAT(state_->mtus, ElementsAre(9001u));
}

TEST_F(UplinkTest, JumboWithoutScatterGetsAWholeFramePool) {
  state_->info.rx_offload_capa = 0;
  state_->info.tx_offload_capa = 0;
  UplinkParams p = params();
  p.mtu = 9001;
  p.rx_queues = 1;
  ASSERT_TRUE(create(p).ok());
  const EthDevConfig& c = state_->configs.at(0);
  EXPECT_EQ(c.rx_offloads, 0u);
  EXPECT_EQ(c.rx_pool, fakePool(2));
  ASSERT_EQ(pool_requests_.size(), 1u);
  EXPECT_EQ(pool_requests_[0].name, "edp_rx_eni1");
  EXPECT_EQ(pool_requests_[0].data_room, RTE_PKTMBUF_HEADROOM + 9216);
  EXPECT_EQ(pool_requests_[0].count, 2u * 1 * (1024 + 64));
}

TEST_F(UplinkTest, PromiscuousForL2) {
  UplinkParams p = params();
  p.promiscuous = true;
  ASSERT_TRUE(create(p).ok());
  EXPECT_THAT(state_->actions(), ElementsAre("configure", "start", "setPromiscuous"));
}

TEST_F(UplinkTest, CreateFailsWhenStartFails) {
  state_->fail("start");
  absl::StatusOr<std::unique_ptr<Uplink>> up = create(params());
  EXPECT_FALSE(up.ok());
  EXPECT_THAT(up.status().message(), HasSubstr("fake start failed"));
  EXPECT_EQ(state_->sink, nullptr);  // unsubscribed again
}

TEST_F(UplinkTest, ResetEventThenRecoveryWithTheSameLayout) {
  UplinkParams p = params();
  p.mtu = 9001;
  p.rx_queues = 16;  // clamped to 8
  absl::StatusOr<std::unique_ptr<Uplink>> created = create(p);
  ASSERT_TRUE(created.ok());
  Uplink& up = **created;
  const absl::Time now = absl::FromUnixSeconds(1000);
  EXPECT_FALSE(up.needsRecovery(now));
  EXPECT_FALSE(up.snapshot().in_reset);

  state_->calls.clear();
  state_->raise(EthEvent::Reset);
  EXPECT_TRUE(up.resetPending());
  EXPECT_TRUE(up.needsRecovery(now));
  EXPECT_TRUE(up.snapshot().in_reset);
  EXPECT_EQ(up.snapshot().reset_requests, 1u);

  ASSERT_TRUE(up.recover(now).ok());
  EXPECT_THAT(state_->actions(), ElementsAre("stop", "reset", "configure", "start", "setMtu"));
  ASSERT_EQ(state_->configs.size(), 2u);
  EXPECT_EQ(state_->configs[1], state_->configs[0]);
  EXPECT_EQ(state_->configs[1].rx_queues, 8);
  EXPECT_FALSE(up.needsRecovery(now));
  UplinkSnapshot s = up.snapshot();
  EXPECT_EQ(s.resets, 1u);
  EXPECT_EQ(s.reset_failures, 0u);
  EXPECT_FALSE(s.in_reset);
}

class RecoveryFailureTest : public UplinkTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(RecoveryFailureTest, FailedRecoveryIsRetriedAfterABackoff) {
  absl::StatusOr<std::unique_ptr<Uplink>> created = create(params());
  ASSERT_TRUE(created.ok());
  Uplink& up = **created;
  absl::Time now = absl::FromUnixSeconds(1000);
  up.requestReset();
  state_->fail(GetParam());
  state_->calls.clear();
  absl::Status failed = up.recover(now);
  EXPECT_FALSE(failed.ok());
  EXPECT_THAT(failed.message(), HasSubstr("fake " + GetParam() + " failed"));
  EXPECT_FALSE(up.resetPending());  // the request was taken...
  EXPECT_TRUE(up.inReset());        // ...but the uplink stays out
  EXPECT_FALSE(up.needsRecovery(now));
  EXPECT_FALSE(up.needsRecovery(now + Uplink::kFirstRetryDelay - absl::Milliseconds(1)));
  EXPECT_TRUE(up.needsRecovery(now + Uplink::kFirstRetryDelay));
  UplinkSnapshot s = up.snapshot();
  EXPECT_TRUE(s.in_reset);
  EXPECT_FALSE(s.link_up);
  EXPECT_EQ(s.reset_failures, 1u);
  EXPECT_EQ(s.resets, 0u);

  // The second failure doubles the delay.
  state_->fail(GetParam());
  now += Uplink::kFirstRetryDelay;
  EXPECT_FALSE(up.recover(now).ok());
  EXPECT_FALSE(up.needsRecovery(now + 2 * Uplink::kFirstRetryDelay - absl::Milliseconds(1)));
  EXPECT_TRUE(up.needsRecovery(now + 2 * Uplink::kFirstRetryDelay));

  now += 2 * Uplink::kFirstRetryDelay;
  state_->calls.clear();
  ASSERT_TRUE(up.recover(now).ok());
  EXPECT_THAT(state_->actions(), ElementsAre("stop", "reset", "configure", "start"));
  s = up.snapshot();
  EXPECT_EQ(s.resets, 1u);
  EXPECT_EQ(s.reset_failures, 2u);
  EXPECT_FALSE(s.in_reset);
  EXPECT_FALSE(up.needsRecovery(now));
  for (const EthDevConfig& c : state_->configs) EXPECT_EQ(c, state_->configs.front());
}

INSTANTIATE_TEST_SUITE_P(Calls, RecoveryFailureTest,
                         ::testing::Values("reset", "configure", "start"));

TEST_F(UplinkTest, FailedStopStillResets) {
  absl::StatusOr<std::unique_ptr<Uplink>> created = create(params());
  ASSERT_TRUE(created.ok());
  (*created)->requestReset();
  state_->fail("stop");
  state_->calls.clear();
  EXPECT_TRUE((*created)->recover(absl::FromUnixSeconds(1)).ok());
  EXPECT_THAT(state_->actions(), ElementsAre("stop", "reset", "configure", "start"));
}

TEST_F(UplinkTest, ResetDuringRecoveryIsNotLost) {
  absl::StatusOr<std::unique_ptr<Uplink>> created = create(params());
  ASSERT_TRUE(created.ok());
  Uplink& up = **created;
  up.requestReset();
  // The device raises another reset after recover() took the first one.
  state_->fail("configure");
  ASSERT_FALSE(up.recover(absl::FromUnixSeconds(1)).ok());
  state_->raise(EthEvent::Reset);
  EXPECT_TRUE(up.resetPending());
  EXPECT_EQ(up.snapshot().reset_requests, 2u);
}

TEST_F(UplinkTest, LinkEventsAndSnapshot) {
  state_->xstats = {{"rx_good_packets", 5},
                    {"pps_allowance_exceeded", 7},
                    {"wd_expired", 1},
                    {"bw_in_allowance_exceeded", 3},
                    {"conntrack_allowance_exceeded", 0}};
  state_->stats = EthStats{.ipackets = 10, .opackets = 20, .imissed = 2, .rx_nombuf = 1};
  state_->link = EthLink{.up = true, .speed_mbps = 100000};
  absl::StatusOr<std::unique_ptr<Uplink>> created = create(params());
  ASSERT_TRUE(created.ok());
  Uplink& up = **created;

  UplinkSnapshot before = up.snapshot();
  EXPECT_FALSE(before.link_up);  // nothing read before the first refresh
  EXPECT_EQ(before.rx_queues, 2);

  up.refresh();
  UplinkSnapshot s = up.snapshot();
  EXPECT_EQ(s.port_id, 3);
  EXPECT_TRUE(s.link_up);
  EXPECT_EQ(s.speed_mbps, 100000u);
  EXPECT_EQ(s.stats, state_->stats);
  EXPECT_EQ(s.mac, state_->mac);
  EXPECT_EQ(s.mtu, 1500u);
  // In kEnaAllowanceXstats order, absent ones omitted, others ignored.
  EXPECT_THAT(s.allowance, ElementsAre(EthXstat{"bw_in_allowance_exceeded", 3},
                                       EthXstat{"pps_allowance_exceeded", 7},
                                       EthXstat{"conntrack_allowance_exceeded", 0}));

  state_->link = EthLink{.up = false, .speed_mbps = 0};
  state_->raise(EthEvent::LinkChange);
  EXPECT_EQ(up.snapshot().link_changes, 1u);
  EXPECT_TRUE(up.snapshot().link_up);  // until the next refresh
  up.refresh();
  EXPECT_FALSE(up.snapshot().link_up);

  // While in reset the device is not read and the link shows down.
  state_->link = EthLink{.up = true, .speed_mbps = 100000};
  up.requestReset();
  state_->calls.clear();
  up.refresh();
  EXPECT_TRUE(state_->calls.empty());
  EXPECT_FALSE(up.snapshot().link_up);
  EXPECT_TRUE(up.snapshot().in_reset);
}

TEST_F(UplinkTest, NonEnaDeviceHasNoAllowanceCounters) {
  state_->xstats = {{"rx_good_packets", 5}};
  absl::StatusOr<std::unique_ptr<Uplink>> created = create(params());
  ASSERT_TRUE(created.ok());
  (*created)->refresh();
  EXPECT_TRUE((*created)->snapshot().allowance.empty());
}

TEST_F(UplinkTest, CloseUnsubscribesStopsAndCloses) {
  absl::StatusOr<std::unique_ptr<Uplink>> created = create(params());
  ASSERT_TRUE(created.ok());
  state_->calls.clear();
  EXPECT_TRUE((*created)->close().ok());
  EXPECT_THAT(state_->actions(), ElementsAre("stop", "close"));
  EXPECT_EQ(state_->sink, nullptr);
}

// net_af_packet and most vdevs raise no link-change interrupt: refresh() counts what it sees.
TEST_F(UplinkTest, LinkChangesOfADeviceWithoutInterruptsAreCountedByRefresh) {
  state_->info.lsc_interrupt = false;
  absl::StatusOr<std::unique_ptr<Uplink>> up = create(params());
  ASSERT_TRUE(up.ok()) << up.status();
  (*up)->refresh();  // the first reading is no change
  EXPECT_EQ((*up)->snapshot().link_changes, 0u);
  state_->link = EthLink{.up = false, .speed_mbps = 0};
  (*up)->refresh();
  (*up)->refresh();
  state_->link = EthLink{.up = true, .speed_mbps = 25000};
  (*up)->refresh();
  EXPECT_EQ((*up)->snapshot().link_changes, 2u);
  EXPECT_TRUE((*up)->snapshot().link_up);
}

}  // namespace
}  // namespace enadpdk::vhostuser
