// Runs ena-dpdk-nodeprep on this machine's real kernel: it reserves 2M and 1G hugepages at run
// time through the real sysfs (--root /) and mounts hugetlbfs of both sizes in a temporary
// directory. Other tests may use 2M hugepages at the same time, so the test only ever adds pages
// (nodeprep never lowers a count) and afterwards takes back exactly the pages nodeprep added; it
// unmounts what it mounted. The bind list is empty, so no device is touched.

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
#include <regex>
#include <sstream>

#include "nlohmann/json.hpp"
#include "nodeprep/command_runner.h"

namespace enadpdk::testing {
namespace {

namespace fs = std::filesystem;

constexpr char k2MFile[] = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";
constexpr char k1GFile[] = "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages";
constexpr uint64_t kAdd2M = 16;
constexpr uint64_t kAdd1G = 1;

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

class NodeprepIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "the integration test reserves hugepages and mounts: run as root";
    ASSERT_TRUE(fs::exists(k1GFile)) << "this kernel offers no 1G hugepages";
    std::string tmpl = (fs::temp_directory_path() / "ena-dpdk-nodeprep-it-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    mount1G_ = (dir_ / "hugepages-1Gi").string();
    mount2M_ = (dir_ / "hugepages-2Mi").string();
    before2M_ = readCount(k2MFile);
    before1G_ = readCount(k1GFile);
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
    nodeprep::HostCommandRunner runner(common::HostExec::Direct,
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

TEST_F(NodeprepIntegrationTest, ReservesRealHugepagesAndMountsHugetlbfs) {
  config_ = (dir_ / "config.json").string();
  {
    std::ofstream out(config_);
    out << nlohmann::json{{"nodeprep",
                           {{"hugepages",
                             {{"2M", before2M_ + kAdd2M},
                              {"1G", before1G_ + kAdd1G},
                              {"persist", "never"}}},
                            {"mounts",
                             {{{"path", mount1G_}, {"pageSize", "1G"}},
                              {{"path", mount2M_}, {"pageSize", "2M"}}}},
                            {"bind", {{"interfaces", nlohmann::json::array()}}}}}}
               .dump();
  }

  Run first = runNodeprep();
  added2M_ = addedBy(first, k2MFile);
  added1G_ = addedBy(first, k1GFile);

  ASSERT_EQ(first.exit_code, 0) << first.err << first.report.dump(2);
  EXPECT_EQ(first.report["ready"], true);
  EXPECT_EQ(added1G_, kAdd1G) << first.report.dump(2);
  // Another test may have raised the 2M count in between; nodeprep then added fewer or none.
  EXPECT_GE(readCount(k2MFile), before2M_ + kAdd2M);
  EXPECT_GE(readCount(k1GFile), before1G_ + kAdd1G);
  EXPECT_TRUE(mounted(mount1G_));
  EXPECT_TRUE(mounted(mount2M_));
  EXPECT_THAT(readText("/proc/self/mounts"),
              ::testing::HasSubstr(mount1G_ + " hugetlbfs rw,relatime,pagesize=1024M"));

  // The 1G mount hands out a real 1G page.
  const std::string file = mount1G_ + "/probe";
  const int fd = ::open(file.c_str(), O_CREAT | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  const size_t size = size_t{1} << 30;
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

}  // namespace
}  // namespace enadpdk::testing
