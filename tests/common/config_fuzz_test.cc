// Seeded, bounded fuzzing of the node config file's parsers (issue 20): each section's parser
// (dataplane, deviceplugin, nodeprep, ipam, and the IPAM network keys ena-dpdk-ipam also reads
// inline) gets kCasesPerSection mutations of a valid config (docs/config.example.json plus an ipam
// section): values of another type, deleted, added and renamed keys, huge and negative numbers,
// strings with NUL or non-UTF-8 bytes, very long keys and values, deep nesting, duplicated array
// entries; and, through the file loaders, truncated text, edited bytes and random bytes. For each:
// - no exception escapes;
// - an error is InvalidArgument whose message is non-empty, at most kMaxMessageBytes, starts with
//   the file path (loaders) or the JSON path of the section, and is valid UTF-8 whenever the input
//   could come from a file (nlohmann's parser only lets valid UTF-8 through);
// - a config that parses satisfies the documented invariants (ranges, absolute paths, unique
//   names, exactly one address source per IPAM network, ...), parses the same the second time and
//   the same from a file as in memory.
// Deterministic: the seed is fixed (ENA_DPDK_FUZZ_SEED overrides it to explore). ConfigMessageTest
// holds what the fuzzing found, as plain cases.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "common/config.h"
#include "common/json_reader.h"
#include "common/strings.h"
#include "deviceplugin/plugin_config.h"
#include "ipam/node_config.h"
#include "nlohmann/json.hpp"
#include "nodeprep/nodeprep_config.h"
#include "vhostuser/dataplane_config.h"

namespace enadpdk::common {
namespace {

namespace fs = std::filesystem;
using deviceplugin::DevicepluginConfig;
using deviceplugin::EnaDedicatedResourceConfig;
using deviceplugin::HugepagesResourceConfig;
using deviceplugin::kMaxSlotsPerNetwork;
using deviceplugin::loadDevicepluginConfig;
using deviceplugin::parseDevicepluginConfig;
using nlohmann::json;
using nodeprep::HugetlbfsMount;
using nodeprep::kMaxHugepages1G;
using nodeprep::kMaxHugepages2M;
using nodeprep::loadNodeprepConfig;
using nodeprep::NodeprepConfig;
using nodeprep::parseNodeprepConfig;
using vhostuser::DataplaneConfig;
using vhostuser::kMaxBurstSize;
using vhostuser::kMaxLcore;
using vhostuser::kMaxMacAgingSeconds;
using vhostuser::kMaxMaxPorts;
using vhostuser::kMaxMbufs;
using vhostuser::kMaxTxDrainMicroseconds;
using vhostuser::kMaxUplinkQueues;
using vhostuser::kMinMbufs;
using vhostuser::loadDataplaneConfig;
using vhostuser::NetworkConfig;
using vhostuser::NetworkMode;
using vhostuser::parseDataplaneConfig;
// The "ipam" section is ena-dpdk-ipam's (ipam/node_config.h).
using ipam::IpamConfig;
using ipam::IpamNetworkConfig;
using ipam::IpamRoute;
using ipam::kMaxEniDeviceNumber;
using ipam::kMaxImdsTimeoutMs;
using ipam::kMaxImdsTtlSeconds;
using ipam::loadIpamConfig;
using ipam::parseIpamConfig;
using ipam::readIpamNetwork;

constexpr int kCasesPerSection = 2500;
constexpr size_t kMaxMessageBytes = 2048;
constexpr int kMaxFailures = 8;

enum class Section { Dataplane, Deviceplugin, Nodeprep, Ipam, IpamInline };

const char* sectionName(Section s) {
  switch (s) {
    case Section::Dataplane:
      return "dataplane";
    case Section::Deviceplugin:
      return "deviceplugin";
    case Section::Nodeprep:
      return "nodeprep";
    case Section::Ipam:
    case Section::IpamInline:
      return "ipam";
  }
  return "?";
}

// The documented example with every section and most optional keys.
json baseDocument() {
  std::ifstream in(ENA_DPDK_CONFIG_EXAMPLE);
  json doc = json::parse(in);
  json& dp = doc["dataplane"];
  dp["cniStateDir"] = "/var/lib/cni/ena-dpdk";
  dp["allowedSocketDirs"] = {"/var/run/ena-dpdk/vhost", "/run/vhost"};
  dp["socket"] = {{"owner", "root:root"}, {"mode", "0660"}};
  dp["mbufs"] = 16384;
  dp["burstSize"] = 32;
  dp["txDrainMicroseconds"] = 100;
  dp["macAgingSeconds"] = 300;
  dp["maxPorts"] = 128;
  dp["networks"].push_back({{"name", "eni2"},
                            {"mode", "l2"},
                            {"uplink", {{"device", "net_af_packet0,iface=veth0"}, {"queues", 1}}},
                            {"mac", "02:00:00:00:00:02"},
                            {"mtu", 1500}});
  doc["nodeprep"]["bind"]["force"] = {"eth1"};
  doc["deviceplugin"]["enaDedicated"]["pciAddresses"] = {"0000:00:07.0"};
  doc["deviceplugin"]["enaDedicated"]["exclude"] = {"0000:00:08.0"};
  doc["ipam"] = json::parse(R"({
    "stateDir": "/var/lib/ena-dpdk/ipam",
    "imds": {"endpoint": "http://169.254.169.254", "ttlSeconds": 60, "timeoutMs": 1000},
    "networks": {
      "eni1": {"deviceNumber": 1, "routes": [{"dst": "0.0.0.0/0"}]},
      "eni2": {"eniMac": "0a:1b:2c:3d:4e:5f"},
      "local": {"addresses": ["192.168.50.0/24", "fd00:50::/120"], "gateway": "192.168.50.1",
                "routes": [{"dst": "10.0.0.0/8", "gw": "192.168.50.254"}]}
    }})");
  return doc;
}

// ---- invariants of a config that parsed

// `text` with the bytes that are not printable ASCII as \xNN (for failure output).
std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      out += {'\\', 'x', kHex[u >> 4], kHex[u & 0xF]};
    }
  }
  return out;
}

