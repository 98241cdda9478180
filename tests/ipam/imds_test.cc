// The IMDSv2 client, the metadata cache and ENI-backed pools, against the fake metadata service.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cni/errors.h"
#include "common/strings.h"
#include "ipam/imds.h"
#include "ipam/imds_cache.h"
#include "ipam/ipam.h"
#include "spdlog/sinks/null_sink.h"
#include "tests/support/fake_imds.h"

namespace enadpdk::testing {
namespace {

using cni::Result;
using common::strCat;
using ipam::EniMetadata;
using ipam::EniMetadataCache;
using ipam::ImdsClient;
using ipam::Ipam;
using ipam::IpamNetconf;
using ipam::LeaseKey;

std::string message(const absl::Status& status) { return std::string(status.message()); }
int code(const absl::Status& status) {
  return static_cast<int>(cni::cniCodeOf(status, cni::CniError::kNotSupportedYet));
}

constexpr char kMac[] = "0a:1b:2c:3d:4e:5f";
constexpr char kMacs[] = "network/interfaces/macs/";

const FakeEni kEni{.mac = kMac,
                   .deviceNumber = 1,
                   .localIpv4s = {"10.0.1.10", "10.0.1.20", "10.0.1.21"},
                   .subnetIpv4Cidr = "10.0.1.0/24",
                   .ipv6s = {"2600:1f18:abc:de01::7"},
                   .subnetIpv6Cidrs = {"2600:1f18:abc:de01::/64"}};
const EniMetadata kEniMetadata{.mac = kMac,
                               .localIpv4s = {"10.0.1.10", "10.0.1.20", "10.0.1.21"},
                               .subnetIpv4Cidr = "10.0.1.0/24",
                               .ipv6s = {"2600:1f18:abc:de01::7"},
                               .subnetIpv6Cidrs = {"2600:1f18:abc:de01::/64"}};

// A fake clock the test moves by hand.
struct FakeClock {
  std::chrono::system_clock::time_point now =
      std::chrono::system_clock::time_point() + std::chrono::hours(24 * 365 * 50);
  ipam::WallClock fn() {
    return [this] { return now; };
  }
};

// A loopback TCP port nobody listens on (bound, then closed).
int closedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A loopback port that accepts connections into its backlog but never answers.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 8);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class ImdsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FakeImds>> fake = FakeImds::start();
    ASSERT_TRUE(fake.ok()) << fake.status();
    imds_ = std::move(*fake);
    imds_->addEni(kEni);
    std::string tmpl = (std::filesystem::temp_directory_path() / "ipam-imds-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ImdsClient client() { return ImdsClient({.endpoint = imds_->endpoint(), .timeoutMs = 2000}); }

  std::unique_ptr<FakeImds> imds_;
  std::filesystem::path dir_;
};

// ---- the fake itself

TEST_F(ImdsTest, FakeRequiresAToken) {
  httplib::Client http(imds_->endpoint());
  auto plain = http.Get("/latest/meta-data/network/interfaces/macs/");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 401);
  auto forged = http.Get("/latest/meta-data/network/interfaces/macs/",
                         {{"X-aws-ec2-metadata-token", "guess"}});
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 401);
  auto noTtl = http.Put("/latest/api/token", "", "text/plain");
  ASSERT_TRUE(noTtl);
  EXPECT_EQ(noTtl->status, 400);
  EXPECT_EQ(imds_->unauthorizedRequests(), 2u);
}

// ---- the client

TEST_F(ImdsTest, FetchEniUsesOneTokenForAllRequests) {
  ImdsClient imds = client();
  absl::StatusOr<EniMetadata> eni = imds.fetchEni("0A:1B:2C:3D:4E:5F");
  ASSERT_TRUE(eni.ok()) << eni.status();
  EXPECT_EQ(*eni, kEniMetadata);
  EXPECT_EQ(imds_->tokenRequests(), 1u);
  EXPECT_EQ(imds_->unauthorizedRequests(), 0u);
  EXPECT_EQ(imds_->totalGetRequests(), 4u);
  EXPECT_EQ(imds.requestCount(), 5u);
}

TEST_F(ImdsTest, EniWithoutIpv6) {
  imds_->addEni({.mac = "0a:00:00:00:00:02",
                 .deviceNumber = 2,
                 .localIpv4s = {"10.0.2.10", "10.0.2.11"},
                 .subnetIpv4Cidr = "10.0.2.0/24"});
  ImdsClient imds = client();
  absl::StatusOr<EniMetadata> eni = imds.fetchEni("0a:00:00:00:00:02");
  ASSERT_TRUE(eni.ok()) << eni.status();
  EXPECT_TRUE(eni->ipv6s.empty());
  EXPECT_TRUE(eni->subnetIpv6Cidrs.empty());
  // ipv6s answered 404, so subnet-ipv6-cidr-blocks was not asked.
  EXPECT_EQ(imds_->getRequests(std::string(kMacs) + "0a:00:00:00:00:02/subnet-ipv6-cidr-blocks"),
            0u);
}

TEST_F(ImdsTest, MacOfDevice) {
  imds_->addEni({.mac = "0a:00:00:00:00:02",
                 .deviceNumber = 2,
                 .localIpv4s = {"10.0.2.10"},
                 .subnetIpv4Cidr = "10.0.2.0/24"});
  ImdsClient imds = client();
  EXPECT_EQ(imds.macOfDevice(2).value(), "0a:00:00:00:00:02");
  EXPECT_EQ(imds.macOfDevice(1).value(), kMac);
  absl::StatusOr<std::string> missing = imds.macOfDevice(7);
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
  EXPECT_EQ(message(missing.status()), "instance metadata: no attached ENI has device-number 7");
}

TEST_F(ImdsTest, UnknownEniIsNotFound) {
  ImdsClient imds = client();
  absl::StatusOr<EniMetadata> eni = imds.fetchEni("02:00:00:00:00:09");
  ASSERT_TRUE(absl::IsNotFound(eni.status())) << eni.status();
  EXPECT_EQ(message(eni.status()),
            "instance metadata: no ENI with MAC 02:00:00:00:00:09 is attached (instance metadata "
            "service " +
                imds_->endpoint() +
                ": GET /latest/meta-data/network/interfaces/macs/02:00:00:00:00:09/local-ipv4s: "
                "not found (HTTP 404))");
}

