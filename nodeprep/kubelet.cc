#include "nodeprep/kubelet.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"
#include "nodeprep/host.h"

namespace enadpdk::nodeprep {

BootClock readBootClock(const common::HostRoot& root) {
  BootClock clock;
  if (absl::StatusOr<std::string> id = readHostFile(root, "/proc/sys/kernel/random/boot_id");
      id.ok()) {
    clock.boot_id = *std::move(id);
  }
  if (absl::StatusOr<std::string> uptime = readHostFile(root, "/proc/uptime"); uptime.ok()) {
    std::vector<absl::string_view> fields = absl::StrSplit(*uptime, ' ', absl::SkipEmpty());
    double seconds = 0;
    if (!fields.empty() && absl::SimpleAtod(fields[0], &seconds)) clock.uptime = seconds;
  }
  return clock;
}

std::optional<double> processStartSeconds(std::string_view stat, long ticks_per_second) {
  // The comm field is parenthesized and may itself hold spaces and parentheses: the fields after
  // the last ')' start with field 3 (state).
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return std::nullopt;
  std::vector<absl::string_view> fields = absl::StrSplit(
      absl::string_view(stat.data() + close + 1, stat.size() - close - 1), ' ', absl::SkipEmpty());
  constexpr size_t kStartTimeIndex = 22 - 3;
  uint64_t ticks = 0;
  if (fields.size() <= kStartTimeIndex || !absl::SimpleAtoi(fields[kStartTimeIndex], &ticks)) {
    return std::nullopt;
  }
  return static_cast<double>(ticks) / static_cast<double>(ticks_per_second);
}

std::vector<double> kubeletStartTimes(const common::HostRoot& root) {
  std::vector<double> starts;
  const long ticks = ::sysconf(_SC_CLK_TCK);
  std::error_code ec;
  for (std::filesystem::directory_iterator it(root.path("/proc"), ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string pid = it->path().filename().string();
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(),
                                    [](unsigned char c) { return std::isdigit(c) != 0; })) {
      continue;
    }
    // A process may exit while we look: unreadable entries are simply skipped.
    absl::StatusOr<std::string> comm = readHostFile(root, common::strCat("/proc/", pid, "/comm"));
    if (!comm.ok() || *comm != "kubelet") continue;
    absl::StatusOr<std::string> stat = readHostFile(root, common::strCat("/proc/", pid, "/stat"));
    if (!stat.ok()) continue;
    if (std::optional<double> start = processStartSeconds(*stat, ticks)) starts.push_back(*start);
  }
  return starts;
}

}  // namespace enadpdk::nodeprep
