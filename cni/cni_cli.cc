#include "cni/cni_cli.h"

#include "cni/skel.h"

namespace enadpdk::cni {

int cniMain(int argc, const char* const* argv, std::istream& in, std::ostream& out,
            std::ostream& err) {
  // TODO(issue 5): ADD, DEL, CHECK, GC, STATUS.
  return runPlugin(
      {"ena-dpdk-cni",
       "CNI plugin (spec 0.3.0-1.1.0) that wires pods to vhost-user ports on the\n"
       "ena-dpdk dataplane, or to dedicated DPDK-bound ENAs. Used as a Multus delegate."},
      argc, argv, {}, in, out, err);
}

}  // namespace enadpdk::cni
