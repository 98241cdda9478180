#pragma once

#include <ostream>

namespace enadpdk::vhostuser {

// Entry point of ena-dpdk-ctl, the operator CLI of the dataplane's control API. Returns the
// process exit status (non-zero on any failure).
int ctlMain(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace enadpdk::vhostuser
