#include "common/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "common/json_reader.h"
#include "common/strings.h"

namespace enadpdk::common {
namespace {

constexpr std::string_view kSections[] = {"nodeprep", "dataplane", "deviceplugin", "ipam"};

bool isHexDigit(char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); }

// The longest error message a parser returns. Messages name the JSON path, and a path holds the
// keys of the file, which may be of any length; longer messages keep their start and their end
// (what is wrong) around a "…".
constexpr std::size_t kMaxMessageBytes = 1024;
constexpr std::size_t kMaxMessageTailBytes = 256;

// `text` with every byte that is not part of a valid UTF-8 sequence written as \xNN.
std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t length = c < 0x80             ? 1
                               : (c & 0xE0) == 0xC0 ? 2
                               : (c & 0xF0) == 0xE0 ? 3
                               : (c & 0xF8) == 0xF0 ? 4
                                                    : 0;
    if (length > 0 && isValidUtf8(text.substr(i, length))) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += {'\\', 'x', kHex[c >> 4], kHex[c & 0xF]};
      ++i;
    }
  }
  return out;
}

// `status` with its message cut to kMaxMessageBytes: its start and its last
// kMaxMessageTailBytes, at UTF-8 character boundaries, around a "…".
absl::Status bounded(const absl::Status& status) {
  std::string_view message = toStd(status.message());
  if (message.size() <= kMaxMessageBytes) return status;
  std::size_t tail = message.size() - kMaxMessageTailBytes;
  while (tail < message.size() && (static_cast<unsigned char>(message[tail]) & 0xC0) == 0x80) {
    ++tail;
  }
  // clipped() cuts at a character boundary and appends the 3 bytes of "…".
  return absl::Status(
      status.code(),
      strCat(clipped(message, kMaxMessageBytes - kMaxMessageTailBytes - 3), message.substr(tail)));
}

// nlohmann's parse errors end in the token the parser stopped in ("...; last read: '<token>'",
// then maybe "; expected ..."): bytes of the file, any number of them, not necessarily UTF-8. The
// token is quoted up to kMaxShownTokenBytes, and what is not UTF-8 is written as \xNN.
constexpr std::size_t kMaxShownTokenBytes = 40;

std::string parseErrorMessage(std::string_view message) {
  constexpr std::string_view kLastRead = "; last read: '";
  const std::size_t start = message.find(kLastRead);
  if (start == std::string_view::npos) return printable(message);
  const std::size_t token = start + kLastRead.size();
  std::size_t end = message.rfind("'; expected ");
  if (end == std::string_view::npos || end < token) end = message.rfind('\'');
  if (end == std::string_view::npos || end < token) end = message.size();
  return printable(strCat(message.substr(0, token),
                          clipped(message.substr(token, end - token), kMaxShownTokenBytes),
                          message.substr(end)));
}

// absl::StrSplit() does not take std::string_view in Debian's Abseil (its string_view is its own
// type), so this small one does.
std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

// Parses a non-empty run of decimal digits (no sign, no spaces) that fits `out`.
bool parseDigits(std::string_view text, unsigned& out) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && error == std::errc() && end == text.data() + text.size();
}

// The domain:bus:device.function form sysfs uses, lowercase ("0000:00:06.0").
bool isPciAddressSyntax(std::string_view text) {
  constexpr std::string_view kPattern = "hhhh:hh:hh.f";
  if (text.size() != kPattern.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool matches = kPattern[i] == 'h'   ? isHexDigit(c)
                   : kPattern[i] == 'f' ? c >= '0' && c <= '7'
                                        : c == kPattern[i];
    if (!matches) return false;
  }
  return true;
}

// A DPDK vdev: a driver name with instance number, then optional comma-separated arguments
// ("net_af_packet0,iface=veth0"). PCI addresses never match because names start with a letter.
bool isVdev(std::string_view text) {
  std::vector<std::string_view> parts = split(text, ',');
  std::string_view name = parts.front();
  if (name.empty() || !absl::ascii_isalpha(name.front())) return false;
  if (!std::all_of(name.begin(), name.end(),
                   [](char c) { return absl::ascii_isalnum(c) || c == '_'; })) {
    return false;
  }
  return std::all_of(parts.begin() + 1, parts.end(), [](std::string_view arg) {
    return !arg.empty() && std::none_of(arg.begin(), arg.end(), absl::ascii_isspace);
  });
}

