#include "nodeprep/routing_tables.h"

#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "common/strings.h"

namespace enadpdk::nodeprep {
namespace {

using common::strCat;

// Closes the socket on every way out.
class NetlinkSocket {
 public:
  NetlinkSocket() : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) {}
  ~NetlinkSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// The attributes after a message's family header, as (type, payload); a malformed attribute ends
// the walk. (Written out rather than with RTA_OK/RTA_NEXT, whose int/unsigned mix trips
// -Wsign-compare.)
using AttributeVisitor = std::function<void(unsigned short type, const void* data, size_t len)>;

void forEachAttribute(const char* start, size_t len, const AttributeVisitor& visit) {
  size_t offset = 0;
  while (offset + sizeof(rtattr) <= len) {
    const auto* rta = reinterpret_cast<const rtattr*>(start + offset);
    if (rta->rta_len < sizeof(rtattr) || rta->rta_len > len - offset) return;
    visit(rta->rta_type, start + offset + RTA_LENGTH(0), rta->rta_len - RTA_LENGTH(0));
    offset += RTA_ALIGN(rta->rta_len);
  }
}

// The attributes of message `nlh` whose family header is `header_len` bytes.
void forEachAttribute(const nlmsghdr* nlh, size_t header_len, const AttributeVisitor& visit) {
  const size_t start = NLMSG_SPACE(header_len);
  if (nlh->nlmsg_len < start) return;
  forEachAttribute(reinterpret_cast<const char*>(nlh) + start, nlh->nlmsg_len - start, visit);
}

std::string addressText(int family, const void* data, size_t len, unsigned prefix) {
  char text[INET6_ADDRSTRLEN] = {};
  if ((family == AF_INET && len == 4) || (family == AF_INET6 && len == 16)) {
    if (::inet_ntop(family, data, text, sizeof text) != nullptr) return strCat(text, "/", prefix);
  }
  return "";
}

std::string interfaceName(int index) {
  char name[IF_NAMESIZE] = {};
  return ::if_indextoname(static_cast<unsigned>(index), name) != nullptr ? std::string(name)
                                                                         : strCat("if", index);
}

uint32_t u32(const void* data, size_t len) {
  uint32_t value = 0;
  if (len >= sizeof value) std::memcpy(&value, data, sizeof value);
  return value;
}

// Sends a dump request of `type` whose family header is `header` and hands every answer message
// to `visit`. A family the kernel does not support answers EAFNOSUPPORT: an empty dump.
absl::Status dump(uint16_t type, const void* header, size_t header_len,
                  const std::function<void(const nlmsghdr*)>& visit) {
  NetlinkSocket sock;
  if (sock.fd() < 0) return absl::InternalError(strCat("netlink socket: ", std::strerror(errno)));
  struct {
    nlmsghdr nlh;
    char body[64];
  } request{};
  request.nlh.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(header_len));
  request.nlh.nlmsg_type = type;
  request.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.nlh.nlmsg_seq = 1;
  std::memcpy(NLMSG_DATA(&request.nlh), header, header_len);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(sock.fd(), &request, request.nlh.nlmsg_len, 0,
               reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) < 0) {
    return absl::InternalError(strCat("netlink dump request: ", std::strerror(errno)));
  }
  std::vector<char> buffer(64 * 1024);
  for (;;) {
    const ssize_t got = ::recv(sock.fd(), buffer.data(), buffer.size(), 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(strCat("netlink dump: ", std::strerror(errno)));
    }
    const size_t received = static_cast<size_t>(got);
    for (size_t offset = 0; offset + sizeof(nlmsghdr) <= received;) {
      const auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer.data() + offset);
      if (nlh->nlmsg_len < sizeof(nlmsghdr) || nlh->nlmsg_len > received - offset) {
        return absl::InternalError("netlink dump: truncated message");
      }
      offset += NLMSG_ALIGN(nlh->nlmsg_len);
      if (nlh->nlmsg_type == NLMSG_DONE) return absl::OkStatus();
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(nlh));
        if (error->error == 0) continue;
        if (error->error == -EAFNOSUPPORT) return absl::OkStatus();
        return absl::InternalError(strCat("netlink dump: ", std::strerror(-error->error)));
      }
      visit(nlh);
    }
  }
}

