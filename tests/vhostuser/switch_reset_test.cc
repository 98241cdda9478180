// The uplink reset path end to end through the ethdev seam: a real Switch (EAL without
// hugepages, one worker) whose uplink is a real ring-backed ethdev behind a wrapper that
// reports the ENA's reset event and fakes the reset itself (no vdev implements dev_reset).
// Frames the "VPC" puts on the uplink's RX ring are received before the reset, not while the
// uplink is out of service, and again after it; the reset is counted in the control API and
// the metrics; pod ports stay. The same switch with a TX drain interval delivers single frames
// at once (a pass that receives nothing flushes).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "spdlog/sinks/ostream_sink.h"
#include "tests/support/packet_builder.h"
#include "tests/support/test_eal.h"
#include "vhostuser/control_service.h"
#include "vhostuser/dataplane_config.h"
#include "vhostuser/rte_eth_dev.h"
#include "vhostuser/switch.h"

namespace enadpdk::vhostuser {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

bool ealReady() {
  static const absl::Status status = testing::initTestEal("switch-reset-test", 2);
  return status.ok();
}

// The real ring ethdev, with reset() and the reset event under the test's control.
struct ResetControl {
  EthEventSink* sink = nullptr;
  int resets = 0;
  int fail_resets = 0;  // the next N resets fail
};

class ResettableDev final : public EthDev {
 public:
  ResettableDev(std::unique_ptr<EthDev> real, ResetControl* control)
      : real_(std::move(real)), control_(control) {}
  uint16_t portId() const override { return real_->portId(); }
  absl::StatusOr<EthDevInfo> info() const override { return real_->info(); }
  absl::Status configure(const EthDevConfig& c) override { return real_->configure(c); }
  absl::Status start() override { return real_->start(); }
  absl::Status stop() override { return real_->stop(); }
  absl::Status reset() override {
    ++control_->resets;
    if (control_->fail_resets > 0) {
      --control_->fail_resets;
      return absl::InternalError("reset: device busy");
    }
    return real_->stop();  // what rte_eth_dev_reset does before the driver's re-init
  }
  absl::Status close() override { return real_->close(); }
  absl::StatusOr<EthLink> link() const override { return real_->link(); }
  absl::StatusOr<EthStats> stats() const override { return real_->stats(); }
  absl::StatusOr<std::vector<EthXstat>> xstats() const override { return real_->xstats(); }
  absl::StatusOr<MacAddr> mac() const override { return real_->mac(); }
  absl::Status setMtu(uint32_t mtu) override { return real_->setMtu(mtu); }
  absl::Status setPromiscuous(bool on) override { return real_->setPromiscuous(on); }
  void setEventSink(EthEventSink* sink) override { control_->sink = sink; }

