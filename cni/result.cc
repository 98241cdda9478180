#include "cni/result.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <limits>

#include "absl/strings/ascii.h"
#include "cni/skel.h"
#include "common/config.h"
#include "common/json_reader.h"
#include "common/strings.h"

namespace enadpdk::cni {
namespace {

using common::JsonReader;
using common::strCat;
using common::StringRule;

constexpr StringRule kCidr{common::isCidr, "an address with a prefix length like \"10.0.0.5/24\""};
constexpr StringRule kIpAddress{common::isIpAddress, "an IPv4 or IPv6 address"};
constexpr common::EnumName<int> kIpVersions[] = {{"4", 4}, {"6", 6}};
constexpr std::int64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();
constexpr std::int64_t kMaxU16 = std::numeric_limits<std::uint16_t>::max();

// 4 or 6 for an address without prefix length, else 0.
int familyOf(const std::string& host) {
  unsigned char buffer[sizeof(in6_addr)];
  if (inet_pton(AF_INET, host.c_str(), buffer) == 1) return 4;
  if (inet_pton(AF_INET6, host.c_str(), buffer) == 1) return 6;
  return 0;
}

// Splits "X.Y.Z" into numbers; nullopt unless it is exactly three decimal numbers.
std::optional<std::array<unsigned, 3>> splitVersion(std::string_view version) {
  std::array<unsigned, 3> parts{};
  const char* p = version.data();
  const char* end = version.data() + version.size();
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) {
      if (p == end || *p != '.') return std::nullopt;
      ++p;
    }
    // from_chars accepts no sign or space, so an empty or non-digit part fails here.
    auto [next, error] = std::from_chars(p, end, parts[i]);
    if (error != std::errc() || next == p) return std::nullopt;
    p = next;
  }
  if (p != end) return std::nullopt;
  return parts;
}

std::string supportedList() {
  std::string list;
  for (const std::string& v : kSupportedVersions) list = list.empty() ? v : strCat(list, ", ", v);
  return list;
}

// Reads an optional unsigned field into an optional member.
void readOptional(JsonReader& r, std::string_view key, std::optional<unsigned>& out,
                  std::int64_t max) {
  if (!r.has(key)) return;
  unsigned value = 0;
  r.read(key, value, 0, max);
  if (r.ok()) out = value;
}

void parseInterface(JsonReader& r, Interface& out) {
  r.require("name");
  r.read("name", out.name);
  r.read("mac", out.mac);
  r.read("sandbox", out.sandbox);
  readOptional(r, "mtu", out.mtu, kMaxU32);
  r.read("socketPath", out.socketPath);
  r.read("pciID", out.pciID);
}

void parseIp(JsonReader& r, IpConfig& out, bool hasVersionField) {
  r.require("address");
  r.read("address", out.address, kCidr);
  r.read("gateway", out.gateway, kIpAddress);
  readOptional(r, "interface", out.interfaceIndex, std::numeric_limits<std::int32_t>::max());
  if (hasVersionField && r.has("version")) {
    int version = 0;
    r.readEnum("version", version, kIpVersions);
    if (r.ok() && version != out.family()) {
      r.fail("version", strCat("\"", version, "\" does not match the address ", out.address));
    }
  }
  if (r.ok() && !out.gateway.empty() && familyOf(out.gateway) != out.family()) {
    r.fail("gateway", strCat(out.gateway, " is not of the family of ", out.address));
  }
}

void parseRoute(JsonReader& r, Route& out) {
  r.require("dst");
  r.read("dst", out.dst, kCidr);
  r.read("gw", out.gw, kIpAddress);
  readOptional(r, "mtu", out.mtu, kMaxU32);
  readOptional(r, "advmss", out.advmss, kMaxU16);
  readOptional(r, "priority", out.priority, kMaxU32);
  readOptional(r, "table", out.table, kMaxU32);
  readOptional(r, "scope", out.scope, std::numeric_limits<std::uint8_t>::max());
}

void parseDns(JsonReader& r, Dns& out) {
  r.read("nameservers", out.nameservers);
  r.read("domain", out.domain);
  r.read("search", out.search);
  r.read("options", out.options);
}

}  // namespace

