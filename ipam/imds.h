#pragma once

// A client for the EC2 instance metadata service (IMDSv2, over libcurl) that reads what the IPAM
// plugin needs about one ENI.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace enadpdk::ipam {

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
  // ipv4-prefix: the IPv4 prefixes delegated to the ENI (prefix delegation, "10.0.1.48/28"), in
  // the subnet; empty when it has none (404); nullopt when not fetched (EniFetch).
  std::optional<std::vector<std::string>> ipv4Prefixes{};
  // ipv6-prefix: the delegated IPv6 prefixes ("2600:1f18:abc:de01:1::/80"), each in one of the
  // subnet-ipv6-cidr-blocks; empty when it has none (404); nullopt when not fetched.
  std::optional<std::vector<std::string>> ipv6Prefixes{};

  // The cache file representation.
  nlohmann::json toJson() const;
  // Reads toJson()'s output back, validating it as fetch() does. InvalidArgument otherwise.
  static absl::StatusOr<EniMetadata> fromJson(const nlohmann::json& json);

  // Field-wise comparison.
  bool operator==(const EniMetadata&) const = default;
};

// Which optional lists fetchEni() reads besides the ENI's addresses and subnets (each costs a
// request, so only the networks that hand them out ask for them).
struct EniFetch {
  // network/interfaces/macs/<mac>/ipv4-prefix.
  bool ipv4Prefixes = false;
  // network/interfaces/macs/<mac>/ipv6-prefix (and subnet-ipv6-cidr-blocks, to place them).
  bool ipv6Prefixes = false;
};

// The largest response body the client accepts (IMDS answers are a few hundred bytes); a larger
// one is an error, and the client never buffers more than this.
inline constexpr std::size_t kMaxImdsBodyBytes = 64 * 1024;
// The largest block of response headers the client accepts.
inline constexpr std::size_t kMaxImdsHeaderBytes = 64 * 1024;
// The longest header value the client sends (IMDSv2 tokens are about 60 bytes).
inline constexpr std::size_t kMaxImdsHeaderValueBytes = 1024;
// The overall budget of one command's metadata requests is kImdsBudgetFactor × timeoutMs, at
// most kMaxImdsBudgetMs, but never less than timeoutMs (see imdsBudgetMs()).
inline constexpr unsigned kImdsBudgetFactor = 3;
inline constexpr unsigned kMaxImdsBudgetMs = 30000;

// The budget, in milliseconds, of all metadata requests of one command whose requests each time
// out after `timeoutMs`: max(timeoutMs, min(3 × timeoutMs, 30000)).
unsigned imdsBudgetMs(unsigned timeoutMs);

// Why `value` cannot be sent as a header value ("it has a control character at offset 3"), or
// an empty string when it can: 1 to kMaxImdsHeaderValueBytes printable ASCII characters (0x21 to
// 0x7e: no space, CR, LF or other control character, no byte above 0x7e). The reason never
// quotes the value (it may be a token).
std::string headerValueProblem(std::string_view value);

// Where and how to reach the metadata service.
struct ImdsOptions {
  // Base URL ("http://169.254.169.254"); paths are appended to it.
  std::string endpoint{};
  // Timeout of each request (connect and transfer), in milliseconds. A request never waits past
  // the client's budget either.
  unsigned timeoutMs = 1000;
  // The budget of all the client's requests together, in milliseconds, counted from the client's
  // creation; 0 means imdsBudgetMs(timeoutMs). Once it is spent, requests fail with
  // DeadlineExceeded.
  unsigned budgetMs = 0;
};

// An IMDSv2 session: the first request PUTs /latest/api/token, later GETs send the token in
// X-aws-ec2-metadata-token (only when headerValueProblem() finds nothing wrong with it). Proxies
// are never used (the metadata service is link-local). All requests together have one deadline
// (ImdsOptions::budgetMs from the client's creation), and each request's timeout is cut to what
// is left of it. Bodies larger than kMaxImdsBodyBytes are refused as they arrive. Every error is
// Unavailable (unreachable, timeout of one request), DeadlineExceeded (the budget is spent),
// NotFound (HTTP 404), FailedPrecondition (other HTTP statuses) or DataLoss (malformed data, an
// oversized answer, an unusable token), with a message that names the endpoint and path and
// never quotes a token or a body. Not thread-safe; one client per invocation.
class ImdsClient {
 public:
  // Creates a client; does no I/O.
  explicit ImdsClient(ImdsOptions options);
  ~ImdsClient();
  ImdsClient(const ImdsClient&) = delete;
  ImdsClient& operator=(const ImdsClient&) = delete;

  // GETs /latest/meta-data/<path> and returns the body.
  absl::StatusOr<std::string> get(std::string_view path);

  // Reads the ENI with MAC `mac` (either case), and the prefix lists `what` asks for. NotFound
  // when the metadata has no such ENI; DataLoss naming the ENI, the field and the entry when an
  // answer is malformed (a prefix that is no CIDR of its family, is not a network address, or
  // lies outside the ENI's subnet).
  absl::StatusOr<EniMetadata> fetchEni(std::string_view mac, EniFetch what = {});

  // Returns the MAC (lowercase) of the ENI whose device-number is `deviceNumber`. NotFound when
  // no attached ENI has it.
  absl::StatusOr<std::string> macOfDevice(unsigned deviceNumber);

  // Requests made so far (token PUTs included).
  unsigned requestCount() const { return requests_; }
  // The budget of all requests, in milliseconds.
  unsigned budgetMs() const { return budgetMs_; }

 private:
  struct Response {
    long status = 0;
    std::string body{};
  };
  // One request header: name and value (checked with headerValueProblem() before sending).
  struct Header {
    std::string_view name;
    std::string_view value;
  };
  // Sends one request; Unavailable when no HTTP answer arrived, DeadlineExceeded when the budget
  // ran out, DataLoss when the answer is too large.
  absl::StatusOr<Response> send(const char* method, const std::string& path,
                                const std::vector<Header>& headers);
  // The error for a spent budget, naming the request that found it spent.
  absl::Status budgetSpent(const char* method, const std::string& path) const;
  // Gets (once) and returns the session token.
  absl::StatusOr<std::string> token();

  ImdsOptions options_;
  unsigned budgetMs_ = 0;
  std::chrono::steady_clock::time_point deadline_{};
  std::string token_;
  unsigned requests_ = 0;
};

// The token lifetime requested from the metadata service; one invocation needs seconds.
inline constexpr unsigned kImdsTokenTtlSeconds = 60;

}  // namespace enadpdk::ipam
