#include "nodeprep/nodeprep_config.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "common/json_reader.h"
#include "common/strings.h"

namespace enadpdk::nodeprep {
namespace {

using common::clipped;
using common::EnumName;
using common::HugepageSize;
using common::JsonReader;
using common::kAbsolutePath;
using common::kDpdkDriver;
using common::kPciAddress;
using common::strCat;
using common::StringRule;

// What Linux accepts as an interface name (dev_valid_name()).
bool isInterfaceName(std::string_view text) {
  return !text.empty() && text.size() <= 15 && text != "." && text != ".." &&
         std::none_of(text.begin(), text.end(),
                      [](char c) { return c == '/' || c == ':' || absl::ascii_isspace(c); });
}

bool isPciAddressOrInterface(std::string_view text) {
  return common::isPciAddressSyntax(text) || isInterfaceName(text);
}

// "eni-" and 8 or 17 lowercase hex digits, as EC2 names network interfaces.
bool isEniId(std::string_view text) {
  if (!text.starts_with("eni-")) return false;
  const std::string_view hex = text.substr(4);
  return (hex.size() == 8 || hex.size() == 17) && std::all_of(hex.begin(), hex.end(), [](char c) {
           return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f');
         });
}

// "http://" and a host with an optional port: what the metadata client speaks (no TLS, no path).
bool isHttpEndpoint(std::string_view text) {
  if (!text.starts_with("http://")) return false;
  const std::string_view rest = text.substr(7);
  return !rest.empty() && std::none_of(rest.begin(), rest.end(), [](char c) {
    return c == '/' || c == '?' || c == '#' || c == '@' || absl::ascii_isspace(c) ||
           absl::ascii_iscntrl(c);
  });
}

constexpr StringRule kInterfaceName{isInterfaceName, "an interface name"};
constexpr StringRule kEniId{isEniId, "an ENI ID like eni-0123456789abcdef0"};
constexpr StringRule kHttpEndpoint{isHttpEndpoint, "http://host or http://host:port"};
constexpr StringRule kPciAddressOrInterface{isPciAddressOrInterface,
                                            "a PCI address or an interface name"};

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
    } else if (vfio.driver != common::kVfioPciDriver) {
      r.fail("iommu", strCat("\"required\" needs driver \"vfio-pci\" (", vfio.driver,
                             " does not use the IOMMU)"));
    }
  }
}

void parseBind(JsonReader& r, BindConfig& bind) {
  r.readSet("pciAddresses", bind.pciAddresses, kPciAddress);
  r.readSet("interfaces", bind.interfaces, kInterfaceName);
  r.read("deviceIndices", bind.deviceIndices, 0, kMaxDeviceIndex);
  std::set<unsigned> indices;
  for (unsigned index : bind.deviceIndices) {
    if (r.ok() && !indices.insert(index).second) {
      r.fail("deviceIndices", strCat("duplicate device index ", index));
    }
  }
  r.readSet("eniIds", bind.eniIds, kEniId);
  r.readSet("macs", bind.macs, common::kMacAddress);
  std::set<std::string> macs;
  for (std::string& mac : bind.macs) {
    absl::AsciiStrToLower(&mac);
    if (r.ok() && !macs.insert(mac).second) r.fail("macs", strCat("duplicate MAC ", mac));
  }
  r.read("allExceptPrimary", bind.allExceptPrimary);
  r.readSet("force", bind.force, kPciAddressOrInterface);
}

void parseImds(JsonReader& r, ImdsConfig& imds) {
  r.read("endpoint", imds.endpoint, kHttpEndpoint);
  r.read("timeoutMs", imds.timeoutMs, 1, kMaxImdsTimeoutMs);
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
  r.readObject("imds", [&](JsonReader& i) { parseImds(i, config.imds); });
  r.readEnum("hostExec", config.hostExec, kHostExecs);
}

}  // namespace

absl::StatusOr<NodeprepConfig> parseNodeprepConfig(const nlohmann::json& root) {
  return common::parseSection<NodeprepConfig>(root, "nodeprep", parseNodeprep);
}

absl::StatusOr<NodeprepConfig> loadNodeprepConfig(const std::filesystem::path& path) {
  return common::loadSection<NodeprepConfig>(path, parseNodeprepConfig);
}

}  // namespace enadpdk::nodeprep
