#include "nodeprep/cpu_check.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"
#include "nodeprep/host.h"

namespace enadpdk::nodeprep {
namespace {

using common::HugepageSize;
using common::strCat;

bool sizeUsed(const NodeprepConfig& config, HugepageSize size) {
  const unsigned pages =
      size == HugepageSize::Size1G ? config.hugepages.pages1G : config.hugepages.pages2M;
  return pages > 0 || std::any_of(config.mounts.begin(), config.mounts.end(),
                                  [&](const HugetlbfsMount& m) { return m.pageSize == size; });
}

}  // namespace

std::set<std::string, std::less<>> cpuFlags(std::string_view cpuinfo) {
  std::set<std::string, std::less<>> flags;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(cpuinfo.data(), cpuinfo.size()), '\n')) {
    if (!absl::StartsWith(line, "flags")) continue;
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    for (absl::string_view flag : absl::StrSplit(line.substr(colon + 1), ' ', absl::SkipEmpty())) {
      flags.emplace(common::toStd(flag));
    }
    break;  // every processor lists the same flags
  }
  return flags;
}

bool checkCpu(const common::HostRoot& root, const NodeprepConfig& config, Report& report) {
  absl::StatusOr<std::string> cpuinfo = readHostFile(root, "/proc/cpuinfo");
  if (!cpuinfo.ok()) {
    report.fail("cpu", "/proc/cpuinfo", common::toStd(cpuinfo.status().message()));
    return false;
  }
  const auto flags = cpuFlags(*cpuinfo);
  for (HugepageSize size : {HugepageSize::Size2M, HugepageSize::Size1G}) {
    if (!sizeUsed(config, size)) continue;
    const HugepageSizeInfo info = hugepageSizeInfo(size);
    const std::string target = strCat(info.label, " pages");
    // Only x86 kernels write a "flags" line; elsewhere the kernel's sysfs directory is the
    // statement of support.
    if (!flags.empty() && !flags.contains(info.cpu_flag)) {
      std::string advice = size == HugepageSize::Size1G
                               ? "set nodeprep.hugepages.1G to 0 and use 2M pages, or choose an "
                                 "instance type whose CPU supports 1G pages"
                               : "this CPU cannot back DPDK memory with hugepages";
      report.fail("cpu", target,
                  strCat(info.label, " hugepages are asked for but the CPU lacks the ",
                         info.cpu_flag, " flag: ", advice));
      return false;
    }
    if (!hostPathExists(root, hugepagesDir(size))) {
      report.fail(
          "cpu", target,
          strCat(info.label, " hugepages are asked for but the kernel does not offer them (no ",
                 hugepagesDir(size), ")"));
      return false;
    }
    report.add("cpu", target,
               flags.empty() ? strCat("none: supported (", hugepagesDir(size), ")")
                             : strCat("none: supported (CPU flag ", info.cpu_flag, ")"),
               ActionStatus::Ok);
  }
  return true;
}

}  // namespace enadpdk::nodeprep
