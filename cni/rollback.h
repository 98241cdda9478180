#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/logger.h>

#include "absl/status/status.h"

namespace enadpdk::cni {

// Undo steps of a command in progress, run in reverse unless the command commits. Undo failures
// are logged: the original error is what the caller must see. Steps run from the destructor,
// after the locals declared later are gone, so they capture what they need by value. Not
// thread-safe.
class Rollback {
 public:
  explicit Rollback(spdlog::logger& log) : log_(log) {}
  ~Rollback();
  Rollback(const Rollback&) = delete;
  Rollback& operator=(const Rollback&) = delete;

  // Adds the undo step `undo`, described as `what` in the log.
  void push(std::string what, std::function<absl::Status()> undo) {
    steps_.emplace_back(std::move(what), std::move(undo));
  }
  // The command succeeded: nothing is undone.
  void commit() { steps_.clear(); }

 private:
  spdlog::logger& log_;
  std::vector<std::pair<std::string, std::function<absl::Status()>>> steps_;
};

}  // namespace enadpdk::cni
