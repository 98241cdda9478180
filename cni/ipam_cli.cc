#include "cni/ipam_cli.h"

#include "cni/skel.h"

namespace enadpdk::cni {

int ipamMain(int argc, const char* const* argv, std::istream& in, std::ostream& out,
             std::ostream& err) {
  // TODO(issue 5): ADD, DEL, CHECK, GC.
  return runPlugin({"ena-dpdk-ipam",
                    "CNI IPAM plugin that hands out the secondary private IPs of the uplink ENI\n"
                    "(from the EC2 instance metadata service or a static list)."},
                   argc, argv, {}, in, out, err);
}

}  // namespace enadpdk::cni
