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

// The arguments of `cmdline` with one of the set's keys.
std::vector<std::string> setArgsOf(std::string_view cmdline, const KernelArgSet& set) {
  std::vector<std::string> found;
  for (std::string& arg : splitArgs(cmdline)) {
    if (isSetArg(arg, set)) found.push_back(std::move(arg));
  }
  return found;
}

// The record of writing `set` over the set's arguments `before`: what was added, what replaced.
KernelArgsEdit editRecord(std::string_view via, const KernelArgSet& set,
                          const std::vector<std::string>& before) {
  std::vector<std::string> added;
  std::vector<std::string> replaced;
  const std::vector<std::string> wanted = splitArgs(set.args);
  for (const std::string& arg : wanted) {
    if (std::find(before.begin(), before.end(), arg) == before.end()) added.push_back(arg);
  }
  for (const std::string& arg : before) {
    if (std::find(wanted.begin(), wanted.end(), arg) == wanted.end()) replaced.push_back(arg);
  }
  return {.via = std::string(via),
          .added = absl::StrJoin(added, " "),
          .replaced = absl::StrJoin(replaced, " "),
          .grub_before = {},
          .grub_after = {},
          .grub_cfg = {}};
}

// The set's arguments on every GRUB_CMDLINE_LINUX(_DEFAULT) line of /etc/default/grub `content`.
std::vector<std::string> grubSetArgs(std::string_view content, const KernelArgSet& set) {
  std::vector<std::string> found;
  size_t index = 0;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(content.data(), content.size()), '\n')) {
    for (std::string_view variable : {kGrubVariable, kGrubDefaultVariable}) {
      if (std::optional<Assignment> a = parseAssignment(index, toStd(line), variable)) {
        for (std::string& arg : setArgsOf(a->value, set)) found.push_back(std::move(arg));
      }
    }
    ++index;
  }
  return found;
}

// Runs grub2-mkconfig (or grub-mkconfig, Debian's name) -o <cfg>.
absl::StatusOr<CommandResult> regenerateGrubCfg(const Host& host,
                                                const std::vector<std::string>& mkconfig) {
  absl::StatusOr<CommandResult> made = runChecked(host.commands, mkconfig);
  if (!made.ok() && absl::IsNotFound(made.status())) {
    std::vector<std::string> alternative = mkconfig;
    alternative[0] = "grub-mkconfig";
    made = runChecked(host.commands, alternative);
  }
  return made;
}

KernelArgsResult persistWithGrubby(const Host& host, const KernelArgSet& set,
                                   const std::string& current, bool dry_run, Report& report,
                                   NodeState* state) {
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
  if (state != nullptr) {
    state->kernel_args_added.push_back(editRecord(kGrubby, set, setArgsOf(current, set)));
  }
  report.add("kernel-args", kGrubby, describeCommand(update), ActionStatus::Changed);
  return KernelArgsResult::InPlace;
}

KernelArgsResult persistWithGrubFile(const Host& host, const KernelArgSet& set, bool dry_run,
                                     Report& report, NodeState* state) {
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
  absl::StatusOr<CommandResult> made = regenerateGrubCfg(host, mkconfig);
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
  if (state != nullptr && file_changes) {
    KernelArgsEdit edit = editRecord(kDefaultGrub, set, grubSetArgs(*content, set));
    edit.grub_before = *content;
    edit.grub_after = edited;
    edit.grub_cfg = *cfg;
    state->kernel_args_added.push_back(std::move(edit));
  }
  report.add("kernel-args", *cfg, describeCommand(mkconfig), ActionStatus::Changed);
  return KernelArgsResult::InPlace;
}

// True when any argument of `args` is on `cmdline`.
bool hasAnyArg(std::string_view cmdline, std::string_view args) {
  const std::vector<std::string> present = splitArgs(cmdline);
  for (const std::string& arg : splitArgs(args)) {
    if (std::find(present.begin(), present.end(), arg) != present.end()) return true;
  }
  return false;
}