 private:
  std::unique_ptr<EthDev> real_;
  ResetControl* control_;
};

class SwitchResetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ealReady());
    ASSERT_GE(rte_lcore_count(), 2u);
    dir_ = fs::temp_directory_path() / ("switch-reset-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "vhost");
    static int instance = 0;
    const std::string name = "uplink_ring" + std::to_string(instance++);
    rx_ =
        rte_ring_create((name + "_rx").c_str(), 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    tx_ =
        rte_ring_create((name + "_tx").c_str(), 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    ASSERT_NE(rx_, nullptr);
    ASSERT_NE(tx_, nullptr);
    const int port = rte_eth_from_rings(name.c_str(), &rx_, 1, &tx_, 1, 0);
    ASSERT_GE(port, 0) << rte_strerror(rte_errno);
    port_ = static_cast<uint16_t>(port);
    pool_ = rte_pktmbuf_pool_create((name + "_gen").c_str(), 512, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                    SOCKET_ID_ANY);
    ASSERT_NE(pool_, nullptr);
    const nlohmann::json doc = {
        {"dataplane",
         {{"workers", nlohmann::json::array({1})},
          {"controlSocket", (dir_ / "dp.sock").string()},
          {"stateFile", (dir_ / "state.json").string()},
          {"cniStateDir", (dir_ / "cni").string()},
          {"allowedSocketDirs", nlohmann::json::array({(dir_ / "vhost").string()})},
          {"mbufs", 2048},
          {"networks", nlohmann::json::array({{{"name", "eni1"},
                                               {"mode", "vpc"},
                                               {"mac", "02:00:00:00:00:aa"},
                                               {"uplink", {{"device", name}}}}})}}}};
    absl::StatusOr<DataplaneConfig> config = parseDataplaneConfig(doc);
    ASSERT_TRUE(config.ok()) << config.status();
    config->txDrainMicroseconds = tx_drain_us_;
    auto log = std::make_shared<spdlog::logger>(
        "dataplane", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text_));
    absl::StatusOr<std::unique_ptr<Switch>> sw = Switch::create(
        *config, log, [this](const std::string&) -> absl::StatusOr<std::unique_ptr<EthDev>> {
          absl::StatusOr<std::unique_ptr<RteEthDev>> real = RteEthDev::forPort(port_);
          if (!real.ok()) return real.status();
          return std::unique_ptr<EthDev>(
              std::make_unique<ResettableDev>(*std::move(real), &control_));
        });
    ASSERT_TRUE(sw.ok()) << sw.status();
    sw_ = *std::move(sw);
  }

  void TearDown() override {
    sw_.reset();
    rte_mempool_free(pool_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // `n` IPv4 frames from the VPC to an address no pod has (dropped as no_route, counted).
  void sendFromVpc(unsigned n) {
    for (unsigned i = 0; i < n; ++i) {
      sendFromVpc(testing::udp4("02:00:00:00:00:aa", "02:00:00:00:00:01", "10.0.9.9", "10.0.1.77"));
    }
  }

  // The pod both tests attach to eni1.
  PortSpec podA() const {
    PortSpec pod;
    pod.id = "pod-a/net1";
    pod.network = "eni1";
    pod.socket_path = (dir_ / "vhost" / "a.sock").string();
    pod.ips = {"10.0.1.5/24"};
    return pod;
  }

  // `frame` in an mbuf of the test's pool (nullptr when the pool is empty).
  rte_mbuf* mbufOf(const testing::Frame& frame) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr) return nullptr;
    std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), frame.data(), frame.size());
    m->data_len = m->pkt_len = static_cast<uint32_t>(frame.size());
    return m;
  }

  // Puts `frame` on the uplink's RX ring, as the VPC sending it.
  void sendFromVpc(const testing::Frame& frame) {
    rte_mbuf* m = mbufOf(frame);
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(rte_ring_enqueue(rx_, m), 0);
  }

  // Takes what the switch sent to the VPC (the uplink's TX ring) within `limit`, up to `want`
  // frames.
  std::vector<testing::Frame> sentToVpc(size_t want, std::chrono::milliseconds limit) {
    std::vector<testing::Frame> out;
    const auto until = std::chrono::steady_clock::now() + limit;
    while (out.size() < want && std::chrono::steady_clock::now() < until) {
      void* obj = nullptr;
      if (rte_ring_dequeue(tx_, &obj) != 0) {
        sched_yield();
        continue;
      }
      auto* m = static_cast<rte_mbuf*>(obj);
      const auto* data = rte_pktmbuf_mtod(m, const uint8_t*);
      out.emplace_back(data, data + rte_pktmbuf_data_len(m));
      rte_pktmbuf_free(m);
    }
    return out;
  }

  uint64_t uplinkRx() {
    for (const NetworkStatus& n : sw_->listNetworks()) {
      if (n.uplink) return n.uplink->counters.rx_packets;
    }
    return 0;
  }
  NetworkStatus network() { return sw_->listNetworks().at(0); }

  // Waits (up to 5 s) until the switch has received `want` frames from the uplink.
  bool received(uint64_t want) {
    for (int i = 0; i < 500 && uplinkRx() < want; ++i) usleep(10'000);
    return uplinkRx() == want;
  }

  // dataplane.txDrainMicroseconds of the switch SetUp() creates.
  unsigned tx_drain_us_ = 0;
  fs::path dir_;
  uint16_t port_ = 0;
  rte_ring* rx_ = nullptr;
  rte_ring* tx_ = nullptr;
  rte_mempool* pool_ = nullptr;
  ResetControl control_;
  std::ostringstream log_text_;
  std::unique_ptr<Switch> sw_;
};

TEST_F(SwitchResetTest, ResetEventTakesTheUplinkOutRecoversItAndTrafficResumes) {
  const PortSpec pod = podA();
  ASSERT_TRUE(sw_->addPort(pod).ok());

  sendFromVpc(10);
  ASSERT_TRUE(received(10)) << uplinkRx();

  // The PMD raises the reset (from its watchdog, inside rte_timer_manage on this lcore).
  ASSERT_NE(control_.sink, nullptr);
  control_.sink->onEthEvent(EthEvent::Reset);
  sw_->poll();  // takes it out, waits for the workers, stop/reset/configure/start, puts it back
  EXPECT_EQ(control_.resets, 1);
  NetworkStatus n = network();
  ASSERT_TRUE(n.uplink.has_value());
  EXPECT_EQ(n.uplink->resets, 1u);
  EXPECT_EQ(n.uplink->reset_failures, 0u);
  EXPECT_THAT(renderMetrics(*sw_),
              HasSubstr("ena_dpdk_uplink_resets_total{network=\"eni1\",device=\"" +
                        n.uplink->device + "\"} 1"));
  EXPECT_THAT(log_text_.str(), HasSubstr("uplink reset done network=eni1 resets=1"));

  sendFromVpc(10);
  EXPECT_TRUE(received(20)) << "traffic did not resume: " << uplinkRx();
  // The pod port was never touched.
  absl::StatusOr<PortStatus> kept = sw_->getPort("pod-a/net1");
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->spec.ips, std::vector<std::string>{"10.0.1.5/24"});
  EXPECT_EQ(network().port_count, 1u);
}

