#include "nodeprep/kernel_args.h"

#include <sys/stat.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/atomic_file.h"
#include "common/strings.h"

namespace enadpdk::nodeprep {
namespace {

using common::strCat;
using common::toStd;

constexpr char kDefaultGrub[] = "/etc/default/grub";
constexpr char kGrubVariable[] = "GRUB_CMDLINE_LINUX=";
constexpr char kGrubDefaultVariable[] = "GRUB_CMDLINE_LINUX_DEFAULT=";
constexpr char kGrubby[] = "grubby";

std::vector<std::string> splitArgs(std::string_view cmdline) {
  std::vector<std::string> args;
  for (absl::string_view arg : absl::StrSplit(absl::string_view(cmdline.data(), cmdline.size()),
                                              absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
    args.emplace_back(toStd(arg));
  }
  return args;
}

// The key of a "key=value" argument, or the whole argument.
std::string_view argKey(std::string_view arg) { return arg.substr(0, arg.find('=')); }

bool isSetArg(std::string_view arg, const KernelArgSet& set) {
  return std::find(set.keys.begin(), set.keys.end(), argKey(arg)) != set.keys.end();
}

bool hasAnySetArg(std::string_view cmdline, const KernelArgSet& set) {
  const std::vector<std::string> args = splitArgs(cmdline);
  return std::any_of(args.begin(), args.end(),
                     [&](const std::string& arg) { return isSetArg(arg, set); });
}

std::string withoutSetArgs(std::string_view cmdline, const KernelArgSet& set) {
  std::vector<std::string> kept;
  for (std::string& arg : splitArgs(cmdline)) {
    if (!isSetArg(arg, set)) kept.push_back(std::move(arg));
  }
  return absl::StrJoin(kept, " ");
}

// One GRUB_CMDLINE_LINUX assignment: the line split around its value.
struct Assignment {
  size_t line = 0;
  std::string prefix{};  // up to and including '=' (and an opening quote)
  std::string value{};
  std::string suffix{};  // the closing quote and the rest of the line
};

std::optional<Assignment> parseAssignment(size_t index, std::string_view line,
                                          std::string_view variable) {
  const size_t start = line.find_first_not_of(" \t");
  if (start == std::string_view::npos || line.substr(start).rfind(variable, 0) != 0) {
    return std::nullopt;
  }
  size_t pos = start + variable.size();
  Assignment a{
      .line = index, .prefix = std::string(line.substr(0, pos)), .value = {}, .suffix = {}};
  if (pos < line.size() && (line[pos] == '"' || line[pos] == '\'')) {
    const char quote = line[pos];
    a.prefix += quote;
    const size_t close = line.find(quote, pos + 1);
    const size_t end = close == std::string_view::npos ? line.size() : close;
    a.value = std::string(line.substr(pos + 1, end - pos - 1));
    a.suffix =
        close == std::string_view::npos ? std::string(1, quote) : std::string(line.substr(close));
  } else {
    // Unquoted: the value ends at whitespace; write it back quoted so that spaces survive.
    const size_t end = std::min(line.find_first_of(" \t", pos), line.size());
    a.prefix += '"';
    a.value = std::string(line.substr(pos, end - pos));
    a.suffix = strCat("\"", line.substr(end));
  }
  return a;
}

bool cfgHasArgs(std::string_view cfg, const KernelArgSet& set) {
  for (absl::string_view line : absl::StrSplit(absl::string_view(cfg.data(), cfg.size()), '\n')) {
    if (hasKernelArgs(toStd(line), set)) return true;
  }
  return false;
}

absl::StatusOr<std::string> findGrubCfg(const common::HostRoot& root) {
  std::vector<std::string> candidates;
  if (hostPathExists(root, "/sys/firmware/efi")) {
    candidates.emplace_back("/boot/efi/EFI/amzn/grub.cfg");
  }
  candidates.emplace_back("/boot/grub2/grub.cfg");
  candidates.emplace_back("/boot/grub/grub.cfg");
  for (const std::string& candidate : candidates) {
    if (hostPathExists(root, candidate)) return candidate;
  }
  return absl::NotFoundError(
      strCat("no grub.cfg to regenerate (looked for ", absl::StrJoin(candidates, ", "), ")"));
}

absl::StatusOr<std::string> grubbyDefaultArgs(CommandRunner& commands) {
  absl::StatusOr<CommandResult> info = runChecked(commands, {kGrubby, "--info=DEFAULT"});
  if (!info.ok()) return info.status();
  return grubbyArgs(info->out);
}

KernelArgsResult persistWithGrubby(const Host& host, const KernelArgSet& set,
                                   const std::string& current, bool dry_run, Report& report) {
  const std::string& args = set.args;
  if (hasKernelArgs(current, set)) {
    report.add("kernel-args", kGrubby, strCat("none: the default kernel already has ", args),
               ActionStatus::Ok);
    return KernelArgsResult::InPlace;
  }
  const std::vector<std::string> update = {kGrubby, "--update-kernel=ALL", strCat("--args=", args)};
  if (dry_run) {
    report.add("kernel-args", kGrubby, describeCommand(update), ActionStatus::Planned);
    return KernelArgsResult::Planned;
  }
  absl::StatusOr<CommandResult> updated = runChecked(host.commands, update);
  absl::StatusOr<std::string> after =
      updated.ok() ? grubbyDefaultArgs(host.commands) : updated.status();
  if (!after.ok()) {
    report.fail("kernel-args", kGrubby, toStd(after.status().message()));
    return KernelArgsResult::Failed;
  }
  if (!hasKernelArgs(*after, set)) {
    report.fail("kernel-args", kGrubby,
                strCat(describeCommand(update),
                       " succeeded but the default kernel's arguments "
                       "are still \"",
                       *after, "\""));
    return KernelArgsResult::Failed;
  }
  report.add("kernel-args", kGrubby, describeCommand(update), ActionStatus::Changed);
  return KernelArgsResult::InPlace;
}

KernelArgsResult persistWithGrubFile(const Host& host, const KernelArgSet& set, bool dry_run,
                                     Report& report) {
  const std::string& args = set.args;
  if (!hostPathExists(host.root, kDefaultGrub)) {
    report.fail("kernel-args", kDefaultGrub,
                strCat("cannot put \"", args,
                       "\" on the kernel command line: no grubby where "
                       "host commands run and no ",
                       kDefaultGrub));
    return KernelArgsResult::Failed;
  }
  absl::StatusOr<std::string> content = common::readFile(host.root.path(kDefaultGrub));
  absl::StatusOr<std::string> cfg = content.ok() ? findGrubCfg(host.root) : content.status();
  absl::StatusOr<std::string> cfg_content =
      cfg.ok() ? common::readFile(host.root.path(*cfg)) : cfg.status();
  if (!cfg_content.ok()) {
    report.fail("kernel-args", kDefaultGrub, toStd(cfg_content.status().message()));
    return KernelArgsResult::Failed;
  }
  const std::string edited = editDefaultGrub(*content, set);
  const bool file_changes = edited != *content;
  const std::vector<std::string> mkconfig = {"grub2-mkconfig", "-o",
                                             host.commands.commandPath(*cfg)};
  if (!file_changes && cfgHasArgs(*cfg_content, set)) {
    report.add("kernel-args", kDefaultGrub,
               strCat("none: GRUB_CMDLINE_LINUX and ", *cfg, " already have ", args),
               ActionStatus::Ok);
    return KernelArgsResult::InPlace;
  }
  if (dry_run) {
    if (file_changes) {
      report.add("kernel-args", kDefaultGrub, strCat("GRUB_CMDLINE_LINUX: add ", args),
                 ActionStatus::Planned);
    }
    report.add("kernel-args", *cfg, describeCommand(mkconfig), ActionStatus::Planned);
    return KernelArgsResult::Planned;
  }
  struct stat st {};
  const mode_t mode =
      ::stat(host.root.path(kDefaultGrub).c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
  if (file_changes) {
    if (absl::Status written = common::writeFileAtomic(host.root.path(kDefaultGrub), edited, mode);
        !written.ok()) {
      report.fail("kernel-args", kDefaultGrub, toStd(written.message()));
      return KernelArgsResult::Failed;
    }
    report.add("kernel-args", kDefaultGrub, strCat("GRUB_CMDLINE_LINUX: add ", args),
               ActionStatus::Changed);
  }
  absl::StatusOr<CommandResult> made = runChecked(host.commands, mkconfig);
  if (!made.ok() && absl::IsNotFound(made.status())) {
    // Debian and Ubuntu call it grub-mkconfig.
    std::vector<std::string> alternative = mkconfig;
    alternative[0] = "grub-mkconfig";
    made = runChecked(host.commands, alternative);
  }
  absl::StatusOr<std::string> regenerated =
      made.ok() ? common::readFile(host.root.path(*cfg)) : made.status();
  absl::Status outcome = regenerated.status();
  if (outcome.ok() && !cfgHasArgs(*regenerated, set)) {
    outcome = absl::InternalError(
        strCat(describeCommand(mkconfig), " succeeded but ", *cfg, " still lacks ", args));
  }
  if (!outcome.ok()) {
    // Put /etc/default/grub back so that a later regeneration by someone else does not pick up
    // arguments this run could not confirm.
    std::string reason(toStd(outcome.message()));
    if (file_changes) {
      absl::Status restored = common::writeFileAtomic(host.root.path(kDefaultGrub), *content, mode);
      reason += restored.ok() ? strCat("; ", kDefaultGrub, " restored")
                              : strCat("; restoring ", kDefaultGrub,
                                       " failed too: ", toStd(restored.message()));
    }
    report.fail("kernel-args", *cfg, reason);
    return KernelArgsResult::Failed;
  }
  report.add("kernel-args", *cfg, describeCommand(mkconfig), ActionStatus::Changed);
  return KernelArgsResult::InPlace;
}

}  // namespace

std::string hugepageArgs(uint64_t pages) {
  return strCat("default_hugepagesz=1G hugepagesz=1G hugepages=", pages);
}

KernelArgSet hugepageArgSet(uint64_t pages) {
  return {.keys = {"default_hugepagesz", "hugepagesz", "hugepages"}, .args = hugepageArgs(pages)};
}

bool hasKernelArgs(std::string_view cmdline, const KernelArgSet& set) {
  std::vector<std::string> found;
  for (const std::string& arg : splitArgs(cmdline)) {
    if (isSetArg(arg, set)) found.push_back(arg);
  }
  std::vector<std::string> expected = splitArgs(set.args);
  std::sort(found.begin(), found.end());
  std::sort(expected.begin(), expected.end());
  return found == expected;
}

std::string withKernelArgs(std::string_view cmdline, const KernelArgSet& set) {
  std::string kept = withoutSetArgs(cmdline, set);
  return kept.empty() ? set.args : strCat(kept, " ", set.args);
}

bool hasHugepageArgs(std::string_view cmdline, uint64_t pages) {
  return hasKernelArgs(cmdline, hugepageArgSet(pages));
}

std::string withHugepageArgs(std::string_view cmdline, uint64_t pages) {
  return withKernelArgs(cmdline, hugepageArgSet(pages));
}

std::string editDefaultGrub(std::string_view content, uint64_t pages) {
  return editDefaultGrub(content, hugepageArgSet(pages));
}

std::string editDefaultGrub(std::string_view content, const KernelArgSet& set) {
  std::vector<std::string> lines;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(content.data(), content.size()), '\n')) {
    lines.emplace_back(toStd(line));
  }
  // (A trailing newline leaves an empty last element, which the join turns back into one.)
  std::vector<Assignment> assignments;
  bool changed = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (std::optional<Assignment> a = parseAssignment(i, lines[i], kGrubVariable)) {
      assignments.push_back(*a);
    } else if (std::optional<Assignment> d = parseAssignment(i, lines[i], kGrubDefaultVariable)) {
      // grub2-mkconfig appends GRUB_CMDLINE_LINUX_DEFAULT to the same kernel line: the set's
      // keys there would duplicate ours.
      if (hasAnySetArg(d->value, set)) {
        lines[i] = strCat(d->prefix, withoutSetArgs(d->value, set), d->suffix);
        changed = true;
      }
    }
  }
  if (assignments.empty()) {
    std::string out = changed ? absl::StrJoin(lines, "\n") : std::string(content);
    if (!out.empty() && out.back() != '\n') out += '\n';
    return strCat(out, kGrubVariable, "\"", set.args, "\"\n");
  }
  // The shell keeps the last assignment; earlier ones may feed it ("$GRUB_CMDLINE_LINUX ..."),
  // so they only lose their hugepage arguments.
  for (size_t i = 0; i < assignments.size(); ++i) {
    const Assignment& a = assignments[i];
    if (i + 1 == assignments.size()) {
      if (hasKernelArgs(a.value, set)) continue;
      lines[a.line] = strCat(a.prefix, withKernelArgs(a.value, set), a.suffix);
    } else {
      if (!hasAnySetArg(a.value, set)) continue;
      lines[a.line] = strCat(a.prefix, withoutSetArgs(a.value, set), a.suffix);
    }
    changed = true;
  }
  if (!changed) return std::string(content);
  return absl::StrJoin(lines, "\n");
}