bool isAbsolute(const std::string& p) { return p.starts_with('/'); }
template <typename T>
bool unique(const std::vector<T>& v) {
  return std::set<T>(v.begin(), v.end()).size() == v.size();
}
bool isLowerHex4(const std::string& s) {
  return s.size() == 4 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}
bool isDpdkDriverName(const std::string& s) {
  return s == kVfioPciDriver || s == kIgbUioDriver || s == kUioPciGenericDriver;
}

// Returns what is wrong with a parsed config ("" when nothing).
std::string invariantBreach(const DataplaneConfig& c) {
  if (!unique(c.workers)) return "duplicate workers";
  for (unsigned w : c.workers) {
    if (w > kMaxLcore) return "worker lcore out of range";
  }
  if (!isAbsolute(c.controlSocket) || !isAbsolute(c.stateFile) || !isAbsolute(c.cniStateDir)) {
    return "a path is not absolute";
  }
  if (c.metricsAddress.find(':') == std::string::npos) return "metricsAddress without port";
  if (!unique(c.allowedSocketDirs)) return "duplicate allowedSocketDirs";
  for (const std::string& d : c.allowedSocketDirs) {
    if (!isAbsolute(d)) return "allowedSocketDirs entry not absolute";
  }
  if (c.socket.mode > 0777) return "socket.mode beyond 0777";
  if (c.mbufs < kMinMbufs || c.mbufs > kMaxMbufs) return "mbufs out of range";
  if (c.burstSize < 1 || c.burstSize > kMaxBurstSize) return "burstSize out of range";
  if (c.txDrainMicroseconds > kMaxTxDrainMicroseconds) return "txDrainMicroseconds out of range";
  if (c.macAgingSeconds < 1 || c.macAgingSeconds > kMaxMacAgingSeconds) return "macAging range";
  if (c.maxPorts < 1 || c.maxPorts > kMaxMaxPorts) return "maxPorts out of range";
  std::set<std::string> names, devices;
  for (const NetworkConfig& n : c.networks) {
    if (!isNetworkName(n.name)) return "bad network name";
    if (!names.insert(n.name).second) return "duplicate network name";
    if (n.mode == NetworkMode::Vpc && !n.uplink) return "vpc network without uplink";
    if (n.mtu < kMinMtu || n.mtu > kMaxMtu) return "network mtu out of range";
    if (n.mac && (!isMacAddress(*n.mac) || *n.mac != absl::AsciiStrToLower(*n.mac))) {
      return "network mac not a lowercase MAC";
    }
    if (n.uplink) {
      if (n.uplink->device.empty()) return "empty uplink device";
      if (n.uplink->queues < 1 || n.uplink->queues > kMaxUplinkQueues) return "uplink queues";
      if (!devices.insert(n.uplink->device.substr(0, n.uplink->device.find(','))).second) {
        return "two networks share an uplink device";
      }
    }
  }
  return "";
}