TEST_F(ImdsTest, MissingSubnetIs404) {
  imds_->remove(std::string(kMacs) + kMac + "/subnet-ipv4-cidr-block");
  absl::StatusOr<EniMetadata> eni = client().fetchEni(kMac);
  EXPECT_TRUE(absl::IsNotFound(eni.status()));
  EXPECT_THAT(message(eni.status()),
              ::testing::EndsWith(std::string("/subnet-ipv4-cidr-block: not found (HTTP 404)")));
}

TEST_F(ImdsTest, TokenRefused) {
  imds_->failWith(403);
  absl::StatusOr<EniMetadata> eni = client().fetchEni(kMac);
  EXPECT_EQ(eni.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(message(eni.status()), "instance metadata service " + imds_->endpoint() +
                                       ": PUT /latest/api/token answered HTTP 403 (IMDSv2 token "
                                       "refused)");
}

TEST_F(ImdsTest, Unreachable) {
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(closedPort());
  ImdsClient imds({.endpoint = endpoint, .timeoutMs = 2000});
  absl::StatusOr<EniMetadata> eni = imds.fetchEni(kMac);
  EXPECT_TRUE(absl::IsUnavailable(eni.status()));
  EXPECT_THAT(message(eni.status()),
              ::testing::StartsWith("instance metadata service " + endpoint +
                                    " unreachable: PUT /latest/api/token: "));
}

TEST_F(ImdsTest, TimesOut) {
  SilentListener silent;
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(silent.port());
  ImdsClient imds({.endpoint = endpoint, .timeoutMs = 150});
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<EniMetadata> eni = imds.fetchEni(kMac);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(absl::IsUnavailable(eni.status()));
  EXPECT_EQ(message(eni.status()), "instance metadata service " + endpoint +
                                       " unreachable: PUT /latest/api/token: timed out after 150 "
                                       "ms");
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

// ---- faults: budget, size cap, header values

using ipam::headerValueProblem;
using ipam::imdsBudgetMs;
using ipam::ImdsOptions;
using Clock = std::chrono::steady_clock;

std::int64_t msSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// Polls `done` every 5 ms for up to 5 s.
bool eventually(const std::function<bool()>& done) {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST(ImdsBudgetTest, IsThreeTimeoutsCappedButNeverBelowOneTimeout) {
  EXPECT_EQ(imdsBudgetMs(1), 3u);
  EXPECT_EQ(imdsBudgetMs(1000), 3000u);
  EXPECT_EQ(imdsBudgetMs(10000), 30000u);
  EXPECT_EQ(imdsBudgetMs(12000), 30000u);
  EXPECT_EQ(imdsBudgetMs(30000), 30000u);
  EXPECT_EQ(imdsBudgetMs(ipam::kMaxImdsTimeoutMs), ipam::kMaxImdsTimeoutMs);
  EXPECT_EQ(imdsBudgetMs(4000000000u), 4000000000u);  // no overflow
}

TEST(ImdsHeaderValueTest, OnlyPrintableAsciiOfSaneLength) {
  EXPECT_EQ(headerValueProblem("AQAEAJxu0uIkXg8Al-2bGYZ5_9rmQ4V3fXb6Vn9qA5eEz7Z3zAdNw=="), "");
  EXPECT_EQ(headerValueProblem(std::string(1024, 'a')), "");
  EXPECT_EQ(headerValueProblem(""), "it is empty");
  EXPECT_EQ(headerValueProblem(std::string(1025, 'a')), "it has 1025 bytes, more than 1024");
  EXPECT_EQ(headerValueProblem("tok\r\nX-Injected: 1"), "it has a line break at offset 3");
  EXPECT_EQ(headerValueProblem("tok\n"), "it has a line break at offset 3");
  EXPECT_EQ(headerValueProblem("to k"), "it has a space at offset 2");
  EXPECT_EQ(headerValueProblem(std::string("t\0k", 3)), "it has a control character at offset 1");
  EXPECT_EQ(headerValueProblem("t\x7f"), "it has a control character at offset 1");
  EXPECT_EQ(headerValueProblem("t\xc3\xb6k"), "it has a non-ASCII byte at offset 1");
}

TEST_F(ImdsTest, RequestTimeoutsAreCutToWhatIsLeftOfTheBudget) {
  // Each request may take 2 s, but all of them together only 300 ms.
  imds_->hang(true);
  ImdsClient imds(ImdsOptions{.endpoint = imds_->endpoint(), .timeoutMs = 2000, .budgetMs = 300});
  const auto start = Clock::now();
  absl::StatusOr<EniMetadata> eni = imds.fetchEni(kMac);
  EXPECT_LT(msSince(start), 1500);
  EXPECT_TRUE(absl::IsDeadlineExceeded(eni.status())) << eni.status();
  EXPECT_EQ(message(eni.status()),
            "instance metadata service " + imds_->endpoint() +
                ": the 300 ms budget of this command's metadata requests is spent (1 request, the "
                "last PUT /latest/api/token); try again later");
  // Nothing is sent once the budget is spent.
  imds_->hang(false);
  EXPECT_TRUE(absl::IsDeadlineExceeded(imds.fetchEni(kMac).status()));
  EXPECT_EQ(imds.requestCount(), 1u);
}

TEST_F(ImdsTest, OneBudgetCoversAllRequests) {
  // Five requests of 100 ms each, none of them over the 1 s timeout, but 500 ms together.
  imds_->delayEach(std::chrono::milliseconds(100));
  ImdsClient imds(ImdsOptions{.endpoint = imds_->endpoint(), .timeoutMs = 1000, .budgetMs = 250});
  const auto start = Clock::now();
  absl::StatusOr<EniMetadata> eni = imds.fetchEni(kMac);
  EXPECT_LT(msSince(start), 1000);
  EXPECT_TRUE(absl::IsDeadlineExceeded(eni.status())) << eni.status();
  EXPECT_THAT(message(eni.status()), ::testing::HasSubstr("the 250 ms budget"));
  EXPECT_LT(imds.requestCount(), 5u);
}

TEST_F(ImdsTest, OversizedBodyIsRefusedWithoutQuotingIt) {
  const std::string path = std::string(kMacs) + kMac + "/local-ipv4s";
  std::string body = "10.0.1.10\n10.0.1.20";
  // Exactly at the cap: accepted (blank lines carry nothing).
  imds_->set(path, body + std::string(ipam::kMaxImdsBodyBytes - body.size(), '\n'));
  absl::StatusOr<EniMetadata> atCap = client().fetchEni(kMac);
  ASSERT_TRUE(atCap.ok()) << atCap.status();
  EXPECT_EQ(atCap->localIpv4s, (std::vector<std::string>{"10.0.1.10", "10.0.1.20"}));
  // One byte more: refused, naming the path and not echoing the body.
  imds_->set(path, body + std::string(ipam::kMaxImdsBodyBytes - body.size() + 1, '\n'));
  absl::StatusOr<EniMetadata> over = client().fetchEni(kMac);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kDataLoss) << over.status();
  EXPECT_EQ(message(over.status()), "instance metadata service " + imds_->endpoint() +
                                        ": GET /latest/meta-data/" + path +
                                        ": the answer's body is larger than 65536 bytes (refused)");
  // A megabyte of valid addresses is just as refused.
  std::string big;
  while (big.size() < 1024 * 1024) big += "10.0.1.20\n";
  imds_->set(path, "10.0.1.10\n" + big);
  EXPECT_EQ(client().fetchEni(kMac).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(ImdsTest, EndlessBodyEndsAtTheCapNotAtTheTimeout) {
  const std::string path = std::string(kMacs) + kMac + "/subnet-ipv4-cidr-block";
  imds_->endlessBody(path);
  ImdsClient imds({.endpoint = imds_->endpoint(), .timeoutMs = 4000});
  const auto start = Clock::now();
  absl::StatusOr<EniMetadata> eni = imds.fetchEni(kMac);
  EXPECT_LT(msSince(start), 2000);
  EXPECT_EQ(eni.status().code(), absl::StatusCode::kDataLoss) << eni.status();
  EXPECT_EQ(message(eni.status()), "instance metadata service " + imds_->endpoint() +
                                       ": GET /latest/meta-data/" + path +
                                       ": the answer's body is larger than 65536 bytes (refused)");
}

struct BadTokenCase {
  std::string name;
  std::string token;
  std::string problem;
};

void PrintTo(const BadTokenCase& c, std::ostream* os) { *os << c.name; }

class ImdsBadTokenTest : public ImdsTest, public ::testing::WithParamInterface<BadTokenCase> {};

TEST_P(ImdsBadTokenTest, IsRefusedAndNeverSent) {
  imds_->setToken(GetParam().token);
  ImdsClient imds = client();
  absl::StatusOr<EniMetadata> eni = imds.fetchEni(kMac);
  EXPECT_EQ(eni.status().code(), absl::StatusCode::kDataLoss) << eni.status();
  EXPECT_EQ(message(eni.status()),
            "instance metadata service " + imds_->endpoint() +
                ": PUT /latest/api/token answered an unusable IMDSv2 token (" + GetParam().problem +
                "; a token is 1 to 1024 printable ASCII characters); it is not sent");
  // Only the token PUT reached the service: no GET carried the token, and no header line was
  // injected.
  std::vector<FakeImdsRequest> requests = imds_->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "PUT");
  for (const auto& [name, value] : requests[0].headers) {
    EXPECT_NE(name, "X-Injected");
    EXPECT_NE(name, "X-aws-ec2-metadata-token");
  }
  EXPECT_EQ(imds_->totalGetRequests(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Tokens, ImdsBadTokenTest,
    ::testing::Values(
        BadTokenCase{"CrLf", "fake\r\nX-Injected: yes", "it has a line break at offset 4"},
        BadTokenCase{"TrailingLf", "fake-token\n", "it has a line break at offset 10"},
        BadTokenCase{"Space", "fake token", "it has a space at offset 4"},
        BadTokenCase{"Control", "fake\ttoken", "it has a control character at offset 4"},
        BadTokenCase{"NotAscii", "fak\xc3\xa9", "it has a non-ASCII byte at offset 3"},
        BadTokenCase{"TooLong", std::string(1025, 'a'), "it has 1025 bytes, more than 1024"}),
    [](const ::testing::TestParamInfo<BadTokenCase>& param) { return param.param.name; });

TEST_F(ImdsTest, LongestTokenIsSentIntact) {
  const std::string token(1024, 'T');
  imds_->setToken(token);
  absl::StatusOr<EniMetadata> eni = client().fetchEni(kMac);
  ASSERT_TRUE(eni.ok()) << eni.status();
  std::vector<FakeImdsRequest> requests = imds_->requests();
  ASSERT_EQ(requests.size(), 5u);
  for (std::size_t i = 1; i < requests.size(); ++i) {
    EXPECT_THAT(requests[i].headers, ::testing::Contains(std::pair<std::string, std::string>(
                                         "X-aws-ec2-metadata-token", token)));
  }
}

struct BadDataCase {
  std::string name;
  std::string path;  // under macs/<mac>/
  std::string body;
  std::string error;
};

void PrintTo(const BadDataCase& c, std::ostream* os) { *os << c.name; }

class ImdsBadDataTest : public ImdsTest, public ::testing::WithParamInterface<BadDataCase> {};

TEST_P(ImdsBadDataTest, IsDataLoss) {
  imds_->set(std::string(kMacs) + kMac + "/" + GetParam().path, GetParam().body);
  absl::StatusOr<EniMetadata> eni = client().fetchEni(kMac);
  EXPECT_EQ(eni.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(message(eni.status()), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, ImdsBadDataTest,
    ::testing::Values(
        BadDataCase{"NotAnAddress", "local-ipv4s", "10.0.1.10\n10.0.1.x",
                    "instance metadata: ENI 0a:1b:2c:3d:4e:5f: local-ipv4s entry \"10.0.1.x\" is "
                    "not an IPv4 address"},
        BadDataCase{"EmptyIpv4s", "local-ipv4s", "\n",
                    "instance metadata: ENI 0a:1b:2c:3d:4e:5f: local-ipv4s is empty"},
        BadDataCase{"OutsideSubnet", "local-ipv4s", "10.0.1.10\n10.0.9.1",
                    "instance metadata: ENI 0a:1b:2c:3d:4e:5f: local-ipv4s entry 10.0.9.1 is "
                    "outside the subnet 10.0.1.0/24"},
        BadDataCase{"BadSubnet", "subnet-ipv4-cidr-block", "10.0.1.0",
                    "instance metadata: ENI 0a:1b:2c:3d:4e:5f: subnet-ipv4-cidr-block \"10.0.1.0\" "
                    "is not an IPv4 CIDR"},
        BadDataCase{"BadIpv6", "ipv6s", "10.0.1.5",
                    "instance metadata: ENI 0a:1b:2c:3d:4e:5f: ipv6s entry \"10.0.1.5\" is not an "
                    "IPv6 address"},
        BadDataCase{"Ipv6OutsideBlocks", "subnet-ipv6-cidr-blocks", "2600:1f18:abc:de02::/64",
                    "instance metadata: ENI 0a:1b:2c:3d:4e:5f: ipv6s entry 2600:1f18:abc:de01::7 "
                    "is in none of the subnet-ipv6-cidr-blocks"}),
    [](const ::testing::TestParamInfo<BadDataCase>& param) { return param.param.name; });

// ---- the cache

TEST_F(ImdsTest, CacheReusesAnswersWithinTheTtl) {
  FakeClock clock;
  int fetches = 0;
  auto fetch = [&]() -> absl::StatusOr<EniMetadata> {
    ++fetches;
    return kEniMetadata;
  };
  EniMetadataCache cache(dir_ / "imds", "http://a", 60, clock.fn());
  EXPECT_EQ(cache.get("mac-x", fetch).value(), kEniMetadata);
  EXPECT_EQ(fetches, 1);
  EXPECT_EQ(std::filesystem::status(dir_ / "imds" / "mac-x.json").permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  clock.now += std::chrono::seconds(59);
  // Another object (another process) reads the same file.
  EniMetadataCache again(dir_ / "imds", "http://a", 60, clock.fn());
  EXPECT_EQ(again.get("mac-x", fetch).value(), kEniMetadata);
  EXPECT_EQ(fetches, 1);
  clock.now += std::chrono::seconds(1);
  EXPECT_TRUE(again.get("mac-x", fetch).ok());
  EXPECT_EQ(fetches, 2);
  // Another selector, another entry.
  EXPECT_TRUE(again.get("device-1", fetch).ok());
  EXPECT_EQ(fetches, 3);
}

TEST_F(ImdsTest, CacheRefetchesWhenTheEntryCannotBeTrusted) {
  FakeClock clock;
  int fetches = 0;
  auto fetch = [&]() -> absl::StatusOr<EniMetadata> {
    ++fetches;
    return kEniMetadata;
  };
  EniMetadataCache cache(dir_, "http://a", 60, clock.fn());
  ASSERT_TRUE(cache.get("k", fetch).ok());
  // Another endpoint.
  EniMetadataCache other(dir_, "http://b", 60, clock.fn());
  ASSERT_TRUE(other.get("k", fetch).ok());
  EXPECT_EQ(fetches, 2);
  // The clock went back.
  clock.now -= std::chrono::seconds(10);
  ASSERT_TRUE(other.get("k", fetch).ok());
  EXPECT_EQ(fetches, 3);
  // A corrupt file.
  std::ofstream(dir_ / "k.json") << "{\"endpoint\": \"http://b\", \"fetchedAtMs\": ";
  ASSERT_TRUE(other.get("k", fetch).ok());
  EXPECT_EQ(fetches, 4);
  // Valid JSON, invalid data.
  nlohmann::json entry = nlohmann::json::parse(std::ifstream(dir_ / "k.json"));
  entry["eni"]["localIpv4s"] = {"bogus"};
  std::ofstream(dir_ / "k.json") << entry.dump();
  EXPECT_EQ(other.get("k", fetch).value(), kEniMetadata);
  EXPECT_EQ(fetches, 5);
  // TTL 0: never cached.
  EniMetadataCache never(dir_ / "never", "http://a", 0, clock.fn());
  ASSERT_TRUE(never.get("k", fetch).ok());
  ASSERT_TRUE(never.get("k", fetch).ok());
  EXPECT_EQ(fetches, 7);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "never"));
}

TEST_F(ImdsTest, CacheDoesNotStoreErrors) {
  FakeClock clock;
  EniMetadataCache cache(dir_, "http://a", 60, clock.fn());
  absl::StatusOr<EniMetadata> eni =
      cache.get("k", [] { return absl::StatusOr<EniMetadata>(absl::UnavailableError("down")); });
  EXPECT_EQ(message(eni.status()), "down");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "k.json"));
}

// ---- IPAM on an ENI

class ImdsIpamTest : public ImdsTest {
 protected:
  IpamNetconf netconf(ipam::IpamNetworkConfig source) const {
    return IpamNetconf{.cniVersion = "1.1.0",
                       .network = "eni1",
                       .stateDir = dir_,
                       .imds = {.endpoint = imds_->endpoint(), .ttlSeconds = 60, .timeoutMs = 2000},
                       .source = std::move(source),
                       .sourceWhere = "ipam"};
  }
  Ipam ipam(IpamNetconf conf) {
    return Ipam(
        std::move(conf),
        std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_mt>()),
        clock_.fn());
  }
  FakeClock clock_;
};

LeaseKey key(const std::string& id) { return {.containerId = id, .ifName = "net1"}; }

TEST_F(ImdsIpamTest, HandsOutSecondaryAddressesNeverThePrimary) {
  IpamNetconf conf = netconf({.eniMac = "0A:1B:2C:3D:4E:5F"});
  absl::StatusOr<Result> a = ipam(conf).add(key("a"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->ips, (std::vector<cni::IpConfig>{{.address = "10.0.1.20/24", .gateway = "10.0.1.1"},
                                                {.address = "2600:1f18:abc:de01::7/64",
                                                 .gateway = "2600:1f18:abc:de01::1"}}));
  // The ENI has one IPv6 address, so a second attachment finds the pool exhausted.
  absl::StatusOr<Result> b = ipam(conf).add(key("b"));
  EXPECT_EQ(code(b.status()), 112);
  EXPECT_EQ(message(b.status()),
            "network \"eni1\": address pool exhausted: the ENI "
            "0a:1b:2c:3d:4e:5f has 1 IPv6 address and it is leased");
}

TEST_F(ImdsIpamTest, CachesTheMetadataAcrossInvocations) {
  imds_->addEni({.mac = "0a:00:00:00:00:02",
                 .deviceNumber = 2,
                 .localIpv4s = {"10.0.2.10", "10.0.2.11", "10.0.2.12", "10.0.2.13"},
                 .subnetIpv4Cidr = "10.0.2.0/24"});
  IpamNetconf conf = netconf({.deviceNumber = 2});
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(ipam(conf).add(key(id)).ok()) << id;
  // One fetch: token, macs/, two device-numbers at most, local-ipv4s, subnet, ipv6s (404).
  EXPECT_EQ(imds_->tokenRequests(), 1u);
  EXPECT_EQ(imds_->getRequests(std::string(kMacs) + "0a:00:00:00:00:02/local-ipv4s"), 1u);
  EXPECT_EQ(code(ipam(conf).add(key("d")).status()), 112);
  EXPECT_EQ(imds_->tokenRequests(), 1u);
  // After the TTL the metadata is read again, and an address added to the ENI meanwhile is
  // handed out.
  imds_->set(std::string(kMacs) + "0a:00:00:00:00:02/local-ipv4s",
             "10.0.2.10\n10.0.2.11\n10.0.2.12\n10.0.2.13\n10.0.2.14");
  clock_.now += std::chrono::seconds(61);
  absl::StatusOr<Result> d = ipam(conf).add(key("d"));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->ips[0].address, "10.0.2.14/24");
  EXPECT_EQ(imds_->tokenRequests(), 2u);
}

TEST_F(ImdsIpamTest, RepeatedAddAndDelNeedNoMetadata) {
  IpamNetconf conf = netconf({.eniMac = kMac});
  conf.imds.ttlSeconds = 0;
  ASSERT_TRUE(ipam(conf).add(key("a")).ok());
  imds_->failWith(500);
  EXPECT_TRUE(ipam(conf).add(key("a")).ok());
  EXPECT_TRUE(ipam(conf).del(key("a")).ok());
  EXPECT_TRUE(ipam(conf).check(key("b")).code() == absl::StatusCode::kNotFound);
}

TEST_F(ImdsIpamTest, MetadataErrorsAreCode111) {
  IpamNetconf conf = netconf({.eniMac = "02:00:00:00:00:09"});
  absl::StatusOr<Result> unknown = ipam(conf).add(key("a"));
  EXPECT_EQ(code(unknown.status()), 111);
  EXPECT_THAT(message(unknown.status()),
              ::testing::StartsWith("instance metadata: no ENI with MAC 02:00:00:00:00:09"));

  conf = netconf({.deviceNumber = 5});
  EXPECT_EQ(code(ipam(conf).add(key("a")).status()), 111);

  conf = netconf({.eniMac = kMac});
  conf.imds.endpoint = "http://127.0.0.1:" + std::to_string(closedPort());
  absl::StatusOr<Result> down = ipam(conf).add(key("a"));
  EXPECT_EQ(code(down.status()), 111);
  EXPECT_THAT(message(down.status()), ::testing::HasSubstr(" unreachable: "));
  // STATUS says the same with code 50.
  absl::Status status = ipam(conf).status();
  EXPECT_EQ(code(status), 50);
  EXPECT_THAT(message(status), ::testing::HasSubstr(" unreachable: "));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "eni1" / "a@net1.lease"));
}

TEST_F(ImdsIpamTest, EniWithOnlyThePrimaryHasNothingToHandOut) {
  imds_->addEni({.mac = "0a:00:00:00:00:03",
                 .deviceNumber = 3,
                 .localIpv4s = {"10.0.3.10"},
                 .subnetIpv4Cidr = "10.0.3.0/24"});
  absl::StatusOr<Result> a = ipam(netconf({.eniMac = "0a:00:00:00:00:03"})).add(key("a"));
  EXPECT_EQ(code(a.status()), 112);
  EXPECT_EQ(message(a.status()),
            "network \"eni1\": the ENI 0a:00:00:00:00:03 has no secondary addresses to hand out");
}

// ---- IPAM under metadata faults

// Runs `ipam.add(k)` in a thread while the fake holds every request; `meanwhile` runs once the
// token request has arrived (the ADD is then waiting for the metadata), then the fake answers.
absl::StatusOr<Result> addWhileHung(Ipam& ipam, FakeImds& imds, const LeaseKey& k,
                                    const std::function<void()>& meanwhile) {
  imds.hang(true);
  absl::StatusOr<Result> result = absl::UnknownError("not run");
  std::thread adder([&] { result = ipam.add(k); });
  EXPECT_TRUE(eventually([&] { return imds.tokenRequests() > 0; }));
  meanwhile();
  imds.hang(false);
  adder.join();
  return result;
}

TEST_F(ImdsIpamTest, LeaseLockIsFreeWhileTheMetadataIsAwaited) {
  IpamNetconf conf = netconf({.eniMac = kMac});
  conf.imds.timeoutMs = 5000;
  Ipam adding = ipam(conf);
  bool lockWasFree = false;
  absl::StatusOr<Result> a = addWhileHung(adding, *imds_, key("a"), [&] {
    int fd = ::open((dir_ / "eni1" / "lock").c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    lockWasFree = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    ::close(fd);
  });
  EXPECT_TRUE(lockWasFree);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->ips[0].address, "10.0.1.20/24");
}

// Writes `lease` into the network's lease directory as another invocation would, holding the
// lease lock; fails (without blocking) when the lock is held.
void putLeaseNow(const std::filesystem::path& leaseDir, const ipam::Lease& lease) {
  int fd = ::open((leaseDir / "lock").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    FAIL() << "the lease lock is held while the metadata is awaited";
  }
  absl::StatusOr<std::unique_ptr<ipam::LeaseStore>> store = ipam::LeaseStore::open(leaseDir);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE((*store)->put(lease).ok());
  ::close(fd);
}

TEST_F(ImdsIpamTest, AddChoosesFromTheLeasesAsTheyAreOnceLocked) {
  IpamNetconf conf = netconf({.eniMac = kMac});
  conf.imds.ttlSeconds = 0;  // every ADD asks the service
  conf.imds.timeoutMs = 5000;
  // Another ADD leases 10.0.1.20 while this one waits for the metadata: this one gets .21.
  Ipam adding = ipam(conf);
  absl::StatusOr<Result> a = addWhileHung(adding, *imds_, key("a"), [&] {
    putLeaseNow(dir_ / "eni1", {.key = key("b"), .ips = {{.address = "10.0.1.20/24"}}});
  });
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->ips[0].address, "10.0.1.21/24");
  ASSERT_TRUE(ipam(conf).del(key("a")).ok());

  // A retried ADD of the same attachment finished meanwhile: this one answers its lease as a
  // repeat, and takes no other address.
  const std::vector<cni::IpConfig> leased = {
      {.address = "10.0.1.21/24", .gateway = "10.0.1.1"},
      {.address = "2600:1f18:abc:de01::7/64", .gateway = "2600:1f18:abc:de01::1"}};
  Ipam again = ipam(conf);
  absl::StatusOr<Result> c = addWhileHung(again, *imds_, key("c"), [&] {
    putLeaseNow(dir_ / "eni1", {.key = key("c"), .ips = leased});
  });
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->ips, leased);
  std::set<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "eni1")) {
    files.insert(entry.path().filename().string());
  }
  EXPECT_EQ(files, (std::set<std::string>{"b@net1.lease", "c@net1.lease", "lock"}));
}

