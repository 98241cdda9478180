#include "vhostuser/port_spec.h"

#include <arpa/inet.h>

#include <algorithm>
#include <filesystem>

#include "common/atomic_file.h"
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

// True when `path` (absolute, normalised) is inside `dir`.
bool isWithin(const std::filesystem::path& path, const std::filesystem::path& dir) {
  auto rel = path.lexically_relative(dir.lexically_normal());
  return !rel.empty() && *rel.begin() != ".." && rel != ".";
}

}  // namespace

absl::Status validatePortSpec(PortSpec& spec, const common::DataplaneConfig& config) {
  if (spec.id.empty()) return invalid("id", "must not be empty");
  if (spec.id.size() > kMaxPortIdLength) {
    return invalid("id", strCat("longer than ", kMaxPortIdLength, " bytes"));
  }
  if (!std::all_of(spec.id.begin(), spec.id.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    return invalid("id", "must be printable ASCII without spaces");
  }
  auto net = std::find_if(config.networks.begin(), config.networks.end(),
                          [&](const common::NetworkConfig& n) { return n.name == spec.network; });
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
                   [&](const std::string& dir) { return isWithin(socket, dir); })) {
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
  if (net->mode == common::NetworkMode::Vpc && spec.ips.empty()) {
    return invalid("ips", strCat("a port on vpc network \"", spec.network,
                                 "\" needs at least one of the ENI's secondary IPs"));
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
  return j;
}

absl::StatusOr<PortSpec> portSpecFromJson(const nlohmann::json& j) {
  try {
    PortSpec s;
    s.id = j.at("id").get<std::string>();
    s.network = j.at("network").get<std::string>();
    s.socket_path = j.at("socketPath").get<std::string>();
    std::string mode = j.at("vhostMode").get<std::string>();
    if (mode != "server" && mode != "client")
      return absl::InvalidArgumentError("vhostMode: bad value");
    s.vhost_mode = mode == "server" ? VhostMode::Server : VhostMode::Client;
    s.mac = j.value("mac", "");
    s.ips = j.value("ips", std::vector<std::string>{});
    s.queues = j.value("queues", 1u);
    s.mtu = j.value("mtu", 0u);
    s.owner = j.value("owner", "");
    s.perm = j.value("perm", "");
    return s;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(strCat("malformed port entry: ", e.what()));
  }
}

absl::Status saveState(const std::string& path, const std::vector<PortSpec>& ports) {
  nlohmann::json j = {{"version", 1}, {"ports", nlohmann::json::array()}};
  for (const PortSpec& p : ports) j["ports"].push_back(portSpecToJson(p));
  return common::writeFileAtomic(path, j.dump(2) + "\n", 0600);
}

absl::StatusOr<std::vector<PortSpec>> loadState(const std::string& path) {
  absl::StatusOr<std::string> text = common::readFile(path);
  if (absl::IsNotFound(text.status())) return std::vector<PortSpec>{};
  if (!text.ok()) return text.status();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("ports") || !j["ports"].is_array()) {
    return absl::DataLossError(strCat(path, ": not a dataplane state file"));
  }
  std::vector<PortSpec> out;
  for (const auto& p : j["ports"]) {
    absl::StatusOr<PortSpec> spec = portSpecFromJson(p);
    if (!spec.ok())
      return absl::DataLossError(strCat(path, ": ", common::toStd(spec.status().message())));
    out.push_back(std::move(*spec));
  }
  return out;
}

}  // namespace enadpdk::vhostuser
