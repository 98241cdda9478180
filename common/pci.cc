#include "common/pci.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "common/atomic_file.h"
#include "common/strings.h"

namespace enadpdk::common {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPciDevicesDir = "/sys/bus/pci/devices";
constexpr std::array<std::string_view, 4> kEnaDevices = {kEnaVfDeviceId, kEnaVfLlqDeviceId, "0ec2",
                                                         "1ec2"};
constexpr std::array<std::string_view, 2> kUioDrivers = {kIgbUioDriver, kUioPciGenericDriver};

bool isLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool contains(const auto& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// The sorted entry names of a directory; NotFound when it does not exist.
absl::StatusOr<std::vector<std::string>> listDir(const fs::path& dir) {
  std::error_code ec;
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec == std::errc::no_such_file_or_directory) {
    return absl::NotFoundError(strCat(dir.string(), " does not exist"));
  }
  if (ec) return absl::InternalError(strCat("cannot list ", dir.string(), ": ", ec.message()));
  std::sort(names.begin(), names.end());
  return names;
}

// A sysfs attribute without its trailing newline; NotFound when the file does not exist.
absl::StatusOr<std::string> readAttribute(const fs::path& path) {
  absl::StatusOr<std::string> text = readFile(path);
  if (!text.ok()) return text.status();
  return std::string(absl::StripTrailingAsciiWhitespace(*text));
}

// The file name of a symlink's target ("vfio-pci" for driver -> ../../../bus/pci/drivers/vfio-pci);
// empty when the link does not exist.
absl::StatusOr<std::string> linkTargetName(const fs::path& link) {
  std::error_code ec;
  fs::path target = fs::read_symlink(link, ec);
  if (ec == std::errc::no_such_file_or_directory) return std::string();
  if (ec)
    return absl::InternalError(strCat("cannot read link ", link.string(), ": ", ec.message()));
  return target.filename().string();
}

absl::Status malformed(const fs::path& path, std::string_view text) {
  return absl::InternalError(strCat("malformed ", path.string(), ": \"", text, "\""));
}

// Reads a "0x1d0f"-style ID file as `digits` lowercase hex digits without the prefix.
absl::StatusOr<std::string> readHexId(const fs::path& path, size_t digits) {
  absl::StatusOr<std::string> text = readAttribute(path);
  if (!text.ok()) return text.status();
  std::string id = absl::AsciiStrToLower(*text);
  if (id.starts_with("0x")) id.erase(0, 2);
  if (id.size() != digits || !isLowerHex(id)) return malformed(path, *text);
  return id;
}

absl::StatusOr<std::optional<int>> readNumaNode(const fs::path& path) {
  absl::StatusOr<std::string> text = readAttribute(path);
  if (absl::IsNotFound(text.status())) return std::nullopt;
  if (!text.ok()) return text.status();
  int node = 0;
  if (!absl::SimpleAtoi(*text, &node) || node < -1) return malformed(path, *text);
  if (node == -1) return std::nullopt;
  return node;
}

absl::Status readIommuGroup(const HostRoot& root, const fs::path& dir, PciDevice& device) {
  absl::StatusOr<std::string> group = linkTargetName(dir / "iommu_group");
  if (!group.ok()) return group.status();
  if (group->empty()) return absl::OkStatus();
  int number = 0;
  if (!absl::SimpleAtoi(*group, &number) || number < 0)
    return malformed(dir / "iommu_group", *group);
  device.iommu_group = number;
  absl::StatusOr<std::string> name =
      readAttribute(root.path(strCat("/sys/kernel/iommu_groups/", number, "/name")));
  // Only groups that have a name carry the file; vfio names its no-IOMMU groups.
  if (!name.ok() && !absl::IsNotFound(name.status())) return name.status();
  device.noiommu = name.ok() && *name == "vfio-noiommu";
  return absl::OkStatus();
}

absl::StatusOr<PciDevice> readDeviceDir(const HostRoot& root, const fs::path& dir,
                                        std::string address) {
  PciDevice device{.address = std::move(address)};
  absl::StatusOr<std::string> vendor = readHexId(dir / "vendor", 4);
  if (!vendor.ok()) return vendor.status();
  device.vendor = *std::move(vendor);
  absl::StatusOr<std::string> id = readHexId(dir / "device", 4);
  if (!id.ok()) return id.status();
  device.device = *std::move(id);
  absl::StatusOr<std::string> class_code = readHexId(dir / "class", 6);
  if (!class_code.ok()) return class_code.status();
  device.class_code = *std::move(class_code);

  absl::StatusOr<std::string> driver = linkTargetName(dir / "driver");
  if (!driver.ok()) return driver.status();
  device.driver = *std::move(driver);
  if (absl::Status status = readIommuGroup(root, dir, device); !status.ok()) return status;
  absl::StatusOr<std::optional<int>> numa_node = readNumaNode(dir / "numa_node");
  if (!numa_node.ok()) return numa_node.status();
  device.numa_node = *numa_node;

  absl::StatusOr<std::vector<std::string>> netdevs = listDir(dir / "net");
  if (netdevs.ok()) {
    device.netdevs = *std::move(netdevs);
  } else if (!absl::IsNotFound(netdevs.status())) {
    return netdevs.status();
  }
  absl::StatusOr<std::string> driver_override = readAttribute(dir / "driver_override");
  if (driver_override.ok() && *driver_override != "(null)") {
    device.driver_override = *std::move(driver_override);
  } else if (!driver_override.ok() && !absl::IsNotFound(driver_override.status())) {
    return driver_override.status();
  }
  return device;
}

}  // namespace

