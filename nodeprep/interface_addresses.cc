#include "nodeprep/interface_addresses.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common/strings.h"

namespace enadpdk::nodeprep {

absl::StatusOr<std::map<std::string, std::vector<std::string>>> SystemInterfaceAddresses::list()
    const {
  ifaddrs* head = nullptr;
  if (::getifaddrs(&head) != 0) {
    return absl::InternalError(common::strCat("getifaddrs: ", std::strerror(errno)));
  }
  std::unique_ptr<ifaddrs, void (*)(ifaddrs*)> owner(head, ::freeifaddrs);
  std::map<std::string, std::vector<std::string>> addresses;
  for (const ifaddrs* entry = head; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_name == nullptr) continue;
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw = nullptr;
    if (entry->ifa_addr->sa_family == AF_INET) {
      raw = &reinterpret_cast<const sockaddr_in*>(entry->ifa_addr)->sin_addr;
    } else if (entry->ifa_addr->sa_family == AF_INET6) {
      raw = &reinterpret_cast<const sockaddr_in6*>(entry->ifa_addr)->sin6_addr;
    } else {
      continue;
    }
    if (::inet_ntop(entry->ifa_addr->sa_family, raw, text, sizeof text) != nullptr) {
      addresses[entry->ifa_name].emplace_back(text);
    }
  }
  return addresses;
}

std::string canonicalAddress(const std::string& address) {
  char text[INET6_ADDRSTRLEN] = {};
  in6_addr raw6{};
  in_addr raw4{};
  if (::inet_pton(AF_INET, address.c_str(), &raw4) == 1) {
    return ::inet_ntop(AF_INET, &raw4, text, sizeof text) ? text : "";
  }
  if (::inet_pton(AF_INET6, address.c_str(), &raw6) == 1) {
    return ::inet_ntop(AF_INET6, &raw6, text, sizeof text) ? text : "";
  }
  return "";
}

}  // namespace enadpdk::nodeprep
