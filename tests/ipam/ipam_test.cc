// The IPAM operations (ADD, DEL, CHECK, GC, STATUS) over static pools, and the lease store.

#include "ipam/ipam.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cni/errors.h"
#include "ipam/leases.h"
#include "spdlog/sinks/null_sink.h"

namespace enadpdk::testing {
namespace {

using cni::IpConfig;
using cni::Result;
using ipam::Ipam;
using ipam::IpamNetconf;
using ipam::Lease;
using ipam::LeaseKey;
using ipam::LeaseStore;

std::string message(const absl::Status& status) { return std::string(status.message()); }
int code(const absl::Status& status) {
  return static_cast<int>(cni::cniCodeOf(status, cni::CniError::kNotSupportedYet));
}

std::shared_ptr<spdlog::logger> quietLogger() {
  return std::make_shared<spdlog::logger>("ipam-test",
                                          std::make_shared<spdlog::sinks::null_sink_mt>());
}

ipam::WallClock realClock() {
  return [] { return std::chrono::system_clock::now(); };
}

class IpamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ipam-test-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  IpamNetconf netconf(std::vector<std::string> addresses,
                      std::optional<std::string> gateway = std::nullopt) const {
    return IpamNetconf{.cniVersion = "1.0.0",
                       .network = "eni1",
                       .stateDir = dir_,
                       .source = ipam::IpamNetworkConfig{.addresses = std::move(addresses),
                                                         .gateway = std::move(gateway)},
                       .sourceWhere = "ipam"};
  }
  Ipam ipam(IpamNetconf conf) const { return Ipam(std::move(conf), quietLogger(), realClock()); }
  std::filesystem::path leaseDir() const { return dir_ / "eni1"; }
  std::vector<std::string> leaseFiles() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(leaseDir())) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::filesystem::path dir_;
};

LeaseKey key(const std::string& id, const std::string& ifname = "net1") {
  return {.containerId = id, .ifName = ifname};
}