bool isUplinkDevice(std::string_view text) { return isPciAddressSyntax(text) || isVdev(text); }

// The name DPDK knows a device by: two uplinks may not share it.
std::string_view dpdkDeviceName(std::string_view device) {
  return device.substr(0, device.find(','));
}

bool isAbsolutePath(std::string_view text) { return text.starts_with('/'); }

// The multicast bit is the lowest bit of the first octet, i.e. of its second hex digit.
bool isUnicastMacAddress(std::string_view text) {
  return isMacAddress(text) &&
         std::string_view("02468aceACE").find(text[1]) != std::string_view::npos;
}

// "host:port" with an IPv4 address, a bracketed IPv6 address or a host name; port 0 asks the
// kernel for a free port (tests).
bool isHostPort(std::string_view text) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view host = text.substr(0, colon);
  unsigned port = 0;
  if (!parseDigits(text.substr(colon + 1), port) || port > 65535) return false;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    return isIpAddress(host.substr(1, host.size() - 2)) && host.find(':') != std::string_view::npos;
  }
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '.';
  });
}

// Three or four octal digits that fit in 0777 ("0660").
bool isFileMode(std::string_view text) {
  unsigned mode = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), mode, 8);
  return (text.size() == 3 || text.size() == 4) && error == std::errc() &&
         end == text.data() + text.size() && mode <= 0777;
}

// "user", "user:group", "uid:gid".
bool isOwner(std::string_view text) {
  std::vector<std::string_view> parts = split(text, ':');
  return parts.size() <= 2 && std::all_of(parts.begin(), parts.end(), [](std::string_view part) {
           return !part.empty() && std::all_of(part.begin(), part.end(), [](char c) {
             return absl::ascii_isalnum(c) || c == '_' || c == '-' || c == '.';
           });
         });
}

bool isPciId(std::string_view text) {
  return text.size() == 4 && std::all_of(text.begin(), text.end(), isHexDigit);
}

bool isDpdkDriver(std::string_view text) {
  return text == kVfioPciDriver || text == kIgbUioDriver || text == kUioPciGenericDriver;
}

// What Linux accepts as an interface name (dev_valid_name()).
bool isInterfaceName(std::string_view text) {
  return !text.empty() && text.size() <= 15 && text != "." && text != ".." &&
         std::none_of(text.begin(), text.end(),
                      [](char c) { return c == '/' || c == ':' || absl::ascii_isspace(c); });
}

bool isPciAddressOrInterface(std::string_view text) {
  return isPciAddressSyntax(text) || isInterfaceName(text);
}

