#pragma once

// Whether every worker still completes poll passes, for the dataplane's health: a worker stuck
// in a pass (a hung vhost ring, a livelock) forwards nothing while the process looks alive.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace enadpdk::vhostuser {

// Fed by the control thread with each worker's progress counter (a number every pass increases:
// its total cycles); a worker whose counter has not moved for `limit` is stalled. Thread-safe.
class WorkerWatchdog {
 public:
  explicit WorkerWatchdog(std::chrono::milliseconds limit) : limit_(limit) {}

  // Records `progress` (lcore, counter) as read at `now`. A worker seen for the first time starts
  // its clock at `now`.
  void observe(std::chrono::steady_clock::time_point now,
               const std::vector<std::pair<unsigned, std::uint64_t>>& progress);

  // At `now`: OK while the control thread observed within `limit` and every worker's counter had
  // moved within `limit` of that observation; else Unavailable naming what is stuck ("worker
  // lcore 2 has completed no poll pass for 1.3 s", "the control loop has not run for 1.5 s").
  absl::Status health(std::chrono::steady_clock::time_point now) const;
  absl::Status health() const { return health(std::chrono::steady_clock::now()); }

 private:
  struct Seen {
    std::uint64_t counter = 0;
    std::chrono::steady_clock::time_point moved{};
  };
  const std::chrono::milliseconds limit_;
  mutable absl::Mutex mu_;
  std::map<unsigned, Seen> seen_ ABSL_GUARDED_BY(mu_);
  // The last observation; none before the first.
  std::optional<std::chrono::steady_clock::time_point> last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace enadpdk::vhostuser