TEST_F(ImdsIpamTest, ParallelAddsAgainstAHungServiceEndTogether) {
  // Eight attachments at once against a service that never answers: each ADD gives up after its
  // own timeout, at about the same time, instead of one after another behind the lease lock.
  constexpr int kAdds = 8;
  constexpr unsigned kTimeoutMs = 400;
  imds_->hang(true);
  IpamNetconf conf = netconf({.eniMac = kMac});
  conf.imds.timeoutMs = kTimeoutMs;
  std::vector<absl::StatusOr<Result>> results(kAdds, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int i = 0; i < kAdds; ++i) {
    threads.emplace_back([&, i] { results[i] = ipam(conf).add(key("p" + std::to_string(i))); });
  }
  for (std::thread& t : threads) t.join();
  const std::int64_t elapsed = msSince(start);
  for (const auto& result : results) {
    EXPECT_EQ(code(result.status()), 111) << result.status();
    EXPECT_THAT(message(result.status()), ::testing::HasSubstr("timed out after 400 ms"));
  }
  // Serially this takes 8 × 400 ms; the bound is two budgets (2 × 1200 ms).
  EXPECT_LT(elapsed, 2 * ipam::imdsBudgetMs(kTimeoutMs)) << elapsed << " ms";
}

TEST_F(ImdsIpamTest, DeadlineBoundsAnAddAcrossManySlowEnis) {
  // Fifteen ENIs, each request 120 ms (well under the 400 ms timeout): looking up device-number
  // 15 takes 20 requests, 2.4 s, but the command's budget is 1200 ms.
  for (unsigned n = 2; n <= 15; ++n) {
    char mac[18];
    std::snprintf(mac, sizeof mac, "0a:00:00:00:00:%02x", n);
    imds_->addEni({.mac = mac,
                   .deviceNumber = n,
                   .localIpv4s = {"10.0.9.10", "10.0.9.11"},
                   .subnetIpv4Cidr = "10.0.9.0/24"});
  }
  imds_->delayEach(std::chrono::milliseconds(120));
  IpamNetconf conf = netconf({.deviceNumber = 15});
  conf.imds.timeoutMs = 400;
  const auto start = Clock::now();
  absl::StatusOr<Result> a = ipam(conf).add(key("a"));
  const std::int64_t elapsed = msSince(start);
  EXPECT_EQ(code(a.status()), 11) << a.status();
  EXPECT_THAT(message(a.status()),
              ::testing::MatchesRegex("instance metadata service .*: the 1200 ms budget of this "
                                      "command's metadata requests is spent \\([0-9]+ requests, "
                                      "the last GET .*\\); try again later"));
  EXPECT_LT(elapsed, 2000) << elapsed << " ms";
  EXPECT_FALSE(std::filesystem::exists(dir_ / "eni1" / "a@net1.lease"));
  // STATUS says the same with code 50.
  absl::Status status = ipam(conf).status();
  EXPECT_EQ(code(status), 50);
  EXPECT_THAT(message(status), ::testing::HasSubstr("budget"));
}

