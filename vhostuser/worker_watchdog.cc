#include "vhostuser/worker_watchdog.h"

#include "absl/strings/str_format.h"
#include "common/strings.h"

namespace enadpdk::vhostuser {

void WorkerWatchdog::observe(std::chrono::steady_clock::time_point now,
                             const std::vector<std::pair<unsigned, std::uint64_t>>& progress) {
  absl::MutexLock lock(&mu_);
  last_ = now;
  for (const auto& [lcore, counter] : progress) {
    auto [it, added] = seen_.try_emplace(lcore, Seen{.counter = counter, .moved = now});
    if (!added && it->second.counter != counter) it->second = {.counter = counter, .moved = now};
  }
}

namespace {

std::string seconds(std::chrono::steady_clock::duration d) {
  return absl::StrFormat("%.1f s", std::chrono::duration<double>(d).count());
}

}  // namespace

absl::Status WorkerWatchdog::health(std::chrono::steady_clock::time_point now) const {
  absl::MutexLock lock(&mu_);
  if (!last_) return absl::OkStatus();  // nothing observed yet: the switch has just started
  if (now - *last_ > limit_) {
    return absl::UnavailableError(
        common::strCat("the control loop has not run for ", seconds(now - *last_)));
  }
  std::string stalled;
  for (const auto& [lcore, seen] : seen_) {
    const auto idle = *last_ - seen.moved;
    if (idle <= limit_) continue;
    stalled += common::strCat(stalled.empty() ? "" : ", ", "worker lcore ", lcore,
                              " has completed no poll pass for ", seconds(idle));
  }
  if (stalled.empty()) return absl::OkStatus();
  return absl::UnavailableError(stalled);
}

}  // namespace enadpdk::vhostuser