std::string invariantBreach(const DevicepluginConfig& c) {
  if (c.resourcePrefix.empty() || c.resourcePrefix.size() > 253) return "resourcePrefix";
  if (c.ena.slotsPerNetwork < 1 || c.ena.slotsPerNetwork > kMaxSlotsPerNetwork) return "slots";
  if (!isAbsolute(c.ena.dir) || !isAbsolute(c.ena.containerPath)) return "ena paths";
  if (c.ena.slotGroup && (*c.ena.slotGroup < 1 || *c.ena.slotGroup > kMaxSlotGroup)) {
    return "slotGroup out of range";
  }
  const EnaDedicatedResourceConfig& d = c.enaDedicated;
  for (const auto* list : {&d.vendors, &d.devices, &d.drivers, &d.pciAddresses, &d.exclude}) {
    if (!unique(*list)) return "duplicate entry in an enaDedicated list";
  }
  for (const std::string& v : d.vendors) {
    if (!isLowerHex4(v)) return "vendor id";
  }
  for (const std::string& v : d.devices) {
    if (!isLowerHex4(v)) return "device id";
  }
  for (const std::string& v : d.drivers) {
    if (!isDpdkDriverName(v)) return "driver";
  }
  for (const std::string& e : d.exclude) {
    if (std::find(d.pciAddresses.begin(), d.pciAddresses.end(), e) != d.pciAddresses.end()) {
      return "an address both included and excluded";
    }
  }
  for (const HugepagesResourceConfig* h : {&c.hugepages, &c.hugepages2Mi}) {
    if (!isAbsolute(h->mountDir) || !isAbsolute(h->containerPath)) return "hugepages paths";
    if (!h->chargeCgroup.starts_with('/') || h->chargeCgroup.starts_with("/kubepods") ||
        h->chargeCgroup.find("//") != std::string::npos ||
        h->chargeCgroup.find("/../") != std::string::npos || h->chargeCgroup.ends_with("/..") ||
        h->chargeCgroup.ends_with("/.")) {
      return "chargeCgroup";
    }
  }
  if (!isAbsolute(c.cgroupFs) || !isAbsolute(c.cdi.specDir)) return "cgroupFs or cdi.specDir";
  if (c.metricsAddress.find(':') == std::string::npos) return "metricsAddress without port";
  return "";
}

std::string invariantBreach(const NodeprepConfig& c) {
  if (c.hugepages.pages1G > kMaxHugepages1G || c.hugepages.pages2M > kMaxHugepages2M) {
    return "hugepage count out of range";
  }
  std::set<std::string> paths;
  for (const HugetlbfsMount& m : c.mounts) {
    if (!isAbsolute(m.path)) return "mount path not absolute";
    if (!paths.insert(m.path).second) return "duplicate mount path";
  }
  if (!isDpdkDriverName(c.vfio.driver)) return "vfio.driver";
  if (!unique(c.bind.pciAddresses) || !unique(c.bind.interfaces) || !unique(c.bind.force)) {
    return "duplicate bind entry";
  }
  for (const std::string& i : c.bind.interfaces) {
    if (i.empty() || i.size() > 15 || i.find('/') != std::string::npos) return "interface name";
  }
  return "";
}

std::string invariantBreach(const IpamNetworkConfig& n) {
  const int sources = (n.addresses.empty() ? 0 : 1) + (n.eniMac ? 1 : 0) + (n.deviceNumber ? 1 : 0);
  if (sources != 1) return common::strCat(sources, " address sources");
  if (!unique(n.addresses)) return "duplicate address";
  for (const std::string& a : n.addresses) {
    if (!isIpAddress(a) && !isCidr(a)) return "address neither IP nor CIDR";
  }
  if (n.gateway && (!isIpAddress(*n.gateway) || n.addresses.empty())) return "gateway";
  if (n.eniMac && !isMacAddress(*n.eniMac)) return "eniMac";
  if (n.deviceNumber && *n.deviceNumber > kMaxEniDeviceNumber) return "deviceNumber";
  for (const IpamRoute& r : n.routes) {
    if (!isCidr(r.dst)) return "route dst";
    if (r.gw && !isIpAddress(*r.gw)) return "route gw";
  }
  return "";
}

std::string invariantBreach(const IpamConfig& c) {
  if (!isAbsolute(c.stateDir)) return "stateDir";
  if (!c.imds.endpoint.starts_with("http://") && !c.imds.endpoint.starts_with("https://")) {
    return "imds.endpoint";
  }
  if (c.imds.ttlSeconds > kMaxImdsTtlSeconds) return "ttlSeconds";
  if (c.imds.timeoutMs < 1 || c.imds.timeoutMs > kMaxImdsTimeoutMs) return "timeoutMs";
  for (const auto& [name, n] : c.networks) {
    if (!isNetworkName(name)) return "network name";
    if (std::string why = invariantBreach(n); !why.empty()) return name + ": " + why;
  }
  return "";
}

// Whether every string and key in `j` is valid UTF-8 (so that the document could come from a
// file: nlohmann's parser refuses anything else).
bool allUtf8(const json& j) {
  if (j.is_string()) return isValidUtf8(j.get_ref<const std::string&>());
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (!isValidUtf8(k) || !allUtf8(v)) return false;
    }
  }
  if (j.is_array()) {
    for (const json& v : j) {
      if (!allUtf8(v)) return false;
    }
  }
  return true;
}