void collectRules(int family, std::vector<RoutingRule>& out, absl::Status& status) {
  fib_rule_hdr header{};
  header.family = static_cast<uint8_t>(family);
  status = dump(RTM_GETRULE, &header, sizeof header, [&](const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != RTM_NEWRULE) return;
    const auto* rule = static_cast<const fib_rule_hdr*>(NLMSG_DATA(nlh));
    if (rule->action != FR_ACT_TO_TBL) return;
    RoutingRule entry{.table = rule->table};
    forEachAttribute(nlh, sizeof *rule, [&](unsigned short type, const void* data, size_t len) {
      switch (type) {
        case FRA_TABLE:
          entry.table = u32(data, len);
          break;
        case FRA_PRIORITY:
          entry.priority = u32(data, len);
          break;
        case FRA_SRC:
          entry.source = addressText(rule->family, data, len, rule->src_len);
          break;
        case FRA_DST:
          entry.destination = addressText(rule->family, data, len, rule->dst_len);
          break;
        case FRA_IIFNAME:
          entry.iif = std::string(static_cast<const char*>(data),
                                  strnlen(static_cast<const char*>(data), len));
          break;
        case FRA_OIFNAME:
          entry.oif = std::string(static_cast<const char*>(data),
                                  strnlen(static_cast<const char*>(data), len));
          break;
        default:
          break;
      }
    });
    out.push_back(std::move(entry));
  });
}

void collectRoutes(int family, std::vector<TableRoute>& out, absl::Status& status) {
  rtmsg header{};
  header.rtm_family = static_cast<unsigned char>(family);
  status = dump(RTM_GETROUTE, &header, sizeof header, [&](const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != RTM_NEWROUTE) return;
    const auto* route = static_cast<const rtmsg*>(NLMSG_DATA(nlh));
    if (route->rtm_type != RTN_UNICAST) return;
    TableRoute entry{.table = route->rtm_table,
                     .destination = route->rtm_family == AF_INET6 ? "::/0" : "0.0.0.0/0"};
    forEachAttribute(nlh, sizeof *route, [&](unsigned short type, const void* data, size_t len) {
      switch (type) {
        case RTA_TABLE:
          entry.table = u32(data, len);
          break;
        case RTA_DST:
          entry.destination = addressText(route->rtm_family, data, len, route->rtm_dst_len);
          break;
        case RTA_OIF:
          entry.devices.push_back(interfaceName(static_cast<int>(u32(data, len))));
          break;
        case RTA_MULTIPATH:
          for (size_t offset = 0; offset + sizeof(rtnexthop) <= len;) {
            const auto* hop =
                reinterpret_cast<const rtnexthop*>(static_cast<const char*>(data) + offset);
            if (hop->rtnh_len < sizeof(rtnexthop) || hop->rtnh_len > len - offset) break;
            entry.devices.push_back(interfaceName(hop->rtnh_ifindex));
            offset += RTNH_ALIGN(hop->rtnh_len);
          }
          break;
        default:
          break;
      }
    });
    out.push_back(std::move(entry));
  });
}

}  // namespace

bool isPolicyTable(unsigned table) {
  return table != 0 && table != kDefaultTable && table != kMainTable && table != kLocalTable;
}

std::string RoutingRule::describe() const {
  std::string text = strCat(priority, ": from ", source.empty() ? "all" : source);
  if (!destination.empty()) text += strCat(" to ", destination);
  if (!iif.empty()) text += strCat(" iif ", iif);
  if (!oif.empty()) text += strCat(" oif ", oif);
  return strCat(text, " lookup ", table);
}

absl::StatusOr<std::vector<RoutingRule>> NetlinkRoutingTables::rules() const {
  std::vector<RoutingRule> rules;
  for (int family : {AF_INET, AF_INET6}) {
    absl::Status status;
    collectRules(family, rules, status);
    if (!status.ok()) return status;
  }
  return rules;
}

absl::StatusOr<std::vector<TableRoute>> NetlinkRoutingTables::routes() const {
  std::vector<TableRoute> routes;
  for (int family : {AF_INET, AF_INET6}) {
    absl::Status status;
    collectRoutes(family, routes, status);
    if (!status.ok()) return status;
  }
  return routes;
}

}  // namespace enadpdk::nodeprep
