#include "deviceplugin/device_info.h"

#include <algorithm>

#include "common/atomic_file.h"
#include "common/device_info.h"
#include "common/strings.h"
#include "deviceplugin/plugin_config.h"

namespace enadpdk::deviceplugin {

std::filesystem::path deviceInfoPath(const std::string& resourceName, const std::string& deviceId) {
  std::string resource = resourceName;
  std::replace(resource.begin(), resource.end(), '/', '-');
  std::string device = deviceId;
  std::replace(device.begin(), device.end(), '/', '-');
  return std::filesystem::path(kDeviceInfoDir) /
         common::strCat(resource, "-", device, "-device.json");
}

absl::Status writePciDeviceInfo(const common::HostRoot& root, const std::string& resourceName,
                                const std::string& pciAddress) {
  const std::filesystem::path path = root.path(deviceInfoPath(resourceName, pciAddress).string());
  if (absl::Status status = common::makeDirectories(path.parent_path(), 0700); !status.ok()) {
    return status;
  }
  return common::writeFileAtomic(path, common::pciDeviceInfo(pciAddress), 0444);
}

}  // namespace enadpdk::deviceplugin
