#pragma once

#include <ostream>

namespace enadpdk::vhostuser {

// Entry point of ena-dpdk-dataplane: parses flags, loads the `dataplane` config section and runs
// the switch until SIGTERM/SIGINT. Returns the process exit status.
int dataplaneMain(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace enadpdk::vhostuser
