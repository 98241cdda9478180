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

constexpr StringRule kInterfaceName{isInterfaceName, "an interface name"};
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

}  // namespace

absl::StatusOr<NodeprepConfig> parseNodeprepConfig(const nlohmann::json& root) {
  return common::parseSection<NodeprepConfig>(root, "nodeprep", parseNodeprep);
}

absl::StatusOr<NodeprepConfig> loadNodeprepConfig(const std::filesystem::path& path) {
  return common::loadSection<NodeprepConfig>(path, parseNodeprepConfig);
}

}  // namespace enadpdk::nodeprep
