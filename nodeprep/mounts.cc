#include "nodeprep/mounts.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/atomic_file.h"
#include "common/strings.h"

namespace enadpdk::nodeprep {
namespace {

using common::strCat;
using common::toStd;

constexpr char kHugetlbfs[] = "hugetlbfs";

// Decodes the kernel's octal escapes for space, tab, newline and backslash.
std::string unescape(absl::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const absl::string_view digits = field.substr(i + 1, 3);
      if (std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        out +=
            static_cast<char>((digits[0] - '0') * 64 + (digits[1] - '0') * 8 + (digits[2] - '0'));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

std::string pageSizeOption(common::HugepageSize size) {
  return strCat("pagesize=", hugepageSizeInfo(size).label);
}

// The mount command as the host sees it, for the report.
std::string mountDescription(const HugetlbfsMount& m) {
  return strCat("mount -t hugetlbfs -o ", pageSizeOption(m.pageSize), " nodev ", m.path);
}

// The entry mounted on top at `target` (the last one listed), if any.
const MountEntry* topMount(const std::vector<MountEntry>& table, std::string_view target) {
  const MountEntry* found = nullptr;
  for (const MountEntry& entry : table) {
    if (entry.target == target) found = &entry;
  }
  return found;
}

// OK when hugetlbfs of the right size is mounted at the path, NotFound when nothing is,
// FailedPrecondition for anything else there.
absl::Status checkMounted(const std::vector<MountEntry>& table, const HugetlbfsMount& m) {
  const MountEntry* entry = topMount(table, m.path);
  if (entry == nullptr) return absl::NotFoundError(strCat(m.path, " is not mounted"));
  const HugepageSizeInfo info = hugepageSizeInfo(m.pageSize);
  if (entry->fstype != kHugetlbfs) {
    return absl::FailedPreconditionError(strCat(m.path, " already has a ", entry->fstype,
                                                " mount; unmount it or choose another "
                                                "path for the ",
                                                info.label, " hugetlbfs"));
  }
  if (hugetlbfsPageKib(*entry) != info.kib) {
    return absl::FailedPreconditionError(
        strCat(m.path, " is a hugetlbfs mount with options \"", entry->options, "\", not ",
               pageSizeOption(m.pageSize), "; unmount it or choose another path"));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<MountEntry> parseMountTable(std::string_view table) {
  std::vector<MountEntry> entries;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(table.data(), table.size()), '\n')) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() < 4) continue;
    entries.push_back({.source = unescape(fields[0]),
                       .target = unescape(fields[1]),
                       .fstype = unescape(fields[2]),
                       .options = unescape(fields[3])});
  }
  return entries;
}

absl::StatusOr<std::vector<MountEntry>> readMountTable(const common::HostRoot& root) {
  absl::StatusOr<std::string> table = common::readFile(root.path("/proc/1/mounts"));
  if (!table.ok()) table = common::readFile(root.path("/proc/mounts"));
  if (!table.ok()) {
    return absl::Status(table.status().code(),
                        strCat("cannot read the mount table: ", toStd(table.status().message())));
  }
  return parseMountTable(*table);
}

std::optional<uint64_t> hugetlbfsPageKib(const MountEntry& entry) {
  for (absl::string_view option : absl::StrSplit(entry.options, ',')) {
    if (!absl::ConsumePrefix(&option, "pagesize=")) continue;
    if (option.empty()) return std::nullopt;
    uint64_t multiplier = 1;
    switch (absl::ascii_toupper(static_cast<unsigned char>(option.back()))) {
      case 'K':
        multiplier = 1;
        break;
      case 'M':
        multiplier = 1024;
        break;
      case 'G':
        multiplier = 1024 * 1024;
        break;
      default:
        return std::nullopt;
    }
    uint64_t number = 0;
    if (!absl::SimpleAtoi(option.substr(0, option.size() - 1), &number)) return std::nullopt;
    return number * multiplier;
  }
  return 2048;
}

absl::StatusOr<std::vector<MountPlan>> planMounts(const common::HostRoot& root,
                                                  const std::vector<HugetlbfsMount>& mounts) {
  std::vector<MountPlan> plans;
  if (mounts.empty()) return plans;
  absl::StatusOr<std::vector<MountEntry>> table = readMountTable(root);
  if (!table.ok()) return table.status();
  for (const HugetlbfsMount& mount : mounts) {
    absl::Status mounted = checkMounted(*table, mount);
    if (!mounted.ok() && !absl::IsNotFound(mounted)) return mounted;
    plans.push_back({.mount = mount, .present = mounted.ok()});
  }
  return plans;
}

void applyMounts(const std::vector<MountPlan>& plans, const Host& host, NodeState& state,
                 Report& report) {
  for (const MountPlan& plan : plans) {
    const HugetlbfsMount& m = plan.mount;
    const std::string option = pageSizeOption(m.pageSize);
    if (plan.present) {
      report.add("mounts", m.path, strCat("none: hugetlbfs ", option, " already mounted"),
                 ActionStatus::Ok);
      continue;
    }
    const std::vector<std::string> argv = {
        "mount", "-t", kHugetlbfs, "-o", option, "nodev", host.commands.commandPath(m.path)};
    const std::vector<std::string> created = missingDirectories(host.root, m.path);
    absl::Status status = common::makeDirectories(host.root.path(m.path), 0755);
    if (status.ok()) {
      status = runChecked(host.commands, argv).status();
    }
    if (status.ok()) {
      absl::StatusOr<std::vector<MountEntry>> table = readMountTable(host.root);
      status = table.ok() ? checkMounted(*table, m) : table.status();
      if (absl::IsNotFound(status)) {
        status = absl::InternalError(
            strCat(describeCommand(argv), " succeeded but ", m.path,
                   " is not in the host's mount table (a container needs the host root mounted "
                   "with Bidirectional propagation, or hostExec \"nsenter\")"));
      }
    }
    if (!status.ok()) {
      report.fail("mounts", m.path, std::string(toStd(status.message())));
      return;
    }
    state.mounts_made[m.path] = {.created_directories = created};
    report.add("mounts", m.path, mountDescription(m), ActionStatus::Changed);
  }
}

bool removeCreatedDirectories(const Host& host, const std::vector<std::string>& created,
                              std::string_view step, bool dry_run, Report& report) {
  bool removed = true;
  for (auto it = created.rbegin(); it != created.rend(); ++it) {
    const std::filesystem::path dir = host.root.path(*it);
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::symlink_status(dir, ec))) {
      report.add(step, *it, "none: the directory nodeprep created is gone", ActionStatus::Ok);
      continue;
    }
    const bool empty =
        std::filesystem::is_directory(dir, ec) &&
        std::filesystem::directory_iterator(dir, ec) == std::filesystem::directory_iterator();
    if (!empty) {
      // Something else put files there since: it is no longer only nodeprep's.
      report.add(step, *it, "none: not empty, left in place", ActionStatus::Warning);
      continue;
    }
    if (dry_run) {
      report.add(step, *it, "rmdir (nodeprep created it)", ActionStatus::Planned);
      continue;
    }
    if (::rmdir(dir.c_str()) != 0) {
      report.fail(step, *it, strCat("rmdir: ", std::strerror(errno)));
      removed = false;
      continue;
    }
    report.add(step, *it, "rmdir (nodeprep created it)", ActionStatus::Changed);
  }
  return removed;
}

