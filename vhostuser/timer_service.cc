#include "vhostuser/timer_service.h"

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_timer.h>

#include "common/strings.h"

namespace enadpdk::vhostuser {

using common::strCat;

absl::StatusOr<std::unique_ptr<TimerService>> TimerService::create() {
  const unsigned lcore = rte_lcore_id();
  if (lcore == LCORE_ID_ANY) {
    return absl::FailedPreconditionError(
        "the timer service must be created on an EAL lcore (the one that starts the uplinks)");
  }
  const int rc = rte_timer_subsystem_init();
  if (rc != 0 && rc != -EALREADY) {
    return absl::InternalError(strCat("rte_timer_subsystem_init: ", rte_strerror(-rc)));
  }
  return std::unique_ptr<TimerService>(new TimerService(lcore, rc == 0));
}

TimerService::~TimerService() {
  if (owns_) rte_timer_subsystem_finalize();
}

absl::Status TimerService::manage() {
  if (rte_lcore_id() != lcore_) {
    return absl::FailedPreconditionError(strCat("rte_timer_manage on lcore ", rte_lcore_id(),
                                                ": the timers (ENA's watchdog) run "
                                                "on lcore ",
                                                lcore_, ", the one that started the uplinks"));
  }
  rte_timer_manage();
  manage_calls_.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

}  // namespace enadpdk::vhostuser