// ---- Delegated prefixes (prefix delegation: /28 IPv4, /80 IPv6)

constexpr char kPrefixMac[] = "0a:00:00:00:00:20";

// An ENI with only its primary address and one delegated IPv4 /28 and IPv6 /80.
FakeEni prefixEni() {
  return {.mac = kPrefixMac,
          .deviceNumber = 4,
          .localIpv4s = {"10.0.6.10"},
          .subnetIpv4Cidr = "10.0.6.0/24",
          .subnetIpv6Cidrs = {"2600:1f18:abc:de06::/64"},
          .ipv4Prefixes = {"10.0.6.48/28"},
          .ipv6Prefixes = {"2600:1f18:abc:de06:1234::/80"}};
}

ipam::IpamNetworkConfig prefixSource(std::vector<std::string> sources) {
  return {.eniMac = kPrefixMac, .sources = std::move(sources)};
}

TEST_F(ImdsIpamTest, Ipv4PrefixHandsOutAllSixteenAddressesThenIsExhausted) {
  imds_->addEni(prefixEni());
  IpamNetconf conf = netconf(prefixSource({"ipv4-prefixes"}));
  // 10.0.6.48/28 lies inside 10.0.6.0/24 away from its reserved addresses (10.0.6.0-3 and
  // 10.0.6.255) and from the primary 10.0.6.10, and AWS reserves nothing inside a prefix: all 16
  // addresses, 10.0.6.48 to 10.0.6.63, are handed out, lowest first.
  for (int i = 0; i < 16; ++i) {
    absl::StatusOr<Result> r = ipam(conf).add(key(strCat("c", i)));
    ASSERT_TRUE(r.ok()) << i << ": " << r.status();
    EXPECT_EQ(r->ips, (std::vector<cni::IpConfig>{
                          {.address = strCat("10.0.6.", 48 + i, "/24"), .gateway = "10.0.6.1"}}));
  }
  absl::StatusOr<Result> full = ipam(conf).add(key("c16"));
  EXPECT_EQ(code(full.status()), 112);
  EXPECT_EQ(message(full.status()),
            "network \"eni1\": address pool exhausted: the ENI 0a:00:00:00:00:20 has 16 IPv4 "
            "addresses, all leased");
  // Lease reuse: DEL frees 10.0.6.53, and the next ADD gets exactly it.
  ASSERT_TRUE(ipam(conf).del(key("c5")).ok());
  absl::StatusOr<Result> again = ipam(conf).add(key("c17"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->ips[0].address, "10.0.6.53/24");
  EXPECT_EQ(code(ipam(conf).add(key("c18")).status()), 112);
  // A repeated ADD of a lease holder returns its address.
  EXPECT_EQ(ipam(conf).add(key("c0")).value().ips[0].address, "10.0.6.48/24");
}

TEST_F(ImdsIpamTest, CapacityOfAnEniFollowsItsPrefixesAndLeases) {
  imds_->addEni(prefixEni());
  IpamNetconf conf = netconf(prefixSource({"ipv4-prefixes"}));
  EXPECT_EQ(ipam(conf).capacity().value(),
            (ipam::Capacity{.freeLeases = 16, .leases = 0, .source = "ENI 0a:00:00:00:00:20"}));
  ASSERT_TRUE(ipam(conf).add(key("c0")).ok());
  EXPECT_EQ(ipam(conf).capacity().value().freeLeases, 15u);
  // The ENI gets a second prefix: once the cached answer is older than the TTL, it counts.
  FakeEni grown = prefixEni();
  grown.ipv4Prefixes.push_back("10.0.6.64/28");
  imds_->addEni(grown);
  EXPECT_EQ(ipam(conf).capacity().value().freeLeases, 15u);
  clock_.now += std::chrono::seconds(61);
  EXPECT_EQ(ipam(conf).capacity().value().freeLeases, 31u);
  // The metadata service is gone and the cache has expired: the capacity is unknown (111), never
  // a guess.
  imds_.reset();
  clock_.now += std::chrono::seconds(61);
  EXPECT_EQ(code(ipam(conf).capacity().status()), 111);
}

TEST_F(ImdsIpamTest, PrefixesNeverHandOutReservedAddressesOrThePrimary) {
  // Prefixes AWS would not delegate like this, which is why they test the guard: one at the
  // subnet's start (holding the VPC's 10.0.7.0-3 and the primary 10.0.7.5) and one at its end
  // (holding the broadcast-like 10.0.7.255).
  FakeEni eni{.mac = "0a:00:00:00:00:21",
              .localIpv4s = {"10.0.7.5"},
              .subnetIpv4Cidr = "10.0.7.0/24",
              .ipv4Prefixes = {"10.0.7.0/28", "10.0.7.240/28"}};
  imds_->addEni(eni);
  ipam::EniMetadata metadata{.mac = eni.mac,
                             .localIpv4s = eni.localIpv4s,
                             .subnetIpv4Cidr = eni.subnetIpv4Cidr,
                             .ipv4Prefixes = eni.ipv4Prefixes};
  ipam::Pool pool = ipam::eniPool(metadata, {.secondaryIps = true, .ipv4Prefixes = true});
  // 16 - 5 (10.0.7.0, .1, .2, .3, .5) + 16 - 1 (10.0.7.255).
  EXPECT_EQ(pool.size(4), 26u);
  std::set<std::string> handedOut;
  IpamNetconf conf = netconf({.eniMac = eni.mac, .sources = {"secondary-ips", "ipv4-prefixes"}});
  for (int i = 0; i < 26; ++i) {
    absl::StatusOr<Result> r = ipam(conf).add(key(strCat("c", i)));
    ASSERT_TRUE(r.ok()) << i << ": " << r.status();
    handedOut.insert(r->ips[0].address);
  }
  EXPECT_EQ(code(ipam(conf).add(key("c26")).status()), 112);
  EXPECT_EQ(handedOut.size(), 26u);
  for (const char* never : {"10.0.7.0/24", "10.0.7.1/24", "10.0.7.2/24", "10.0.7.3/24",
                            "10.0.7.5/24", "10.0.7.255/24"}) {
    EXPECT_EQ(handedOut.count(never), 0u) << never;
  }
  EXPECT_EQ(handedOut.count("10.0.7.4/24"), 1u);
  EXPECT_EQ(handedOut.count("10.0.7.254/24"), 1u);
}

TEST_F(ImdsIpamTest, Ipv6PrefixAllocatesTheLowestFreeWithoutEnumerating) {
  imds_->addEni(prefixEni());
  IpamNetconf conf = netconf(prefixSource({"ipv6-prefixes"}));
  absl::StatusOr<ipam::Pool> pool = ipam(conf).loadPool();
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_FALSE(pool->hasFamily(4));
  EXPECT_EQ(pool->size(6), std::uint64_t{1} << 48);
  const std::vector<std::string> expected = {"2600:1f18:abc:de06:1234::/64",
                                             "2600:1f18:abc:de06:1234::1/64",
                                             "2600:1f18:abc:de06:1234::2/64"};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    absl::StatusOr<Result> r = ipam(conf).add(key(strCat("c", i)));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(
        r->ips,
        (std::vector<cni::IpConfig>{{.address = expected[i], .gateway = "2600:1f18:abc:de06::1"}}));
  }
  // Lease reuse: the freed ::1 comes back before ::3.
  ASSERT_TRUE(ipam(conf).del(key("c1")).ok());
  EXPECT_EQ(ipam(conf).add(key("c3")).value().ips[0].address, "2600:1f18:abc:de06:1234::1/64");
  EXPECT_EQ(ipam(conf).add(key("c4")).value().ips[0].address, "2600:1f18:abc:de06:1234::3/64");
}