void undoMounts(const Host& host, bool dry_run, NodeState& state, Report& report) {
  for (auto it = state.mounts_made.begin(); it != state.mounts_made.end();) {
    const std::string& path = it->first;
    absl::StatusOr<std::vector<MountEntry>> table = readMountTable(host.root);
    if (!table.ok()) {
      report.fail("mounts", path, std::string(toStd(table.status().message())));
      ++it;
      continue;
    }
    const MountEntry* entry = topMount(*table, path);
    absl::Status status;
    if (entry == nullptr) {
      report.add("mounts", path, "none: not mounted any more", ActionStatus::Ok);
    } else if (entry->fstype != kHugetlbfs) {
      // Something else is mounted on top now: not nodeprep's to unmount.
      status = absl::FailedPreconditionError(
          strCat(path, " now has a ", entry->fstype, " mount on top; unmount it first"));
    } else {
      const std::vector<std::string> argv = {"umount", host.commands.commandPath(path)};
      if (dry_run) {
        report.add("mounts", path, describeCommand({"umount", path}), ActionStatus::Planned);
      } else {
        status = runChecked(host.commands, argv).status();
        if (status.ok()) {
          table = readMountTable(host.root);
          status = table.ok() ? absl::OkStatus() : table.status();
          if (status.ok() && topMount(*table, path) != nullptr) {
            status = absl::InternalError(strCat(describeCommand(argv), " succeeded but ", path,
                                                " is still in the host's mount table"));
          }
        }
        if (status.ok()) {
          report.add("mounts", path, describeCommand({"umount", path}), ActionStatus::Changed);
        }
      }
    }
    if (!status.ok()) {
      report.fail("mounts", path, std::string(toStd(status.message())));
      ++it;
      continue;
    }
    const bool removed =
        removeCreatedDirectories(host, it->second.created_directories, "mounts", dry_run, report);
    if (dry_run || !removed) {
      ++it;
    } else {
      it = state.mounts_made.erase(it);
    }
  }
}

void describeMounts(const std::vector<MountPlan>& plans, Report& report) {
  for (const MountPlan& plan : plans) {
    const std::string option = pageSizeOption(plan.mount.pageSize);
    report.add("mounts", plan.mount.path,
               plan.present ? strCat("none: hugetlbfs ", option, " already mounted")
                            : mountDescription(plan.mount),
               plan.present ? ActionStatus::Ok : ActionStatus::Planned);
  }
}

}  // namespace enadpdk::nodeprep
