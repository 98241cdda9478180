#include "deviceplugin/ena_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/deviceplugin/test_env.h"

namespace enadpdk::deviceplugin {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

EnaPoolSpec standardSpec() {
  return {.prefix = "dpdk.aws",
          .config = {.slotsPerNetwork = 3},
          .networks = {{.name = "eni1", .uplink = "0000:00:06.0"},
                       {.name = "eni2", .uplink = "net_null0"}}};
}

class EnaPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::describeStandardHost(host_);
    absl::StatusOr<std::unique_ptr<EnaPool>> pool =
        EnaPool::create(host_.hostRoot(), standardSpec());
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
  }

  HostState scan() {
    absl::StatusOr<HostState> state = scanHost(host_.hostRoot());
    EXPECT_TRUE(state.ok()) << state.status();
    return state.ok() ? *state : HostState{};
  }

  Device device(const std::string& id) {
    for (const Device& d : pool_->snapshot().devices) {
      if (d.id == id) return d;
    }
    ADD_FAILURE() << "no device " << id;
    return {};
  }

  testing::FakeHost host_;
  std::unique_ptr<EnaPool> pool_;
};

TEST_F(EnaPoolTest, CreatesSlotDirectoriesWithMode0770) {
  for (const char* id : {"eni1-00", "eni1-01", "eni1-02", "eni2-00", "eni2-02"}) {
    struct stat st {};
    ASSERT_EQ(::stat(host_.path(std::string("/var/run/ena-dpdk/vhost/") + id).c_str(), &st), 0)
        << id;
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << id;
    EXPECT_EQ(st.st_mode & 07777, 0770u) << id;
  }
  EXPECT_FALSE(host_.exists("/var/run/ena-dpdk/vhost/eni1-03"));
}

TEST_F(EnaPoolTest, ListsSlotsWithTheUplinksTopology) {
  pool_->refresh(scan());
  std::vector<std::string> ids;
  for (const Device& d : pool_->snapshot().devices) ids.push_back(d.id);
  EXPECT_THAT(ids, ElementsAre("eni1-00", "eni1-01", "eni1-02", "eni2-00", "eni2-01", "eni2-02"));
  EXPECT_EQ(device("eni1-01"), (Device{.id = "eni1-01", .healthy = true, .numaNode = 0}));
  EXPECT_EQ(device("eni2-01"),
            (Device{.id = "eni2-01", .healthy = true, .numaNode = std::nullopt}));
}

struct HealthCase {
  const char* description;
  std::function<void(testing::FakeHost&, HostState&)> change;
  bool eni1Healthy;
  bool eni2Healthy;
};

class EnaPoolHealthTest : public EnaPoolTest, public ::testing::WithParamInterface<HealthCase> {};

TEST_P(EnaPoolHealthTest, FollowsUplinkAndDataplane) {
  const HealthCase& c = GetParam();
  HostState state = scan();
  c.change(host_, state);
  // The change may have been to the host: read it again, keeping the edits to `state`.
  HostState rescanned = scan();
  rescanned.dataplaneNetworksUp = state.dataplaneNetworksUp;
  pool_->refresh(rescanned);
  EXPECT_EQ(device("eni1-00").healthy, c.eni1Healthy) << c.description;
  EXPECT_EQ(device("eni2-02").healthy, c.eni2Healthy) << c.description;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EnaPoolHealthTest,
    ::testing::Values(
        HealthCase{"all well", [](testing::FakeHost&, HostState&) {}, true, true},
        HealthCase{"uplink back on the kernel driver",
                   [](testing::FakeHost& h, HostState&) { h.setDriver("0000:00:06.0", "ena"); },
                   false, true},
        HealthCase{"uplink unbound",
                   [](testing::FakeHost& h, HostState&) { h.setDriver("0000:00:06.0", ""); }, false,
                   true},
        HealthCase{"uplink on another DPDK driver",
                   [](testing::FakeHost& h, HostState&) {
                     h.setDriver("0000:00:06.0", "uio_pci_generic");
                   },
                   true, true},
        HealthCase{"uplink hot-unplugged",
                   [](testing::FakeHost& h, HostState&) { h.removePciDevice("0000:00:06.0"); },
                   false, true},
        HealthCase{"dataplane reports eni1 down",
                   [](testing::FakeHost&, HostState& s) {
                     s.dataplaneNetworksUp = {{{"eni1", false}, {"eni2", true}}};
                   },
                   false, true},
        HealthCase{"dataplane does not know eni2",
                   [](testing::FakeHost&, HostState& s) {
                     s.dataplaneNetworksUp = {{{"eni1", true}}};
                   },
                   true, false},
        HealthCase{"dataplane unreachable counts for nothing",
                   [](testing::FakeHost&, HostState& s) { s.dataplaneNetworksUp.reset(); }, true,
                   true}));

TEST_F(EnaPoolTest, AllocateMountsEachSlotAndListsTheIds) {
  pool_->refresh(scan());
  absl::StatusOr<ContainerAllocation> allocation = pool_->allocate({"eni1-02", "eni1-00"});
  ASSERT_TRUE(allocation.ok()) << allocation.status();
  EXPECT_THAT(allocation->mounts,
              ElementsAre(Mount{.hostPath = "/var/run/ena-dpdk/vhost/eni1-02",
                                .containerPath = "/var/run/vhost-user/eni1-02"},
                          Mount{.hostPath = "/var/run/ena-dpdk/vhost/eni1-00",
                                .containerPath = "/var/run/vhost-user/eni1-00"}));
  EXPECT_EQ(allocation->envs,
            (std::map<std::string, std::string>{{"ENA_DPDK_DEVICES", "eni1-02,eni1-00"}}));
  EXPECT_THAT(allocation->devices, SizeIs(0));
}

TEST_F(EnaPoolTest, AllocateRecreatesARemovedSlotDirectory) {
  pool_->refresh(scan());
  host_.removePath("/var/run/ena-dpdk/vhost/eni2-01");
  ASSERT_TRUE(pool_->allocate({"eni2-01"}).ok());
  EXPECT_TRUE(host_.exists("/var/run/ena-dpdk/vhost/eni2-01"));
}

TEST_F(EnaPoolTest, AllocateRejectsUnknownAndRepeatedIds) {
  pool_->refresh(scan());
  absl::StatusOr<ContainerAllocation> unknown = pool_->allocate({"eni1-07"});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unknown.status().message()),
              HasSubstr("\"eni1-07\" is not a device of dpdk.aws/ena"));
  EXPECT_EQ(pool_->allocate({"eni1-00", "eni1-00"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pool_->allocate({}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(EnaPoolTest, PreferredAllocationKeepsOneNetwork) {
  pool_->refresh(scan());
  EXPECT_THAT(pool_->preferredAllocation(
                  {.available = {"eni1-00", "eni1-01", "eni1-02", "eni2-00", "eni2-01", "eni2-02"},
                   .mustInclude = {"eni2-01"},
                   .size = 3}),
              ElementsAre("eni2-00", "eni2-01", "eni2-02"));
}

TEST(EnaPoolCreateTest, FailsWhenTheSlotDirectoryCannotBeCreated) {
  testing::FakeHost host;
  host.writeFile("/var/run/ena-dpdk/vhost", "a file where the directory should be");
  absl::StatusOr<std::unique_ptr<EnaPool>> pool = EnaPool::create(host.hostRoot(), standardSpec());
  EXPECT_FALSE(pool.ok());
}

}  // namespace
}  // namespace enadpdk::deviceplugin
