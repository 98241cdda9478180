// cni/records.h (pending port deletes, shared with the dataplane) and the CNI's own
// attachment records.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "cni/attachment_store.h"
#include "cni/records.h"
#include "tests/support/fake_host.h"

namespace enadpdk {
namespace {

namespace fs = std::filesystem;
using cni::PendingPortDelete;

TEST(CniRecordsTest, FileNamesAreEscapedUniqueAndBounded) {
  EXPECT_EQ(cni::recordFileName("c0ffee/net1"), "c0ffee%2Fnet1.json");
  EXPECT_EQ(cni::recordFileName("a b%"), "a%20b%25.json");
  EXPECT_EQ(cni::recordFileName(".."), "%2E..json");
  EXPECT_NE(cni::recordFileName("a/b"), cni::recordFileName("a%2Fb"));
  const std::string longA = std::string(250, 'x') + "/a";
  const std::string longB = std::string(250, 'x') + "/b";
  EXPECT_LE(cni::recordFileName(longA).size(), 255u);
  EXPECT_NE(cni::recordFileName(longA), cni::recordFileName(longB));
  EXPECT_EQ(cni::recordFileName(longA), cni::recordFileName(longA));
}

TEST(CniRecordsTest, RecordListClear) {
  testing::FakeHost host;
  const fs::path state = host.root() / "state";
  auto empty = cni::listPendingPortDeletes(state);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());

  PendingPortDelete b{.portId = "b/net1",
                      .containerId = "b",
                      .ifname = "net1",
                      .network = "eni1",
                      .dataplaneSocket = "/run/dp.sock",
                      .recordedAt = "2026-01-01T00:00:00Z"};
  PendingPortDelete a = b;
  a.portId = "a/net1";
  a.containerId = "a";
  a.recordedAt = "";
  ASSERT_TRUE(cni::recordPendingPortDelete(state, b).ok());
  ASSERT_TRUE(cni::recordPendingPortDelete(state, a).ok());
  ASSERT_TRUE(cni::recordPendingPortDelete(state, b).ok());  // replaces

  struct stat st {};
  ASSERT_EQ(::stat((state / "pending-deletes").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::stat((state / "pending-deletes" / "a%2Fnet1.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  auto listed = cni::listPendingPortDeletes(state);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].portId, "a/net1");
  EXPECT_EQ((*listed)[0].recordedAt.size(), 20u);  // filled in
  EXPECT_EQ((*listed)[1], b);

  ASSERT_TRUE(cni::clearPendingPortDelete(state, "a/net1").ok());
  ASSERT_TRUE(cni::clearPendingPortDelete(state, "a/net1").ok());  // idempotent
  listed = cni::listPendingPortDeletes(state);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].portId, "b/net1");

  EXPECT_FALSE(cni::recordPendingPortDelete(state, {}).ok());
}

TEST(CniRecordsTest, BadFilesAreReportedAndSkipped) {
  testing::FakeHost host;
  const fs::path state = host.root() / "state";
  ASSERT_TRUE(cni::recordPendingPortDelete(state, {.portId = "ok/net1"}).ok());
  std::ofstream(state / "pending-deletes" / "garbage.json") << "{not json";
  std::ofstream(state / "pending-deletes" / "noid.json") << R"({"network": "x"})";
  std::ofstream(state / "pending-deletes" / "wrongtype.json") << R"({"portId": 5})";
  std::ofstream(state / "pending-deletes" / ".x.json.tmp.123") << "in progress";
  std::ofstream(state / "pending-deletes" / "README") << "not a record";
  std::vector<std::string> problems;
  auto listed = cni::listPendingPortDeletes(state, &problems);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(problems.size(), 3u);
}

TEST(AttachmentStoreTest, SaveLoadListRemove) {
  testing::FakeHost host;
  cni::AttachmentStore store(host.root() / "state");
  auto none = store.load("x/net1");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_TRUE(store.list()->empty());

  cni::AttachmentRecord r{.containerId = "x",
                          .ifname = "net1",
                          .cniNetwork = "n",
                          .mode = "vhostuser",
                          .network = "eni1",
                          .deviceId = "eni1-01",
                          .slotDir = "/s/eni1-01",
                          .ownsSlotDir = false,
                          .socketPath = "/s/eni1-01/vhost.sock",
                          .dataplaneSocket = "/d.sock",
                          .deviceInfoFile = "/i.json"};
  ASSERT_TRUE(store.save(r).ok());
  auto loaded = store.load("x/net1");
  ASSERT_TRUE(loaded.ok());
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ(**loaded, r);
  cni::AttachmentRecord r2 = r;
  r2.containerId = "a";
  r2.ownsSlotDir = true;
  ASSERT_TRUE(store.save(r2).ok());
  std::ofstream(host.root() / "state" / "attachments" / "broken.json") << "[]";
  std::vector<std::string> problems;
  auto all = store.list(&problems);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0], r2);
  EXPECT_EQ(problems.size(), 1u);
  ASSERT_TRUE(store.remove("x/net1").ok());
  ASSERT_TRUE(store.remove("x/net1").ok());
  EXPECT_EQ(store.list()->size(), 1u);
}

}  // namespace
}  // namespace enadpdk
