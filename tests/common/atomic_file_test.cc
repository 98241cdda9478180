#include "common/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "tests/support/fake_host.h"

namespace enadpdk::common {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  testing::FakeHost host_;
};

TEST_F(AtomicFileTest, WritesReplacesAndSetsMode) {
  fs::path p = host_.root() / "state.json";
  ASSERT_TRUE(writeFileAtomic(p, "one", 0600).ok());
  EXPECT_EQ(*readFile(p), "one");
  ASSERT_TRUE(writeFileAtomic(p, "two", 0640).ok());
  EXPECT_EQ(*readFile(p), "two");
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  // No temporary files are left behind.
  for (const auto& e : fs::directory_iterator(host_.root())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  }
}

TEST_F(AtomicFileTest, FailureLeavesOldFileAndNoTemporary) {
  fs::path p = host_.root() / "missing-dir" / "state.json";
  absl::Status s = writeFileAtomic(p, "x");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find("missing-dir"), std::string::npos);

  // Renaming over a directory fails; the directory stays and no temporary remains.
  fs::path d = host_.root() / "adir";
  fs::create_directory(d);
  EXPECT_FALSE(writeFileAtomic(d, "x").ok());
  EXPECT_TRUE(fs::is_directory(d));
  for (const auto& e : fs::directory_iterator(host_.root())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  }
}

TEST_F(AtomicFileTest, ReadMissingIsNotFound) {
  EXPECT_EQ(readFile(host_.root() / "nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(AtomicFileTest, MakeDirectoriesAppliesModeToNewOnes) {
  fs::path d = host_.root() / "a" / "b" / "c";
  ASSERT_TRUE(makeDirectories(d, 0770).ok());
  struct stat st {};
  ASSERT_EQ(::stat(d.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0770u);
  EXPECT_TRUE(makeDirectories(d, 0770).ok());  // idempotent
  fs::path f = host_.root() / "file";
  ASSERT_TRUE(writeFileAtomic(f, "").ok());
  EXPECT_EQ(makeDirectories(f / "x").code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace enadpdk::common
