#pragma once

#include <istream>
#include <ostream>

namespace enadpdk::cni {

// Entry point of ena-dpdk-cni (CNI_COMMAND from the environment, config on `in`).
int cniMain(int argc, const char* const* argv, std::istream& in, std::ostream& out,
            std::ostream& err);

}  // namespace enadpdk::cni