// ---- the fixture

class ConfigFuzzTest : public ::testing::TestWithParam<Section> {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "config-fuzz.XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    file_ = dir_ / "config.json";
    const char* seed = std::getenv("ENA_DPDK_FUZZ_SEED");
    seed_ = (seed != nullptr ? std::strtoull(seed, nullptr, 10) : 20261205) +
            static_cast<uint64_t>(GetParam());
    rng_.seed(seed_);
    base_ = baseDocument();
    // Every key of the example, to add in the wrong places.
    collectKeys(base_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void collectKeys(const json& j) {
    if (j.is_object()) {
      for (const auto& [k, v] : j.items()) {
        keys_.insert(k);
        collectKeys(v);
      }
    } else if (j.is_array()) {
      for (const json& v : j) collectKeys(v);
    }
  }

  // ---- random values

  uint64_t below(uint64_t n) { return rng_() % n; }
  bool chance(unsigned percent) { return below(100) < percent; }
  template <typename T>
  T pick(const std::vector<T>& from) {
    return from[below(from.size())];
  }
  std::string pickKey() {
    auto it = keys_.begin();
    std::advance(it, static_cast<long>(below(keys_.size())));
    return *it;
  }
  std::string randomBytes(size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(below(256));
    return s;
  }
  size_t randomLength() {
    switch (below(8)) {
      case 0:
        return chance(10) ? 100000 : 10000;
      case 1:
      case 2:
        return below(300);
      default:
        return below(16);
    }
  }
  std::string mutateString(std::string text) {
    const int edits = 1 + static_cast<int>(below(3));
    for (int i = 0; i < edits; ++i) {
      const size_t at = text.empty() ? 0 : below(text.size() + 1);
      switch (below(8)) {
        case 0:
          text.insert(at, 1, static_cast<char>(0x80 + below(128)));  // not UTF-8 (mostly)
          break;
        case 1:
          text.insert(at, 1, '\0');
          break;
        case 2:
          if (at < text.size()) text[at] = static_cast<char>(0x20 + below(95));
          break;
        case 3:
          text = text.substr(0, at);
          break;
        case 4:
          text.insert(at, std::string(randomLength(), 'a'));
          break;
        case 5:
          text.insert(at, "\xc3\xa9");  // é
          break;
        default:
          if (at < text.size()) text.erase(at, 1 + below(3));
          break;
      }
    }
    return text;
  }
  std::string randomString() {
    switch (below(10)) {
      case 0:
        return "";
      case 1:
        return std::string(randomLength(), 's');
      case 2:
        return randomBytes(randomLength());
      case 3:
        return mutateString(pickKey());
      default:
        return pick<std::string>({"vpc",
                                  "l2",
                                  "/abs/path",
                                  "relative/path",
                                  "0000:00:06.0",
                                  "net_null0",
                                  "net_af_packet0,iface=veth0",
                                  "0660",
                                  "0777",
                                  "1777",
                                  "02:00:00:00:00:01",
                                  "01:00:5e:00:00:01",
                                  "10.0.0.0/24",
                                  "10.0.0.1",
                                  "fd00::/64",
                                  "http://x",
                                  "https://",
                                  "auto",
                                  "always",
                                  "1G",
                                  "2M",
                                  "vfio-pci",
                                  "nsenter",
                                  "ec20",
                                  "EC20",
                                  "dpdk.aws",
                                  "-dpdk",
                                  "127.0.0.1:9640",
                                  "[::1]:1",
                                  ":80",
                                  "root:root",
                                  "a:b:c",
                                  "/kubepods/x",
                                  "/a//b",
                                  "/..",
                                  "eni1",
                                  "ENI1",
                                  "local",
                                  "x"});
    }
  }
  json randomNumber() {
    switch (below(12)) {
      case 0:
        return std::numeric_limits<int64_t>::max();
      case 1:
        return std::numeric_limits<int64_t>::min();
      case 2:
        return std::numeric_limits<uint64_t>::max();
      case 3:
        return -1;
      case 4:
        return 0;
      case 5:
        return 4294967296ULL;
      case 6:
        return 2147483648ULL;
      case 7:
        return pick<double>({0.5, 1e308, -0.0, 1.0, 9001.0, -1e-300});
      case 8:
        return static_cast<int64_t>(rng_());
      default:
        return static_cast<int64_t>(below(70000)) - 10;
    }
  }
  json randomValue(int depth = 0) {
    switch (below(depth > 2 ? 4 : 7)) {
      case 0:
        return nullptr;
      case 1:
        return chance(50);
      case 2:
        return randomNumber();
      case 3:
        return randomString();
      case 4: {
        json a = json::array();
        const size_t n = below(4);
        for (size_t i = 0; i < n; ++i) a.push_back(randomValue(depth + 1));
        if (!a.empty() && chance(30)) a.push_back(a.front());  // a duplicate
        return a;
      }
      case 5: {
        json o = json::object();
        const size_t n = below(4);
        for (size_t i = 0; i < n; ++i)
          o[chance(70) ? pickKey() : randomString()] = randomValue(depth + 1);
        return o;
      }
      default:
        return nested(1 + below(chance(10) ? 3000 : 30));
    }
  }
  json nested(size_t depth) {
    json j = chance(50) ? json(1) : json::object();
    for (size_t i = 0; i < depth; ++i) {
      json outer = chance(50) ? json::array() : json::object();
      if (outer.is_array()) {
        outer.push_back(std::move(j));
      } else {
        outer[pickKey()] = std::move(j);
      }
      j = std::move(outer);
    }
    return j;
  }

  // The nodes below `root` (as JSON pointers) down to 12 levels, `root` included.
  void nodes(const json& j, const json::json_pointer& at, std::vector<json::json_pointer>& out,
             int depth = 0) {
    out.push_back(at);
    if (depth >= 12) return;
    if (j.is_object()) {
      for (const auto& [k, v] : j.items()) nodes(v, at / k, out, depth + 1);
    } else if (j.is_array()) {
      for (size_t i = 0; i < j.size(); ++i) nodes(j[i], at / i, out, depth + 1);
    }
  }

  // One structural mutation of the subtree of `doc` at `scope`.
  void mutateTree(json& doc, const json::json_pointer& scope) {
    std::vector<json::json_pointer> all;
    nodes(doc[scope], scope, all);
    json::json_pointer at = pick(all);
    json& node = doc[at];
    switch (below(10)) {
      case 0:
      case 1:
        node = randomValue();  // usually of another type
        break;
      case 2:
      case 3:
        if (at != scope && !at.empty()) {
          json& parent = doc[at.parent_pointer()];
          if (parent.is_object()) {
            parent.erase(at.back());
          } else if (parent.is_array() && !parent.empty()) {
            parent.erase(static_cast<size_t>(std::stoul(at.back())));
          }
        }
        break;
      case 4:
        if (node.is_object()) {
          const uint64_t k = below(10);
          const std::string key = k < 5   ? pickKey()
                                  : k < 7 ? mutateString(pickKey())
                                  : k < 8 ? std::string(chance(20) ? 100000 : 10000, 'k')
                                  : k < 9 ? randomBytes(1 + below(20))
                                          : "";
          node[key] = randomValue();
        } else if (node.is_array()) {
          node.push_back(node.empty() || chance(50) ? randomValue() : node.front());
        }
        break;
      case 5:
        if (node.is_number() || chance(30)) node = randomNumber();
        break;
      case 6:
        if (node.is_string()) {
          node = mutateString(node.get<std::string>());
        } else if (node.is_array() && !node.empty()) {
          node.push_back(node[below(node.size())]);  // a duplicate entry
        }
        break;
      case 7:
        if (node.is_object() && !node.empty()) {
          // A key renamed to a near miss ("Mtu", "mtu ", "mtu\0").
          auto it = node.begin();
          std::advance(it, static_cast<long>(below(node.size())));
          const std::string key = it.key();
          json value = *it;
          node.erase(key);
          std::string renamed = key;
          switch (below(3)) {
            case 0:
              renamed[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(renamed[0])));
              break;
            case 1:
              renamed += " ";
              break;
            default:
              renamed += std::string(1, '\0');
              break;
          }
          node[renamed] = std::move(value);
        }
        break;
      case 8:
        node = nested(1 + below(chance(10) ? 2000 : 50));
        break;
      default:
        node = nullptr;
        break;
    }
  }

