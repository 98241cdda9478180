#include "ipam/pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ipam/address.h"

namespace enadpdk::testing {
namespace {

using cni::IpConfig;
using ipam::EniMetadata;
using ipam::IpAddress;
using ipam::Pool;

std::string message(const absl::Status& status) { return std::string(status.message()); }

IpAddress ip(std::string_view text) { return ipam::parseIpAddress(text).value(); }

// Hands out every address of `pool` of `family`, in order, up to `limit`.
std::vector<std::string> drain(const Pool& pool, int family, std::size_t limit = 100) {
  std::set<IpAddress> used;
  std::vector<std::string> out;
  while (out.size() < limit) {
    std::optional<IpConfig> next = pool.firstFree(family, used);
    if (!next) break;
    out.push_back(next->address + (next->gateway.empty() ? "" : " gw " + next->gateway));
    used.insert(ipam::parseIpPrefix(next->address)->address);
  }
  return out;
}

// ---- address arithmetic

TEST(IpAddressTest, ParsesAndPrintsCanonically) {
  EXPECT_EQ(ip("10.0.1.23").toString(), "10.0.1.23");
  EXPECT_EQ(ip("2001:DB8:0:0::0005").toString(), "2001:db8::5");
  EXPECT_EQ(ip("10.0.0.1").family, 4);
  EXPECT_EQ(ip("::1").family, 6);
  for (const char* bad : {"", "10.0.0", "10.0.0.256", "10.0.0.1/24", "fd00:::1", "x"}) {
    EXPECT_FALSE(ipam::parseIpAddress(bad)) << bad;
  }
}

TEST(IpPrefixTest, SubnetArithmetic) {
  auto prefix = ipam::parseIpPrefix("10.0.1.23/24").value();
  EXPECT_EQ(prefix.network().toString(), "10.0.1.0");
  EXPECT_EQ(prefix.last().toString(), "10.0.1.255");
  EXPECT_TRUE(prefix.contains(ip("10.0.1.200")));
  EXPECT_FALSE(prefix.contains(ip("10.0.2.1")));
  EXPECT_FALSE(prefix.contains(ip("::a00:117")));
  EXPECT_EQ(prefix.toString(), "10.0.1.23/24");
  auto v6 = ipam::parseIpPrefix("2600:1f18:abc:de00::/56").value();
  EXPECT_EQ(v6.last().toString(), "2600:1f18:abc:deff:ffff:ffff:ffff:ffff");
  EXPECT_EQ(ipam::parseIpPrefix("0.0.0.0/0")->last().toString(), "255.255.255.255");
  for (const char* bad :
       {"10.0.0.1", "10.0.0.1/33", "10.0.0.1/", "10.0.0.1/-1", "fd00::/129", "10.0.0.1/2x"}) {
    EXPECT_FALSE(ipam::parseIpPrefix(bad)) << bad;
  }
}

TEST(IpAddressTest, Plus) {
  EXPECT_EQ(ipam::addressPlus(ip("10.0.0.255"), 1)->toString(), "10.0.1.0");
  EXPECT_FALSE(ipam::addressPlus(ip("255.255.255.255"), 1));
  EXPECT_EQ(ipam::addressPlus(ip("fd00::ffff"), 1)->toString(), "fd00::1:0");
}

// ---- static pools

TEST(StaticPoolTest, SingleAddressesAndPrefixes) {
  absl::StatusOr<Pool> pool =
      ipam::staticPool({"10.0.1.23/24", "10.0.1.7", "fd00::5/64"}, "10.0.1.1", "ipam");
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_THAT(drain(*pool, 4),
              ::testing::ElementsAre("10.0.1.23/24 gw 10.0.1.1", "10.0.1.7/32 gw 10.0.1.1"));
  // The gateway is IPv4 only, so IPv6 addresses get none.
  EXPECT_THAT(drain(*pool, 6), ::testing::ElementsAre("fd00::5/64"));
  EXPECT_EQ(pool->size(4), 2u);
  EXPECT_EQ(pool->size(6), 1u);
}

TEST(StaticPoolTest, SubnetsStandForTheirHosts) {
  absl::StatusOr<Pool> pool = ipam::staticPool({"192.168.5.0/29"}, "192.168.5.1", "ipam");
  ASSERT_TRUE(pool.ok()) << pool.status();
  // .0 (network), .1 (gateway) and .7 (broadcast) are not handed out.
  EXPECT_THAT(drain(*pool, 4), ::testing::ElementsAre(
                                   "192.168.5.2/29 gw 192.168.5.1", "192.168.5.3/29 gw 192.168.5.1",
                                   "192.168.5.4/29 gw 192.168.5.1", "192.168.5.5/29 gw 192.168.5.1",
                                   "192.168.5.6/29 gw 192.168.5.1"));
  EXPECT_EQ(pool->size(4), 5u);
  EXPECT_FALSE(pool->hasFamily(6));
}

TEST(StaticPoolTest, Ipv6SubnetsAreCountedAndSkipUsedAddresses) {
  absl::StatusOr<Pool> pool = ipam::staticPool({"fd00:1::/64"}, std::nullopt, "ipam");
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ(pool->size(6), 18446744073709551615u);
  std::set<IpAddress> used = {ip("fd00:1::1"), ip("fd00:1::2"), ip("fd00:1::4")};
  EXPECT_EQ(pool->firstFree(6, used)->address, "fd00:1::3/64");
  EXPECT_THAT(drain(*pool, 6, 2), ::testing::ElementsAre("fd00:1::1/64", "fd00:1::2/64"));
}

TEST(StaticPoolTest, SlashThirtyOneIsASingleAddress) {
  absl::StatusOr<Pool> pool = ipam::staticPool({"10.9.0.0/31"}, std::nullopt, "ipam");
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_THAT(drain(*pool, 4), ::testing::ElementsAre("10.9.0.0/31"));
}

struct BadPoolCase {
  std::string name;
  std::vector<std::string> addresses;
  std::optional<std::string> gateway;
  std::string error;
};

void PrintTo(const BadPoolCase& c, std::ostream* os) { *os << c.name; }

class StaticPoolErrorTest : public ::testing::TestWithParam<BadPoolCase> {};

TEST_P(StaticPoolErrorTest, NamesTheEntry) {
  absl::StatusOr<Pool> pool =
      ipam::staticPool(GetParam().addresses, GetParam().gateway, "/etc/c.json: ipam.networks.eni1");
  ASSERT_FALSE(pool.ok());
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(message(pool.status()), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, StaticPoolErrorTest,
    ::testing::Values(
        BadPoolCase{"NotAnAddress",
                    {"10.0.0.5", "x"},
                    std::nullopt,
                    "/etc/c.json: ipam.networks.eni1.addresses[1]: expected an IPv4 or IPv6 "
                    "address or CIDR, got \"x\""},
        BadPoolCase{"BadGateway",
                    {"10.0.0.5"},
                    "10.0.0",
                    "/etc/c.json: ipam.networks.eni1.gateway: expected an IPv4 or IPv6 address, "
                    "got \"10.0.0\""},
        BadPoolCase{"GatewayOfNoFamily",
                    {"10.0.0.5"},
                    "fd00::1",
                    "/etc/c.json: ipam.networks.eni1.gateway: fd00::1 is of no address family "
                    "of the pool"},
        BadPoolCase{"AddressIsGateway",
                    {"10.0.0.1/24"},
                    "10.0.0.1",
                    "/etc/c.json: ipam.networks.eni1.addresses[0]: 10.0.0.1/24 is the gateway"},
        BadPoolCase{"Overlap",
                    {"10.0.0.0/24", "10.0.0.5"},
                    std::nullopt,
                    "/etc/c.json: ipam.networks.eni1.addresses[1]: 10.0.0.5 overlaps "
                    "10.0.0.1-10.0.0.254"},
        BadPoolCase{"Duplicate",
                    {"fd00::5", "FD00::5"},
                    std::nullopt,
                    "/etc/c.json: ipam.networks.eni1.addresses[1]: FD00::5 overlaps fd00::5"},
        BadPoolCase{"HugeIpv6Subnet",
                    {"fd00::/48"},
                    std::nullopt,
                    "/etc/c.json: ipam.networks.eni1.addresses[0]: IPv6 subnet fd00::/48 is too "
                    "large (at most a /64)"}),
    [](const ::testing::TestParamInfo<BadPoolCase>& param) { return param.param.name; });

// ---- ENI pools

TEST(EniPoolTest, SecondaryIpv4AndAllIpv6WithSubnetGateways) {
  EniMetadata eni{.mac = "0a:1b:2c:3d:4e:5f",
                  .localIpv4s = {"10.0.1.10", "10.0.1.20", "10.0.1.21"},
                  .subnetIpv4Cidr = "10.0.1.0/24",
                  .ipv6s = {"2600:1f18:abc:de01::7"},
                  .subnetIpv6Cidrs = {"2600:1f18:abc:de00::/64", "2600:1f18:abc:de01::/64"}};
  Pool pool = ipam::eniPool(eni);
  EXPECT_EQ(pool.description, "ENI 0a:1b:2c:3d:4e:5f");
  // The primary 10.0.1.10 is never handed out.
  EXPECT_THAT(drain(pool, 4),
              ::testing::ElementsAre("10.0.1.20/24 gw 10.0.1.1", "10.0.1.21/24 gw 10.0.1.1"));
  EXPECT_THAT(drain(pool, 6),
              ::testing::ElementsAre("2600:1f18:abc:de01::7/64 gw 2600:1f18:abc:de01::1"));
}

TEST(EniPoolTest, OnlyThePrimaryMeansAnEmptyPool) {
  Pool pool = ipam::eniPool(
      {.mac = "0a:1b:2c:3d:4e:5f", .localIpv4s = {"10.0.1.10"}, .subnetIpv4Cidr = "10.0.1.0/24"});
  EXPECT_TRUE(pool.ranges.empty());
  EXPECT_FALSE(pool.hasFamily(4));
}

}  // namespace
}  // namespace enadpdk::testing
