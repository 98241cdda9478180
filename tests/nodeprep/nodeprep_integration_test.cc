// Runs ena-dpdk-nodeprep on this machine's real kernel (--root /): it reserves hugepages at run
// time through the real sysfs and mounts hugetlbfs in a temporary directory. What it is asked for
// depends on the hardware, decided by /sys/kernel/mm/hugepages/hugepages-1048576kB:
//   - with 1G pages: 2M and 1G pages are reserved, hugetlbfs of both sizes mounted and a real 1G
//     page used; a dry run of 1G requests passes the CPU check.
//   - without (a CPU without pdpe1gb): the same with 2M pages only and a real 2M page; asking for
//     1G pages (by count or by a 1G mount) is refused at the CPU check, naming pdpe1gb, before
//     anything is written. A NOTE line on stderr says so.
// Other tests may use 2M hugepages at the same time, so the test only ever adds pages (nodeprep
// never lowers a count) and afterwards takes back exactly the pages nodeprep added; it unmounts
// what it mounted. The bind list is empty, so no device is touched.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include "nlohmann/json.hpp"
#include "nodeprep/command_runner.h"

namespace enadpdk::testing {
namespace {

namespace fs = std::filesystem;

constexpr char k2MFile[] = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";
constexpr char k1GDir[] = "/sys/kernel/mm/hugepages/hugepages-1048576kB";
constexpr char k1GFile[] = "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages";
constexpr uint64_t kAdd2M = 16;
constexpr uint64_t kAdd1G = 1;
// How nodeprep refuses 1G pages on a CPU without them (nodeprep/cpu_check.cc).
constexpr char k1GRefusal[] = "1G hugepages are asked for but the CPU lacks the pdpe1gb flag";

// Whether this kernel offers 1G hugepages; which variant of each test runs depends on it.
bool has1G() { return fs::exists(k1GDir); }

// Says loudly that the variant for a machine without 1G pages runs, and what it tests.
void note(const std::string& instead) {
  std::cerr << "NOTE: this CPU has no 1G hugepages (no pdpe1gb): testing " << instead
            << " instead\n";
}

uint64_t readCount(const char* file) {
  std::ifstream in(file);
  uint64_t n = 0;
  in >> n;
  EXPECT_TRUE(in) << "cannot read " << file;
  return n;
}

void writeCount(const char* file, uint64_t n) {
  std::ofstream out(file);
  out << n;
  out.flush();
  EXPECT_TRUE(out) << "cannot write " << n << " to " << file;
}

std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool mounted(const std::string& target) {
  const std::string table = readText("/proc/self/mounts");
  return table.find(" " + target + " hugetlbfs ") != std::string::npos;
}

// Whether anything is mounted below `dir`.
bool mountedUnder(const fs::path& dir) {
  return readText("/proc/self/mounts").find(" " + dir.string() + "/") != std::string::npos;
}

class NodeprepIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "the integration test reserves hugepages and mounts: run as root";
    std::string tmpl = (fs::temp_directory_path() / "ena-dpdk-nodeprep-it-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    mount1G_ = (dir_ / "hugepages-1Gi").string();
    mount2M_ = (dir_ / "hugepages-2Mi").string();
    before2M_ = readCount(k2MFile);
    if (has1G()) before1G_ = readCount(k1GFile);
  }

