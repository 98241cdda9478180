#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vhostuser/eth_dev.h"

namespace enadpdk::testing {

using vhostuser::EthDev;
using vhostuser::EthDevConfig;
using vhostuser::EthDevInfo;
using vhostuser::EthEvent;
using vhostuser::EthEventSink;
using vhostuser::EthLink;
using vhostuser::EthStats;
using vhostuser::EthXstat;
using vhostuser::MacAddr;

// What a FakeEthDev reports and records; shared with the test, which keeps it after handing the
// device to its owner (Uplink).
struct FakeEthDevState {
  EthDevInfo info{};
  EthLink link{.up = true, .speed_mbps = 25000};
  EthStats stats{};
  std::vector<EthXstat> xstats{};
  MacAddr mac{.bytes = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
  // Every call by name ("configure", "start", "stop", "reset", "close", "setMtu",
  // "setPromiscuous", "info", "link", "stats", "xstats", "mac"), in order.
  std::vector<std::string> calls{};
  // The argument of every configure() call.
  std::vector<EthDevConfig> configs{};
  std::vector<uint32_t> mtus{};
  // Calls that fail, by name: how many more times each fails (Internal "fake <name> failed").
  std::map<std::string, int> failures{};
  EthEventSink* sink = nullptr;

  // Makes the next `times` calls of `call` fail.
  void fail(const std::string& call, int times = 1) { failures[call] = times; }
  // Delivers `event` as DPDK's interrupt thread would (the test's thread here).
  void raise(EthEvent event) const {
    if (sink != nullptr) sink->onEthEvent(event);
  }
  // The recorded calls other than the read-only ones (info, link, stats, xstats, mac).
  std::vector<std::string> actions() const {
    std::vector<std::string> out;
    for (const std::string& c : calls) {
      if (c != "info" && c != "link" && c != "stats" && c != "xstats" && c != "mac")
        out.push_back(c);
    }
    return out;
  }
};

// An EthDev that records its calls into a FakeEthDevState and fails the ones it is told to.
class FakeEthDev final : public EthDev {
 public:
  explicit FakeEthDev(std::shared_ptr<FakeEthDevState> state, uint16_t port_id = 3)
      : state_(std::move(state)), port_id_(port_id) {}

  uint16_t portId() const override { return port_id_; }
  absl::StatusOr<EthDevInfo> info() const override {
    if (absl::Status s = record("info"); !s.ok()) return s;
    return state_->info;
  }
  absl::Status configure(const EthDevConfig& config) override {
    state_->configs.push_back(config);
    return record("configure");
  }
  absl::Status start() override { return record("start"); }
  absl::Status stop() override { return record("stop"); }
  absl::Status reset() override { return record("reset"); }
  absl::Status close() override { return record("close"); }
  absl::StatusOr<EthLink> link() const override {
    if (absl::Status s = record("link"); !s.ok()) return s;
    return state_->link;
  }
  absl::StatusOr<EthStats> stats() const override {
    if (absl::Status s = record("stats"); !s.ok()) return s;
    return state_->stats;
  }
  absl::StatusOr<std::vector<EthXstat>> xstats() const override {
    if (absl::Status s = record("xstats"); !s.ok()) return s;
    return state_->xstats;
  }
  absl::StatusOr<MacAddr> mac() const override {
    if (absl::Status s = record("mac"); !s.ok()) return s;
    return state_->mac;
  }
  absl::Status setMtu(uint32_t mtu) override {
    state_->mtus.push_back(mtu);
    return record("setMtu");
  }
  absl::Status setPromiscuous(bool) override { return record("setPromiscuous"); }
  void setEventSink(EthEventSink* sink) override { state_->sink = sink; }

 private:
  absl::Status record(const std::string& call) const {
    state_->calls.push_back(call);
    auto it = state_->failures.find(call);
    if (it == state_->failures.end() || it->second == 0) return absl::OkStatus();
    --it->second;
    return absl::InternalError("fake " + call + " failed");
  }

  std::shared_ptr<FakeEthDevState> state_;
  const uint16_t port_id_;
};

}  // namespace enadpdk::testing
