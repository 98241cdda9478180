#include "deviceplugin/ena_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <ostream>

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

TEST(HealthyWithinTest, AdmitsExactlyTheFreeAddressesBeyondWhatPodsHold) {
  using A = NetworkAddresses;
  // Nothing leased, nothing held: the free addresses, at most the slots.
  EXPECT_EQ(healthyWithin(32, A{.freeLeases = 4, .leases = 0}, 0), 4u);
  EXPECT_EQ(healthyWithin(3, A{.freeLeases = 4, .leases = 0}, 0), 3u);
  // A lease nobody holds an attachment for takes its address away.
  EXPECT_EQ(healthyWithin(32, A{.freeLeases = 3, .leases = 1}, 0), 3u);
  // A held attachment with its lease stays healthy on top of the free ones.
  EXPECT_EQ(healthyWithin(32, A{.freeLeases = 3, .leases = 1}, 1), 4u);
  // Held without a lease yet (ADD pending): its address is still among the free ones.
  EXPECT_EQ(healthyWithin(32, A{.freeLeases = 4, .leases = 0}, 1), 4u);
  // Two held, one stray lease: 15 addresses, 3 leased (2 held + 1 stray) → 12 + 2.
  EXPECT_EQ(healthyWithin(32, A{.freeLeases = 12, .leases = 3}, 2), 14u);
  // Exhausted: only what pods hold.
  EXPECT_EQ(healthyWithin(32, A{.freeLeases = 0, .leases = 4}, 4), 4u);
  EXPECT_EQ(healthyWithin(32, A{.freeLeases = 0, .leases = 4}, 0), 0u);
  // An IPv6 /80 is uncountable: the slots bound it.
  EXPECT_EQ(healthyWithin(32, A{.freeLeases = UINT64_MAX, .leases = 5}, 5), 32u);
}

TEST_F(EnaPoolTest, AddressesLimitTheHealthyAttachmentsHeldOnesFirst) {
  HostState state = scan();
  state.networkAddresses["eni1"] = {
      .freeLeases = 1, .leases = 1, .held = std::set<std::string>{"eni1-02"}};
  pool_->refresh(state);
  // eni1-02 (held, with its lease) and one free address: eni1-02 and eni1-00.
  EXPECT_TRUE(device("eni1-00").healthy);
  EXPECT_FALSE(device("eni1-01").healthy);
  EXPECT_TRUE(device("eni1-02").healthy);
  // eni2 has no address view: not limited.
  EXPECT_TRUE(device("eni2-00").healthy && device("eni2-01").healthy && device("eni2-02").healthy);

  // The kubelet's view unknown: every lease is assumed held.
  state.networkAddresses["eni1"] = {.freeLeases = 1, .leases = 1, .held = std::nullopt};
  pool_->refresh(state);
  EXPECT_TRUE(device("eni1-00").healthy);
  EXPECT_TRUE(device("eni1-01").healthy);
  EXPECT_FALSE(device("eni1-02").healthy);

  // An uplink problem still wins over free addresses.
  state.networkAddresses["eni1"] = {.freeLeases = 10, .leases = 0, .held = std::set<std::string>{}};
  state.dataplaneNetworksUp = {{{"eni1", false}, {"eni2", true}}};
  pool_->refresh(state);
  EXPECT_FALSE(device("eni1-00").healthy);
}

TEST(EnaDevicesEnvNameTest, OnePerResource) {
  EXPECT_EQ(enaDevicesEnvName("ena"), "ENA_DPDK_DEVICES");
  EXPECT_EQ(enaDevicesEnvName("ena-eni1"), "ENA_DPDK_DEVICES_ENA_ENI1");
  EXPECT_EQ(enaDevicesEnvName("user-plane"), "ENA_DPDK_DEVICES_USER_PLANE");
}

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

// A slot directory's owner, group and mode bits (setgid included), for comparisons.
struct SlotDirStat {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0;

  bool operator==(const SlotDirStat&) const = default;
  friend std::ostream& operator<<(std::ostream& out, const SlotDirStat& s) {
    return out << s.uid << ":" << s.gid << " " << std::oct << s.mode << std::dec;
  }
};

std::optional<SlotDirStat> statSlot(const testing::FakeHost& host, const std::string& id) {
  struct stat st {};
  if (::lstat(host.path("/var/run/ena-dpdk/vhost/" + id).c_str(), &st) != 0 ||
      !S_ISDIR(st.st_mode)) {
    return std::nullopt;
  }
  return SlotDirStat{.uid = st.st_uid, .gid = st.st_gid, .mode = st.st_mode & 07777};
}

constexpr gid_t kSlotGroup = 1500;

EnaPoolSpec groupSpec() {
  EnaPoolSpec spec = standardSpec();
  spec.config.slotGroup = kSlotGroup;
  return spec;
}

TEST(EnaPoolSlotGroupTest, CreatesSlotDirectoriesOfTheGroupWithSetgid) {
  // Giving a directory a group the test user is not in needs root (CI runs as root).
  ASSERT_EQ(::geteuid(), 0u) << "needs root to give directories a group: run the tests as root";
  testing::FakeHost host;
  testing::describeStandardHost(host);
  absl::StatusOr<std::unique_ptr<EnaPool>> pool = EnaPool::create(host.hostRoot(), groupSpec());
  ASSERT_TRUE(pool.ok()) << pool.status();
  for (const char* id : {"eni1-00", "eni1-02", "eni2-01"}) {
    EXPECT_EQ(statSlot(host, id), (SlotDirStat{.uid = 0, .gid = kSlotGroup, .mode = 02770})) << id;
  }
}