  void TearDown() override {
    for (const std::string& target : {mount1G_, mount2M_}) {
      if (!target.empty() && mounted(target)) {
        EXPECT_EQ(::umount2(target.c_str(), 0), 0) << "umount " << target;
      }
    }
    // Give back exactly what nodeprep added, whatever else changed the counts meanwhile.
    if (added2M_ > 0) writeCount(k2MFile, readCount(k2MFile) - added2M_);
    if (added1G_ > 0) writeCount(k1GFile, readCount(k1GFile) - added1G_);
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  struct Run {
    int exit_code = -1;
    nlohmann::json report{};
    std::string err{};
  };

  Run runNodeprep(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {NODEPREP_BINARY,
                                     "--config",
                                     config_,
                                     "--root",
                                     "/",
                                     "--state-file",
                                     (dir_ / "state.json").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const char* path = std::getenv("PATH");
    nodeprep::HostCommandRunner runner(nodeprep::HostExec::Direct,
                                       path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin",
                                       common::HostRoot("/"));
    absl::StatusOr<nodeprep::CommandResult> result = runner.run(argv);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return {};
    Run run{.exit_code = result->exit_code, .report = {}, .err = result->err};
    run.report = nlohmann::json::parse(result->out, nullptr, false);
    EXPECT_FALSE(run.report.is_discarded()) << result->out;
    return run;
  }

  // Writes the config file with these "hugepages" and "mounts" sections and an empty bind list.
  void writeConfig(const nlohmann::json& hugepages, const nlohmann::json& mounts) {
    config_ = (dir_ / "config.json").string();
    std::ofstream out(config_);
    out << nlohmann::json{{"nodeprep",
                           {{"hugepages", hugepages},
                            {"mounts", mounts},
                            {"bind", {{"interfaces", nlohmann::json::array()}}}}}}
               .dump();
  }

  // The status of the run's action `step` on `target` ("ok", "failed", ...); "" when it has none.
  static std::string statusOf(const Run& run, const std::string& step, const std::string& target) {
    for (const auto& action : run.report["actions"]) {
      if (action["step"] == step && action["target"] == target) return action["status"];
    }
    return "";
  }

  // How many pages the run's hugepages action on `file` added ("3 -> 5" adds 2).
  static uint64_t addedBy(const Run& run, const std::string& file) {
    for (const auto& action : run.report["actions"]) {
      if (action["step"] != "hugepages" || action["target"] != file ||
          action["status"] != "changed") {
        continue;
      }
      std::smatch m;
      const std::string change = action["change"];
      if (std::regex_match(change, m, std::regex(R"((\d+) -> (\d+))"))) {
        return std::stoull(m[2]) - std::stoull(m[1]);
      }
    }
    return 0;
  }

  fs::path dir_;
  std::string mount1G_;
  std::string mount2M_;
  std::string config_;
  uint64_t before2M_ = 0;
  uint64_t before1G_ = 0;
  uint64_t added2M_ = 0;
  uint64_t added1G_ = 0;
};

// With 1G pages: adds kAdd2M 2M and kAdd1G 1G pages, mounts hugetlbfs of both sizes and uses a
// real 1G page. Without: adds kAdd2M 2M pages, mounts a 2M hugetlbfs and uses a real 2M page.
// Either way a second run and a dry run then find nothing to do.
TEST_F(NodeprepIntegrationTest, ReservesRealHugepagesAndMountsHugetlbfs) {
  const bool with1G = has1G();
  if (!with1G) note("the reservation and mount of 2M pages only");
  nlohmann::json mounts = nlohmann::json::array();
  if (with1G) mounts.push_back({{"path", mount1G_}, {"pageSize", "1G"}});
  mounts.push_back({{"path", mount2M_}, {"pageSize", "2M"}});
  writeConfig(
      {{"2M", before2M_ + kAdd2M}, {"1G", with1G ? before1G_ + kAdd1G : 0}, {"persist", "never"}},
      mounts);

  Run first = runNodeprep();
  added2M_ = addedBy(first, k2MFile);
  added1G_ = addedBy(first, k1GFile);

  ASSERT_EQ(first.exit_code, 0) << first.err << first.report.dump(2);
  EXPECT_EQ(first.report["ready"], true);
  // Another test may have raised the 2M count in between; nodeprep then added fewer or none.
  EXPECT_GE(readCount(k2MFile), before2M_ + kAdd2M);
  EXPECT_TRUE(mounted(mount2M_));
  if (with1G) {
    EXPECT_EQ(added1G_, kAdd1G) << first.report.dump(2);
    EXPECT_GE(readCount(k1GFile), before1G_ + kAdd1G);
    EXPECT_TRUE(mounted(mount1G_));
    EXPECT_THAT(readText("/proc/self/mounts"),
                ::testing::HasSubstr(mount1G_ + " hugetlbfs rw,relatime,pagesize=1024M"));
  } else {
    EXPECT_LE(added2M_, kAdd2M) << first.report.dump(2);
    EXPECT_EQ(added1G_, 0u) << first.report.dump(2);
    EXPECT_THAT(readText("/proc/self/mounts"),
                ::testing::HasSubstr(mount2M_ + " hugetlbfs rw,relatime,pagesize=2M"));
  }

  // The mount of the largest page size hands out a real page of that size.
  const std::string file = (with1G ? mount1G_ : mount2M_) + "/probe";
  const int fd = ::open(file.c_str(), O_CREAT | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  const size_t size = with1G ? size_t{1} << 30 : size_t{2} << 20;
  void* memory = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(memory, MAP_FAILED);
  static_cast<volatile char*>(memory)[size - 1] = 42;
  EXPECT_EQ(static_cast<volatile char*>(memory)[size - 1], 42);
  ::munmap(memory, size);
  ::close(fd);
  ::unlink(file.c_str());

  // Idempotent: a second run and a dry run change nothing.
  Run second = runNodeprep();
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.report["ready"], true);
  for (const auto& action : second.report["actions"]) {
    EXPECT_EQ(action["status"], "ok") << action;
  }
  Run dry = runNodeprep({"--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.report["ready"], true) << dry.report.dump(2);
}

// 1G pages asked for by count or by a 1G mount. Without 1G pages nodeprep refuses at its first
// step, the CPU check, naming pdpe1gb, and writes nothing, in a real run and in a dry run alike.
// With 1G pages a dry run of the same requests passes the CPU check (the real run is
// ReservesRealHugepagesAndMountsHugetlbfs).
TEST_F(NodeprepIntegrationTest, Checks1GRequestsAgainstTheCpu) {
  const bool with1G = has1G();
  if (!with1G) {
    note("that nodeprep refuses 1G pages and writes nothing");
    ASSERT_THAT(readText("/proc/cpuinfo"), ::testing::Not(::testing::HasSubstr(" pdpe1gb")))
        << "the kernel offers no 1G hugepages although the CPU has the pdpe1gb flag";
  }
  const struct {
    const char* name;
    bool pages;  // "1G" asks for kAdd1G more pages
    bool mount;  // a 1G hugetlbfs mount
  } requests[] = {{"1G pages", true, false}, {"a 1G mount", false, true}};
  for (const auto& request : requests) {
    SCOPED_TRACE(request.name);
    nlohmann::json mounts = nlohmann::json::array();
    if (request.mount) mounts.push_back({{"path", mount1G_}, {"pageSize", "1G"}});
    mounts.push_back({{"path", mount2M_}, {"pageSize", "2M"}});
    writeConfig({{"2M", before2M_ + kAdd2M},
                 {"1G", request.pages ? before1G_ + kAdd1G : 0},
                 {"persist", "never"}},
                mounts);

    if (with1G) {
      Run dry = runNodeprep({"--dry-run"});
      EXPECT_EQ(dry.exit_code, 0) << dry.err << dry.report.dump(2);
      EXPECT_EQ(statusOf(dry, "cpu", "1G pages"), "ok") << dry.report.dump(2);
    } else {
      for (const std::vector<std::string>& extra : {std::vector<std::string>{}, {"--dry-run"}}) {
        SCOPED_TRACE(extra.empty() ? "real run" : "dry run");
        Run run = runNodeprep(extra);
        // Should nodeprep wrongly have reserved pages, TearDown gives them back.
        added2M_ += addedBy(run, k2MFile);
        EXPECT_EQ(run.exit_code, 1) << run.err << run.report.dump(2);
        EXPECT_THAT(run.err, ::testing::HasSubstr(k1GRefusal));
        EXPECT_EQ(statusOf(run, "cpu", "1G pages"), "failed") << run.report.dump(2);
        EXPECT_EQ(run.report["ready"], false);
        // The CPU check is all that ran: no hugepages, mount or state action followed it.
        for (const auto& action : run.report["actions"]) {
          EXPECT_EQ(action["step"], "cpu") << action;
        }
        EXPECT_EQ(added2M_, 0u);
      }
    }
    // Nothing written: no mount point (nodeprep creates it to mount), no mount, no state file.
    // (The 2M count cannot be compared: other tests may raise it meanwhile.)
    EXPECT_FALSE(fs::exists(mount1G_));
    EXPECT_FALSE(fs::exists(mount2M_));
    EXPECT_FALSE(mountedUnder(dir_));
    EXPECT_FALSE(fs::exists(dir_ / "state.json"));
  }
}

}  // namespace
}  // namespace enadpdk::testing
