#include "deviceplugin/periodic_worker.h"

#include "absl/time/time.h"

namespace enadpdk::deviceplugin {

PeriodicWorker::PeriodicWorker(std::chrono::milliseconds interval, std::function<void()> tick)
    : interval_(interval), tick_(std::move(tick)), thread_([this] { run(); }) {}

PeriodicWorker::~PeriodicWorker() { stop(); }

void PeriodicWorker::wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

void PeriodicWorker::stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void PeriodicWorker::run() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return woken_ || stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&ready), absl::FromChrono(interval_));
      if (stopping_) return;
      woken_ = false;
    }
    tick_();
  }
}

}  // namespace enadpdk::deviceplugin
