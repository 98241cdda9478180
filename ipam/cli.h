#pragma once

#include <istream>
#include <ostream>
#include <string>

#include "ipam/config.h"
#include "ipam/imds_cache.h"
#include "nlohmann/json.hpp"

namespace enadpdk::ipam {

// Entry point of ena-dpdk-ipam: CNI_COMMAND and the other CNI_* variables from the process
// environment, the network config on `in`, the result or error JSON on `out`, logs on `err`.
int ipamMain(int argc, const char* const* argv, std::istream& in, std::ostream& out,
             std::ostream& err);

// Runs one CNI command (ADD, DEL, CHECK, GC, STATUS) of the IPAM plugin on the network config
// `config` (stdin as the skeleton parsed it: an object, or null when stdin was empty), with the
// CNI_* variables taken from `env` and metadata cache entries dated by `clock`. Prints the result
// (ADD) or the spec's error JSON on `out`; returns the exit status (0, or 1 after an error). Logs
// go to stderr through the "ipam" logger (and the config's log file), never to `out`.
int runCommand(const std::string& command, const nlohmann::json& config, const Environment& env,
               const WallClock& clock, std::ostream& out, std::ostream& err);

}  // namespace enadpdk::ipam
