#include "nodeprep/hugepages.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "common/strings.h"

namespace enadpdk::nodeprep {
namespace {

using common::HugepageSize;
using common::strCat;

constexpr char kNodeDir[] = "/sys/devices/system/node";

// NUMA node numbers from the node<N> directories, sorted.
absl::StatusOr<std::vector<int>> numaNodes(const common::HostRoot& root) {
  std::vector<int> nodes;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(root.path(kNodeDir), ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    int node = 0;
    if (absl::StartsWith(name, "node") && absl::SimpleAtoi(name.substr(4), &node)) {
      nodes.push_back(node);
    }
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return absl::InternalError(strCat("cannot list ", kNodeDir, ": ", ec.message()));
  }
  if (nodes.empty()) {
    return absl::NotFoundError(
        strCat("hugepages.perNumaNode is set but the host has no NUMA nodes under ", kNodeDir));
  }
  std::sort(nodes.begin(), nodes.end());
  return nodes;
}

std::string describeTarget(const HugepageTarget& t) {
  return strCat(hugepageSizeInfo(t.size).label,
                t.numa_node ? strCat(" pages on NUMA node ", *t.numa_node) : " pages");
}

}  // namespace

bool HugepagesPlan::raises() const {
  return std::any_of(targets.begin(), targets.end(),
                     [](const HugepageTarget& t) { return t.needsRaise(); });
}

absl::StatusOr<HugepagesPlan> planHugepages(const common::HostRoot& root,
                                            const HugepagesConfig& config) {
  HugepagesPlan plan;
  std::vector<int> nodes;
  if (config.perNumaNode && (config.pages1G > 0 || config.pages2M > 0)) {
    absl::StatusOr<std::vector<int>> found = numaNodes(root);
    if (!found.ok()) return found.status();
    nodes = *std::move(found);
  }
  for (HugepageSize size : {HugepageSize::Size2M, HugepageSize::Size1G}) {
    const uint64_t wanted = size == HugepageSize::Size1G ? config.pages1G : config.pages2M;
    if (wanted == 0) continue;
    std::vector<HugepageTarget> targets;
    if (config.perNumaNode) {
      for (int node : nodes) {
        targets.push_back({.size = size,
                           .numa_node = node,
                           .file = strCat(kNodeDir, "/node", node, "/hugepages/hugepages-",
                                          hugepageSizeInfo(size).kib, "kB/nr_hugepages"),
                           .current = 0,
                           .wanted = wanted});
      }
    } else {
      targets.push_back({.size = size,
                         .numa_node = std::nullopt,
                         .file = hugepagesDir(size) + "/nr_hugepages",
                         .current = 0,
                         .wanted = wanted});
    }
    for (HugepageTarget& target : targets) {
      absl::StatusOr<uint64_t> current = readHostNumber(root, target.file);
      if (!current.ok()) return current.status();
      target.current = *current;
      if (size == HugepageSize::Size1G) plan.total1G += wanted;
      plan.targets.push_back(std::move(target));
    }
  }
  return plan;
}

HugepagesOutcome reserveHugepages(const HugepagesPlan& plan, PersistMode persist, const Host& host,
                                  NodeState& state, Report& report) {
  HugepagesOutcome outcome;
  for (const HugepageTarget& target : plan.targets) {
    // Re-read right before writing: another agent may have raised the count since the plan, and
    // writing a stale lower value would take its pages away.
    absl::StatusOr<uint64_t> current = readHostNumber(host.root, target.file);
    if (!current.ok()) {
      report.fail("hugepages", target.file, common::toStd(current.status().message()));
      return outcome;
    }
    if (*current >= target.wanted) {
      report.add("hugepages", target.file,
                 strCat("none: ", *current, " ", describeTarget(target), " reserved, ",
                        target.wanted, " asked"),
                 ActionStatus::Ok);
      continue;
    }
    if (absl::Status written = host.kernel.write(target.file, strCat(target.wanted));
        !written.ok()) {
      report.fail("hugepages", target.file, common::toStd(written.message()));
      return outcome;
    }
    // The kernel grants what it can find in free memory; the file now holds the granted count.
    absl::StatusOr<uint64_t> granted = readHostNumber(host.root, target.file);
    if (!granted.ok()) {
      report.fail("hugepages", target.file, common::toStd(granted.status().message()));
      return outcome;
    }
    outcome.raised = outcome.raised || *granted > *current;
    if (*granted > *current) {
      // The first raise's "before" is what the node had before nodeprep; later raises move only
      // the count nodeprep left.
      auto [raise, first] = state.hugepages_raised.try_emplace(
          target.file, HugepageRaise{.before = *current, .raised_to = *granted});
      if (!first) raise->second.raised_to = *granted;
    }
    const std::string change = strCat(*current, " -> ", *granted);
    if (*granted >= target.wanted) {
      report.add("hugepages", target.file, change, ActionStatus::Changed);
      continue;
    }
    const std::string shortfall =
        strCat(change, ": the kernel granted only ", *granted, " of ", target.wanted, " ",
               describeTarget(target), " (not enough free contiguous memory)");
    if (target.size == HugepageSize::Size2M) {
      report.fail("hugepages", target.file, shortfall);
      return outcome;
    }
    if (persist == PersistMode::Never) {
      report.fail("hugepages", target.file,
                  strCat(shortfall,
                         "; hugepages.persist is \"never\", so no kernel argument "
                         "reserves them at boot"));
      return outcome;
    }
    outcome.short1G = true;
    report.add("hugepages", target.file,
               strCat(shortfall, "; the kernel command line reserves them at the next boot"),
               ActionStatus::Warning);
  }
  return outcome;
}

void undoHugepages(const Host& host, bool dry_run, NodeState& state, Report& report) {
  for (auto it = state.hugepages_raised.begin(); it != state.hugepages_raised.end();) {
    const std::string& file = it->first;
    const HugepageRaise& raise = it->second;
    absl::StatusOr<uint64_t> current = readHostNumber(host.root, file);
    if (!current.ok()) {
      report.fail("hugepages", file, common::toStd(current.status().message()));
      ++it;
      continue;
    }
    if (*current != raise.raised_to) {
      report.add("hugepages", file,
                 strCat("none: reads ", *current, ", not the ", raise.raised_to,
                        " nodeprep raised it to; someone changed it since, left alone"),
                 ActionStatus::Warning);
      it = dry_run ? std::next(it) : state.hugepages_raised.erase(it);
      continue;
    }
    const std::string change = strCat(*current, " -> ", raise.before);
    if (dry_run) {
      report.add("hugepages", file, change, ActionStatus::Planned);
      ++it;
      continue;
    }
    absl::Status written = host.kernel.write(file, strCat(raise.before));
    absl::StatusOr<uint64_t> after =
        written.ok() ? readHostNumber(host.root, file) : absl::StatusOr<uint64_t>(written);
    if (!after.ok()) {
      report.fail("hugepages", file, common::toStd(after.status().message()));
      ++it;
      continue;
    }
    if (*after > raise.before) {
      // The kernel keeps pages that are in use; the next --undo tries again from here.
      report.fail("hugepages", file,
                  strCat(change, ": the kernel kept ", *after, " (pages still in use)"));
      it->second.raised_to = *after;
      ++it;
      continue;
    }
    report.add("hugepages", file, change, ActionStatus::Changed);
    it = state.hugepages_raised.erase(it);
  }
}

void describeHugepages(const HugepagesPlan& plan, Report& report) {
  for (const HugepageTarget& target : plan.targets) {
    if (target.needsRaise()) {
      report.add("hugepages", target.file, strCat(target.current, " -> ", target.wanted),
                 ActionStatus::Planned);
    } else {
      report.add("hugepages", target.file,
                 strCat("none: ", target.current, " ", describeTarget(target), " reserved, ",
                        target.wanted, " asked"),
                 ActionStatus::Ok);
    }
  }
}

}  // namespace enadpdk::nodeprep
