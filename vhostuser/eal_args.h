#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vhostuser/dataplane_config.h"

namespace enadpdk::vhostuser {

// Returns the EAL arguments `eal` (dataplane.eal, without the program name) with the device
// arguments of the PCI uplinks (uplink.devargs) attached to their allow-list entries:
// "-a 0000:00:06.0" becomes "-a 0000:00:06.0,large_llq_hdr=1,miss_txc_to=3". The entry may be
// written "-a X", "-aX", "--allow X" or "--allow=X", with the address in either PCI form
// ("00:06.0" means domain 0); its spelling is kept and only the arguments are appended.
//
// Why the allow list: EAL probes a PCI device once, at rte_eal_init, and a later rte_dev_probe
// with arguments finds it already probed (-EEXIST), so arguments reach the PMD only through the
// EAL command line.
//
// - An entry that already carries arguments must carry exactly these (in any order): another set
//   is an error, since the two places would disagree.
// - With an allow list, a PCI uplink missing from it is added ("-a <address>[,<devargs>]"): the
//   switch would hot-plug it anyway (rte_dev_probe), and this way it gets its arguments.
// - Without an allow list EAL probes every DPDK-bound device, so arguments cannot be attached;
//   an uplink with devargs is then an error that says to add the allow list. The function never
//   turns the allow list on by itself: that would also change which other devices EAL takes (the
//   chart's autoEalArgs adds it on Kubernetes).
// - A PCI uplink with devargs that is blocked (-b/--block) or under --no-pci is an error.
//
// Errors are InvalidArgument naming the field ("dataplane.networks[eni1].uplink.devargs: ...").
// Pure: no EAL needed.
absl::StatusOr<std::vector<std::string>> ealArgsForUplinks(
    const std::vector<std::string>& eal, const std::vector<NetworkConfig>& networks);

}  // namespace enadpdk::vhostuser
