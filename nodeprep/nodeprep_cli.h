#pragma once

#include <ostream>

namespace enadpdk::nodeprep {

// Entry point of ena-dpdk-nodeprep. Exit status: 0 node ready, 3 reboot required, 1 error,
// 2 bad usage.
int nodeprepMain(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace enadpdk::nodeprep
