#pragma once

#include <chrono>

namespace enadpdk::deviceplugin {

// The time seam: code that timestamps state or waits for a grace period reads the time through a
// Clock so that tests can move it. Implementations must be thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, for timestamps persisted across restarts.
  virtual std::chrono::system_clock::time_point now() const = 0;
};

// The real clock.
class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
};

}  // namespace enadpdk::deviceplugin