TEST_F(IpamTest, AddHandsOutOneAddressPerFamilyWithGatewayAndRoutes) {
  IpamNetconf conf = netconf({"10.0.1.0/29", "fd00::10/64"}, "10.0.1.1");
  conf.source->routes = {{.dst = "0.0.0.0/0"}, {.dst = "10.9.0.0/16", .gw = "10.0.1.6"}};
  absl::StatusOr<Result> result = ipam(conf).add(key("c1"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result,
            (Result{.cniVersion = "1.0.0",
                    .ips = {{.address = "10.0.1.2/29", .gateway = "10.0.1.1"},
                            {.address = "fd00::10/64"}},
                    .routes = {{.dst = "0.0.0.0/0"}, {.dst = "10.9.0.0/16", .gw = "10.0.1.6"}}}));
  EXPECT_THAT(leaseFiles(), ::testing::ElementsAre("c1@net1.lease", "lock"));
  EXPECT_EQ(std::filesystem::status(leaseDir()).permissions(), std::filesystem::perms::owner_all);
  EXPECT_EQ(std::filesystem::status(leaseDir() / "c1@net1.lease").permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST_F(IpamTest, RepeatedAddReturnsTheSameAddresses) {
  IpamNetconf conf = netconf({"10.0.1.0/29"}, "10.0.1.1");
  absl::StatusOr<Result> first = ipam(conf).add(key("c1"));
  absl::StatusOr<Result> other = ipam(conf).add(key("c2"));
  absl::StatusOr<Result> again = ipam(conf).add(key("c1"));
  ASSERT_TRUE(first.ok() && other.ok() && again.ok());
  EXPECT_EQ(first->ips, again->ips);
  EXPECT_NE(first->ips, other->ips);
  // The same container with another interface is another attachment.
  absl::StatusOr<Result> second = ipam(conf).add(key("c1", "net2"));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->ips[0].address, "10.0.1.4/29");
}

TEST_F(IpamTest, ExhaustedPoolIsCode112AndNamesNetworkAndSize) {
  IpamNetconf conf = netconf({"10.0.1.0/29"}, "10.0.1.1");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(ipam(conf).add(key("c" + std::to_string(i))).ok());
  absl::StatusOr<Result> result = ipam(conf).add(key("c5"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(code(result.status()), 112);
  EXPECT_EQ(message(result.status()),
            "network \"eni1\": address pool exhausted: the static pool has 5 IPv4 addresses, all "
            "leased");
  // Nothing was written for the failed attachment.
  EXPECT_FALSE(std::filesystem::exists(leaseDir() / "c5@net1.lease"));

  // A single-address pool says so in the singular.
  IpamNetconf one = netconf({"fd00::7"});
  one.network = "one";
  ASSERT_TRUE(ipam(one).add(key("a")).ok());
  EXPECT_EQ(message(ipam(one).add(key("b")).status()),
            "network \"one\": address pool exhausted: the static pool has 1 IPv6 address and it "
            "is leased");
}

TEST_F(IpamTest, CapacityCountsTheLeasesStillPossible) {
  // 4 addresses: 10.0.1.2-5 of 10.0.1.0/29 (10.0.1.1 is the gateway, .7 the broadcast, .6 is
  // not listed).
  IpamNetconf conf = netconf({"10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.5/29"}, "10.0.1.1");
  absl::StatusOr<ipam::Capacity> empty = ipam(conf).capacity();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(*empty, (ipam::Capacity{.freeLeases = 4, .leases = 0, .source = "static pool"}));
  ASSERT_TRUE(ipam(conf).add(key("a")).ok());
  EXPECT_EQ(ipam(conf).capacity().value(),
            (ipam::Capacity{.freeLeases = 3, .leases = 1, .source = "static pool"}));
  for (const char* id : {"b", "c", "d"}) ASSERT_TRUE(ipam(conf).add(key(id)).ok());
  EXPECT_EQ(ipam(conf).capacity().value().freeLeases, 0u);
  ASSERT_TRUE(ipam(conf).del(key("b")).ok());
  EXPECT_EQ(ipam(conf).capacity().value(),
            (ipam::Capacity{.freeLeases = 1, .leases = 3, .source = "static pool"}));

  // A lease of an address the pool no longer has (the pool shrank) takes nothing from it.
  IpamNetconf smaller = netconf({"10.0.1.4", "10.0.1.5"});
  EXPECT_EQ(ipam(smaller).capacity().value(),
            (ipam::Capacity{.freeLeases = 0, .leases = 3, .source = "static pool"}));
  IpamNetconf other = netconf({"10.0.2.0/30"});
  EXPECT_EQ(ipam(other).capacity().value().freeLeases, 2u);  // 10.0.2.1 and .2 (no gateway)
}

TEST_F(IpamTest, DualStackCapacityIsTheScarcerFamily) {
  IpamNetconf conf = netconf({"10.0.1.5", "10.0.1.6", "fd00::/120"});
  EXPECT_EQ(ipam(conf).capacity().value().freeLeases, 2u);
  ASSERT_TRUE(ipam(conf).add(key("a")).ok());
  EXPECT_EQ(ipam(conf).capacity().value().freeLeases, 1u);
  // A /64 is too many to count: the IPv4 addresses bound it.
  IpamNetconf wide = netconf({"10.0.1.5", "fd00::/64"});
  wide.network = "wide";
  EXPECT_EQ(ipam(wide).capacity().value().freeLeases, 1u);
}

TEST_F(IpamTest, CapacityErrorsAreAddsAndAnUnreadableLeaseDoesNotCount) {
  IpamNetconf none = netconf({});
  none.source.reset();
  EXPECT_EQ(code(ipam(none).capacity().status()), 7);
  EXPECT_EQ(code(ipam(netconf({"10.0.1.0/33"})).capacity().status()), 7);

  IpamNetconf conf = netconf({"10.0.1.5", "10.0.1.6"});
  ASSERT_TRUE(ipam(conf).add(key("a")).ok());
  std::ofstream(leaseDir() / ("b@net1" + std::string(ipam::kLeaseSuffix))) << "{not json";
  EXPECT_EQ(ipam(conf).capacity().value(),
            (ipam::Capacity{.freeLeases = 1, .leases = 1, .source = "static pool"}));
}

TEST_F(IpamTest, DualStackIsAllOrNothing) {
  IpamNetconf conf = netconf({"10.0.1.5", "fd00::5", "fd00::6"});
  ASSERT_TRUE(ipam(conf).add(key("a")).ok());
  absl::StatusOr<Result> b = ipam(conf).add(key("b"));
  EXPECT_EQ(code(b.status()), 112);
  EXPECT_THAT(message(b.status()), ::testing::HasSubstr("1 IPv4 address"));
  // b took no IPv6 address either: after DEL a, b gets fd00::5 again.
  ASSERT_TRUE(ipam(conf).del(key("a")).ok());
  absl::StatusOr<Result> retry = ipam(conf).add(key("b"));
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->ips,
            (std::vector<IpConfig>{{.address = "10.0.1.5/32"}, {.address = "fd00::5/128"}}));
}

TEST_F(IpamTest, DelReleasesAndIsIdempotent) {
  IpamNetconf conf = netconf({"10.0.1.5", "10.0.1.6"});
  ASSERT_TRUE(ipam(conf).add(key("a")).ok());
  ASSERT_TRUE(ipam(conf).add(key("b")).ok());
  ASSERT_TRUE(ipam(conf).del(key("a")).ok());
  EXPECT_TRUE(ipam(conf).del(key("a")).ok());
  EXPECT_TRUE(ipam(conf).del(key("never-added")).ok());
  absl::StatusOr<Result> c = ipam(conf).add(key("c"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->ips[0].address, "10.0.1.5/32");  // a's address came back
}

TEST_F(IpamTest, DelNeedsNoAddressSource) {
  IpamNetconf conf = netconf({"10.0.1.5"});
  ASSERT_TRUE(ipam(conf).add(key("a")).ok());
  conf.source.reset();
  EXPECT_TRUE(ipam(conf).del(key("a")).ok());
  EXPECT_THAT(leaseFiles(), ::testing::ElementsAre("lock"));
}

TEST_F(IpamTest, AddWithoutSourceIsCode7) {
  IpamNetconf conf = netconf({});
  conf.source.reset();
  absl::StatusOr<Result> result = ipam(conf).add(key("a"));
  EXPECT_EQ(code(result.status()), 7);
  EXPECT_THAT(message(result.status()), ::testing::HasSubstr("has no address source"));
}

TEST_F(IpamTest, BadStaticPoolIsCode7) {
  absl::StatusOr<Result> result = ipam(netconf({"10.0.0.0/24", "10.0.0.9"})).add(key("a"));
  EXPECT_EQ(code(result.status()), 7);
  EXPECT_EQ(message(result.status()), "ipam.addresses[1]: 10.0.0.9 overlaps 10.0.0.1-10.0.0.254");
}

TEST_F(IpamTest, UnwritableStateDirIsCode113) {
  IpamNetconf conf = netconf({"10.0.1.5"});
  // A file where the network directory should be.
  std::ofstream(dir_ / "eni1") << "x";
  for (auto status : {ipam(conf).add(key("a")).status(), ipam(conf).del(key("a"))}) {
    EXPECT_EQ(code(status), 113);
    EXPECT_THAT(message(status), ::testing::HasSubstr((dir_ / "eni1").string()));
  }
}

TEST_F(IpamTest, CorruptLeaseFileIsCode113ForAddAndCollectedByGc) {
  IpamNetconf conf = netconf({"10.0.1.5", "10.0.1.6"});
  ASSERT_TRUE(ipam(conf).add(key("a")).ok());
  std::ofstream(leaseDir() / "zz@net1.lease") << "{not json";
  absl::StatusOr<Result> b = ipam(conf).add(key("b"));
  EXPECT_EQ(code(b.status()), 113);
  EXPECT_THAT(message(b.status()),
              ::testing::StartsWith("lease file " + (leaseDir() / "zz@net1.lease").string() +
                                    " is corrupt: "));
  conf.validAttachments = std::vector<LeaseKey>{key("a")};
  ASSERT_TRUE(ipam(conf).gc().ok());
  EXPECT_THAT(leaseFiles(), ::testing::ElementsAre("a@net1.lease", "lock"));
  EXPECT_TRUE(ipam(conf).add(key("b")).ok());
}

// Issue 20 item 6: a lease without addresses must not make ADD succeed with no IP.
TEST_F(IpamTest, LeaseWithoutAddressesIsCorruptNotAnEmptyResult) {
  IpamNetconf conf = netconf({"10.0.1.5", "10.0.1.6"});
  ASSERT_TRUE(ipam(conf).add(key("a")).ok());  // creates the lease directory
  std::ofstream(leaseDir() / "b@net1.lease")
      << R"({"containerID": "b", "ifname": "net1", "ips": []})";
  absl::StatusOr<Result> b = ipam(conf).add(key("b"));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(code(b.status()), 113);
  EXPECT_THAT(message(b.status()), ::testing::HasSubstr("is corrupt: it holds no address"));
  EXPECT_EQ(code(ipam(conf).check(key("b"))), 113);
  // DEL removes it, and the next ADD leases an address.
  ASSERT_TRUE(ipam(conf).del(key("b")).ok());
  absl::StatusOr<Result> again = ipam(conf).add(key("b"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->ips.size(), 1u);
}

TEST_F(IpamTest, CheckFindsTheLeaseAndComparesPrevResult) {
  IpamNetconf conf = netconf({"10.0.1.0/29", "fd00::/120"}, "10.0.1.1");
  ASSERT_TRUE(ipam(conf).add(key("a")).ok());
  EXPECT_TRUE(ipam(conf).check(key("a")).ok());

  // prevResult as the CNI plugin passes it: its interface, the same addresses (written
  // differently), in the 0.4.0 shape.
  conf.cniVersion = "0.4.0";
  conf.prevResult = nlohmann::json::parse(R"({"cniVersion": "0.4.0",
      "interfaces": [{"name": "net1", "sandbox": "/var/run/netns/p"}],
      "ips": [{"version": "4", "address": "10.0.1.2/29", "gateway": "10.0.1.1", "interface": 0},
              {"version": "6", "address": "fd00:0::0001/120", "interface": 0}]})");
  EXPECT_TRUE(ipam(conf).check(key("a")).ok());

  conf.prevResult = nlohmann::json::parse(R"({"cniVersion": "0.4.0",
      "ips": [{"version": "4", "address": "10.0.1.2/29"}]})");
  absl::Status status = ipam(conf).check(key("a"));
  EXPECT_EQ(code(status), 114);
  EXPECT_EQ(message(status),
            "network \"eni1\": prevResult lacks the address fd00::1/120 leased to "
            "container a interface net1");

  conf.prevResult = nlohmann::json::parse(R"({"ips": [{"address": "nonsense"}]})");
  status = ipam(conf).check(key("a"));
  EXPECT_EQ(code(status), 7);
  EXPECT_THAT(message(status), ::testing::StartsWith("prevResult.ips[0].address: "));

  status = ipam(conf).check(key("b"));
  EXPECT_EQ(code(status), 114);
  EXPECT_EQ(message(status), "network \"eni1\": no lease for container b interface net1");
}

TEST_F(IpamTest, GcKeepsOnlyValidAttachments) {
  IpamNetconf conf = netconf({"10.0.1.0/28"});
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(ipam(conf).add(key(id)).ok());
  ASSERT_TRUE(ipam(conf).add(key("a", "net2")).ok());

  absl::Status missing = ipam(conf).gc();
  EXPECT_EQ(code(missing), 7);
  EXPECT_EQ(message(missing),
            "cni.dev/valid-attachments: missing (GC needs the list of valid attachments)");

  conf.validAttachments = std::vector<LeaseKey>{key("b"), key("a", "net2"), key("zzz")};
  ASSERT_TRUE(ipam(conf).gc().ok());
  EXPECT_THAT(leaseFiles(), ::testing::ElementsAre("a@net2.lease", "b@net1.lease", "lock"));
  conf.validAttachments = std::vector<LeaseKey>{};
  ASSERT_TRUE(ipam(conf).gc().ok());
  EXPECT_THAT(leaseFiles(), ::testing::ElementsAre("lock"));
}

TEST_F(IpamTest, StatusReportsWhetherAddCanSucceed) {
  IpamNetconf conf = netconf({"10.0.1.5"});
  EXPECT_TRUE(ipam(conf).status().ok());
  ASSERT_TRUE(ipam(conf).add(key("a")).ok());
  absl::Status status = ipam(conf).status();
  EXPECT_EQ(code(status), 50);
  EXPECT_THAT(message(status), ::testing::HasSubstr("address pool exhausted"));
  conf.source.reset();
  EXPECT_EQ(code(ipam(conf).status()), 7);
}

TEST_F(IpamTest, ConcurrentAddsGetDistinctAddresses) {
  // Each thread has its own Ipam and LeaseStore (its own lock file description), as separate
  // plugin processes do.
  constexpr int kThreads = 24;
  IpamNetconf conf = netconf({"10.0.2.0/27"});  // 30 addresses
  std::vector<absl::StatusOr<Result>> results(kThreads, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i] = ipam(conf).add(key("c" + std::to_string(i))); });
  }
  for (std::thread& t : threads) t.join();
  std::set<std::string> addresses;
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    addresses.insert(result->ips.at(0).address);
  }
  EXPECT_EQ(addresses.size(), static_cast<std::size_t>(kThreads));

  threads.clear();
  std::vector<absl::Status> dels(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { dels[i] = ipam(conf).del(key("c" + std::to_string(i))); });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : dels) EXPECT_TRUE(s.ok()) << s;
  EXPECT_THAT(leaseFiles(), ::testing::ElementsAre("lock"));
}

