#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace enadpdk::nodeprep {

// The IP addresses of the network interfaces, by interface name, in canonical text form
// ("10.0.0.5", "fd00::5"). A seam: addresses live in the kernel's network stack, not in files a
// host root can fake. Used to find the interface holding the address the node is registered
// with.
class InterfaceAddresses {
 public:
  virtual ~InterfaceAddresses() = default;

  // Every interface that has an IPv4 or IPv6 address, with its addresses.
  virtual absl::StatusOr<std::map<std::string, std::vector<std::string>>> list() const = 0;
};

// The addresses of this process's network namespace, from getifaddrs(3). The DaemonSet runs with
// hostNetwork, so that is the host's. Thread-safe.
class SystemInterfaceAddresses : public InterfaceAddresses {
 public:
  absl::StatusOr<std::map<std::string, std::vector<std::string>>> list() const override;
};

// The canonical text form of an IPv4 or IPv6 address ("fd00:0::5" -> "fd00::5"); an empty
// string when `address` is not an address.
std::string canonicalAddress(const std::string& address);

}  // namespace enadpdk::nodeprep