// A lowercase DNS subdomain (RFC 1123), as Kubernetes requires of a resource name's prefix.
bool isDnsSubdomain(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  for (std::string_view label : split(text, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    if (!std::all_of(label.begin(), label.end(), [](char c) {
          return absl::ascii_isdigit(c) || absl::ascii_islower(c) || c == '-';
        })) {
      return false;
    }
  }
  return true;
}

constexpr StringRule kAbsolutePath{isAbsolutePath, "an absolute path"};
constexpr StringRule kPciAddress{isPciAddressSyntax, "a PCI address like 0000:00:06.0"};
constexpr StringRule kUplinkDevice{isUplinkDevice,
                                   "a PCI address like 0000:00:06.0 or a DPDK vdev string like "
                                   "net_af_packet0,iface=veth0"};
constexpr StringRule kNetworkName{isNetworkName, "a name of 1 to 15 characters from [a-z0-9-]"};
constexpr StringRule kMacAddress{isUnicastMacAddress,
                                 "a unicast MAC address like 02:00:00:00:00:01"};
constexpr StringRule kHostPort{isHostPort, "host:port like 127.0.0.1:9640"};
constexpr StringRule kFileMode{isFileMode, "an octal file mode like \"0660\""};
constexpr StringRule kOwner{isOwner, "\"user\", \"user:group\" or \"uid:gid\""};
constexpr StringRule kPciId{isPciId, "4 lowercase hex digits like \"ec20\""};
constexpr StringRule kDpdkDriver{isDpdkDriver, "\"vfio-pci\", \"igb_uio\" or \"uio_pci_generic\""};
constexpr StringRule kInterfaceName{isInterfaceName, "an interface name"};
constexpr StringRule kPciAddressOrInterface{isPciAddressOrInterface,
                                            "a PCI address or an interface name"};
constexpr StringRule kDnsSubdomain{isDnsSubdomain, "a lowercase DNS subdomain like \"dpdk.aws\""};

constexpr EnumName<NetworkMode> kNetworkModes[] = {{"vpc", NetworkMode::Vpc},
                                                   {"l2", NetworkMode::L2}};
constexpr EnumName<PersistMode> kPersistModes[] = {
    {"auto", PersistMode::Auto}, {"always", PersistMode::Always}, {"never", PersistMode::Never}};
constexpr EnumName<NoIommuMode> kNoIommuModes[] = {
    {"auto", NoIommuMode::Auto}, {"always", NoIommuMode::Always}, {"never", NoIommuMode::Never}};
constexpr EnumName<IommuMode> kIommuModes[] = {
    {"auto", IommuMode::Auto}, {"noiommu", IommuMode::NoIommu}, {"required", IommuMode::Required}};
constexpr EnumName<HugepageSize> kHugepageSizes[] = {{"1G", HugepageSize::Size1G},
                                                     {"2M", HugepageSize::Size2M}};
constexpr EnumName<HostExec> kHostExecs[] = {{"direct", HostExec::Direct},
                                             {"nsenter", HostExec::Nsenter}};

// ---- dataplane

std::string enaDevargNames() {
  std::string names;
  for (const EnaDevarg& arg : kEnaDevargs) names += strCat(names.empty() ? "" : ", ", arg.name);
  return names;
}

void parseDevargs(JsonReader& r, std::map<std::string, std::string>& devargs) {
  for (const std::string& key : r.keys()) {
    const auto* arg = std::find_if(std::begin(kEnaDevargs), std::end(kEnaDevargs),
                                   [&](const EnaDevarg& a) { return a.name == key; });
    if (arg == std::end(kEnaDevargs)) {
      return r.fail(clipped(key), strCat("not a device argument of DPDK 22.11's ENA PMD (",
                                         enaDevargNames(), ")"));
    }
    r.readIntegerText(key, devargs[key], arg->min, arg->max);
  }
}

void parseUplink(JsonReader& r, UplinkConfig& uplink) {
  r.require("device");
  r.read("device", uplink.device, kUplinkDevice);
  r.read("queues", uplink.queues, 1, kMaxUplinkQueues);
  r.read("rxDescriptors", uplink.rxDescriptors, kMinUplinkDescriptors, kMaxUplinkDescriptors);
  r.read("txDescriptors", uplink.txDescriptors, kMinUplinkDescriptors, kMaxUplinkDescriptors);
  if (r.has("devargs") && r.ok() && !isPciAddressSyntax(uplink.device)) {
    return r.fail("devargs",
                  "only for a PCI uplink: a vdev's arguments belong in its device string "
                  "(\"net_af_packet0,iface=veth0\")");
  }
  r.readObject("devargs", [&](JsonReader& d) { parseDevargs(d, uplink.devargs); });
}

void parseNetwork(JsonReader& r, NetworkConfig& network) {
  r.require("name");
  r.read("name", network.name, kNetworkName);
  r.readObject("uplink", [&](JsonReader& u) { parseUplink(u, network.uplink.emplace()); });
  network.mode = network.uplink ? NetworkMode::Vpc : NetworkMode::L2;
  r.readEnum("mode", network.mode, kNetworkModes);
  if (network.mode == NetworkMode::Vpc && !network.uplink) {
    r.fail("mode", "\"vpc\" needs an uplink");
  }
  r.read("mtu", network.mtu, kMinMtu, kMaxMtu);
  if (r.has("mac")) {
    r.read("mac", network.mac.emplace(), kMacAddress);
    absl::AsciiStrToLower(&*network.mac);
  }
}

void parseSocket(JsonReader& r, SocketConfig& socket) {
  r.read("owner", socket.owner, kOwner);
  std::string mode;
  r.read("mode", mode, kFileMode);
  if (!mode.empty()) std::from_chars(mode.data(), mode.data() + mode.size(), socket.mode, 8);
}

void parseDataplane(JsonReader& r, DataplaneConfig& config) {
  r.read("eal", config.eal);
  r.read("workers", config.workers, 0, kMaxLcore);
  for (std::size_t i = 0; i < config.workers.size(); ++i) {
    if (std::count(config.workers.begin(), config.workers.begin() + i, config.workers[i]) > 0) {
      r.fail(strCat("workers[", i, "]"), strCat("duplicate lcore ", config.workers[i]));
    }
  }
  r.read("controlSocket", config.controlSocket, kAbsolutePath);
  r.read("stateFile", config.stateFile, kAbsolutePath);
  r.read("cniStateDir", config.cniStateDir, kAbsolutePath);
  r.read("metricsAddress", config.metricsAddress, kHostPort);
  r.readSet("allowedSocketDirs", config.allowedSocketDirs, kAbsolutePath);
  r.readObject("socket", [&](JsonReader& s) { parseSocket(s, config.socket); });
  r.read("mbufs", config.mbufs, kMinMbufs, kMaxMbufs);
  r.read("burstSize", config.burstSize, 1, kMaxBurstSize);
  r.read("macAgingSeconds", config.macAgingSeconds, 1, kMaxMacAgingSeconds);
  r.read("maxPorts", config.maxPorts, 1, kMaxMaxPorts);

  std::set<std::string, std::less<>> names;
  std::map<std::string, std::string, std::less<>> networkByDevice;
  r.readObjects("networks", [&](JsonReader& n) {
    NetworkConfig& network = config.networks.emplace_back();
    parseNetwork(n, network);
    if (!n.ok()) return;
    if (!names.insert(network.name).second) {
      n.fail("name", strCat("duplicate network name \"", network.name, "\""));
    }
    if (!network.uplink) return;
    auto [it, inserted] =
        networkByDevice.emplace(dpdkDeviceName(network.uplink->device), network.name);
    if (!inserted) {
      n.fail("uplink.device", strCat("device \"", clipped(it->first),
                                     "\" is already the uplink of network \"", it->second, "\""));
    }
  });
}

// ---- deviceplugin

void parseEnaResource(JsonReader& r, EnaResourceConfig& ena) {
  r.read("slotsPerNetwork", ena.slotsPerNetwork, 1, kMaxSlotsPerNetwork);
  r.read("dir", ena.dir, kAbsolutePath);
  r.read("containerPath", ena.containerPath, kAbsolutePath);
  if (r.has("slotGroup")) r.read("slotGroup", ena.slotGroup.emplace(), 1, kMaxSlotGroup);
}

void parseEnaDedicatedResource(JsonReader& r, EnaDedicatedResourceConfig& dedicated) {
  r.readSet("vendors", dedicated.vendors, kPciId);
  r.readSet("devices", dedicated.devices, kPciId);
  r.readSet("drivers", dedicated.drivers, kDpdkDriver);
  r.readSet("pciAddresses", dedicated.pciAddresses, kPciAddress);
  r.readSet("exclude", dedicated.exclude, kPciAddress);
  for (std::size_t i = 0; i < dedicated.exclude.size(); ++i) {
    const std::vector<std::string>& included = dedicated.pciAddresses;
    if (std::find(included.begin(), included.end(), dedicated.exclude[i]) != included.end()) {
      r.fail(strCat("exclude[", i, "]"),
             strCat("\"", dedicated.exclude[i], "\" is also in pciAddresses"));
    }
  }
}

// Why `text` cannot be a charge cgroup (a path below the hugetlb hierarchy's root, outside the
// kubelet's pod cgroups, where the pages of every hugepage allocation are charged); empty when
// it can.
std::string chargeCgroupProblem(std::string_view text) {
  if (!text.starts_with('/')) return "expected a cgroup path starting with '/'";
  std::vector<std::string_view> parts = split(text.substr(1), '/');
  if (text == "/") parts.clear();
  for (std::string_view part : parts) {
    if (part.empty() || part == "." || part == "..") {
      return "expected a cgroup path without empty, \".\" or \"..\" components";
    }
  }
  // The kubelet's pods live under /kubepods (cgroupfs driver) or /kubepods.slice (systemd),
  // whose hugetlb limits are what the charge cgroup must stay out of.
  if (!parts.empty() && parts.front().starts_with("kubepods")) {
    return "must not be under the kubelet's /kubepods* cgroups";
  }
  return "";
}

void parseHugepagesResource(JsonReader& r, HugepagesResourceConfig& hugepages) {
  r.read("enabled", hugepages.enabled);
  r.read("mountDir", hugepages.mountDir, kAbsolutePath);
  r.read("containerPath", hugepages.containerPath, kAbsolutePath);
  r.read("chargeCgroup", hugepages.chargeCgroup);
  if (std::string problem = chargeCgroupProblem(hugepages.chargeCgroup); !problem.empty()) {
    r.fail("chargeCgroup", strCat(problem, ", got \"", clipped(hugepages.chargeCgroup), "\""));
  }
}

void parseCdi(JsonReader& r, CdiConfig& cdi) {
  r.read("enabled", cdi.enabled);
  r.read("specDir", cdi.specDir, kAbsolutePath);
}

void parseDeviceplugin(JsonReader& r, DevicepluginConfig& config) {
  r.read("resourcePrefix", config.resourcePrefix, kDnsSubdomain);
  r.readObject("ena", [&](JsonReader& e) { parseEnaResource(e, config.ena); });
  r.readObject("enaDedicated",
               [&](JsonReader& d) { parseEnaDedicatedResource(d, config.enaDedicated); });
  r.readObject("hugepages", [&](JsonReader& h) { parseHugepagesResource(h, config.hugepages); });
  r.readObject("hugepages2Mi",
               [&](JsonReader& h) { parseHugepagesResource(h, config.hugepages2Mi); });
  r.read("cgroupFs", config.cgroupFs, kAbsolutePath);
  r.readObject("cdi", [&](JsonReader& c) { parseCdi(c, config.cdi); });
  r.read("metricsAddress", config.metricsAddress, kHostPort);
}

// ---- nodeprep

void parseHugepages(JsonReader& r, HugepagesConfig& hugepages) {
  r.read("1G", hugepages.pages1G, 0, kMaxHugepages1G);
  r.read("2M", hugepages.pages2M, 0, kMaxHugepages2M);
  r.read("perNumaNode", hugepages.perNumaNode);
  r.readEnum("persist", hugepages.persist, kPersistModes);
}

void parseVfio(JsonReader& r, VfioConfig& vfio) {
  r.readEnum("iommu", vfio.iommu, kIommuModes);
  r.readEnum("noiommu", vfio.noiommu, kNoIommuModes);
  r.read("driver", vfio.driver, kDpdkDriver);
  if (r.ok() && vfio.iommu == IommuMode::Required) {
    // Contradictions, refused here rather than found out on the node.
    if (vfio.noiommu == NoIommuMode::Always) {
      r.fail("iommu", "\"required\" excludes \"noiommu\": \"always\"");
    } else if (vfio.driver != kVfioPciDriver) {
      r.fail("iommu", strCat("\"required\" needs driver \"vfio-pci\" (", vfio.driver,
                             " does not use the IOMMU)"));
    }
  }
}

void parseBind(JsonReader& r, BindConfig& bind) {
  r.readSet("pciAddresses", bind.pciAddresses, kPciAddress);
  r.readSet("interfaces", bind.interfaces, kInterfaceName);
  r.read("allExceptPrimary", bind.allExceptPrimary);
  r.readSet("force", bind.force, kPciAddressOrInterface);
}

void parseNodeprep(JsonReader& r, NodeprepConfig& config) {
  r.readObject("hugepages", [&](JsonReader& h) { parseHugepages(h, config.hugepages); });
  std::set<std::string, std::less<>> paths;
  r.readObjects("mounts", [&](JsonReader& m) {
    HugetlbfsMount& mount = config.mounts.emplace_back();
    m.require("path");
    m.read("path", mount.path, kAbsolutePath);
    m.require("pageSize");
    m.readEnum("pageSize", mount.pageSize, kHugepageSizes);
    if (m.ok() && !paths.insert(mount.path).second) {
      m.fail("path", strCat("duplicate mount point \"", clipped(mount.path), "\""));
    }
  });
  r.readObject("vfio", [&](JsonReader& v) { parseVfio(v, config.vfio); });
  r.readObject("bind", [&](JsonReader& b) { parseBind(b, config.bind); });
  r.readEnum("hostExec", config.hostExec, kHostExecs);
}

// ---- sections

template <typename Config>
absl::StatusOr<Config> parseSection(const nlohmann::json& root, std::string_view name,
                                    void (*parse)(JsonReader&, Config&)) {
  Config config;
  absl::Status status =
      parseConfigSection(root, name, [&](JsonReader& reader) { parse(reader, config); });
  if (!status.ok()) return status;
  return config;
}

template <typename Config>
absl::StatusOr<Config> loadSection(const std::filesystem::path& path,
                                   absl::StatusOr<Config> (*parse)(const nlohmann::json&)) {
  absl::StatusOr<nlohmann::json> root = readJsonFile(path);
  if (!root.ok()) return root.status();
  absl::StatusOr<Config> config = parse(*root);
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        strCat(path.string(), ": ", config.status().message()));
  }
  return config;
}

}  // namespace

