#include "tests/support/fake_kernel.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace enadpdk::testing {
namespace {

constexpr std::string_view kNoiommu = "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode";

std::string trimmed(std::string_view s) {
  std::string out(s);
  absl::StripAsciiWhitespace(&out);
  return out;
}

std::optional<HugepageSize> sizeOfPath(std::string_view path) {
  if (path.find("hugepages-1048576kB") != std::string_view::npos) return HugepageSize::Size1G;
  if (path.find("hugepages-2048kB") != std::string_view::npos) return HugepageSize::Size2M;
  return std::nullopt;
}

std::string sizeDir(HugepageSize size) {
  return size == HugepageSize::Size1G ? "hugepages-1048576kB" : "hugepages-2048kB";
}

}  // namespace

FakeKernel& FakeKernel::limitHugepages(HugepageSize size, int pages) {
  limits_[size] = pages;
  return *this;
}

FakeKernel& FakeKernel::setNativeDriver(std::string_view address, std::string_view driver) {
  native_drivers_[std::string(address)] = driver;
  return *this;
}

std::string FakeKernel::hostPathOf(std::string_view path) const {
  return host_.hostRoot().hostPath(std::filesystem::path(path)).string();
}

absl::Status FakeKernel::write(std::string_view host_path, std::string_view value) {
  if (!host_.exists(host_path)) {
    return absl::NotFoundError(std::string(host_path) + ": no such file");
  }
  const std::string text = trimmed(value);
  const std::string path(host_path);
  if (path.ends_with("/nr_hugepages")) {
    int requested = 0;
    if (!absl::SimpleAtoi(text, &requested) || requested < 0) {
      return absl::InvalidArgumentError(path + ": Invalid argument");
    }
    writeHugepages(path, requested);
    return absl::OkStatus();
  }
  if (path == kNoiommu) {
    host_.writeFile(path, text == "1" || text == "Y" || text == "y" ? "Y\n" : "N\n");
    return absl::OkStatus();
  }
  if (path.ends_with("/driver_override")) {
    host_.writeFile(path, (text.empty() ? "(null)" : text) + "\n");
    return absl::OkStatus();
  }
  if (path.starts_with("/sys/bus/pci/drivers/") && path.ends_with("/unbind")) {
    if (!host_.exists("/sys/bus/pci/devices/" + text + "/driver")) {
      return absl::NotFoundError(path + ": No such device");
    }
    host_.setDriver(text, "");
    return absl::OkStatus();
  }
  if (path == "/sys/bus/pci/drivers_probe") {
    probe(text);
    return absl::OkStatus();
  }
  host_.writeFile(path, value);
  return absl::OkStatus();
}

void FakeKernel::writeHugepages(std::string_view host_path, int requested) {
  const HugepageSize size = *sizeOfPath(host_path);
  // Pages held elsewhere count against the limit: per-node files compete with the other nodes.
  std::vector<int> nodes;
  for (int node = 0; node < 64; ++node) {
    if (host_.exists("/sys/devices/system/node/node" + std::to_string(node))) nodes.push_back(node);
  }
  auto nodeFile = [&](int node) {
    return "/sys/devices/system/node/node" + std::to_string(node) + "/hugepages/" + sizeDir(size) +
           "/nr_hugepages";
  };
  auto count = [&](const std::string& file) {
    int n = 0;
    return absl::SimpleAtoi(trimmed(host_.readFile(file)), &n) ? n : 0;
  };
  const auto limit = limits_.find(size);
  const bool per_node = host_path.starts_with("/sys/devices/system/node/");
  if (per_node) {
    int others = 0;
    for (int node : nodes) {
      if (nodeFile(node) != host_path) others += count(nodeFile(node));
    }
    int granted = requested;
    if (limit != limits_.end()) granted = std::min(granted, std::max(0, limit->second - others));
    // "/sys/devices/system/node/node<N>/hugepages/..."
    const int node = std::stoi(std::string(host_path.substr(host_path.find("/node", 24) + 5)));
    const std::string free_file =
        std::string(host_path.substr(0, host_path.rfind('/'))) + "/free_hugepages";
    const int old_nr = count(std::string(host_path));
    const int old_free = count(free_file);
    host_.setHugepages(node, size, granted, std::max(0, old_free + granted - old_nr));
    return;
  }
  int granted = requested;
  if (limit != limits_.end()) granted = std::min(granted, limit->second);
  if (nodes.empty()) {
    const std::string dir = "/sys/kernel/mm/hugepages/" + sizeDir(size);
    host_.writeFile(dir + "/nr_hugepages", std::to_string(granted) + "\n");
    host_.writeFile(dir + "/free_hugepages", std::to_string(granted) + "\n");
    return;
  }
  // The kernel spreads a system-wide reservation over the nodes.
  for (size_t i = 0; i < nodes.size(); ++i) {
    const int share = granted / static_cast<int>(nodes.size()) +
                      (static_cast<int>(i) < granted % static_cast<int>(nodes.size()) ? 1 : 0);
    host_.setHugepages(nodes[i], size, share, share);
  }
}

void FakeKernel::probe(const std::string& address) {
  const std::string dir = "/sys/bus/pci/devices/" + address;
  if (!host_.exists(dir) || host_.exists(dir + "/driver")) return;
  std::string driver = trimmed(host_.readFile(dir + "/driver_override"));
  if (driver.empty() || driver == "(null)") {
    auto native = native_drivers_.find(address);
    driver = native != native_drivers_.end() ? native->second : "ena";
  }
  if (!host_.exists("/sys/bus/pci/drivers/" + driver)) return;  // no such driver loaded
  if (driver == "vfio-pci" && !host_.exists(dir + "/iommu_group")) {
    // "probe of ... failed with error -22": vfio needs an IOMMU group or no-IOMMU mode. (The
    // FakeHost cannot add a no-IOMMU group to an existing device; the device is bound without.)
    const bool noiommu = host_.exists(std::string(kNoiommu)) &&
                         trimmed(host_.readFile(std::string(kNoiommu))) == "Y";
    if (!noiommu) return;
  }
  host_.setDriver(address, driver);
}

void FakeKernel::commandRan(const std::vector<std::string>& argv) {
  if (argv.empty()) return;
  if (argv[0] == "modprobe" && argv.size() >= 2) {
    host_.loadModule(argv[1]);
    return;
  }
  if (argv[0] == "rmmod" && argv.size() == 2) {
    host_.unloadModule(argv[1]);
    return;
  }
  if (argv[0] == "umount" && argv.size() == 2) {
    host_.removeMount(hostPathOf(argv[1]));
    return;
  }
  if (argv[0] == "mount" && argv.size() == 7 && argv[1] == "-t" && argv[2] == "hugetlbfs" &&
      argv[3] == "-o") {
    // The kernel shows 1G as "1024M".
    std::string options = argv[4] == "pagesize=1G" ? "pagesize=1024M" : argv[4];
    host_.addMount({.source = argv[5],
                    .target = hostPathOf(argv[6]),
                    .fstype = "hugetlbfs",
                    .options = "rw,relatime," + options});
  }
}

}  // namespace enadpdk::testing