bool isPciAddress(std::string_view address) {
  // "<domain>:" followed by exactly "bb:dd.f".
  size_t colon = address.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view domain = address.substr(0, colon);
  std::string_view rest = address.substr(colon + 1);
  if (domain.size() < 4 || domain.size() > 8 || !isLowerHex(domain)) return false;
  // Longer domains are printed without leading zeros.
  if (domain.size() > 4 && domain.front() == '0') return false;
  if (rest.size() != 7 || rest[2] != ':' || rest[5] != '.') return false;
  std::string_view bus = rest.substr(0, 2);
  std::string_view slot = rest.substr(3, 2);
  char function = rest[6];
  return isLowerHex(bus) && isLowerHex(slot) && slot <= "1f" && function >= '0' && function <= '7';
}

absl::StatusOr<std::string> normalizePciAddress(std::string_view address) {
  std::string canonical = absl::AsciiStrToLower(absl::string_view(address.data(), address.size()));
  if (std::count(canonical.begin(), canonical.end(), ':') == 1) canonical.insert(0, "0000:");
  if (!isPciAddress(canonical)) {
    return absl::InvalidArgumentError(
        strCat("invalid PCI address \"", address,
               "\": expected [domain:]bus:device.function in hex, e.g. 0000:00:06.0 or 00:06.0"));
  }
  return canonical;
}

bool PciDevice::isEna() const { return vendor == kEnaVendorId && contains(kEnaDevices, device); }

bool isDpdkDriver(std::string_view driver) {
  return driver == kVfioPciDriver || contains(kUioDrivers, driver);
}

bool PciDevice::isDpdkBound() const { return isDpdkDriver(driver); }

absl::StatusOr<std::vector<PciDevice>> listPciDevices(const HostRoot& root) {
  const fs::path dir = root.path(kPciDevicesDir);
  absl::StatusOr<std::vector<std::string>> names = listDir(dir);
  if (!names.ok()) {
    return absl::Status(names.status().code(),
                        strCat("cannot list PCI devices: ", toStd(names.status().message())));
  }
  std::vector<PciDevice> devices;
  for (std::string& name : *names) {
    if (!isPciAddress(name)) continue;
    const fs::path device_dir = dir / name;
    absl::StatusOr<PciDevice> device = readDeviceDir(root, device_dir, std::move(name));
    if (device.ok()) {
      devices.push_back(*std::move(device));
      continue;
    }
    // A device unplugged between listing and reading is simply gone.
    std::error_code ec;
    if (fs::exists(device_dir, ec)) return device.status();
  }
  return devices;
}

absl::StatusOr<PciDevice> readPciDevice(const HostRoot& root, std::string_view address) {
  absl::StatusOr<std::string> canonical = normalizePciAddress(address);
  if (!canonical.ok()) return canonical.status();
  const fs::path dir = root.path(kPciDevicesDir) / *canonical;
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    return absl::NotFoundError(
        strCat("PCI device ", *canonical, " not found: ", dir.string(), " does not exist"));
  }
  return readDeviceDir(root, dir, *std::move(canonical));
}

absl::StatusOr<std::string> pciAddressOfNetdev(const HostRoot& root, std::string_view ifname) {
  // The kernel's dev_valid_name(): 1-15 bytes, not "." or "..", no '/', ':' or whitespace.
  if (ifname.empty() || ifname.size() > 15 || ifname == "." || ifname == ".." ||
      ifname.find_first_of("/: \t\n\v\f\r") != std::string_view::npos) {
    return absl::InvalidArgumentError(strCat("invalid network interface name \"", ifname, "\""));
  }
  const fs::path iface = root.path("/sys/class/net") / ifname;
  std::error_code ec;
  if (!fs::exists(iface, ec)) {
    return absl::NotFoundError(
        strCat("network interface ", ifname, " not found: ", iface.string(), " does not exist"));
  }
  absl::StatusOr<std::string> address = linkTargetName(iface / "device");
  if (!address.ok()) return address.status();
  if (address->empty()) {
    return absl::NotFoundError(
        strCat("network interface ", ifname, " has no device (a virtual interface)"));
  }
  if (!isPciAddress(*address)) {
    return absl::NotFoundError(
        strCat("network interface ", ifname, " is not a PCI device (device ", *address, ")"));
  }
  return address;
}

absl::StatusOr<std::vector<std::string>> dpdkDeviceNodes(const HostRoot& root,
                                                         const PciDevice& device) {
  if (device.driver == kVfioPciDriver) {
    if (!device.iommu_group) {
      return absl::FailedPreconditionError(
          strCat("PCI device ", device.address, " is bound to vfio-pci but has no IOMMU group"));
    }
    return std::vector<std::string>{
        "/dev/vfio/vfio",
        strCat("/dev/vfio/", device.noiommu ? "noiommu-" : "", *device.iommu_group)};
  }
  if (contains(kUioDrivers, device.driver)) {
    const fs::path uio_dir = root.path(kPciDevicesDir) / device.address / "uio";
    absl::StatusOr<std::vector<std::string>> names = listDir(uio_dir);
    if (!names.ok() && !absl::IsNotFound(names.status())) return names.status();
    if (names.ok()) {
      for (const std::string& name : *names) {
        if (name.starts_with("uio")) return std::vector<std::string>{strCat("/dev/", name)};
      }
    }
    return absl::FailedPreconditionError(strCat("PCI device ", device.address, " is bound to ",
                                                device.driver, " but has no uio device in ",
                                                uio_dir.string()));
  }
  return absl::FailedPreconditionError(strCat("PCI device ", device.address,
                                              " is not bound to a DPDK driver (driver: ",
                                              device.driver.empty() ? "none" : device.driver, ")"));
}

}  // namespace enadpdk::common