// ---- the lease store itself

TEST_F(IpamTest, LeaseStoreRoundTripAndLayout) {
  absl::StatusOr<std::unique_ptr<LeaseStore>> store = LeaseStore::open(leaseDir());
  ASSERT_TRUE(store.ok()) << store.status();
  auto guard = (*store)->lock();
  ASSERT_TRUE(guard.ok());
  Lease lease{
      .key = key("abc", "net1"),
      .ips = {{.address = "10.0.1.2/24", .gateway = "10.0.1.1"}, {.address = "fd00::2/64"}}};
  ASSERT_TRUE((*store)->put(lease).ok());
  EXPECT_EQ((*store)->fileOf(lease.key), leaseDir() / "abc@net1.lease");
  std::ifstream in(leaseDir() / "abc@net1.lease");
  EXPECT_EQ(nlohmann::json::parse(in), nlohmann::json::parse(R"({"containerID": "abc",
      "ifname": "net1", "ips": [{"address": "10.0.1.2/24", "gateway": "10.0.1.1"},
                                {"address": "fd00::2/64"}]})"));
  auto found = (*store)->find(lease.key);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(**found, lease);
  EXPECT_FALSE(*(*store)->find(key("other")));
  // Leftover temporary files of an interrupted write are not leases.
  std::ofstream(leaseDir() / ".x@net1.lease.tmp.123456") << "{";
  auto all = (*store)->list();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(*all, ::testing::ElementsAre(lease));
  EXPECT_THAT(LeaseStore::addressesOf(*all),
              ::testing::ElementsAre(ipam::parseIpAddress("10.0.1.2").value(),
                                     ipam::parseIpAddress("fd00::2").value()));
  ASSERT_TRUE((*store)->remove(lease.key).ok());
  EXPECT_TRUE((*store)->remove(lease.key).ok());
  EXPECT_TRUE((*store)->list()->empty());
}

TEST_F(IpamTest, LeaseStoreLockIsAnFlockOnTheLockFile) {
  auto store = LeaseStore::open(leaseDir());
  ASSERT_TRUE(store.ok());
  // Another open file description of the lock file, as another process would have.
  int fd = ::open((leaseDir() / "lock").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  {
    auto guard = (*store)->lock();
    ASSERT_TRUE(guard.ok());
    EXPECT_EQ(::flock(fd, LOCK_EX | LOCK_NB), -1);
    EXPECT_EQ(errno, EWOULDBLOCK);
  }
  EXPECT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  ::close(fd);
}

}  // namespace
}  // namespace enadpdk::testing