absl::StatusOr<std::string> grubbyArgs(std::string_view info) {
  for (absl::string_view line : absl::StrSplit(absl::string_view(info.data(), info.size()), '\n')) {
    if (!absl::ConsumePrefix(&line, "args=")) continue;
    if (line.size() >= 2 && line.front() == '"' && line.back() == '"') {
      line = line.substr(1, line.size() - 2);
    }
    return std::string(toStd(line));
  }
  return absl::InvalidArgumentError(
      strCat("grubby --info=DEFAULT printed no args= line: \"", info, "\""));
}

KernelArgsResult persistHugepageArgs(const Host& host, uint64_t pages, bool dry_run,
                                     Report& report) {
  return persistKernelArgs(host, hugepageArgSet(pages), dry_run, report);
}

KernelArgsResult persistKernelArgs(const Host& host, const KernelArgSet& set, bool dry_run,
                                   Report& report) {
  absl::StatusOr<std::string> current = grubbyDefaultArgs(host.commands);
  if (current.ok()) return persistWithGrubby(host, set, *current, dry_run, report);
  if (!absl::IsNotFound(current.status())) {
    report.fail("kernel-args", kGrubby, toStd(current.status().message()));
    return KernelArgsResult::Failed;
  }
  return persistWithGrubFile(host, set, dry_run, report);
}

}  // namespace enadpdk::nodeprep
