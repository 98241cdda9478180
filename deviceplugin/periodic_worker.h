#pragma once

#include <chrono>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace enadpdk::deviceplugin {

// A thread that calls `tick` every `interval` until stopped, and earlier when woken. The device
// plugin's loops (health scan, kubelet watch) are PeriodicWorkers. Thread-safe.
class PeriodicWorker {
 public:
  // Starts the thread; the first tick runs after `interval` (or a wake()).
  PeriodicWorker(std::chrono::milliseconds interval, std::function<void()> tick);
  // Stops and joins the thread.
  ~PeriodicWorker();
  PeriodicWorker(const PeriodicWorker&) = delete;
  PeriodicWorker& operator=(const PeriodicWorker&) = delete;

  // Makes the next tick run now (after the current one, if one is running).
  void wake();
  // Stops the thread after the current tick and joins it. Idempotent; must not be called from
  // `tick` itself.
  void stop();

 private:
  void run();

  const std::chrono::milliseconds interval_;
  const std::function<void()> tick_;
  absl::Mutex mu_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace enadpdk::deviceplugin