  // A mutated whole-file text: truncated, with bytes edited, or noise.
  std::string mutateText(const std::string& text) {
    switch (below(8)) {
      case 0:
        return text.substr(0, below(text.size() + 1));
      case 1:
        return randomBytes(randomLength());
      case 2:
        return pick<std::string>(
            {"", "{}", "[]", "null", "\"x\"", "1", "{\"dataplane\":", "\xef\xbb\xbf{}", "{} {}",
             "{\"a\":1,\"a\":2}", "// c\n{}", "{\"dataplane\": 1e999999}", "{\"nodeprep\": -0}",
             std::string(200000, '[') + std::string(200000, ']'), std::string(100000, '['),
             "{\"x\":\"" + std::string(50000, 'a') + "\xff\"}",
             "{\"" + std::string(50000, 'k') + "\": 1 2}"});
      default: {
        std::string out = text;
        const int edits = 1 + static_cast<int>(below(4));
        for (int i = 0; i < edits; ++i) {
          const size_t at = below(out.size() + 1);
          switch (below(5)) {
            case 0:
              out.insert(at, 1, static_cast<char>(0x80 + below(128)));
              break;
            case 1:
              out.insert(at, 1, static_cast<char>(below(256)));
              break;
            case 2:
              if (at < out.size()) out.erase(at, 1 + below(8));
              break;
            case 3:
              out.insert(at, pick<std::string>({"{", "}", "[", "]", ",", ":", "\"", "\\", "-",
                                                "1e400", "\\u0000", "\\ud800", "null"}));
              break;
            default:
              if (at < out.size()) out[at] = static_cast<char>(below(256));
              break;
          }
        }
        return out;
      }
    }
  }

