#include "vhostuser/port_spec.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "common/atomic_file.h"
#include "common/path_resolve.h"
#include "common/strings.h"
#include "common/unix_socket.h"
#include "vhostuser/packet.h"

namespace enadpdk::vhostuser {
namespace {

using common::strCat;

absl::Status invalid(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(strCat(field, ": ", what));
}

// Normalises "10.0.1.23/24" (a bare address gets /32 or /128). nullopt when malformed.
std::optional<std::string> normaliseCidr(std::string_view text) {
  // inet_pton reads a C string: a NUL would end the address early and hide what follows.
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  std::string addr(text);
  int prefix = -1;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    addr = std::string(text.substr(0, slash));
    std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3 || !std::all_of(p.begin(), p.end(), ::isdigit))
      return std::nullopt;
    prefix = std::stoi(std::string(p));
  }
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1) {
    if (prefix > 32) return std::nullopt;
    inet_ntop(AF_INET, buf, out, sizeof(out));
    return strCat(out, "/", prefix < 0 ? 32 : prefix);
  }
  if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) {
    if (prefix > 128) return std::nullopt;
    inet_ntop(AF_INET6, buf, out, sizeof(out));
    return strCat(out, "/", prefix < 0 ? 128 : prefix);
  }
  return std::nullopt;
}

// State-file field readers: InvalidArgument naming the key and the JSON type found, never the
// value (which may be anything, e.g. a megabyte of text).
absl::Status readString(const nlohmann::json& j, const char* key, bool required, std::string& out) {
  auto it = j.find(key);
  if (it == j.end()) return required ? invalid(key, "missing") : absl::OkStatus();
  if (!it->is_string()) return invalid(key, strCat("expected a string, got ", it->type_name()));
  out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status readStrings(const nlohmann::json& j, const char* key, std::vector<std::string>& out) {
  auto it = j.find(key);
  if (it == j.end()) return absl::OkStatus();
  if (!it->is_array()) return invalid(key, strCat("expected an array, got ", it->type_name()));
  out.clear();
  for (size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& v = (*it)[i];
    if (!v.is_string()) {
      return invalid(strCat(key, "[", i, "]"), strCat("expected a string, got ", v.type_name()));
    }
    out.push_back(v.get<std::string>());
  }
  return absl::OkStatus();
}

absl::Status readUint32(const nlohmann::json& j, const char* key, uint32_t& out) {
  auto it = j.find(key);
  if (it == j.end()) return absl::OkStatus();
  if (!it->is_number_unsigned() || it->get<uint64_t>() > UINT32_MAX) {
    return invalid(key, strCat("expected an integer 0..", UINT32_MAX, ", got ",
                               it->is_number() ? "another number" : it->type_name()));
  }
  out = static_cast<uint32_t>(it->get<uint64_t>());
  return absl::OkStatus();
}

}  // namespace

absl::Status checkPortUid(std::string_view uid) {
  if (uid.size() > kMaxPortUidLength) {
    return invalid("uid", strCat("longer than ", kMaxPortUidLength, " bytes"));
  }
  if (!std::all_of(uid.begin(), uid.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
      })) {
    return invalid("uid", "only letters, digits and '-'");
  }
  return absl::OkStatus();
}

namespace {

// One DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 bytes.
bool isDns1123Label(std::string_view text) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return !text.empty() && text.size() <= 63 && alnum(text.front()) && alnum(text.back()) &&
         std::all_of(text.begin(), text.end(), [&](char c) { return alnum(c) || c == '-'; });
}

