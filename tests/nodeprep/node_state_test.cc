#include "nodeprep/node_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/support/fake_host.h"

namespace enadpdk::testing {
namespace {

using nodeprep::kDefaultStateFile;
using nodeprep::loadNodeState;
using nodeprep::NodeState;
using nodeprep::saveNodeState;

TEST(NodeStateTest, MissingFileIsAnEmptyState) {
  FakeHost host;
  absl::StatusOr<NodeState> state = loadNodeState(host.hostRoot(), kDefaultStateFile);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(*state, NodeState{});
}

TEST(NodeStateTest, RoundTripsWithNarrowPermissions) {
  FakeHost host;
  // saveNodeState() writes the current version, which loadNodeState() reads back.
  const NodeState state{.version = nodeprep::kNodeStateVersion,
                        .boot_id = "b1",
                        .hugepages_raised_at = 12.5,
                        .interfaces = {{"eth1", "0000:00:06.0"}, {"eth2", "0000:00:07.0"}}};
  ASSERT_TRUE(saveNodeState(host.hostRoot(), kDefaultStateFile, state).ok());
  absl::StatusOr<NodeState> loaded = loadNodeState(host.hostRoot(), kDefaultStateFile);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*loaded, state);
  struct stat st {};
  ASSERT_EQ(::stat(host.path(kDefaultStateFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(NodeStateTest, RejectsAnythingElse) {
  const std::string bad[] = {"not json",
                             "[]",
                             "{\"interfaces\": []}",
                             "{\"interfaces\": {\"eth1\": 6}}",
                             "{\"bootId\": 1}",
                             "{\"hugepagesRaisedAt\": \"x\"}"};
  for (const std::string& text : bad) {
    FakeHost host;
    host.writeFile(kDefaultStateFile, text);
    absl::StatusOr<NodeState> state = loadNodeState(host.hostRoot(), kDefaultStateFile);
    EXPECT_TRUE(absl::IsInvalidArgument(state.status())) << text;
    EXPECT_THAT(std::string(state.status().message()),
                ::testing::AllOf(::testing::HasSubstr(kDefaultStateFile),
                                 ::testing::HasSubstr("remove it")))
        << text;
  }
}

}  // namespace
}  // namespace enadpdk::testing
