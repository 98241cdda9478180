#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/host_root.h"
#include "nodeprep/nodeprep_config.h"

namespace enadpdk::nodeprep {

// What a finished command printed and how it exited.
struct CommandResult {
  // Exit status (0..255), or 128 + the signal number when a signal ended it.
  int exit_code = 0;
  // Everything it wrote to stdout.
  std::string out{};
  // Everything it wrote to stderr.
  std::string err{};
};

// Runs host programs (modprobe, mount, grubby, grub2-mkconfig) for the preparation steps. A seam:
// tests put recording fakes first in the search path, or wrap a runner to emulate what the host
// does in reaction to a command.
class CommandRunner {
 public:
  virtual ~CommandRunner() = default;

  // Runs `argv` (argv[0] is a program name looked up in the search path) to completion, with
  // stdin from /dev/null. NotFound when the program does not exist where commands run (for
  // nsenter, also when nsenter itself is missing); a command that runs and exits non-zero is not
  // an error here: the caller judges its exit code.
  virtual absl::StatusOr<CommandResult> run(const std::vector<std::string>& argv) = 0;

  // The path under which programs run by run() see host path `host_path` ("/dev/hugepages"):
  // the path under the host root when they run directly, the host path itself when they run in
  // the host's namespaces.
  virtual std::string commandPath(std::string_view host_path) const = 0;
};

// The CommandRunner of the real binary. With HostExec::Direct it starts the program itself,
// looked up in `search_path` (a PATH value); with HostExec::Nsenter it starts
// `nsenter --mount=<root>/proc/1/ns/mnt --uts=… --ipc=… --net=… -- PROGRAM ARGS...` (nsenter
// looked up in `search_path`), so that the program runs in the mount, UTS, IPC and network
// namespaces of the host's init process, found through the host root's /proc (no hostPID). The
// child's environment is this process's with PATH replaced by `search_path`. A command still
// running after `timeout` is killed and reported as DeadlineExceeded. Thread-compatible.
class HostCommandRunner : public CommandRunner {
 public:
  // Five minutes: grub2-mkconfig probes every disk, which can take a while on a large host.
  static constexpr std::chrono::seconds kDefaultTimeout{300};

  HostCommandRunner(HostExec mode, std::string search_path, common::HostRoot root,
                    std::chrono::milliseconds timeout = kDefaultTimeout);

  absl::StatusOr<CommandResult> run(const std::vector<std::string>& argv) override;
  std::string commandPath(std::string_view host_path) const override;

  // The argv actually started for `argv`: itself, or prefixed with the nsenter invocation.
  std::vector<std::string> commandLine(const std::vector<std::string>& argv) const;

 private:
  // Resolves a program name through the search path; NotFound when no executable matches.
  absl::StatusOr<std::filesystem::path> findProgram(std::string_view program) const;

  HostExec mode_;
  std::string search_path_;
  common::HostRoot root_;
  std::chrono::milliseconds timeout_;
};

// Runs `argv` through `commands` and requires exit status 0: otherwise an InternalError that
// names the command, its exit status and its stderr. Errors of run() pass through.
absl::StatusOr<CommandResult> runChecked(CommandRunner& commands,
                                         const std::vector<std::string>& argv);

// "modprobe vfio-pci" for messages: argv joined by spaces, arguments with spaces quoted.
std::string describeCommand(const std::vector<std::string>& argv);

}  // namespace enadpdk::nodeprep