bool isDns1123Subdomain(std::string_view text) {
  if (text.empty() || text.size() > kMaxPodNameLength) return false;
  for (size_t start = 0;;) {
    const size_t dot = text.find('.', start);
    if (!isDns1123Label(text.substr(start, dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

absl::Status checkPodRef(std::string_view pod_namespace, std::string_view pod_name) {
  if (!pod_namespace.empty() && !isDns1123Label(pod_namespace)) {
    return invalid(
        "pod_namespace",
        strCat("not a Kubernetes namespace (a DNS-1123 label: at most ", kMaxPodNamespaceLength,
               " of [a-z0-9-], starting and ending with a letter or digit)"));
  }
  if (!pod_name.empty() && !isDns1123Subdomain(pod_name)) {
    return invalid("pod_name", strCat("not a Kubernetes pod name (a DNS-1123 subdomain: at most ",
                                      kMaxPodNameLength,
                                      " of [a-z0-9-.], each part starting and ending with a "
                                      "letter or digit)"));
  }
  return absl::OkStatus();
}

absl::Status validatePortSpec(PortSpec& spec, const DataplaneConfig& config) {
  if (spec.id.empty()) return invalid("id", "must not be empty");
  if (spec.id.size() > kMaxPortIdLength) {
    return invalid("id", strCat("longer than ", kMaxPortIdLength, " bytes"));
  }
  if (!std::all_of(spec.id.begin(), spec.id.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    return invalid("id", "must be printable ASCII without spaces");
  }
  if (absl::Status s = checkPortUid(spec.uid); !s.ok()) return s;
  if (absl::Status s = checkPodRef(spec.pod_namespace, spec.pod_name); !s.ok()) return s;
  auto net = std::find_if(config.networks.begin(), config.networks.end(),
                          [&](const NetworkConfig& n) { return n.name == spec.network; });
  if (spec.network.empty()) return invalid("network", "must not be empty");
  if (net == config.networks.end()) {
    return invalid("network", strCat("unknown network \"", spec.network, "\""));
  }
  if (absl::Status s = common::checkSocketPath(spec.socket_path, "socket_path"); !s.ok()) return s;
  const std::filesystem::path socket = std::filesystem::path(spec.socket_path).lexically_normal();
  if (socket.string() != spec.socket_path) {
    return invalid("socket_path", strCat("\"", spec.socket_path, "\" is not a normalised path"));
  }
  if (std::none_of(config.allowedSocketDirs.begin(), config.allowedSocketDirs.end(),
                   [&](const std::string& dir) { return common::isWithin(socket, dir); })) {
    return invalid("socket_path",
                   strCat("\"", spec.socket_path, "\" is outside the allowed directories (",
                          fmt::format("{}", fmt::join(config.allowedSocketDirs, ", ")), ")"));
  }
  if (!spec.mac.empty()) {
    std::optional<MacAddr> mac = parseMac(spec.mac);
    if (!mac || mac->isMulticast() || mac->isZero()) {
      return invalid("mac", strCat("\"", spec.mac, "\" is not a unicast MAC address"));
    }
    spec.mac = formatMac(*mac);
  }
  for (size_t i = 0; i < spec.ips.size(); ++i) {
    std::optional<std::string> cidr = normaliseCidr(spec.ips[i]);
    if (!cidr)
      return invalid(strCat("ips[", i, "]"),
                     strCat("\"", spec.ips[i], "\" is not an IP address or CIDR"));
    spec.ips[i] = *cidr;
  }
  for (size_t i = 0; i < spec.ips.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (spec.ips[i].substr(0, spec.ips[i].find('/')) ==
          spec.ips[j].substr(0, spec.ips[j].find('/'))) {
        return invalid(strCat("ips[", i, "]"), strCat("duplicate address ", spec.ips[i]));
      }
    }
  }
  switch (net->mode) {
    case NetworkMode::Vpc:
      // Ingress is demultiplexed by destination IP.
      if (spec.ips.empty()) {
        return invalid("ips", strCat("a port on vpc network \"", spec.network,
                                     "\" needs at least one of the ENI's secondary IPs"));
      }
      break;
    case NetworkMode::L2:
      break;
  }
  if (spec.queues == 0) spec.queues = 1;
  if (spec.queues > kMaxPortQueues) {
    return invalid("queues", strCat(spec.queues, " is more than ", kMaxPortQueues));
  }
  if (spec.mtu == 0) spec.mtu = net->mtu;
  if (spec.mtu < 68 || spec.mtu > net->mtu) {
    return invalid("mtu", strCat(spec.mtu, " is outside 68..", net->mtu, " (the network's MTU)"));
  }
  if (spec.vhost_mode == VhostMode::Client) {
    if (spec.owner.empty()) spec.owner = config.socket.owner;
    if (spec.perm.empty()) spec.perm = fmt::format("{:04o}", config.socket.mode);
    if (!spec.owner.empty()) {
      if (auto o = common::parseOwner(spec.owner); !o.ok()) {
        return invalid("socket_permissions.owner", common::toStd(o.status().message()));
      }
    }
    if (auto m = common::parseFileMode(spec.perm); !m.ok()) {
      return invalid("socket_permissions.mode", common::toStd(m.status().message()));
    } else if ((*m & ~mode_t{0777}) != 0) {
      return invalid("socket_permissions.mode",
                     strCat("\"", spec.perm, "\": only permission bits (at most 0777)"));
    }
  } else if (!spec.owner.empty() || !spec.perm.empty()) {
    return invalid("socket_permissions",
                   "only applies to vhost mode client (the pod creates a server-mode socket)");
  }
  return absl::OkStatus();
}

nlohmann::json portSpecToJson(const PortSpec& s) {
  nlohmann::json j = {{"id", s.id},
                      {"network", s.network},
                      {"socketPath", s.socket_path},
                      {"vhostMode", s.vhost_mode == VhostMode::Server ? "server" : "client"},
                      {"mac", s.mac},
                      {"ips", s.ips},
                      {"queues", s.queues},
                      {"mtu", s.mtu}};
  if (!s.owner.empty()) j["owner"] = s.owner;
  if (!s.perm.empty()) j["perm"] = s.perm;
  if (!s.uid.empty()) j["uid"] = s.uid;
  // Written only when known, so that a file of a port without them reads as before.
  if (!s.pod_namespace.empty()) j["podNamespace"] = s.pod_namespace;
  if (!s.pod_name.empty()) j["podName"] = s.pod_name;
  return j;
}

absl::StatusOr<PortSpec> portSpecFromJson(const nlohmann::json& j) {
  if (!j.is_object()) {
    return absl::InvalidArgumentError(strCat("expected an object, got ", j.type_name()));
  }
  PortSpec s;
  std::string mode;
  for (absl::Status st :
       {readString(j, "id", /*required=*/true, s.id),
        readString(j, "network", /*required=*/true, s.network),
        readString(j, "socketPath", /*required=*/true, s.socket_path),
        readString(j, "vhostMode", /*required=*/true, mode),
        readString(j, "mac", /*required=*/false, s.mac), readStrings(j, "ips", s.ips),
        readUint32(j, "queues", s.queues), readUint32(j, "mtu", s.mtu),
        readString(j, "owner", /*required=*/false, s.owner),
        readString(j, "perm", /*required=*/false, s.perm),
        readString(j, "uid", /*required=*/false, s.uid),
        readString(j, "podNamespace", /*required=*/false, s.pod_namespace),
        readString(j, "podName", /*required=*/false, s.pod_name)}) {
    if (!st.ok()) return st;
  }
  if (mode == "server") {
    s.vhost_mode = VhostMode::Server;
  } else if (mode == "client") {
    s.vhost_mode = VhostMode::Client;
  } else {
    return invalid("vhostMode", "expected \"server\" or \"client\"");
  }
  if (absl::Status st = checkPortUid(s.uid); !st.ok()) return st;
  if (absl::Status st = checkPodRef(s.pod_namespace, s.pod_name); !st.ok()) return st;
  return s;
}

}  // namespace enadpdk::vhostuser
