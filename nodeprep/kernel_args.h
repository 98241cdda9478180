#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nodeprep/host.h"
#include "nodeprep/node_state.h"
#include "nodeprep/report.h"

namespace enadpdk::nodeprep {

// Kernel arguments nodeprep puts on the command line, and the keys it owns: writing the set
// replaces every earlier value of those keys, never duplicating one.
struct KernelArgSet {
  // The keys ("hugepages", "intel_iommu"); an argument's key is what precedes its '='.
  std::vector<std::string> keys{};
  // The arguments, space-separated ("intel_iommu=on iommu=1"); each key once.
  std::string args{};
};

// hugepageArgs(pages) and the keys default_hugepagesz, hugepagesz and hugepages.
KernelArgSet hugepageArgSet(uint64_t pages);

// True when `cmdline` sets exactly the arguments of `set`: each of its keys once, with its value.
bool hasKernelArgs(std::string_view cmdline, const KernelArgSet& set);

// `cmdline` without any argument with one of the set's keys, with the set's arguments appended.
std::string withKernelArgs(std::string_view cmdline, const KernelArgSet& set);

// /etc/default/grub `content` with the set on GRUB_CMDLINE_LINUX: the last assignment gets
// withKernelArgs() (keeping its quoting and anything after the value), earlier ones and
// GRUB_CMDLINE_LINUX_DEFAULT lose the set's keys, and a file without the variable gets a new
// line. Unchanged content when the arguments are already there.
std::string editDefaultGrub(std::string_view content, const KernelArgSet& set);

// The kernel arguments that reserve `pages` 1G hugepages at boot and make 1G the default size:
// "default_hugepagesz=1G hugepagesz=1G hugepages=<pages>".
std::string hugepageArgs(uint64_t pages);

// True when `cmdline` sets exactly the arguments of hugepageArgs(pages): each of
// default_hugepagesz, hugepagesz and hugepages once, with those values.
bool hasHugepageArgs(std::string_view cmdline, uint64_t pages);

// `cmdline` without any default_hugepagesz=, hugepagesz= or hugepages= argument, with
// hugepageArgs(pages) appended: earlier values are replaced, never duplicated.
std::string withHugepageArgs(std::string_view cmdline, uint64_t pages);

// /etc/default/grub `content` with hugepageArgs(pages) on GRUB_CMDLINE_LINUX: the last
// assignment gets withHugepageArgs() (keeping its quoting and anything after the value), earlier
// ones lose their hugepage arguments, and a file without the variable gets a new line. Unchanged
// content when the arguments are already there.
std::string editDefaultGrub(std::string_view content, uint64_t pages);

// The value of the args="..." line that `grubby --info=DEFAULT` prints. InvalidArgument when
// there is none.
absl::StatusOr<std::string> grubbyArgs(std::string_view info);

// How the hugepage arguments ended up.
enum class KernelArgsResult {
  // The next boot gets them (already there, or written now).
  InPlace,
  // --dry-run: they would be written.
  Planned,
  // Writing them failed (the report says why).
  Failed,
};

// Puts `set` on the command line of the kernels the host boots. With `grubby` (found where host
// commands run; Amazon Linux 2023) through `grubby --update-kernel=ALL --args=...`; otherwise by
// editing GRUB_CMDLINE_LINUX in /etc/default/grub and regenerating grub.cfg (the EFI one when
// /sys/firmware/efi exists, else /boot/grub2/grub.cfg or /boot/grub/grub.cfg) with `grub2-mkconfig
// -o` (or `grub-mkconfig`). Nothing is written when the arguments are already there; an edit of
// /etc/default/grub is undone when regenerating fails. With `dry_run` it only inspects. Adds
// "kernel-args" actions. An addition it makes is recorded in `state->kernel_args_added` (the
// arguments added, those of the set's keys they replaced, and for /etc/default/grub the file
// before and after) unless `state` is null.
KernelArgsResult persistKernelArgs(const Host& host, const KernelArgSet& set, bool dry_run,
                                   Report& report, NodeState* state = nullptr);

// Step 2 (persistent part): persistKernelArgs() with hugepageArgSet(pages).
KernelArgsResult persistHugepageArgs(const Host& host, uint64_t pages, bool dry_run, Report& report,
                                     NodeState* state = nullptr);

// /etc/default/grub `content` with each argument of `added` removed from every
// GRUB_CMDLINE_LINUX assignment and `replaced` appended to the last one: the undo of an edit
// when the file changed since (otherwise --undo restores the file as it was). Unchanged content
// when none of `added` is there.
std::string removeFromDefaultGrub(std::string_view content, std::string_view added,
                                  std::string_view replaced);

// --undo: reverts the additions in `state.kernel_args_added`, last first. grubby: `grubby
// --update-kernel=ALL --remove-args=<added>` (and `--args=<replaced>` when they replaced
// something). /etc/default/grub: the file as it was before the edit when it still reads what
// nodeprep wrote (byte for byte, mode kept), else removeFromDefaultGrub(); then grub.cfg is
// regenerated as persistKernelArgs() does (on failure the file is put back and the records
// kept). Arguments the running kernel booted with stay until the next boot (a warning says so).
// With `dry_run` only plans (grubby --info only). Adds "kernel-args" actions; reverted additions
// leave `state`.
void undoKernelArgs(const Host& host, bool dry_run, NodeState& state, Report& report);

}  // namespace enadpdk::nodeprep
