#include "deviceplugin/cdi_spec.h"

#include <algorithm>

#include "common/atomic_file.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace enadpdk::deviceplugin {

std::string cdiDeviceName(const std::string& pciAddress) {
  std::string name = pciAddress;
  std::replace(name.begin(), name.end(), ':', '-');
  return name;
}

std::string cdiQualifiedName(const std::string& resourceName, const std::string& pciAddress) {
  return common::strCat(resourceName, "=", cdiDeviceName(pciAddress));
}

std::filesystem::path cdiSpecPath(const std::string& specDir, const std::string& resourceName,
                                  const std::string& pciAddress) {
  std::string kind = resourceName;
  std::replace(kind.begin(), kind.end(), '/', '_');
  return std::filesystem::path(specDir) /
         common::strCat(kind, "_", cdiDeviceName(pciAddress), ".json");
}

std::string cdiSpec(const std::string& resourceName, const std::string& pciAddress,
                    const std::vector<DeviceNode>& nodes) {
  nlohmann::json deviceNodes = nlohmann::json::array();
  for (const DeviceNode& node : nodes) {
    deviceNodes.push_back({{"path", node.containerPath},
                           {"hostPath", node.hostPath},
                           {"permissions", node.permissions}});
  }
  nlohmann::json spec = {
      {"cdiVersion", kCdiVersion},
      {"kind", resourceName},
      {"devices",
       {{{"name", cdiDeviceName(pciAddress)}, {"containerEdits", {{"deviceNodes", deviceNodes}}}}}},
  };
  return spec.dump(2);
}

absl::Status writeCdiSpec(const common::HostRoot& root, const std::string& specDir,
                          const std::string& resourceName, const std::string& pciAddress,
                          const std::vector<DeviceNode>& nodes) {
  const std::filesystem::path path =
      root.path(cdiSpecPath(specDir, resourceName, pciAddress).string());
  if (absl::Status status = common::makeDirectories(path.parent_path(), 0755); !status.ok()) {
    return status;
  }
  return common::writeFileAtomic(path, cdiSpec(resourceName, pciAddress, nodes), 0644);
}

}  // namespace enadpdk::deviceplugin
