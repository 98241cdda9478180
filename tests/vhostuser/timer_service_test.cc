#include "vhostuser/timer_service.h"

#include <gtest/gtest.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_timer.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace enadpdk::vhostuser {
namespace {

// EAL without hugepages, PCI or shared files (no root): one lcore, the main one.
class Environment : public ::testing::Environment {
 public:
  void SetUp() override {
    cpu_set_t set;
    CPU_ZERO(&set);
    int cpu = 0;
    if (::sched_getaffinity(0, sizeof set, &set) == 0) {
      while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set)) ++cpu;
    }
    std::vector<std::string> args = {"timer_service_test",
                                     "--no-huge",
                                     "-m",
                                     "64",
                                     "--no-pci",
                                     "--no-shconf",
                                     "--no-telemetry",
                                     "--file-prefix",
                                     "timer-service-" + std::to_string(::getpid()),
                                     "--lcores",
                                     "0@" + std::to_string(cpu),
                                     "--log-level",
                                     "1"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    ASSERT_GE(rte_eal_init(static_cast<int>(argv.size()), argv.data()), 0)
        << rte_strerror(rte_errno);
  }
  void TearDown() override { rte_eal_cleanup(); }
};

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new Environment);

// Busy-waits until `ticks` timer cycles have passed (time passing, not synchronisation).
void letTicksPass(uint64_t ticks) {
  const uint64_t until = rte_get_timer_cycles() + ticks;
  while (rte_get_timer_cycles() < until) {
  }
}

void count(rte_timer*, void* arg) { static_cast<std::atomic<int>*>(arg)->fetch_add(1); }

// Like the ENA PMD's watchdog (ena_start: rte_timer_reset(..., PERIODICAL, rte_lcore_id(), ...)):
// a periodic timer of the starting lcore runs only when that lcore calls rte_timer_manage().
TEST(TimerServiceTest, PeriodicTimerRunsOnlyInManage) {
  absl::StatusOr<std::unique_ptr<TimerService>> timers = TimerService::create();
  ASSERT_TRUE(timers.ok()) << timers.status();
  EXPECT_EQ((*timers)->lcore(), rte_get_main_lcore());

  // A second service (another component's init) finds the subsystem initialised: fine.
  absl::StatusOr<std::unique_ptr<TimerService>> again = TimerService::create();
  ASSERT_TRUE(again.ok()) << again.status();
  again->reset();  // does not finalize what the first one initialised

  rte_timer timer;
  rte_timer_init(&timer);
  std::atomic<int> fired{0};
  const uint64_t period = rte_get_timer_hz() / 1000;  // 1 ms
  ASSERT_EQ(rte_timer_reset(&timer, period, PERIODICAL, rte_lcore_id(), &count, &fired), 0);

  letTicksPass(20 * period);
  EXPECT_EQ(fired.load(), 0) << "a timer must not fire without rte_timer_manage()";

  ASSERT_TRUE((*timers)->manage().ok());
  EXPECT_EQ(fired.load(), 1);  // overdue periods collapse into one run
  letTicksPass(2 * period);
  ASSERT_TRUE((*timers)->manage().ok());
  EXPECT_EQ(fired.load(), 2);
  EXPECT_EQ((*timers)->manageCalls(), 2u);

  // From another thread (not the lcore that armed the timer) nothing runs.
  letTicksPass(2 * period);
  absl::Status elsewhere;
  std::thread([&] { elsewhere = (*timers)->manage(); }).join();
  EXPECT_EQ(elsewhere.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(fired.load(), 2);
  EXPECT_EQ((*timers)->manageCalls(), 2u);

  rte_timer_stop_sync(&timer);
}

}  // namespace
}  // namespace enadpdk::vhostuser