TEST(EnaPoolSlotGroupTest, FixesUpExistingSlotDirectories) {
  // Giving a directory a group the test user is not in needs root (CI runs as root).
  ASSERT_EQ(::geteuid(), 0u) << "needs root to give directories a group: run the tests as root";
  testing::FakeHost host;
  testing::describeStandardHost(host);
  // One left by an older plugin (root:root 0770), one that somebody else got hold of.
  host.writeFile("/var/run/ena-dpdk/vhost/keep", "");
  const std::string older = host.path("/var/run/ena-dpdk/vhost/eni1-00");
  ASSERT_EQ(::mkdir(older.c_str(), 0770), 0);
  ASSERT_EQ(::chmod(older.c_str(), 0770), 0);
  ASSERT_EQ(statSlot(host, "eni1-00"), (SlotDirStat{.uid = 0, .gid = 0, .mode = 0770}));
  const std::string foreign = host.path("/var/run/ena-dpdk/vhost/eni1-01");
  ASSERT_EQ(::mkdir(foreign.c_str(), 0700), 0);
  ASSERT_EQ(::chown(foreign.c_str(), 1000, 1000), 0);

  absl::StatusOr<std::unique_ptr<EnaPool>> pool = EnaPool::create(host.hostRoot(), groupSpec());
  ASSERT_TRUE(pool.ok()) << pool.status();
  for (const char* id : {"eni1-00", "eni1-01"}) {
    EXPECT_EQ(statSlot(host, id), (SlotDirStat{.uid = 0, .gid = kSlotGroup, .mode = 02770})) << id;
  }

  // Allocate puts a slot changed behind the plugin's back right again.
  ASSERT_EQ(::chmod(host.path("/var/run/ena-dpdk/vhost/eni2-00").c_str(), 0777), 0);
  ASSERT_EQ(::chown(host.path("/var/run/ena-dpdk/vhost/eni2-00").c_str(), 0, 0), 0);
  absl::StatusOr<HostState> state = scanHost(host.hostRoot());
  ASSERT_TRUE(state.ok()) << state.status();
  (*pool)->refresh(*state);
  ASSERT_TRUE((*pool)->allocate({"eni2-00"}).ok());
  EXPECT_EQ(statSlot(host, "eni2-00"), (SlotDirStat{.uid = 0, .gid = kSlotGroup, .mode = 02770}));
}

TEST(EnaPoolSlotGroupTest, WithoutAGroupExistingDirectoriesAreLeftAlone) {
  // Giving a directory a group the test user is not in needs root (CI runs as root).
  ASSERT_EQ(::geteuid(), 0u) << "needs root to give directories a group: run the tests as root";
  testing::FakeHost host;
  testing::describeStandardHost(host);
  // A slot an administrator gave a group by hand.
  host.writeFile("/var/run/ena-dpdk/vhost/keep", "");
  const std::string tuned = host.path("/var/run/ena-dpdk/vhost/eni1-00");
  ASSERT_EQ(::mkdir(tuned.c_str(), 0750), 0);
  ASSERT_EQ(::chown(tuned.c_str(), 0, 2000), 0);
  ASSERT_EQ(::chmod(tuned.c_str(), 02750), 0);
  ASSERT_TRUE(EnaPool::create(host.hostRoot(), standardSpec()).ok());
  EXPECT_EQ(statSlot(host, "eni1-00"), (SlotDirStat{.uid = 0, .gid = 2000, .mode = 02750}));
  EXPECT_EQ(statSlot(host, "eni1-01"), (SlotDirStat{.uid = 0, .gid = 0, .mode = 0770}));
}

TEST(EnaPoolSlotGroupTest, RefusesASymlinkedSlotAndLeavesItsTargetAlone) {
  for (const bool withGroup : {true, false}) {
    SCOPED_TRACE(withGroup ? "with a slot group" : "without a slot group");
    testing::FakeHost host;
    testing::describeStandardHost(host);
    host.writeFile("/etc/secret/x", "");
    const std::string target = host.path("/etc/secret");
    ASSERT_EQ(::chmod(target.c_str(), 0700), 0);
    host.writeFile("/var/run/ena-dpdk/vhost/keep", "");
    ASSERT_EQ(::symlink(target.c_str(), host.path("/var/run/ena-dpdk/vhost/eni1-01").c_str()), 0);

    absl::StatusOr<std::unique_ptr<EnaPool>> pool =
        EnaPool::create(host.hostRoot(), withGroup ? groupSpec() : standardSpec());
    ASSERT_FALSE(pool.ok());
    EXPECT_EQ(pool.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(pool.status().message()),
                HasSubstr("/var/run/ena-dpdk/vhost/eni1-01 is a symbolic link"));
    struct stat st {};
    ASSERT_EQ(::stat(target.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    EXPECT_EQ(st.st_gid, ::getegid());
  }
}

TEST(EnaPoolCreateTest, FailsWhenTheSlotDirectoryCannotBeCreated) {
  testing::FakeHost host;
  host.writeFile("/var/run/ena-dpdk/vhost", "a file where the directory should be");
  absl::StatusOr<std::unique_ptr<EnaPool>> pool = EnaPool::create(host.hostRoot(), standardSpec());
  EXPECT_FALSE(pool.ok());
}

}  // namespace
}  // namespace enadpdk::deviceplugin