absl::Status parseConfigSection(const nlohmann::json& root, std::string_view name,
                                const std::function<void(JsonReader&)>& parse) {
  if (!root.is_object()) {
    return absl::InvalidArgumentError("expected a JSON object at the top level");
  }
  for (const auto& item : root.items()) {
    if (std::find(std::begin(kSections), std::end(kSections), item.key()) == std::end(kSections)) {
      return absl::InvalidArgumentError(strCat(clipped(item.key()), ": unknown section"));
    }
  }
  auto section = root.find(name);
  if (section == root.end()) return absl::OkStatus();
  JsonReader reader(*section, std::string(name));
  parse(reader);
  // The reader's paths quote the file's keys, of any length.
  if (absl::Status status = reader.finish(); !status.ok()) return bounded(status);
  return absl::OkStatus();
}

bool isNetworkName(std::string_view text) {
  return !text.empty() && text.size() <= kMaxNetworkNameLength &&
         std::all_of(text.begin(), text.end(), [](char c) {
           return absl::ascii_isdigit(c) || absl::ascii_islower(c) || c == '-';
         });
}

bool isIpAddress(std::string_view text) {
  std::string address(text);
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(AF_INET, address.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, address.c_str(), buffer) == 1;
}

bool isCidr(std::string_view text) {
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  std::string address(text.substr(0, slash));
  std::string_view prefix = text.substr(slash + 1);
  unsigned char buffer[sizeof(in6_addr)];
  unsigned maxLength = inet_pton(AF_INET, address.c_str(), buffer) == 1    ? 32
                       : inet_pton(AF_INET6, address.c_str(), buffer) == 1 ? 128
                                                                           : 0;
  unsigned length = 0;
  return maxLength > 0 && parseDigits(prefix, length) && length <= maxLength;
}

