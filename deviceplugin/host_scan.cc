#include "deviceplugin/host_scan.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "common/atomic_file.h"
#include "common/strings.h"
#include "deviceplugin/hugepage_layout.h"

namespace enadpdk::deviceplugin {
namespace {

namespace fs = std::filesystem;

constexpr char kNodeDir[] = "/sys/devices/system/node";
constexpr char kGlobalHugepagesDir[] = "/sys/kernel/mm/hugepages";

// A missing counter means the size is not supported: zero pages.
absl::StatusOr<unsigned> readPageCount(const fs::path& file) {
  absl::StatusOr<std::string> text = common::readFile(file);
  if (absl::IsNotFound(text.status())) return 0u;
  if (!text.ok()) return text.status();
  std::string_view digits = common::toStd(absl::StripAsciiWhitespace(*text));
  unsigned value = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size()) {
    return absl::InternalError(common::strCat("malformed ", file.string(), ": \"", digits, "\""));
  }
  return value;
}

absl::StatusOr<std::vector<HugepageNode>> scanHugepages(const common::HostRoot& root,
                                                        common::HugepageSize size) {
  const fs::path sizeDir(hugepageKind(size).sysfsDir);
  std::vector<HugepageNode> nodes;
  std::error_code ec;
  for (fs::directory_iterator it(root.path(kNodeDir), ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    int node = 0;
    if (!name.starts_with("node")) continue;
    auto [ptr, error] = std::from_chars(name.data() + 4, name.data() + name.size(), node);
    if (error != std::errc() || ptr != name.data() + name.size() || name.size() == 4) continue;
    absl::StatusOr<unsigned> free =
        readPageCount(it->path() / "hugepages" / sizeDir / "free_hugepages");
    if (!free.ok()) return free.status();
    nodes.push_back({.node = node, .freePages = *free});
  }
  if (!nodes.empty()) {
    std::sort(nodes.begin(), nodes.end(),
              [](const HugepageNode& a, const HugepageNode& b) { return a.node < b.node; });
    return nodes;
  }
  absl::StatusOr<unsigned> free =
      readPageCount(root.path(kGlobalHugepagesDir) / sizeDir / "free_hugepages");
  if (!free.ok()) return free.status();
  nodes.push_back({.node = std::nullopt, .freePages = *free});
  return nodes;
}

}  // namespace

const common::PciDevice* HostState::findPciDevice(std::string_view address) const {
  auto it = std::lower_bound(
      pciDevices.begin(), pciDevices.end(), address,
      [](const common::PciDevice& device, std::string_view a) { return device.address < a; });
  return it != pciDevices.end() && it->address == address ? &*it : nullptr;
}

const std::vector<HugepageNode>& HostState::hugepageNodes(common::HugepageSize size) const {
  switch (size) {
    case common::HugepageSize::Size1G:
      return hugepages;
    case common::HugepageSize::Size2M:
      return hugepages2M;
  }
  return hugepages;  // unreachable: the switch is exhaustive
}

absl::StatusOr<HostState> scanHost(const common::HostRoot& root) {
  HostState state;
  absl::StatusOr<std::vector<common::PciDevice>> devices = common::listPciDevices(root);
  if (!devices.ok()) return devices.status();
  state.pciDevices = std::move(*devices);
  absl::StatusOr<std::vector<HugepageNode>> hugepages =
      scanHugepages(root, common::HugepageSize::Size1G);
  if (!hugepages.ok()) return hugepages.status();
  state.hugepages = std::move(*hugepages);
  absl::StatusOr<std::vector<HugepageNode>> hugepages2M =
      scanHugepages(root, common::HugepageSize::Size2M);
  if (!hugepages2M.ok()) return hugepages2M.status();
  state.hugepages2M = std::move(*hugepages2M);
  return state;
}

}  // namespace enadpdk::deviceplugin
