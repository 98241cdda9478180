#pragma once

// A client for the EC2 instance metadata service (IMDSv2, over libcurl) that reads what the IPAM
// plugin needs about one ENI.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace enadpdk::cni::ipam {

// What the metadata says about one ENI (network/interfaces/macs/<mac>/...). Every field is
// validated when fetched or read back from the cache.
struct EniMetadata {
  // The ENI's MAC address, lowercase.
  std::string mac{};
  // local-ipv4s: its private IPv4 addresses, the primary first.
  std::vector<std::string> localIpv4s{};
  // subnet-ipv4-cidr-block: its subnet ("10.0.1.0/24").
  std::string subnetIpv4Cidr{};
  // ipv6s: its IPv6 addresses; empty when the metadata has none (404).
  std::vector<std::string> ipv6s{};
  // subnet-ipv6-cidr-blocks: its subnet's IPv6 blocks; empty without IPv6.
  std::vector<std::string> subnetIpv6Cidrs{};

  // The cache file representation.
  nlohmann::json toJson() const;
  // Reads toJson()'s output back, validating it as fetch() does. InvalidArgument otherwise.
  static absl::StatusOr<EniMetadata> fromJson(const nlohmann::json& json);

  // Field-wise comparison.
  bool operator==(const EniMetadata&) const = default;
};

// Where and how to reach the metadata service.
struct ImdsOptions {
  // Base URL ("http://169.254.169.254"); paths are appended to it.
  std::string endpoint{};
  // Timeout of each request (connect and transfer), in milliseconds.
  unsigned timeoutMs = 1000;
};

// An IMDSv2 session: the first request PUTs /latest/api/token, later GETs send the token in
// X-aws-ec2-metadata-token. Proxies are never used (the metadata service is link-local). Every
// error is Unavailable (unreachable, timeout), NotFound (HTTP 404), FailedPrecondition (other
// HTTP statuses) or DataLoss (malformed data), with a message that names the endpoint and path.
// Not thread-safe; one client per invocation.
class ImdsClient {
 public:
  // Creates a client; does no I/O.
  explicit ImdsClient(ImdsOptions options);
  ~ImdsClient();
  ImdsClient(const ImdsClient&) = delete;
  ImdsClient& operator=(const ImdsClient&) = delete;

  // GETs /latest/meta-data/<path> and returns the body.
  absl::StatusOr<std::string> get(std::string_view path);

  // Reads the ENI with MAC `mac` (either case). NotFound when the metadata has no such ENI.
  absl::StatusOr<EniMetadata> fetchEni(std::string_view mac);

  // Returns the MAC (lowercase) of the ENI whose device-number is `deviceNumber`. NotFound when
  // no attached ENI has it.
  absl::StatusOr<std::string> macOfDevice(unsigned deviceNumber);

  // Requests made so far (token PUTs included).
  unsigned requestCount() const { return requests_; }

 private:
  struct Response {
    long status = 0;
    std::string body{};
  };
  // Sends one request; Unavailable when no HTTP answer arrived.
  absl::StatusOr<Response> send(const char* method, const std::string& path,
                                const std::vector<std::string>& headers);
  // Gets (once) and returns the session token.
  absl::StatusOr<std::string> token();

  ImdsOptions options_;
  std::string token_;
  unsigned requests_ = 0;
};

// The token lifetime requested from the metadata service; one invocation needs seconds.
inline constexpr unsigned kImdsTokenTtlSeconds = 60;

}  // namespace enadpdk::cni::ipam
