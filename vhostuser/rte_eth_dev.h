#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vhostuser/eth_dev.h"

namespace enadpdk::vhostuser {

// EthDev over DPDK's rte_eth_* API, on an initialised EAL. Thread-safety as EthDev: control
// thread only, events from DPDK's threads.
class RteEthDev final : public EthDev {
 public:
  // Finds the ethdev of `device` (a PCI address, or a vdev string whose name is the part before
  // the first comma), probing it (rte_dev_probe) when EAL has not. FailedPrecondition when it
  // cannot be probed.
  static absl::StatusOr<std::unique_ptr<RteEthDev>> open(const std::string& device);
  // Takes the already probed port `port_id` (NotFound when there is none).
  static absl::StatusOr<std::unique_ptr<RteEthDev>> forPort(uint16_t port_id);
  // Unregisters the event callbacks; does not stop or close the port (close() does).
  ~RteEthDev() override;

  RteEthDev(const RteEthDev&) = delete;
  RteEthDev& operator=(const RteEthDev&) = delete;

  uint16_t portId() const override { return port_id_; }
  absl::StatusOr<EthDevInfo> info() const override;
  absl::Status configure(const EthDevConfig& config) override;
  absl::Status start() override;
  absl::Status stop() override;
  absl::Status reset() override;
  absl::Status close() override;
  absl::StatusOr<EthLink> link() const override;
  absl::StatusOr<EthStats> stats() const override;
  absl::StatusOr<std::vector<EthXstat>> xstats() const override;
  absl::StatusOr<MacAddr> mac() const override;
  absl::Status setMtu(uint32_t mtu) override;
  absl::Status setPromiscuous(bool on) override;
  // Registers RTE_ETH_EVENT_INTR_RESET and RTE_ETH_EVENT_INTR_LSC callbacks while a sink is set;
  // unregistering waits until a running callback has returned.
  void setEventSink(EthEventSink* sink) override;

 private:
  // Holds the rte_eth_dev_cb_fn of both events (rte_eth_dev.cc).
  friend struct RteEthDevCallback;

  explicit RteEthDev(uint16_t port_id) : port_id_(port_id) {}
  void unregisterCallbacks();

  const uint16_t port_id_;
  EthEventSink* sink_ = nullptr;  // read by onEvent only while its callbacks are registered
  bool closed_ = false;
};

}  // namespace enadpdk::vhostuser
