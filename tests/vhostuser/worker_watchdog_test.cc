// The dataplane's stall detection, on its own: progress counters and times fed by hand.
#include "vhostuser/worker_watchdog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace enadpdk::vhostuser {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

TEST(WorkerWatchdogTest, HealthyWhileEveryWorkerMovesAndNamesTheOneThatDoesNot) {
  WorkerWatchdog dog(milliseconds(1000));
  const auto t0 = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
  EXPECT_TRUE(dog.health(t0).ok());  // nothing observed yet
  dog.observe(t0, {{1, 100}, {2, 100}});
  EXPECT_TRUE(dog.health(t0).ok());
  // Ten control ticks of 100 ms: lcore 1 moves each time, lcore 2 never does.
  for (int i = 1; i <= 10; ++i) dog.observe(t0 + milliseconds(100 * i), {{1, 100u + i}, {2, 100}});
  EXPECT_TRUE(dog.health(t0 + milliseconds(1000)).ok());  // exactly the limit
  dog.observe(t0 + milliseconds(1100), {{1, 111}, {2, 100}});
  const absl::Status stalled = dog.health(t0 + milliseconds(1100));
  EXPECT_EQ(stalled.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(stalled.message(), "worker lcore 2 has completed no poll pass for 1.1 s");
  // It moves again: healthy at the next observation.
  dog.observe(t0 + milliseconds(1200), {{1, 112}, {2, 101}});
  EXPECT_TRUE(dog.health(t0 + milliseconds(1200)).ok());
}

TEST(WorkerWatchdogTest, AControlLoopThatStopsObservingIsUnhealthyToo) {
  WorkerWatchdog dog(milliseconds(1000));
  const auto t0 = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
  dog.observe(t0, {{1, 5}});
  EXPECT_TRUE(dog.health(t0 + milliseconds(900)).ok());
  const absl::Status status = dog.health(t0 + milliseconds(1500));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("the control loop has not run for 1.5 s"));
}

TEST(WorkerWatchdogTest, AWorkerSeenLateStartsItsClockThen) {
  WorkerWatchdog dog(milliseconds(500));
  const auto t0 = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
  dog.observe(t0, {{1, 1}});
  dog.observe(t0 + milliseconds(400), {{1, 2}, {3, 7}});
  dog.observe(t0 + milliseconds(800), {{1, 3}, {3, 7}});
  EXPECT_TRUE(dog.health(t0 + milliseconds(800)).ok());  // lcore 3 idle for 400 ms only
  dog.observe(t0 + milliseconds(1000), {{1, 4}, {3, 7}});
  EXPECT_THAT(dog.health(t0 + milliseconds(1000)).message(),
              HasSubstr("worker lcore 3 has completed no poll pass for 0.6 s"));
}

}  // namespace
}  // namespace enadpdk::vhostuser
