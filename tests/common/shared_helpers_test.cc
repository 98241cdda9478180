// Small shared helpers that used to exist two or three times: FNV-1a (common/fnv1a.h), the
// lexical path containment check (common/path_resolve.h), the NPWG PCI device-info document
// (common/device_info.h) and the fsync-less atomic replace (common/atomic_file.h).

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/device_info.h"
#include "common/fnv1a.h"
#include "common/path_resolve.h"

namespace enadpdk::common {
namespace {

// Published FNV-1a test vectors (Fowler/Noll/Vo test suite).
static_assert(fnv1a32("") == 0x811c9dc5u);
static_assert(fnv1a32("a") == 0xe40c292cu);
static_assert(fnv1a32("foobar") == 0xbf9cf968u);
static_assert(fnv1a64("") == 0xcbf29ce484222325ULL);
static_assert(fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
static_assert(fnv1a64("foobar") == 0x85944171f73967e8ULL);

TEST(Fnv1aTest, ContinuingAHashEqualsHashingTheConcatenation) {
  EXPECT_EQ(fnv1a32("bar", fnv1a32("foo")), fnv1a32("foobar"));
  EXPECT_EQ(fnv1a64("bar", fnv1a64("foo")), fnv1a64("foobar"));
}

TEST(IsWithinTest, OnlyStrictlyInsideCounts) {
  struct Case {
    const char* path;
    const char* dir;
    bool within;
  };
  for (const Case& c : {Case{"/run/x/a.sock", "/run/x", true}, Case{"/run/x/a/b", "/run/x/", true},
                        Case{"/run/x", "/run/x", false}, Case{"/run/x/", "/run/x", false},
                        Case{"/run/xy/a", "/run/x", false}, Case{"/run/x/../y/a", "/run/x", false},
                        Case{"/run/x/./a", "/run/x", true}, Case{"/run", "/run/x", false},
                        Case{"/other/a", "/run/x", false}}) {
    EXPECT_EQ(isWithin(c.path, c.dir), c.within) << c.path << " in " << c.dir;
  }
}

TEST(DeviceInfoTest, PciDocumentFollowsTheNpwgSpec) {
  const nlohmann::json doc = nlohmann::json::parse(pciDeviceInfo("0000:00:06.0"));
  EXPECT_EQ(
      doc, (nlohmann::json{
               {"type", "pci"}, {"version", "1.1.0"}, {"pci", {{"pci-address", "0000:00:06.0"}}}}));
  EXPECT_EQ(pciDeviceInfo("0000:00:06.0"),
            R"({"pci":{"pci-address":"0000:00:06.0"},"type":"pci","version":"1.1.0"})");
}

TEST(ReplaceFileAtomicTest, ReplacesWithTheModeAndLeavesNoTemporary) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "replace_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::filesystem::path file = dir / "f.json";
  ASSERT_TRUE(replaceFileAtomic(file, "one", 0600).ok());
  ASSERT_TRUE(replaceFileAtomic(file, "two", 0644).ok());
  EXPECT_EQ(*readFile(file), "two");
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir),
                          std::filesystem::directory_iterator()),
            1);
  EXPECT_FALSE(replaceFileAtomic(dir / "missing" / "f", "x", 0600).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace enadpdk::common
