#pragma once

// What EC2 says about the ENIs attached to the instance, read from the instance metadata service
// (IMDSv2). A seam: tests point the real client at tests/support/fake_imds.h or replace it.

#include <chrono>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "nodeprep/nodeprep_config.h"

namespace enadpdk::nodeprep {

// One attached ENI (network/interfaces/macs/<mac>/...).
struct EniFacts {
  // Its MAC address, lowercase.
  std::string mac{};
  // device-number: the device index it is attached at (0 for the primary ENI).
  unsigned device_number = 0;
  // interface-id: "eni-0123456789abcdef0".
  std::string eni_id{};

  // Field-wise comparison.
  bool operator==(const EniFacts&) const = default;
};

// The attached ENIs, by lowercase MAC.
using EniFactsByMac = std::map<std::string, EniFacts, std::less<>>;

// Reads the ENIs attached to the instance.
class EniMetadata {
 public:
  virtual ~EniMetadata() = default;

  // Every attached ENI with its device index and ENI ID. Unavailable (naming the endpoint) when
  // the metadata service cannot be reached or answers with an error, DataLoss when an answer is
  // not what EC2 writes.
  virtual absl::StatusOr<EniFactsByMac> attachedEnis() const = 0;
};

// The real metadata service: PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds), then
// GETs /latest/meta-data/network/interfaces/macs/ and, per MAC, device-number and interface-id
// with the token. Every request times out after config.timeoutMs. Thread-compatible.
class ImdsEniMetadata : public EniMetadata {
 public:
  explicit ImdsEniMetadata(ImdsConfig config) : config_(std::move(config)) {}

  absl::StatusOr<EniFactsByMac> attachedEnis() const override;

 private:
  ImdsConfig config_;
};

}  // namespace enadpdk::nodeprep