  // ---- checks

  void breach(int index, const std::string& why, const std::string& input) {
    ++failures_;
    ADD_FAILURE() << sectionName(GetParam()) << " case " << index << ": " << printable(why)
                  << "\n  input: " << printable(clipped(input, 1500)) << "\n  seed: " << seed_;
  }

  struct Noted {
    int count = 0;
    std::string first;
  };
  void note(Noted& noted, int index, const std::string& why, const std::string& input) {
    if (noted.count++ == 0) {
      noted.first =
          strCat("case ", index, ": ", why, "\n  input: ", printable(clipped(input, 600)));
    }
  }

  // An error's contract. `fromFile`: the message starts with the file path; `utf8Input`: the input
  // could be a file, so the message must be valid UTF-8.
  void checkError(int index, const absl::Status& status, bool fromFile, bool utf8Input,
                  const std::string& input) {
    const std::string msg(status.message());
    ++outcomes_[fromFile ? "file-error" : "error"];
    maxMessage_ = std::max(maxMessage_, msg.size());
    if (status.code() != absl::StatusCode::kInvalidArgument) {
      breach(index, "code " + absl::StatusCodeToString(status.code()) + ": " + clipped(msg), input);
    }
    if (msg.empty()) breach(index, "empty error message", input);
    // Counted and reported once at the end, so that the run goes on.
    if (msg.size() > kMaxMessageBytes) {
      note(longMessages_, index,
           strCat("error message of ", msg.size(), " bytes: ", printable(clipped(msg, 300))),
           input);
    }
    if ((utf8Input || fromFile) && !isValidUtf8(msg)) {
      note(nonUtf8Messages_, index, "error message is not UTF-8: " + printable(clipped(msg, 300)),
           input);
    }
    const std::string section = sectionName(GetParam());
    const std::string prefix = fromFile ? file_.string() + ": " : "";
    const std::string rest = msg.substr(std::min(prefix.size(), msg.size()));
    const bool placed = msg.starts_with(prefix) &&
                        (rest.starts_with(section + ".") || rest.starts_with(section + ":") ||
                         // a key that starts with '[' is joined without a dot (JsonReader)
                         rest.starts_with(section + "[") || rest.ends_with(": unknown section") ||
                         rest == "expected a JSON object at the top level" ||
                         (fromFile && rest.starts_with("invalid JSON: ")));
    if (!placed) breach(index, "error message does not say where: " + clipped(msg, 300), input);
  }

  template <typename Config>
  void checkParsed(int index, const absl::StatusOr<Config>& result, bool fromFile, bool utf8Input,
                   const std::string& input) {
    if (!result.ok()) return checkError(index, result.status(), fromFile, utf8Input, input);
    ++outcomes_[fromFile ? "file-ok" : "ok"];
    if (std::string why = invariantBreach(*result); !why.empty()) {
      breach(index, "parsed config breaks an invariant: " + why, input);
    }
  }

