#include "ipam/node_config.h"

#include <algorithm>
#include <string_view>

#include "absl/strings/ascii.h"
#include "common/config.h"
#include "common/strings.h"

namespace enadpdk::ipam {
namespace {

using common::JsonReader;
using common::strCat;
using common::StringRule;

bool isIpAddressOrCidr(std::string_view text) {
  return common::isIpAddress(text) || common::isCidr(text);
}

bool isHttpUrl(std::string_view text) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (text.starts_with(scheme)) {
      std::string_view rest = text.substr(scheme.size());
      return !rest.empty() && rest.front() != '/' &&
             std::none_of(rest.begin(), rest.end(), absl::ascii_isspace);
    }
  }
  return false;
}

using common::kAbsolutePath;
using common::kMacAddress;
using common::kNetworkName;

constexpr StringRule kIpAddress{common::isIpAddress, "an IPv4 or IPv6 address"};
constexpr StringRule kIpAddressOrCidr{isIpAddressOrCidr, "an IPv4 or IPv6 address or CIDR"};
constexpr StringRule kCidr{common::isCidr, "a CIDR like \"10.0.0.0/24\""};
constexpr StringRule kHttpUrl{isHttpUrl, "an http:// or https:// URL"};

bool isAddressSource(std::string_view text) {
  return text == kSourceSecondaryIps || text == kSourceIpv4Prefixes || text == kSourceIpv6Prefixes;
}

constexpr StringRule kAddressSource{
    isAddressSource, "one of \"secondary-ips\", \"ipv4-prefixes\", \"ipv6-prefixes\""};

void parseImds(JsonReader& r, ImdsConfig& imds) {
  r.read("endpoint", imds.endpoint, kHttpUrl);
  r.read("ttlSeconds", imds.ttlSeconds, 0, kMaxImdsTtlSeconds);
  r.read("timeoutMs", imds.timeoutMs, 1, kMaxImdsTimeoutMs);
}

}  // namespace

void readIpamNetwork(JsonReader& r, IpamNetworkConfig& network) {
  const bool eni = r.has("eniMac") || r.has("deviceNumber");
  if (r.has("eniMac") && r.has("deviceNumber")) {
    r.fail("", "\"eniMac\" and \"deviceNumber\" exclude each other");
  } else if (eni && (r.has("addresses") || r.has("gateway"))) {
    r.fail("", "a network takes \"addresses\" or an ENI (\"eniMac\", \"deviceNumber\"), not both");
  }
  if (r.has("eniMac")) r.read("eniMac", network.eniMac.emplace(), kMacAddress);
  if (r.has("deviceNumber")) {
    r.read("deviceNumber", network.deviceNumber.emplace(), 0, kMaxEniDeviceNumber);
  }
  if (r.has("sources")) {
    if (!eni) {
      r.fail("sources", "needs an ENI (\"eniMac\" or \"deviceNumber\") next to it");
    } else {
      r.readSet("sources", network.sources, kAddressSource);
      if (network.sources.empty()) r.fail("sources", "expected at least one source");
    }
  }
  if (!eni) {
    r.require("addresses");
    r.readSet("addresses", network.addresses, kIpAddressOrCidr);
    if (network.addresses.empty()) r.fail("addresses", "expected at least one address");
    if (r.has("gateway")) r.read("gateway", network.gateway.emplace(), kIpAddress);
  }
  r.readObjects("routes", [&](JsonReader& route) {
    IpamRoute& out = network.routes.emplace_back();
    route.require("dst");
    route.read("dst", out.dst, kCidr);
    if (route.has("gw")) route.read("gw", out.gw.emplace(), kIpAddress);
  });
}

bool IpamNetworkConfig::uses(std::string_view source) const {
  if (sources.empty()) return source == kSourceSecondaryIps;
  return std::find(sources.begin(), sources.end(), source) != sources.end();
}

namespace {

void parseIpam(JsonReader& r, IpamConfig& config) {
  r.read("stateDir", config.stateDir, kAbsolutePath);
  r.readObject("imds", [&](JsonReader& i) { parseImds(i, config.imds); });
  r.readObjectMap("networks", [&](const std::string& name, JsonReader& n) {
    if (!common::isNetworkName(name)) return n.fail("", strCat("expected ", kNetworkName.expected));
    readIpamNetwork(n, config.networks[name]);
  });
}

}  // namespace

absl::StatusOr<IpamConfig> parseIpamConfig(const nlohmann::json& root) {
  return common::parseSection<IpamConfig>(root, "ipam", parseIpam);
}

absl::StatusOr<IpamConfig> loadIpamConfig(const std::filesystem::path& path) {
  return common::loadSection<IpamConfig>(path, parseIpamConfig);
}

}  // namespace enadpdk::ipam
