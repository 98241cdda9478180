#pragma once

// A fake EC2 instance metadata service (IMDSv2 only) on 127.0.0.1 with a kernel-chosen port, for
// tests of the IPAM plugin:
//   - PUT /latest/api/token needs X-aws-ec2-metadata-token-ttl-seconds (1..21600) and returns a
//     new token;
//   - GET /latest/meta-data/<path> needs X-aws-ec2-metadata-token with an issued token (401
//     otherwise, as IMDSv2-only instances answer) and returns the body set for <path> (404 when
//     none);
//   - every request is counted, so tests can assert caching, and recorded with its headers;
//   - faults on demand: a hang (requests arrive but get no answer), a delay before each answer,
//     an endless body, a token of the test's choosing (CR/LF, oversized).

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace httplib {
class Server;
struct Request;
}  // namespace httplib

namespace enadpdk::testing {

// One ENI as the metadata describes it.
struct FakeEni {
  // MAC address, lowercase.
  std::string mac{};
  // device-number.
  unsigned deviceNumber = 0;
  // local-ipv4s, primary first.
  std::vector<std::string> localIpv4s{};
  // subnet-ipv4-cidr-block.
  std::string subnetIpv4Cidr{};
  // ipv6s; empty: the path is absent (404), as on an ENI without IPv6.
  std::vector<std::string> ipv6s{};
  // subnet-ipv6-cidr-blocks; empty: absent.
  std::vector<std::string> subnetIpv6Cidrs{};
  // ipv4-prefix: delegated IPv4 prefixes ("10.0.1.48/28"), one per line as IMDS lists them;
  // empty: the path is absent (404), as on an ENI without prefix delegation.
  std::vector<std::string> ipv4Prefixes{};
  // ipv6-prefix: delegated IPv6 prefixes ("2600:1f18:abc:de01:1::/80"); empty: absent.
  std::vector<std::string> ipv6Prefixes{};
};

// One request as the fake received it.
struct FakeImdsRequest {
  // "PUT" or "GET".
  std::string method{};
  // The request path ("/latest/api/token", "/latest/meta-data/...").
  std::string path{};
  // Every header line, name and value, as the server parsed them.
  std::vector<std::pair<std::string, std::string>> headers{};
};

// The fake service. Thread-safe; serves from its own threads (httplib's pool: requests beyond the
// pool's size wait in its queue) until destroyed.
class FakeImds {
 public:
  // Listens on 127.0.0.1, port chosen by the kernel.
  static absl::StatusOr<std::unique_ptr<FakeImds>> start();
  // Stops serving.
  ~FakeImds();
  FakeImds(const FakeImds&) = delete;
  FakeImds& operator=(const FakeImds&) = delete;

  // "http://127.0.0.1:<port>".
  std::string endpoint() const;

  // Sets the body of GET /latest/meta-data/<path>.
  void set(const std::string& path, const std::string& body);
  // Makes GET /latest/meta-data/<path> answer 404 again.
  void remove(const std::string& path);
  // Publishes `eni` under network/interfaces/macs/<mac>/ and lists it in network/interfaces/macs/.
  void addEni(const FakeEni& eni);
  // Answers every request (token and GET) with `status` and an empty body; nullopt: normal
  // service.
  void failWith(std::optional<int> status);
  // While true, every request is received (counted and recorded) and then held without any
  // answer, until hang(false) (then it is answered normally) or the fake stops.
  void hang(bool on);
  // Waits `delay` before answering each request (0: answer at once).
  void delayEach(std::chrono::milliseconds delay);
  // GET /latest/meta-data/<path> answers 200 with a body that never ends (chunks of 'A' until the
  // client hangs up); nullopt: normal service.
  void endlessBody(std::optional<std::string> path);
  // The token PUT /latest/api/token answers (and GETs accept) instead of "fake-token-<n>";
  // nullopt: normal tokens.
  void setToken(std::optional<std::string> token);

  // PUT /latest/api/token requests received.
  unsigned tokenRequests() const;
  // GET requests received for /latest/meta-data/<path> (answered or not).
  unsigned getRequests(const std::string& path) const;
  // GET requests received in total.
  unsigned totalGetRequests() const;
  // GET requests refused for a missing or unknown token.
  unsigned unauthorizedRequests() const;
  // Every request received so far, in arrival order.
  std::vector<FakeImdsRequest> requests() const;
  // Body bytes handed to the network by endless bodies so far.
  std::size_t endlessBytesSent() const;

 private:
  FakeImds() = default;
  // Records `req` (the caller counts it). Requires mu_.
  void record(const httplib::Request& req) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Holds a request while hang(true) is in force, then waits the delay (mu_ released meanwhile;
  // both end early when the fake stops).
  void stall() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool released() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !hanging_ || stopping_; }
  // Counts `bytes` more of an endless body; false once the fake stops (the body then ends).
  bool countEndlessChunk(std::size_t bytes) ABSL_LOCKS_EXCLUDED(mu_);

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;

  mutable absl::Mutex mu_;
  std::map<std::string, std::string> bodies_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> tokens_ ABSL_GUARDED_BY(mu_);
  std::optional<int> failStatus_ ABSL_GUARDED_BY(mu_);
  unsigned tokenRequests_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, unsigned> getRequests_ ABSL_GUARDED_BY(mu_);
  unsigned totalGets_ ABSL_GUARDED_BY(mu_) = 0;
  unsigned unauthorized_ ABSL_GUARDED_BY(mu_) = 0;
  bool hanging_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::milliseconds delay_ ABSL_GUARDED_BY(mu_){0};
  std::optional<std::string> endlessPath_ ABSL_GUARDED_BY(mu_);
  std::optional<std::string> tokenOverride_ ABSL_GUARDED_BY(mu_);
  std::vector<FakeImdsRequest> requests_ ABSL_GUARDED_BY(mu_);
  std::size_t endlessBytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace enadpdk::testing