  // Runs `parse` on `doc` in memory (twice: it must agree with itself) and, when the document can
  // be written as a file, `load` on that file: both must agree.
  template <typename Config>
  void runSection(int index, const json& doc, absl::StatusOr<Config> (*parse)(const json&),
                  absl::StatusOr<Config> (*load)(const fs::path&)) {
    const bool utf8 = allUtf8(doc);
    std::string text;
    bool dumped = false;
    try {
      text = doc.dump();
      dumped = true;
    } catch (const json::exception&) {
      text = doc.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    try {
      absl::StatusOr<Config> first = parse(doc);
      absl::StatusOr<Config> second = parse(doc);
      checkParsed(index, first, /*fromFile=*/false, utf8, text);
      if (first.ok() != second.ok() || first.status() != second.status() ||
          (first.ok() && !(*first == *second))) {
        breach(index, "two parses of the same document differ", text);
      }
      if (!dumped || !chance(25)) return;
      std::ofstream(file_, std::ios::binary | std::ios::trunc) << text;
      absl::StatusOr<Config> loaded = load(file_);
      checkParsed(index, loaded, /*fromFile=*/true, true, text);
      if (loaded.ok() != first.ok() || (first.ok() && !(*loaded == *first)) ||
          (!first.ok() && std::string(loaded.status().message()) !=
                              file_.string() + ": " + std::string(first.status().message()))) {
        breach(index, "the file and the same document in memory parse differently", text);
      }
    } catch (const std::exception& e) {
      breach(index, std::string("exception escaped: ") + e.what(), text);
    } catch (...) {
      breach(index, "unknown exception escaped", text);
    }
  }

  // Runs `load` on a file holding `text`.
  template <typename Config>
  void runText(int index, const std::string& text,
               absl::StatusOr<Config> (*load)(const fs::path&)) {
    std::ofstream(file_, std::ios::binary | std::ios::trunc) << text;
    try {
      checkParsed(index, load(file_), /*fromFile=*/true, true, text);
    } catch (const std::exception& e) {
      breach(index, std::string("exception escaped: ") + e.what(), text);
    } catch (...) {
      breach(index, "unknown exception escaped", text);
    }
  }

  // The IPAM network keys as ena-dpdk-ipam reads them from a CNI network config (unknown keys
  // ignored).
  void runInline(int index, const json& network) {
    const std::string text = network.dump(-1, ' ', false, json::error_handler_t::replace);
    try {
      JsonReader reader(network, "ipam", UnknownKeys::Ignore);
      IpamNetworkConfig config;
      if (reader.ok()) readIpamNetwork(reader, config);
      absl::Status status = reader.finish();
      if (!status.ok()) return checkError(index, status, false, allUtf8(network), text);
      ++outcomes_["ok"];
      if (std::string why = invariantBreach(config); !why.empty()) {
        breach(index, "parsed network breaks an invariant: " + why, text);
      }
    } catch (const std::exception& e) {
      breach(index, std::string("exception escaped: ") + e.what(), text);
    }
  }

  void run(int index, const json& doc) {
    switch (GetParam()) {
      case Section::Dataplane:
        return runSection<DataplaneConfig>(index, doc, parseDataplaneConfig, loadDataplaneConfig);
      case Section::Deviceplugin:
        return runSection<DevicepluginConfig>(index, doc, parseDevicepluginConfig,
                                              loadDevicepluginConfig);
      case Section::Nodeprep:
        return runSection<NodeprepConfig>(index, doc, parseNodeprepConfig, loadNodeprepConfig);
      case Section::Ipam:
      case Section::IpamInline:
        return runSection<IpamConfig>(index, doc, parseIpamConfig, loadIpamConfig);
    }
  }
  void runTextCase(int index, const std::string& text) {
    switch (GetParam()) {
      case Section::Dataplane:
        return runText<DataplaneConfig>(index, text, loadDataplaneConfig);
      case Section::Deviceplugin:
        return runText<DevicepluginConfig>(index, text, loadDevicepluginConfig);
      case Section::Nodeprep:
        return runText<NodeprepConfig>(index, text, loadNodeprepConfig);
      case Section::Ipam:
      case Section::IpamInline:
        return runText<IpamConfig>(index, text, loadIpamConfig);
    }
  }

  fs::path dir_, file_;
  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  json base_;
  std::set<std::string> keys_;
  int failures_ = 0;
  Noted longMessages_;
  Noted nonUtf8Messages_;
  size_t maxMessage_ = 0;
  std::map<std::string, int> outcomes_;
};

TEST_P(ConfigFuzzTest, SurvivesMutatedConfigs) {
  const Section section = GetParam();
  const json::json_pointer scope("/" + std::string(sectionName(section)));
  // The unmutated example parses: the mutations start from a valid config.
  run(-1, base_);
  ASSERT_EQ(failures_, 0);
  ASSERT_EQ(outcomes_["ok"], 1) << "the example config does not parse";
  int cases = 0;
  for (; cases < kCasesPerSection && failures_ < kMaxFailures; ++cases) {
    if (section == Section::IpamInline) {
      json network = base_["ipam"]["networks"][pick<std::string>({"eni1", "eni2", "local"})];
      const int n = 1 + static_cast<int>(below(3));
      for (int i = 0; i < n; ++i) mutateTree(network, json::json_pointer());
      if (network.is_object() && chance(10)) network["type"] = "ena-dpdk-ipam";  // ignored here
      runInline(cases, network);
      continue;
    }
    json doc = base_;
    const uint64_t kind = below(100);
    if (kind < 65) {
      const int n = 1 + static_cast<int>(below(3));
      for (int i = 0; i < n; ++i) mutateTree(doc, scope);
      run(cases, doc);
    } else if (kind < 75) {
      mutateTree(doc, json::json_pointer());  // anywhere, the top level included
      run(cases, doc);
    } else if (kind < 80) {
      // The section itself of another type, or the top level not an object.
      if (chance(50)) {
        doc[scope] = randomValue();
      } else {
        doc = randomValue();
      }
      run(cases, doc);
    } else {
      if (chance(70)) mutateTree(doc, scope);
      runTextCase(cases, mutateText(doc.dump(chance(50) ? 2 : -1, ' ', false,
                                             json::error_handler_t::replace)));
    }
  }
  std::string outcomes;
  for (const auto& [what, n] : outcomes_)
    outcomes += strCat(outcomes.empty() ? "" : " ", what, "=", n);
  std::cout << "config_fuzz section=" << sectionName(section)
            << (section == Section::IpamInline ? "(inline)" : "") << " seed=" << seed_
            << " cases=" << cases << " outcomes{" << outcomes << "} longest_message=" << maxMessage_
            << " long_messages=" << longMessages_.count
            << " non_utf8_messages=" << nonUtf8Messages_.count << std::endl;
  EXPECT_GE(cases, kCasesPerSection);
  EXPECT_EQ(longMessages_.count, 0) << "error messages longer than " << kMaxMessageBytes
                                    << " bytes, first: " << longMessages_.first;
  EXPECT_EQ(nonUtf8Messages_.count, 0) << "error messages that are not UTF-8 for input that is, "
                                       << "first: " << nonUtf8Messages_.first;
}

// What the fuzzing found in common/config.cc (issue 20): a key of any length came back whole in
// "<path>.<key>: unknown key", and a parse error quoted the token it stopped in, of any length
// and with the file's bytes that are not UTF-8. Messages keep their start and what is wrong.
TEST(ConfigMessageTest, HugeKeysAndBadBytesGiveBoundedUtf8Messages) {
  const std::string key(100000, 'k');
  absl::StatusOr<DataplaneConfig> config = parseDataplaneConfig({{"dataplane", {{key, 1}}}});
  ASSERT_FALSE(config.ok());
  std::string msg(config.status().message());
  EXPECT_LE(msg.size(), 1024u);
  EXPECT_TRUE(msg.starts_with("dataplane.kkkk")) << msg;
  EXPECT_TRUE(msg.ends_with("kkkk: unknown key")) << msg;
  EXPECT_NE(msg.find("\u2026"), std::string::npos) << msg;

  config = parseDataplaneConfig({{key, json::object()}});
  ASSERT_FALSE(config.ok());
  EXPECT_LE(config.status().message().size(), 300u);
  EXPECT_TRUE(std::string(config.status().message()).ends_with(": unknown section"));

  std::string pattern = (fs::temp_directory_path() / "config-msg.XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const fs::path file = fs::path(pattern) / "config.json";
  for (const std::string& text : std::vector<std::string>{
           "{\"dataplane\": {\"stateFile\": \"" + std::string(50000, 'a') + "\xff\"}}",
           "{\"dataplane\": \xe8}", std::string("{\"") + std::string(70000, 'k') + "\": tru}"}) {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
    absl::StatusOr<DataplaneConfig> loaded = loadDataplaneConfig(file);
    ASSERT_FALSE(loaded.ok());
    msg = std::string(loaded.status().message());
    EXPECT_LE(msg.size(), file.string().size() + 200) << printable(msg);
    EXPECT_TRUE(isValidUtf8(msg)) << printable(msg);
    EXPECT_TRUE(msg.starts_with(file.string() + ": invalid JSON: parse error at line 1")) << msg;
  }
  fs::remove_all(pattern);
}

// A value quoted in an error is cut at 40 bytes; the cut must not split a UTF-8 character, or a
// config file that is valid UTF-8 gets an error message that is not.
TEST(ConfigMessageTest, QuotedValuesAreCutAtCharacterBoundaries) {
  for (size_t ascii = 30; ascii < 45; ++ascii) {
    const std::string value = std::string(ascii, 'r') + "\xc3\xa9\xe2\x82\xac-relative";
    const json doc = {{"dataplane", {{"controlSocket", value}}}};
    absl::StatusOr<DataplaneConfig> config = parseDataplaneConfig(doc);
    ASSERT_FALSE(config.ok());
    EXPECT_TRUE(isValidUtf8(toStd(config.status().message())))
        << ascii << " ASCII bytes first: " << printable(std::string(config.status().message()));
  }
}

INSTANTIATE_TEST_SUITE_P(Sections, ConfigFuzzTest,
                         ::testing::Values(Section::Dataplane, Section::Deviceplugin,
                                           Section::Nodeprep, Section::Ipam, Section::IpamInline),
                         [](const ::testing::TestParamInfo<Section>& param) {
                           switch (param.param) {
                             case Section::Dataplane:
                               return std::string("Dataplane");
                             case Section::Deviceplugin:
                               return std::string("Deviceplugin");
                             case Section::Nodeprep:
                               return std::string("Nodeprep");
                             case Section::Ipam:
                               return std::string("Ipam");
                             case Section::IpamInline:
                               return std::string("IpamInline");
                           }
                           return std::string("Unknown");
                         });

}  // namespace
}  // namespace enadpdk::common