// Reverts one grubby addition; false when it failed (the report says why).
bool undoGrubbyEdit(const Host& host, const KernelArgsEdit& edit, bool dry_run, Report& report) {
  absl::StatusOr<std::string> current = grubbyDefaultArgs(host.commands);
  if (!current.ok()) {
    report.fail("kernel-args", kGrubby, toStd(current.status().message()));
    return false;
  }
  if (!hasAnyArg(*current, edit.added)) {
    report.add("kernel-args", kGrubby,
               strCat("none: the default kernel no longer has ", edit.added), ActionStatus::Ok);
    return true;
  }
  std::vector<std::vector<std::string>> commands = {
      {kGrubby, "--update-kernel=ALL", strCat("--remove-args=", edit.added)}};
  if (!edit.replaced.empty()) {
    commands.push_back({kGrubby, "--update-kernel=ALL", strCat("--args=", edit.replaced)});
  }
  for (const std::vector<std::string>& command : commands) {
    if (dry_run) {
      report.add("kernel-args", kGrubby, describeCommand(command), ActionStatus::Planned);
      continue;
    }
    if (absl::Status run = runChecked(host.commands, command).status(); !run.ok()) {
      report.fail("kernel-args", kGrubby, toStd(run.message()));
      return false;
    }
    report.add("kernel-args", kGrubby, describeCommand(command), ActionStatus::Changed);
  }
  if (dry_run) return true;
  absl::StatusOr<std::string> after = grubbyDefaultArgs(host.commands);
  if (!after.ok() || hasAnyArg(*after, edit.added)) {
    report.fail("kernel-args", kGrubby,
                after.ok() ? strCat("the default kernel still has some of ", edit.added, ": \"",
                                    *after, "\"")
                           : std::string(toStd(after.status().message())));
    return false;
  }
  return true;
}

// The content /etc/default/grub gets back for `edit`, given what it holds now.
std::string grubWithout(const std::string& current, const KernelArgsEdit& edit) {
  if (current == edit.grub_after) return edit.grub_before;
  return removeFromDefaultGrub(current, edit.added, edit.replaced);
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

KernelArgsResult persistHugepageArgs(const Host& host, uint64_t pages, bool dry_run, Report& report,
                                     NodeState* state) {
  return persistKernelArgs(host, hugepageArgSet(pages), dry_run, report, state);
}

KernelArgsResult persistKernelArgs(const Host& host, const KernelArgSet& set, bool dry_run,
                                   Report& report, NodeState* state) {
  absl::StatusOr<std::string> current = grubbyDefaultArgs(host.commands);
  if (current.ok()) return persistWithGrubby(host, set, *current, dry_run, report, state);
  if (!absl::IsNotFound(current.status())) {
    report.fail("kernel-args", kGrubby, toStd(current.status().message()));
    return KernelArgsResult::Failed;
  }
  return persistWithGrubFile(host, set, dry_run, report, state);
}

std::string removeFromDefaultGrub(std::string_view content, std::string_view added,
                                  std::string_view replaced) {
  const std::vector<std::string> drop = splitArgs(added);
  std::vector<std::string> lines;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(content.data(), content.size()), '\n')) {
    lines.emplace_back(toStd(line));
  }
  std::vector<Assignment> assignments;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (std::optional<Assignment> a = parseAssignment(i, lines[i], kGrubVariable)) {
      assignments.push_back(*a);
    }
  }
  bool changed = false;
  for (size_t i = 0; i < assignments.size(); ++i) {
    const Assignment& a = assignments[i];
    std::vector<std::string> kept;
    for (std::string& arg : splitArgs(a.value)) {
      if (std::find(drop.begin(), drop.end(), arg) == drop.end()) kept.push_back(std::move(arg));
    }
    if (kept.size() == splitArgs(a.value).size()) continue;
    if (i + 1 == assignments.size() && !replaced.empty()) kept.emplace_back(replaced);
    lines[a.line] = strCat(a.prefix, absl::StrJoin(kept, " "), a.suffix);
    changed = true;
  }
  if (!changed) return std::string(content);
  return absl::StrJoin(lines, "\n");
}