TEST_F(ImdsIpamTest, Ipv6PrefixExhaustsWhenEveryAddressIsLeased) {
  // A /80 cannot be filled in a test; a /126 (4 addresses) shows that the walk over leases ends
  // and reports exhaustion, with the subnet's reserved addresses (the /64's first four and last)
  // never in play.
  FakeEni eni = prefixEni();
  eni.ipv6Prefixes = {"2600:1f18:abc:de06:1234::/126"};
  imds_->addEni(eni);
  IpamNetconf conf = netconf(prefixSource({"ipv6-prefixes"}));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(ipam(conf).add(key(strCat("c", i))).ok()) << i;
  absl::StatusOr<Result> full = ipam(conf).add(key("c4"));
  EXPECT_EQ(code(full.status()), 112);
  EXPECT_THAT(message(full.status()), ::testing::HasSubstr("has 4 IPv6 addresses, all leased"));
}

TEST_F(ImdsIpamTest, MixesSecondaryIpsAndPrefixes) {
  FakeEni eni = prefixEni();
  // 10.0.6.50 is a secondary IP inside the prefix as well (counted once).
  eni.localIpv4s = {"10.0.6.10", "10.0.6.20", "10.0.6.50"};
  eni.ipv6s = {"2600:1f18:abc:de06::7"};
  imds_->addEni(eni);
  IpamNetconf conf = netconf(prefixSource({"secondary-ips", "ipv4-prefixes", "ipv6-prefixes"}));
  absl::StatusOr<ipam::Pool> pool = ipam(conf).loadPool();
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ(pool->size(4), 17u);
  // Secondary IPs first, then the prefixes.
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"10.0.6.20/24", "2600:1f18:abc:de06::7/64"},
      {"10.0.6.50/24", "2600:1f18:abc:de06:1234::/64"},
      {"10.0.6.48/24", "2600:1f18:abc:de06:1234::1/64"},
      {"10.0.6.49/24", "2600:1f18:abc:de06:1234::2/64"},
      {"10.0.6.51/24", "2600:1f18:abc:de06:1234::3/64"}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    absl::StatusOr<Result> r = ipam(conf).add(key(strCat("c", i)));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->ips.size(), 2u);
    EXPECT_EQ(r->ips[0].address, expected[i].first) << i;
    EXPECT_EQ(r->ips[1].address, expected[i].second) << i;
  }
  // The default sources are the secondary IPs only: the prefixes are not even fetched.
  IpamNetconf plain = netconf({.eniMac = kPrefixMac});
  plain.network = "eni2";
  absl::StatusOr<ipam::Pool> secondary = ipam(plain).loadPool();
  ASSERT_TRUE(secondary.ok()) << secondary.status();
  EXPECT_EQ(secondary->size(4), 2u);
  EXPECT_EQ(secondary->size(6), 1u);
}

