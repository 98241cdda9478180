#pragma once

#include <ostream>

namespace enadpdk::vhostuser {

// Entry point of ena-dpdk-ctl, the operator CLI of the dataplane's control API (docs/ctl.md).
// Parses argv, makes at most one call to the dataplane, writes the result to `out` (table or JSON)
// and failures to `err` as one line. Returns the exit status: 0 success, 1 failed call or health
// not SERVING, 2 usage error (detected before any call).
int ctlMain(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace enadpdk::vhostuser
