#pragma once

#include <ostream>

namespace enadpdk::deviceplugin {

// Entry point of ena-dpdk-deviceplugin: serves the dpdk.aws/* resources to the kubelet until
// SIGTERM or SIGINT (then stops the servers, removes the sockets and returns 0); SIGHUP reloads
// the configuration. Bad flags return 2, a bad configuration or a failed start 1, each with one
// line on `err`. Blocks SIGHUP, SIGTERM and SIGINT in the calling thread (and so in every thread
// it starts) to receive them with sigwait().
int devicepluginMain(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace enadpdk::deviceplugin