void undoKernelArgs(const Host& host, bool dry_run, NodeState& state, Report& report) {
  absl::StatusOr<std::string> cmdline = readHostFile(host.root, "/proc/cmdline");
  std::vector<KernelArgsEdit>& edits = state.kernel_args_added;
  // /etc/default/grub edits are reverted in the file first and grub.cfg regenerated once after;
  // until that worked they stay recorded.
  std::optional<std::string> grub_original;
  std::vector<std::string> cfgs;
  std::vector<size_t> grub_edits;
  std::vector<size_t> done;
  for (size_t i = edits.size(); i-- > 0;) {
    const KernelArgsEdit& edit = edits[i];
    if (cmdline.ok() && hasAnyArg(*cmdline, edit.added)) {
      report.add("kernel-args", "/proc/cmdline",
                 strCat("the running kernel keeps ", edit.added, " until the next boot"),
                 ActionStatus::Warning);
    }
    if (edit.via == kGrubby) {
      if (undoGrubbyEdit(host, edit, dry_run, report)) done.push_back(i);
      continue;
    }
    absl::StatusOr<std::string> current = common::readFile(host.root.path(kDefaultGrub));
    if (!current.ok()) {
      report.fail("kernel-args", kDefaultGrub, toStd(current.status().message()));
      continue;
    }
    if (!grub_original) grub_original = *current;
    const std::string restored = grubWithout(*current, edit);
    if (restored == *current) {
      report.add("kernel-args", kDefaultGrub,
                 strCat("none: GRUB_CMDLINE_LINUX no longer has ", edit.added), ActionStatus::Ok);
      done.push_back(i);
      continue;
    }
    const std::string how =
        *current == edit.grub_after
            ? strCat("restore the file as it was before nodeprep added ", edit.added)
            : strCat("GRUB_CMDLINE_LINUX: remove ", edit.added,
                     edit.replaced.empty() ? "" : strCat(", put back ", edit.replaced),
                     " (the file changed since nodeprep's edit)");
    if (dry_run) {
      report.add("kernel-args", kDefaultGrub, how, ActionStatus::Planned);
    } else {
      struct stat st {};
      const mode_t mode =
          ::stat(host.root.path(kDefaultGrub).c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
      if (absl::Status written =
              common::writeFileAtomic(host.root.path(kDefaultGrub), restored, mode);
          !written.ok()) {
        report.fail("kernel-args", kDefaultGrub, toStd(written.message()));
        continue;
      }
      report.add("kernel-args", kDefaultGrub, how, ActionStatus::Changed);
    }
    grub_edits.push_back(i);
    if (std::find(cfgs.begin(), cfgs.end(), edit.grub_cfg) == cfgs.end()) {
      cfgs.push_back(edit.grub_cfg);
    }
  }
  bool regenerated = true;
  for (const std::string& cfg : cfgs) {
    const std::vector<std::string> mkconfig = {"grub2-mkconfig", "-o",
                                               host.commands.commandPath(cfg)};
    if (dry_run) {
      report.add("kernel-args", cfg, describeCommand(mkconfig), ActionStatus::Planned);
      continue;
    }
    absl::StatusOr<CommandResult> made = regenerateGrubCfg(host, mkconfig);
    if (!made.ok()) {
      std::string reason(toStd(made.status().message()));
      if (regenerated && grub_original) {
        // As the forward path does: no /etc/default/grub that grub.cfg does not match.
        struct stat st {};
        const mode_t mode =
            ::stat(host.root.path(kDefaultGrub).c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
        absl::Status put_back =
            common::writeFileAtomic(host.root.path(kDefaultGrub), *grub_original, mode);
        reason += put_back.ok() ? strCat("; ", kDefaultGrub, " put back")
                                : strCat("; putting back ", kDefaultGrub,
                                         " failed too: ", toStd(put_back.message()));
      }
      report.fail("kernel-args", cfg, reason);
      regenerated = false;
      continue;
    }
    report.add("kernel-args", cfg, describeCommand(mkconfig), ActionStatus::Changed);
  }
  if (regenerated) done.insert(done.end(), grub_edits.begin(), grub_edits.end());
  if (dry_run) return;
  std::sort(done.begin(), done.end());
  for (auto it = done.rbegin(); it != done.rend(); ++it) {
    edits.erase(edits.begin() + static_cast<std::ptrdiff_t>(*it));
  }
}

}  // namespace enadpdk::nodeprep
