#include "deviceplugin/charge_cgroups.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "common/atomic_file.h"
#include "common/strings.h"

namespace enadpdk::deviceplugin {
namespace {

namespace fs = std::filesystem;

// Whether a cgroup.controllers file lists hugetlb (a space-separated list).
bool listsHugetlb(const fs::path& controllers) {
  absl::StatusOr<std::string> text = common::readFile(controllers);
  if (!text.ok()) return false;
  std::string_view rest = *text;
  while (!rest.empty()) {
    const std::size_t end = rest.find_first_of(" \n");
    if (rest.substr(0, end) == "hugetlb") return true;
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  return false;
}

// Enabling a controller in cgroup.subtree_control is best effort: it fails where the kernel or
// a container runtime does not allow it, and the charges then go to the nearest ancestor that
// has the controller.
void enableHugetlb(const fs::path& cgroup) {
  const int fd = ::open((cgroup / "cgroup.subtree_control").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  constexpr std::string_view kEnable = "+hugetlb";
  [[maybe_unused]] const ssize_t written = ::write(fd, kEnable.data(), kEnable.size());
  ::close(fd);
}

absl::Status makeCgroup(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) return absl::OkStatus();
  return absl::FailedPreconditionError(
      common::strCat("cannot create cgroup ", dir.string(), ": ", std::strerror(errno)));
}

}  // namespace

HugetlbHierarchy findHugetlbHierarchy(const common::HostRoot& root, const std::string& cgroupFs) {
  const fs::path base(cgroupFs);
  if (listsHugetlb(root.path(cgroupFs) / "cgroup.controllers")) {
    return {.kind = HugetlbHierarchyKind::V2, .path = base.string()};
  }
  if (listsHugetlb(root.path(cgroupFs) / "unified" / "cgroup.controllers")) {
    return {.kind = HugetlbHierarchyKind::V2, .path = (base / "unified").string()};
  }
  std::error_code ec;
  if (fs::is_directory(root.path(cgroupFs) / "hugetlb", ec)) {
    return {.kind = HugetlbHierarchyKind::V1, .path = (base / "hugetlb").string()};
  }
  return {};
}

ChargeCgroups::ChargeCgroups(const common::HostRoot& root, HugetlbHierarchy hierarchy,
                             std::string chargeCgroup)
    : root_(root), hierarchy_(std::move(hierarchy)), chargeCgroup_(std::move(chargeCgroup)) {}

fs::path ChargeCgroups::path(const std::string& id) const {
  if (hierarchy_.kind == HugetlbHierarchyKind::None) return {};
  return fs::path(root_.path(hierarchy_.path)) / fs::path(chargeCgroup_).relative_path() / id;
}

absl::StatusOr<fs::path> ChargeCgroups::create(const std::string& id) const {
  switch (hierarchy_.kind) {
    case HugetlbHierarchyKind::None:
      return fs::path();
    case HugetlbHierarchyKind::V1:
      break;
    case HugetlbHierarchyKind::V2: {
      // v2 charges a cgroup only when every ancestor enables the controller for its children.
      fs::path dir = root_.path(hierarchy_.path);
      enableHugetlb(dir);
      for (const fs::path& part : fs::path(chargeCgroup_).relative_path()) {
        dir /= part;
        if (absl::Status status = makeCgroup(dir); !status.ok()) return status;
        enableHugetlb(dir);
      }
      break;
    }
  }
  const fs::path dir = path(id);
  if (hierarchy_.kind == HugetlbHierarchyKind::V1) {
    if (absl::Status status = common::makeDirectories(dir.parent_path(), 0755); !status.ok()) {
      return absl::FailedPreconditionError(status.message());
    }
  }
  if (::mkdir(dir.c_str(), 0755) != 0) {
    return absl::FailedPreconditionError(
        common::strCat("cannot create cgroup ", dir.string(), ": ", std::strerror(errno)));
  }
  return dir / "cgroup.procs";
}

absl::Status ChargeCgroups::remove(const std::string& id) const {
  if (hierarchy_.kind == HugetlbHierarchyKind::None) return absl::OkStatus();
  const fs::path dir = path(id);
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return absl::OkStatus();
  return absl::InternalError(
      common::strCat("cannot remove cgroup ", dir.string(), ": ", std::strerror(errno)));
}

}  // namespace enadpdk::deviceplugin
