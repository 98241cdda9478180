#include "cni/cni_cli.h"

#include <unistd.h>

#include <map>
#include <string>

#include "cni/plugin.h"
#include "cni/skel.h"

namespace enadpdk::cni {
namespace {

// The whole process environment: the CNI_* parameters, and what the IPAM plugin inherits.
std::map<std::string, std::string> processEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = ::environ; e && *e; ++e) {
    const std::string entry(*e);
    const size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

}  // namespace

int cniMain(int argc, const char* const* argv, std::istream& in, std::ostream& out,
            std::ostream& err) {
  const PluginEnvironment environment{.env = processEnvironment()};
  return runPlugin(
      {"ena-dpdk-cni",
       "CNI plugin (spec 0.3.0-1.1.0) that wires pods to vhost-user ports on the\n"
       "ena-dpdk dataplane, or to dedicated DPDK-bound ENAs. Used as a Multus delegate.\n"
       "Commands (CNI_COMMAND): ADD, DEL, CHECK, VERSION, GC, STATUS. See docs/cni.md."},
      argc, argv, commandHandlers(environment), in, out, err);
}

}  // namespace enadpdk::cni