bool isSupportedVersion(std::string_view version) {
  return std::find(kSupportedVersions.begin(), kSupportedVersions.end(), version) !=
         kSupportedVersions.end();
}

absl::StatusOr<int> compareVersions(std::string_view a, std::string_view b) {
  auto pa = splitVersion(a);
  if (!pa) return absl::InvalidArgumentError(strCat("invalid CNI version \"", a, "\""));
  auto pb = splitVersion(b);
  if (!pb) return absl::InvalidArgumentError(strCat("invalid CNI version \"", b, "\""));
  if (*pa == *pb) return 0;
  return *pa < *pb ? -1 : 1;
}

bool versionAtLeast(std::string_view version, std::string_view minimum) {
  absl::StatusOr<int> order = compareVersions(version, minimum);
  return order.ok() && *order >= 0;
}

int IpConfig::family() const {
  std::size_t slash = address.find('/');
  return slash == std::string::npos ? 0 : familyOf(address.substr(0, slash));
}

bool Dns::empty() const {
  return nameservers.empty() && domain.empty() && search.empty() && options.empty();
}

absl::StatusOr<Result> parseResult(const nlohmann::json& json, std::string_view path,
                                   std::string_view defaultVersion) {
  Result result;
  JsonReader r(json, std::string(path), common::UnknownKeys::Ignore);
  if (defaultVersion.empty()) r.require("cniVersion");
  result.cniVersion = std::string(defaultVersion);
  r.read("cniVersion", result.cniVersion);
  if (r.ok() && !isSupportedVersion(result.cniVersion)) {
    r.fail("cniVersion", strCat("unsupported CNI version \"", result.cniVersion,
                                "\" (supported: ", supportedList(), ")"));
  }
  const bool hasVersionField = r.ok() && !versionAtLeast(result.cniVersion, "1.0.0");
  r.readObjects("interfaces",
                [&](JsonReader& i) { parseInterface(i, result.interfaces.emplace_back()); });
  r.readObjects("ips",
                [&](JsonReader& i) { parseIp(i, result.ips.emplace_back(), hasVersionField); });
  r.readObjects("routes", [&](JsonReader& i) { parseRoute(i, result.routes.emplace_back()); });
  r.readObject("dns", [&](JsonReader& d) { parseDns(d, result.dns); });
  if (absl::Status status = r.finish(); !status.ok()) return status;
  return result;
}

absl::StatusOr<Result> parseResult(std::string_view text, std::string_view path,
                                   std::string_view defaultVersion) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix; the rest names the position.
    std::string_view message = e.what();
    if (std::size_t end = message.find("] "); end != std::string_view::npos) {
      message.remove_prefix(end + 2);
    }
    return absl::InvalidArgumentError(
        strCat(path, path.empty() ? "" : ": ", "invalid JSON: ", message));
  }
  return parseResult(json, path, defaultVersion);
}

