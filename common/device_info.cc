#include "common/device_info.h"

#include <nlohmann/json.hpp>

#include "common/json_text.h"

namespace enadpdk::common {

std::string pciDeviceInfo(std::string_view pciAddress) {
  return dumpJson(nlohmann::json{
      {"type", "pci"}, {"version", "1.1.0"}, {"pci", {{"pci-address", std::string(pciAddress)}}}});
}

}  // namespace enadpdk::common