TEST_F(SwitchResetTest, AFailedResetKeepsTheUplinkOutAndIsRetriedAfterABackoff) {
  sendFromVpc(5);
  ASSERT_TRUE(received(5));
  control_.fail_resets = 1;
  control_.sink->onEthEvent(EthEvent::Reset);
  sw_->poll();
  EXPECT_EQ(control_.resets, 1);
  NetworkStatus n = network();
  EXPECT_EQ(n.uplink->reset_failures, 1u);
  EXPECT_FALSE(n.up) << "a network whose uplink failed to reset is reported up";
  EXPECT_THAT(renderMetrics(*sw_),
              HasSubstr("ena_dpdk_uplink_reset_failures_total{network=\"eni1\""));

  sw_->poll();  // before the backoff (100 ms) has passed: no new attempt
  EXPECT_EQ(control_.resets, 1);

  // Out of service: frames wait on the ring, nobody polls it.
  sendFromVpc(5);
  usleep(200'000);
  EXPECT_EQ(uplinkRx(), 5u);
  EXPECT_EQ(rte_ring_count(rx_), 5u);

  sw_->poll();  // the backoff has passed
  EXPECT_EQ(control_.resets, 2);
  EXPECT_EQ(network().uplink->resets, 1u);
  EXPECT_TRUE(received(10)) << "traffic did not resume after the retry: " << uplinkRx();
}

TEST_F(SwitchResetTest, AStalledWorkerMakesTheSwitchUnhealthyWithinTwoSeconds) {
  // The main loop's cadence: poll() every 100 ms.
  auto pollFor = [this](int ticks) {
    for (int i = 0; i < ticks; ++i) {
      sw_->poll();
      usleep(100'000);
    }
  };
  pollFor(3);
  EXPECT_TRUE(sw_->health().ok()) << sw_->health();

  sw_->pauseWorkerForTest(0, true);
  const auto since = std::chrono::steady_clock::now();
  while (sw_->health().ok() && std::chrono::steady_clock::now() - since < std::chrono::seconds(5)) {
    pollFor(1);
  }
  EXPECT_LE(std::chrono::steady_clock::now() - since, std::chrono::seconds(2));
  const absl::Status health = sw_->health();
  EXPECT_EQ(health.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(health.message()),
              HasSubstr("worker lcore 1 has completed no poll pass for "));

  sw_->pauseWorkerForTest(0, false);
  pollFor(3);
  EXPECT_TRUE(sw_->health().ok()) << sw_->health();

  // A main loop that stops polling is unhealthy too (after the 1 s limit).
  usleep(1'300'000);
  EXPECT_THAT(std::string(sw_->health().message()), HasSubstr("the control loop has not run for"));
}

// ---- the TX drain interval end to end

// The same switch with a drain interval of 10 s, past the parser's bound (1 ms) on purpose: longer
// than any wait below, so only the rule that a pass receiving nothing flushes everything can
// deliver the replies in time.
class SwitchTxDrainTest : public SwitchResetTest {
 protected:
  SwitchTxDrainTest() { tx_drain_us_ = 10'000'000; }
};

TEST_F(SwitchTxDrainTest, ALoneFrameIsNotHeldForTheDrainInterval) {
  EXPECT_THAT(log_text_.str(), HasSubstr("tx_drain_us=10000000"));
  const PortSpec pod = podA();
  ASSERT_TRUE(sw_->addPort(pod).ok());
  const std::string vpc_mac = "02:00:00:00:00:01", eni_mac = "02:00:00:00:00:aa";
  const auto whoHas = [&](const std::string& sender_ip) {
    return testing::arp(1, "ff:ff:ff:ff:ff:ff", vpc_mac, vpc_mac, sender_ip, "00:00:00:00:00:00",
                        "10.0.1.5");
  };

  // One ARP request: the switch answers it for the pod (a Reply to the uplink's own buffer).
  const auto sent = std::chrono::steady_clock::now();
  sendFromVpc(whoHas("10.0.9.9"));
  std::vector<testing::Frame> replies = sentToVpc(1, std::chrono::seconds(2));
  const auto waited = std::chrono::steady_clock::now() - sent;
  std::cout << "a lone ARP reply came back after "
            << std::chrono::duration_cast<std::chrono::microseconds>(waited).count() << " us"
            << std::endl;
  ASSERT_EQ(replies.size(), 1u) << "the reply was held back: " << log_text_.str();
  EXPECT_EQ(replies[0],
            testing::arp(2, vpc_mac, eni_mac, eni_mac, "10.0.1.5", vpc_mac, "10.0.9.9"));

  // A burst that leaves partly filled buffers behind: all of it comes out, nothing is lost.
  for (int i = 0; i < 50; ++i) sendFromVpc(whoHas("10.0.9." + std::to_string(10 + i)));
  replies = sentToVpc(50, std::chrono::seconds(2));
  EXPECT_EQ(replies.size(), 50u);
  for (const NetworkStatus& n : sw_->listNetworks()) {
    ASSERT_TRUE(n.uplink.has_value());
    EXPECT_EQ(n.uplink->counters.tx_packets, 51u);
    EXPECT_EQ(n.uplink->counters.rx_packets, 51u);
  }

  // Grace periods still end (the worker reports quiescent states while it holds nothing): the
  // removed port's socket closes, so adding it again does not wait for it in vain.
  ASSERT_TRUE(sw_->deletePort("pod-a/net1").ok());
  absl::StatusOr<PortStatus> again = sw_->addPort(pod, absl::Now() + absl::Seconds(2));
  EXPECT_TRUE(again.ok()) << again.status();
}

// ---- reading a backlog in fuller bursts

// The sizes of the bursts the worker hands the uplink's TX queue (a TX callback of the ring
// ethdev, run on the worker's lcore; read after the worker has gone quiet).
struct TxBursts {
  std::array<std::atomic<uint16_t>, 64> sizes{};
  std::atomic<unsigned> count{0};

  static uint16_t record(uint16_t, uint16_t, rte_mbuf**, uint16_t n, void* self) {
    auto* b = static_cast<TxBursts*>(self);
    const unsigned i = b->count.load(std::memory_order_relaxed);
    if (i < b->sizes.size()) b->sizes[i].store(n, std::memory_order_relaxed);
    b->count.store(i + 1, std::memory_order_release);
    return n;
  }
  std::vector<uint16_t> seen() const {
    std::vector<uint16_t> out;
    const unsigned n = std::min<unsigned>(count.load(std::memory_order_acquire), sizes.size());
    for (unsigned i = 0; i < n; ++i) out.push_back(sizes[i].load(std::memory_order_relaxed));
    return out;
  }
};

TEST_F(SwitchResetTest, ABacklogOnTheUplinkIsReadOnInOnePassAndLeavesInFullBursts) {
  static_assert(kMaxBurstsPerPass >= 2);
  const PortSpec pod = podA();
  ASSERT_TRUE(sw_->addPort(pod).ok());
  TxBursts bursts;
  const rte_eth_rxtx_callback* cb = rte_eth_add_tx_callback(port_, 0, &TxBursts::record, &bursts);
  ASSERT_NE(cb, nullptr) << "TX callbacks: " << rte_strerror(rte_errno);

  // Two bursts' worth appears on the uplink at once (one bulk enqueue, so the worker never sees
  // part of it): every other frame an ARP request the switch answers to the uplink, the others to
  // no pod (dropped). Read one burst a pass, each pass would end with 16 answers buffered and
  // flush them: two bursts of 16.
  const std::string vpc_mac = "02:00:00:00:00:01";
  std::vector<rte_mbuf*> backlog;
  for (int i = 0; i < 32; ++i) {
    backlog.push_back(
        mbufOf(testing::arp(1, "ff:ff:ff:ff:ff:ff", vpc_mac, vpc_mac,
                            "10.0.9." + std::to_string(10 + i), "00:00:00:00:00:00", "10.0.1.5")));
    backlog.push_back(mbufOf(testing::udp4("02:00:00:00:00:aa", vpc_mac, "10.0.9.9", "10.0.1.77")));
  }
  ASSERT_EQ(std::count(backlog.begin(), backlog.end(), nullptr), 0);
  ASSERT_EQ(rte_ring_enqueue_bulk(rx_, reinterpret_cast<void* const*>(backlog.data()),
                                  static_cast<unsigned>(backlog.size()), nullptr),
            backlog.size());

  // The callback runs before a burst reaches the TX ring: once all 32 answers are there, every
  // burst that carried them has been recorded.
  EXPECT_EQ(sentToVpc(32, std::chrono::seconds(2)).size(), 32u);
  EXPECT_TRUE(received(64)) << uplinkRx();
  EXPECT_EQ(bursts.seen(), std::vector<uint16_t>{32}) << "the backlog was not read in one pass";
  EXPECT_EQ(rte_eth_remove_tx_callback(port_, 0, cb), 0);
}

}  // namespace
}  // namespace enadpdk::vhostuser
