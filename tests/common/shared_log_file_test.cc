#include "common/shared_log_file.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "common/strings.h"
#include "tests/support/fake_host.h"

namespace enadpdk::common {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Line `i` of writer `p`: its length varies so that rotations fall between lines of every size.
std::string lineOf(int p, int i) {
  return strCat("writer=", p, " seq=", i, " pad=", std::string(static_cast<size_t>(i % 37), 'x'),
                "\n");
}

// Forks `writers` processes that each append `lines` lines to `path` through their own
// SharedLogFile, all at once, and waits for them. False when a writer failed.
bool runWriters(const fs::path& path, int writers, int lines, uint64_t maxBytes,
                unsigned maxFiles) {
  std::vector<pid_t> children;
  for (int p = 0; p < writers; ++p) {
    const pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) {
      absl::StatusOr<std::unique_ptr<SharedLogFile>> file =
          SharedLogFile::open(path, maxBytes, maxFiles);
      if (!file.ok()) ::_exit(2);
      for (int i = 0; i < lines; ++i) {
        if (!(*file)->append(lineOf(p, i)).ok()) ::_exit(3);
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  bool ok = true;
  for (pid_t pid : children) {
    int status = 0;
    ok = ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 && ok;
  }
  return ok;
}

// The files of `path` oldest first: <path>.<n> .. <path>.1, <path>.
std::vector<fs::path> filesOldestFirst(const fs::path& path) {
  std::vector<fs::path> out;
  unsigned n = 1;
  while (fs::exists(SharedLogFile::rotatedName(path, n))) ++n;
  for (unsigned k = n - 1; k >= 1; --k) out.push_back(SharedLogFile::rotatedName(path, k));
  if (fs::exists(path)) out.push_back(path);
  return out;
}

// Every line of `files` in order, checking each is whole; per writer, its sequence numbers.
std::map<int, std::vector<int>> readSequences(const std::vector<fs::path>& files,
                                              uint64_t maxBytes) {
  static const std::regex kLine("writer=([0-9]+) seq=([0-9]+) pad=(x*)");
  std::map<int, std::vector<int>> seen;
  for (const fs::path& file : files) {
    const std::string text = slurp(file);
    EXPECT_LE(text.size(), maxBytes) << file;
    EXPECT_TRUE(text.empty() || text.back() == '\n') << file;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      std::smatch m;
      if (!std::regex_match(line, m, kLine)) {
        ADD_FAILURE() << "torn line in " << file << ": " << line;
        continue;
      }
      const int p = std::stoi(m[1]), i = std::stoi(m[2]);
      EXPECT_EQ(m[3].length(), static_cast<size_t>(i % 37)) << line;
      seen[p].push_back(i);
    }
  }
  return seen;
}

TEST(SharedLogFileTest, ManyProcessesAcrossRotationsLoseNoLine) {
  testing::FakeHost host;
  const fs::path path = host.root() / "cni.log";
  constexpr int kWriters = 8, kLines = 400;
  constexpr uint64_t kMaxBytes = 4096;
  // Enough rotated files to keep every line, so that every line can be found.
  ASSERT_TRUE(runWriters(path, kWriters, kLines, kMaxBytes, 1000));
  const std::vector<fs::path> files = filesOldestFirst(path);
  EXPECT_GT(files.size(), 20u) << "the test should rotate many times";
  const std::map<int, std::vector<int>> seen = readSequences(files, kMaxBytes);
  ASSERT_EQ(seen.size(), static_cast<size_t>(kWriters));
  std::vector<int> all(kLines);
  for (int i = 0; i < kLines; ++i) all[i] = i;
  for (const auto& [writer, sequence] : seen) {
    EXPECT_EQ(sequence, all) << "writer " << writer << " lost, repeated or reordered lines";
  }
}

TEST(SharedLogFileTest, KeepsOnlyMaxFilesAndTheNewestLines) {
  testing::FakeHost host;
  const fs::path path = host.root() / "cni.log";
  constexpr int kWriters = 6, kLines = 300;
  constexpr uint64_t kMaxBytes = 2048;
  ASSERT_TRUE(runWriters(path, kWriters, kLines, kMaxBytes, 3));
  EXPECT_TRUE(fs::exists(SharedLogFile::rotatedName(path, 3)));
  EXPECT_FALSE(fs::exists(SharedLogFile::rotatedName(path, 4)));
  const std::vector<fs::path> files = filesOldestFirst(path);
  ASSERT_EQ(files.size(), 4u);
  // Rotation drops the oldest files only: what is kept of each writer is the tail of its lines.
  for (const auto& [writer, sequence] : readSequences(files, kMaxBytes)) {
    ASSERT_FALSE(sequence.empty());
    EXPECT_EQ(sequence.back(), kLines - 1) << "writer " << writer;
    for (size_t k = 1; k < sequence.size(); ++k) {
      EXPECT_EQ(sequence[k], sequence[k - 1] + 1) << "writer " << writer << " has a hole";
    }
  }
}

TEST(SharedLogFileTest, ALineLargerThanTheLimitGetsAFileOfItsOwn) {
  testing::FakeHost host;
  const fs::path path = host.root() / "x.log";
  auto file = SharedLogFile::open(path, 10, 2);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->append("short\n").ok());
  ASSERT_TRUE((*file)->append("a line of more than ten bytes\n").ok());
  ASSERT_TRUE((*file)->append("tiny\n").ok());
  EXPECT_EQ(slurp(SharedLogFile::rotatedName(path, 2)), "short\n");
  EXPECT_EQ(slurp(SharedLogFile::rotatedName(path, 1)), "a line of more than ten bytes\n");
  EXPECT_EQ(slurp(path), "tiny\n");
}

TEST(SharedLogFileTest, ZeroMaxBytesNeverRotates) {
  testing::FakeHost host;
  const fs::path path = host.root() / "x.log";
  auto file = SharedLogFile::open(path, 0, 2);
  ASSERT_TRUE(file.ok()) << file.status();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE((*file)->append("0123456789\n").ok());
  EXPECT_EQ(slurp(path).size(), 1100u);
  EXPECT_FALSE(fs::exists(SharedLogFile::rotatedName(path, 1)));
}

TEST(SharedLogFileTest, FollowsThePathWhenAnotherProcessRotatedIt) {
  testing::FakeHost host;
  const fs::path path = host.root() / "x.log";
  auto file = SharedLogFile::open(path, 1000, 2);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->append("before\n").ok());
  fs::rename(path, host.root() / "moved.log");
  ASSERT_TRUE((*file)->append("after\n").ok());
  EXPECT_EQ(slurp(host.root() / "moved.log"), "before\n");
  EXPECT_EQ(slurp(path), "after\n");
}

TEST(SharedLogFileTest, ZeroMaxFilesRemovesTheFullFile) {
  testing::FakeHost host;
  const fs::path path = host.root() / "x.log";
  auto file = SharedLogFile::open(path, 8, 0);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->append("first\n").ok());
  ASSERT_TRUE((*file)->append("second\n").ok());
  EXPECT_EQ(slurp(path), "second\n");
  EXPECT_FALSE(fs::exists(SharedLogFile::rotatedName(path, 1)));
}

TEST(SharedLogFileTest, OpenFailsInAMissingDirectory) {
  testing::FakeHost host;
  auto file = SharedLogFile::open(host.root() / "missing" / "x.log", 0, 1);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(std::string(file.status().message()).find("missing/x.log"), std::string::npos);
}

}  // namespace
}  // namespace enadpdk::common