TEST_F(ImdsIpamTest, EniWithoutDelegatedPrefixesHasNothingToHandOut) {
  FakeEni eni = prefixEni();
  eni.ipv4Prefixes.clear();  // ipv4-prefix answers 404
  imds_->addEni(eni);
  absl::StatusOr<Result> a = ipam(netconf(prefixSource({"ipv4-prefixes"}))).add(key("a"));
  EXPECT_EQ(code(a.status()), 112);
  EXPECT_EQ(message(a.status()),
            "network \"eni1\": the ENI 0a:00:00:00:00:20 has no addresses to hand out from the "
            "sources \"ipv4-prefixes\"");
}

struct BadPrefixCase {
  std::string name;
  std::string path;
  std::string body;
  std::string error;
};

class BadPrefixTest : public ImdsIpamTest, public ::testing::WithParamInterface<BadPrefixCase> {};

TEST_P(BadPrefixTest, IsAClearMetadataError) {
  imds_->addEni(prefixEni());
  imds_->set(strCat(kMacs, kPrefixMac, "/", GetParam().path), GetParam().body);
  IpamNetconf conf = netconf(prefixSource({"ipv4-prefixes", "ipv6-prefixes"}));
  absl::StatusOr<Result> a = ipam(conf).add(key("a"));
  EXPECT_EQ(code(a.status()), 111);
  EXPECT_EQ(message(a.status()),
            strCat("instance metadata: ENI 0a:00:00:00:00:20: ", GetParam().error));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "eni1" / "a@net1.lease"));
  // Nothing malformed is cached: the next invocation asks again.
  EXPECT_EQ(code(ipam(conf).add(key("a")).status()), 111);
  EXPECT_EQ(imds_->getRequests(strCat(kMacs, kPrefixMac, "/", GetParam().path)), 2u);
}

