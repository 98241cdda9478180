#include "nodeprep/command_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"

extern char** environ;

namespace enadpdk::nodeprep {
namespace {

using common::strCat;

// The namespaces of the host's PID 1 that a host command joins (mount, UTS, IPC, network), named
// by their files under the host root's /proc: the host's procfs is mounted there (the DaemonSet
// mounts the host's / recursively), so this works from a container in a PID namespace of its own,
// without hostPID. The PID namespace is not joined: the kernel lets a process enter only its own
// PID namespace or a descendant, and no host command here needs it (systemctl reaches systemd
// through its socket in the host's mount namespace).
constexpr const char* kNsenterNamespaces[][2] = {
    {"--mount=", "mnt"}, {"--uts=", "uts"}, {"--ipc=", "ipc"}, {"--net=", "net"}};

// nsenter (util-linux) exits 127 when it cannot find the program to run.
constexpr int kExitNotFound = 127;

// Owns a pipe's two ends and closes whatever is still open.
class Pipe {
 public:
  Pipe() = default;
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  ~Pipe() {
    closeRead();
    closeWrite();
  }
  bool open() { return ::pipe2(fds_.data(), O_CLOEXEC) == 0; }
  int read() const { return fds_[0]; }
  int write() const { return fds_[1]; }
  void closeRead() { closeFd(fds_[0]); }
  void closeWrite() { closeFd(fds_[1]); }

 private:
  static void closeFd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  std::array<int, 2> fds_ = {-1, -1};
};

absl::Status errnoError(std::string_view what, int error) {
  return absl::InternalError(strCat(what, ": ", std::strerror(error)));
}

// Reads stdout and stderr of a child until both close or `deadline` passes. False on timeout.
bool drain(Pipe& out_pipe, Pipe& err_pipe, CommandResult& result,
           std::chrono::steady_clock::time_point deadline) {
  std::array<pollfd, 2> fds = {pollfd{out_pipe.read(), POLLIN, 0},
                               pollfd{err_pipe.read(), POLLIN, 0}};
  std::array<std::string*, 2> sinks = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) return false;
    // poll itself failed: stop reading and let waitpid() collect the child.
    if (ready < 0) return true;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;  // poll ignores negative descriptors
        --open_fds;
      }
    }
  }
  return true;
}

}  // namespace

std::string describeCommand(const std::vector<std::string>& argv) {
  std::string text;
  for (const std::string& arg : argv) {
    if (!text.empty()) text += ' ';
    text += arg.find_first_of(" \t\"") == std::string::npos ? arg : strCat("\"", arg, "\"");
  }
  return text;
}

absl::StatusOr<CommandResult> runChecked(CommandRunner& commands,
                                         const std::vector<std::string>& argv) {
  absl::StatusOr<CommandResult> result = commands.run(argv);
  if (!result.ok() || result->exit_code == 0) return result;
  std::string err = result->err;
  absl::StripTrailingAsciiWhitespace(&err);
  return absl::InternalError(strCat(describeCommand(argv), " exited with status ",
                                    result->exit_code, err.empty() ? "" : ": ", err));
}

HostCommandRunner::HostCommandRunner(HostExec mode, std::string search_path, common::HostRoot root,
                                     std::chrono::milliseconds timeout)
    : mode_(mode),
      search_path_(std::move(search_path)),
      root_(std::move(root)),
      timeout_(timeout) {}

std::string HostCommandRunner::commandPath(std::string_view host_path) const {
  if (mode_ == HostExec::Nsenter) return std::string(host_path);
  return root_.path(host_path).string();
}

std::vector<std::string> HostCommandRunner::commandLine(
    const std::vector<std::string>& argv) const {
  if (mode_ == HostExec::Direct) return argv;
  std::vector<std::string> line = {"nsenter"};
  for (const auto& [flag, ns] : kNsenterNamespaces) {
    line.push_back(strCat(flag, root_.path(strCat("/proc/1/ns/", ns)).string()));
  }
  line.push_back("--");
  line.insert(line.end(), argv.begin(), argv.end());
  return line;
}

absl::StatusOr<std::filesystem::path> HostCommandRunner::findProgram(
    std::string_view program) const {
  if (program.find('/') != std::string_view::npos) return std::filesystem::path(program);
  for (absl::string_view dir : absl::StrSplit(search_path_, ':', absl::SkipEmpty())) {
    std::filesystem::path candidate = std::filesystem::path(common::toStd(dir)) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::NotFoundError(strCat(program, ": command not found in PATH ", search_path_));
}

absl::StatusOr<CommandResult> HostCommandRunner::run(const std::vector<std::string>& argv) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  const std::vector<std::string> line = commandLine(argv);
  absl::StatusOr<std::filesystem::path> program = findProgram(line[0]);
  if (!program.ok()) return program.status();

  std::vector<char*> args;
  for (const std::string& arg : line) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  // The child sees the search path we were given, so that nsenter (and fakes in tests) resolve
  // programs the same way we do.
  std::vector<std::string> env_storage = {strCat("PATH=", search_path_)};
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "PATH=", 5) != 0) env_storage.emplace_back(*e);
  }
  std::vector<char*> env;
  for (std::string& entry : env_storage) env.push_back(entry.data());
  env.push_back(nullptr);

  Pipe out_pipe;
  Pipe err_pipe;
  if (!out_pipe.open() || !err_pipe.open()) return errnoError("pipe", errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe.write(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe.write(), STDERR_FILENO);
  pid_t pid = 0;
  int spawn_error =
      ::posix_spawn(&pid, program->c_str(), &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0) return errnoError(strCat("cannot start ", program->string()), spawn_error);
  out_pipe.closeWrite();
  err_pipe.closeWrite();

  CommandResult result;
  const bool finished =
      drain(out_pipe, err_pipe, result, std::chrono::steady_clock::now() + timeout_);
  if (!finished) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return errnoError("waitpid", errno);
  }
  if (!finished) {
    return absl::DeadlineExceededError(
        strCat(describeCommand(line), ": still running after ", timeout_.count(), " ms; killed"));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (mode_ == HostExec::Nsenter && result.exit_code == kExitNotFound) {
    return absl::NotFoundError(strCat(argv[0], ": command not found on the host (",
                                      describeCommand(line), ": ", result.err, ")"));
  }
  return result;
}

}  // namespace enadpdk::nodeprep
