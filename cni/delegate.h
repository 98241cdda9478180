#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cni/result.h"
#include "nlohmann/json.hpp"

namespace enadpdk::cni {

// Runs a delegated plugin (the IPAM plugin) the way SPEC.md "Delegated plugins" prescribes: the
// executable named `type` is looked up in the CNI_PATH directories, run with the caller's own
// environment except for CNI_COMMAND, given the network configuration on stdin, and its stdout is
// read as a result (success) or the spec's error JSON (non-zero exit). Its stderr goes to ours.
// Not thread-safe; one instance per invocation.
class DelegateRunner {
 public:
  // `searchPath`: the CNI_PATH directories; `env`: the environment the delegate inherits;
  // `timeout`: how long one run may take before the delegate is killed.
  DelegateRunner(std::vector<std::string> searchPath, std::map<std::string, std::string> env,
                 std::chrono::milliseconds timeout, std::shared_ptr<spdlog::logger> logger);

  // Runs `type` with CNI_COMMAND=ADD and returns its result, read in `config`'s cniVersion when
  // the result names none.
  absl::StatusOr<Result> add(const std::string& type, const nlohmann::json& config);

  // Runs `type` with CNI_COMMAND=`command` (DEL, CHECK, GC, STATUS), whose success prints nothing.
  absl::Status run(const std::string& command, const std::string& type,
                   const nlohmann::json& config);

  // Errors of both: InvalidConfig (7) when `type` is in none of the directories; the delegate's
  // own CNI code and message ("ipam plugin host-local: ...") when it printed an error; code 104
  // (CniError::kIpamFailed) when it crashed, timed out or printed something that is not CNI JSON.

 private:
  // Runs the delegate; returns its stdout on exit status 0.
  absl::StatusOr<std::string> exec(const std::string& command, const std::string& type,
                                   const std::string& input);

  std::vector<std::string> searchPath_;
  std::map<std::string, std::string> env_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace enadpdk::cni
