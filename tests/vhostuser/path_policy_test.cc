#include "vhostuser/path_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/fake_host.h"

namespace enadpdk::vhostuser {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A temporary tree: <t>/allowed (the allowed root), <t>/outside with a directory and a file, and
// links inside the allowed root that lead out of it or stay in it.
class PathPolicyTest : public ::testing::Test {
 protected:
  PathPolicyTest() {
    fs::create_directories(allowed_ / "sub");
    fs::create_directories(outside_ / "dir");
    fs::create_symlink(outside_, allowed_ / "lnk");
    fs::create_symlink(allowed_ / "sub", allowed_ / "inner");
    fs::create_symlink(outside_ / "target.sock", allowed_ / "last.sock");
    fs::create_symlink(outside_ / "nowhere", allowed_ / "dangling");
    fs::create_symlink(allowed_, t_ / "allowed-link");
  }

  absl::StatusOr<ResolvedSocketPath> resolve(const fs::path& p) {
    return resolveSocketPath(p.string(), roots_, "socket_path");
  }

  // Every entry below `dir`, so a test can show that nothing was created.
  static std::vector<std::string> tree(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      out.push_back(e.path().lexically_relative(dir).string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  testing::FakeHost host_;
  const fs::path t_ = fs::canonical(host_.root());
  const fs::path allowed_ = t_ / "allowed";
  const fs::path outside_ = t_ / "outside";
  const std::vector<std::string> roots_ = {allowed_.string()};
};

TEST_F(PathPolicyTest, AcceptsPathsThatStayInside) {
  struct Case {
    fs::path path;
    fs::path parent;                   // resolved
    std::vector<std::string> missing;  // directories still to create
  };
  const std::vector<Case> cases = {
      {allowed_ / "s1.sock", allowed_, {}},
      {allowed_ / "sub" / "s1.sock", allowed_ / "sub", {}},
      {allowed_ / "inner" / "s1.sock", allowed_ / "sub", {}},  // a link that stays inside
      {allowed_ / "new" / "deeper" / "s1.sock", allowed_ / "new" / "deeper", {"new", "deeper"}},
      {allowed_ / "sub" / ".." / "s1.sock", allowed_, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    absl::StatusOr<ResolvedSocketPath> r = resolve(c.path);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->parentDir(), c.parent);
    EXPECT_EQ(r->missing_dirs, c.missing);
    EXPECT_EQ(r->name, "s1.sock");
  }
}

TEST_F(PathPolicyTest, RootThatIsALinkMatchesItsTarget) {
  absl::StatusOr<ResolvedSocketPath> r = resolveSocketPath(
      (allowed_ / "s1.sock").string(), {(t_ / "allowed-link").string()}, "socket_path");
  ASSERT_TRUE(r.ok()) << r.status();
  r = resolveSocketPath((t_ / "allowed-link" / "s1.sock").string(), roots_, "socket_path");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->parentDir(), allowed_);
}

TEST_F(PathPolicyTest, RefusesPathsThatLeadOutside) {
  struct Case {
    std::string description;
    fs::path path;
    absl::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"link to outside", allowed_ / "lnk" / "s1.sock", absl::StatusCode::kPermissionDenied,
       "resolves to \"" + (outside_ / "s1.sock").string() +
           "\", outside the allowed directories (" + allowed_.string() + ")"},
      {"new directory behind a link", allowed_ / "lnk" / "newdir" / "s1.sock",
       absl::StatusCode::kPermissionDenied,
       "resolves to \"" + (outside_ / "newdir" / "s1.sock").string() + "\""},
      {"existing directory behind a link", allowed_ / "lnk" / "dir" / "s1.sock",
       absl::StatusCode::kPermissionDenied, "outside the allowed directories"},
      {"link as the last component", allowed_ / "last.sock", absl::StatusCode::kPermissionDenied,
       "is a symbolic link"},
      {"link to a directory as the last component", allowed_ / "lnk",
       absl::StatusCode::kPermissionDenied, "is a symbolic link"},
      {"dangling link as a directory", allowed_ / "dangling" / "s1.sock",
       absl::StatusCode::kPermissionDenied, "dangling\" (in"},
      {"dot-dot out of the root", allowed_ / ".." / "outside" / "s1.sock",
       absl::StatusCode::kPermissionDenied, "outside the allowed directories"},
      {"dot-dot after a link", allowed_ / "lnk" / ".." / "s1.sock",
       absl::StatusCode::kPermissionDenied, "resolves to \"" + (t_ / "s1.sock").string() + "\""},
      {"dot-dot below a new directory", allowed_ / "new" / ".." / ".." / "outside" / "s1.sock",
       absl::StatusCode::kInvalidArgument, "has \"..\" below a directory that does not exist"},
      {"the root itself", allowed_, absl::StatusCode::kPermissionDenied, "outside"},
      {"a file as a directory", allowed_ / "sub" / "f" / "s1.sock",
       absl::StatusCode::kInvalidArgument, "is not a directory"},
      {"relative", "allowed/s1.sock", absl::StatusCode::kInvalidArgument, "not an absolute path"},
      {"no file name", allowed_.string() + "/", absl::StatusCode::kInvalidArgument,
       "does not name a socket"},
  };
  { std::ofstream(allowed_ / "sub" / "f") << "x"; }
  const std::vector<std::string> before = tree(t_);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    absl::StatusOr<ResolvedSocketPath> r = resolve(c.path);
    ASSERT_FALSE(r.ok()) << c.path;
    EXPECT_EQ(r.status().code(), c.code) << r.status();
    EXPECT_THAT(std::string(r.status().message()), ::testing::StartsWith("socket_path: "));
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.message));
  }
  EXPECT_EQ(tree(t_), before);
}

TEST_F(PathPolicyTest, CreatesMissingDirectoriesWithTheMode) {
  absl::StatusOr<ResolvedSocketPath> r = resolve(allowed_ / "new" / "deeper" / "s1.sock");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(createSocketDirs(*r, 0750, "socket_path").ok());
  for (const fs::path& d : {allowed_ / "new", allowed_ / "new" / "deeper"}) {
    struct stat st {};
    ASSERT_EQ(::lstat(d.c_str(), &st), 0) << d;
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << d;
    EXPECT_EQ(st.st_mode & 07777, 0750u) << d;
  }
  // Again: nothing to do, existing directories are left as they are.
  ASSERT_TRUE(createSocketDirs(*r, 0700, "socket_path").ok());
  struct stat st {};
  ASSERT_EQ(::lstat((allowed_ / "new").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
}

// A link swapped in between the check and the creation is refused, not followed.
TEST_F(PathPolicyTest, CreationRefusesALinkSwappedInAfterTheCheck) {
  absl::StatusOr<ResolvedSocketPath> r = resolve(allowed_ / "new" / "deeper" / "s1.sock");
  ASSERT_TRUE(r.ok()) << r.status();
  fs::create_symlink(outside_, allowed_ / "new");
  absl::Status s = createSocketDirs(*r, 0755, "socket_path");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("socket_path: "));
  EXPECT_THAT(tree(outside_), ElementsAre("dir"));
}

TEST_F(PathPolicyTest, NothingAllowedWithoutRoots) {
  absl::StatusOr<ResolvedSocketPath> r =
      resolveSocketPath((allowed_ / "s1.sock").string(), {}, "socket_path");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("outside the allowed directories ()"));
}

}  // namespace
}  // namespace enadpdk::vhostuser