INSTANTIATE_TEST_SUITE_P(
    Prefixes, BadPrefixTest,
    ::testing::Values(
        BadPrefixCase{"Garbage", "ipv4-prefix", "not-a-prefix\n",
                      "ipv4-prefix entry \"not-a-prefix\" is not an IPv4 prefix (a CIDR such as "
                      "10.0.1.48/28)"},
        BadPrefixCase{"HostBits", "ipv4-prefix", "10.0.6.48/28\n10.0.6.50/28",
                      "ipv4-prefix entry \"10.0.6.50/28\" is not an IPv4 prefix (a CIDR such as "
                      "10.0.1.48/28)"},
        BadPrefixCase{"V6InV4List", "ipv4-prefix", "2600:1f18:abc:de06:1234::/80",
                      "ipv4-prefix entry \"2600:1f18:abc:de06:1234::/80\" is not an IPv4 "
                      "prefix (a CIDR such as 10.0.1.48/28)"},
        BadPrefixCase{"OutsideSubnet", "ipv4-prefix", "10.9.0.48/28",
                      "ipv4-prefix entry 10.9.0.48/28 is outside the subnet 10.0.6.0/24"},
        BadPrefixCase{"V6Garbage", "ipv6-prefix", "2600:zz::/80",
                      "ipv6-prefix entry \"2600:zz::/80\" is not an IPv6 prefix (a CIDR such as "
                      "2600:1f18::1:0:0:0/80)"},
        BadPrefixCase{"V6OutsideBlocks", "ipv6-prefix", "2600:1f18:abc:ffff:1234::/80",
                      "ipv6-prefix entry 2600:1f18:abc:ffff:1234::/80 is in none of the "
                      "subnet-ipv6-cidr-blocks"}),
    [](const ::testing::TestParamInfo<BadPrefixCase>& testCase) { return testCase.param.name; });