absl::StatusOr<nlohmann::json> renderResult(const Result& result, std::string_view version) {
  if (!isSupportedVersion(version)) {
    return absl::InvalidArgumentError(
        strCat("unsupported CNI version \"", version, "\" (supported: ", supportedList(), ")"));
  }
  const bool v1 = versionAtLeast(version, "1.0.0");
  const bool v11 = versionAtLeast(version, "1.1.0");
  nlohmann::json out = {{"cniVersion", std::string(version)}};
  auto putString = [](nlohmann::json& j, const char* key, const std::string& value) {
    if (!value.empty()) j[key] = value;
  };
  auto putNumber = [](nlohmann::json& j, const char* key, const std::optional<unsigned>& value) {
    if (value) j[key] = *value;
  };

  for (const Interface& i : result.interfaces) {
    nlohmann::json j = {{"name", i.name}};
    putString(j, "mac", i.mac);
    putString(j, "sandbox", i.sandbox);
    if (v11) {
      putNumber(j, "mtu", i.mtu);
      putString(j, "socketPath", i.socketPath);
      putString(j, "pciID", i.pciID);
    }
    out["interfaces"].push_back(std::move(j));
  }
  for (const IpConfig& ip : result.ips) {
    nlohmann::json j = {{"address", ip.address}};
    if (!v1) j["version"] = ip.family() == 6 ? "6" : "4";
    putString(j, "gateway", ip.gateway);
    putNumber(j, "interface", ip.interfaceIndex);
    out["ips"].push_back(std::move(j));
  }
  for (const Route& route : result.routes) {
    nlohmann::json j = {{"dst", route.dst}};
    putString(j, "gw", route.gw);
    if (v11) {
      putNumber(j, "mtu", route.mtu);
      putNumber(j, "advmss", route.advmss);
      putNumber(j, "priority", route.priority);
      putNumber(j, "table", route.table);
      putNumber(j, "scope", route.scope);
    }
    out["routes"].push_back(std::move(j));
  }
  if (!result.dns.empty()) {
    nlohmann::json dns = nlohmann::json::object();
    if (!result.dns.nameservers.empty()) dns["nameservers"] = result.dns.nameservers;
    putString(dns, "domain", result.dns.domain);
    if (!result.dns.search.empty()) dns["search"] = result.dns.search;
    if (!result.dns.options.empty()) dns["options"] = result.dns.options;
    out["dns"] = std::move(dns);
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> parseCniArgs(std::string_view args) {
  std::map<std::string, std::string> pairs;
  if (args.empty()) return pairs;
  // Its values may end up in JSON (records, results): bytes that are not UTF-8 are refused
  // rather than silently replaced.
  if (!common::isValidUtf8(args)) {
    return absl::InvalidArgumentError(
        strCat("CNI_ARGS: \"", common::clipped(args), "\" is not valid UTF-8"));
  }
  std::size_t start = 0;
  while (true) {
    std::size_t end = args.find(';', start);
    std::string_view pair = args.substr(start, end == std::string_view::npos ? end : end - start);
    std::size_t eq = pair.find('=');
    if (eq == 0 || eq == std::string_view::npos ||
        pair.find('=', eq + 1) != std::string_view::npos) {
      return absl::InvalidArgumentError(
          strCat("CNI_ARGS: invalid pair \"", common::clipped(pair), "\" (expected KEY=VALUE)"));
    }
    std::string key(pair.substr(0, eq));
    if (!pairs.emplace(key, std::string(pair.substr(eq + 1))).second) {
      return absl::InvalidArgumentError(
          strCat("CNI_ARGS: duplicate key \"", common::clipped(key), "\""));
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return pairs;
}

absl::Status validateContainerId(std::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("CNI_CONTAINERID: empty");
  auto allowed = [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  };
  if (!absl::ascii_isalnum(static_cast<unsigned char>(id.front())) ||
      !std::all_of(id.begin(), id.end(), allowed) || id.find("..") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        strCat("CNI_CONTAINERID: invalid container ID \"", common::clipped(id),
               "\" (expected [a-zA-Z0-9][a-zA-Z0-9_.-]* without \"..\")"));
  }
  return absl::OkStatus();
}

absl::Status validateIfName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("CNI_IFNAME: empty");
  if (name.size() > kMaxIfNameLength) {
    return absl::InvalidArgumentError(strCat("CNI_IFNAME: \"", common::clipped(name),
                                             "\" is longer than ", kMaxIfNameLength, " bytes"));
  }
  bool bad = name == "." || name == ".." || std::any_of(name.begin(), name.end(), [](char c) {
               return c == '/' || c == ':' || absl::ascii_isspace(static_cast<unsigned char>(c));
             });
  if (bad) {
    return absl::InvalidArgumentError(strCat("CNI_IFNAME: invalid interface name \"", name,
                                             "\" (no '/', ':' or spaces, not . or ..)"));
  }
  // The name is written into results and records (JSON), so it must be UTF-8 as well.
  if (!common::isValidUtf8(name)) {
    return absl::InvalidArgumentError(strCat("CNI_IFNAME: \"", name, "\" is not valid UTF-8"));
  }
  return absl::OkStatus();
}

}  // namespace enadpdk::cni
