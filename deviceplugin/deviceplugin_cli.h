#pragma once

#include <ostream>

namespace enadpdk::deviceplugin {

// Entry point of ena-dpdk-deviceplugin: serves the dpdk.aws/* resources to the kubelet.
// Returns the process exit status.
int devicepluginMain(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace enadpdk::deviceplugin