TEST_F(ImdsIpamTest, CachesPrefixListsForTheTtl) {
  imds_->addEni(prefixEni());
  IpamNetconf conf = netconf(prefixSource({"ipv4-prefixes"}));
  const std::string path = strCat(kMacs, kPrefixMac, "/ipv4-prefix");
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(ipam(conf).add(key(id)).ok()) << id;
  EXPECT_EQ(imds_->getRequests(path), 1u);
  EXPECT_EQ(imds_->tokenRequests(), 1u);
  // The entry is kept apart from a secondary-IPs-only entry of the same ENI.
  EXPECT_TRUE(std::filesystem::exists(dir_ / "imds" / "mac-0a-00-00-00-00-20-ipv4-prefix.json"));
  // A prefix delegated meanwhile is not seen before the TTL ends ...
  imds_->set(path, "10.0.6.48/28\n10.0.6.64/28");
  clock_.now += std::chrono::seconds(59);
  absl::StatusOr<ipam::Pool> cached = ipam(conf).loadPool();
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_EQ(cached->size(4), 16u);
  EXPECT_EQ(imds_->getRequests(path), 1u);
  // ... and is after it.
  clock_.now += std::chrono::seconds(2);
  absl::StatusOr<ipam::Pool> fresh = ipam(conf).loadPool();
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->size(4), 32u);
  EXPECT_EQ(imds_->getRequests(path), 2u);
}

}  // namespace
}  // namespace enadpdk::testing