bool isMacAddress(std::string_view text) {
  if (text.size() != 17) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i % 3 == 2 ? text[i] != ':' : !absl::ascii_isxdigit(text[i])) return false;
  }
  return true;
}

absl::StatusOr<nlohmann::json> readJsonFile(const std::filesystem::path& path) {
  // POSIX I/O rather than iostreams, so that the error says why (errno).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, strCat(path.string(), ": cannot read"));
  std::string text;
  char buffer[8192];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) != 0) {
    if (n > 0) {
      text.append(buffer, static_cast<std::size_t>(n));
    } else if (errno != EINTR) {
      int error = errno;
      ::close(fd);
      return absl::ErrnoToStatus(error, strCat(path.string(), ": cannot read"));
    }
  }
  ::close(fd);

  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix; the rest names line and column.
    std::string_view message = e.what();
    if (std::size_t end = message.find("] "); end != std::string_view::npos) {
      message.remove_prefix(end + 2);
    }
    return bounded(absl::InvalidArgumentError(
        strCat(path.string(), ": invalid JSON: ", parseErrorMessage(message))));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        strCat(path.string(), ": expected a JSON object at the top level"));
  }
  return root;
}

absl::StatusOr<DataplaneConfig> parseDataplaneConfig(const nlohmann::json& root) {
  return parseSection<DataplaneConfig>(root, "dataplane", parseDataplane);
}

absl::StatusOr<DevicepluginConfig> parseDevicepluginConfig(const nlohmann::json& root) {
  return parseSection<DevicepluginConfig>(root, "deviceplugin", parseDeviceplugin);
}

absl::StatusOr<NodeprepConfig> parseNodeprepConfig(const nlohmann::json& root) {
  return parseSection<NodeprepConfig>(root, "nodeprep", parseNodeprep);
}

absl::StatusOr<DataplaneConfig> loadDataplaneConfig(const std::filesystem::path& path) {
  return loadSection<DataplaneConfig>(path, parseDataplaneConfig);
}

absl::StatusOr<DevicepluginConfig> loadDevicepluginConfig(const std::filesystem::path& path) {
  return loadSection<DevicepluginConfig>(path, parseDevicepluginConfig);
}

absl::StatusOr<NodeprepConfig> loadNodeprepConfig(const std::filesystem::path& path) {
  return loadSection<NodeprepConfig>(path, parseNodeprepConfig);
}

}  // namespace enadpdk::common
