#include "cni/delegate.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>

#include "cni/errors.h"
#include "common/json_text.h"
#include "common/strings.h"

namespace enadpdk::cni {
namespace {

using common::strCat;

// Closes a descriptor once, on every path out of exec().
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// A child that may write nothing to a stdin it never reads would kill us with SIGPIPE; the
// plugin is a short-lived process, so ignoring the signal while a delegate runs is safe.
class IgnoreSigpipe {
 public:
  IgnoreSigpipe() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ignore, &old_);
  }
  ~IgnoreSigpipe() { ::sigaction(SIGPIPE, &old_, nullptr); }

 private:
  struct sigaction old_ {};
};

absl::Status failed(const std::string& type, std::string_view what) {
  return cniError(CniError::kIpamFailed, strCat("ipam plugin ", type, ": ", what));
}

}  // namespace

DelegateRunner::DelegateRunner(std::vector<std::string> searchPath,
                               std::map<std::string, std::string> env,
                               std::chrono::milliseconds timeout,
                               std::shared_ptr<spdlog::logger> logger)
    : searchPath_(std::move(searchPath)),
      env_(std::move(env)),
      timeout_(timeout),
      logger_(std::move(logger)) {}

absl::StatusOr<std::string> DelegateRunner::exec(const std::string& command,
                                                 const std::string& type,
                                                 const std::string& input) {
  std::string program;
  for (const std::string& dir : searchPath_) {
    const std::string candidate = (std::filesystem::path(dir) / type).string();
    if (::access(candidate.c_str(), X_OK) == 0) {
      program = candidate;
      break;
    }
  }
  if (program.empty()) {
    std::string dirs;
    for (const std::string& d : searchPath_) dirs = dirs.empty() ? d : strCat(dirs, ":", d);
    return cniError(CniError::kInvalidConfig,
                    strCat("ipam.type: plugin \"", common::clipped(type),
                           "\" not found in CNI_PATH (", common::clipped(dirs), ")"));
  }

  std::vector<std::string> envStrings;
  for (const auto& [key, value] : env_) {
    if (key != "CNI_COMMAND") envStrings.push_back(strCat(key, "=", value));
  }
  envStrings.push_back(strCat("CNI_COMMAND=", command));
  std::vector<char*> envp;
  for (std::string& s : envStrings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string arg0 = program;
  char* argv[] = {arg0.data(), nullptr};

  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return failed(type, strCat("pipe: ", std::strerror(errno)));
  Fd inRead(in[0]), inWrite(in[1]);
  if (::pipe2(out, O_CLOEXEC) != 0) return failed(type, strCat("pipe: ", std::strerror(errno)));
  Fd outRead(out[0]), outWrite(out[1]);

  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  // dup2 clears close-on-exec on the targets; every other pipe end closes at exec.
  ::posix_spawn_file_actions_adddup2(&actions, inRead.get(), STDIN_FILENO);
  ::posix_spawn_file_actions_adddup2(&actions, outWrite.get(), STDOUT_FILENO);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv, envp.data());
  ::posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return failed(type, strCat("cannot run ", program, ": ", std::strerror(rc)));
  inRead.reset();
  outWrite.reset();
  logger_->debug("delegate started plugin={} command={} pid={}", program, command, pid);

  IgnoreSigpipe sigpipe;
  ::fcntl(inWrite.get(), F_SETFL, O_NONBLOCK);
  std::string_view pending = input;
  if (pending.empty()) inWrite.reset();
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  bool timedOut = false;
  while (outRead.get() >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timedOut = true;
      break;
    }
    pollfd fds[2] = {{outRead.get(), POLLIN, 0}, {inWrite.get(), POLLOUT, 0}};
    const int n = ::poll(fds, inWrite.get() >= 0 ? 2 : 1, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    if (inWrite.get() >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t w = ::write(inWrite.get(), pending.data(), pending.size());
      if (w > 0) pending.remove_prefix(static_cast<size_t>(w));
      // A delegate may exit without reading all of stdin (EPIPE); its exit status tells.
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || pending.empty()) inWrite.reset();
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      const ssize_t r = ::read(outRead.get(), buf, sizeof(buf));
      if (r > 0) {
        output.append(buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        outRead.reset();
      }
    }
  }
  if (timedOut) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timedOut)
    return failed(type, strCat(command, " did not finish within ", timeout_.count(), "ms"));
  if (WIFSIGNALED(status)) {
    return failed(type, strCat(command, " was killed by signal ", WTERMSIG(status)));
  }
  const int exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  logger_->debug("delegate finished plugin={} command={} exit={}", program, command, exitCode);
  if (exitCode == 0) return output;

  // The spec's error JSON: {"cniVersion", "code", "msg", "details"}. Every key is checked before
  // it is read (nlohmann's value() and get() throw on a key of another type): an error whose code
  // is not an int or whose msg is not a string is not the spec's error JSON; details that are not
  // a string are left out.
  const nlohmann::json error = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  const std::optional<std::string> malformed = [&]() -> std::optional<std::string> {
    if (!error.is_object() || !error.contains("code")) return std::string("no CNI error");
    const nlohmann::json& code = error["code"];
    if (!code.is_number_integer() || code.get<std::int64_t>() < 0 ||
        code.get<std::int64_t>() > std::numeric_limits<int>::max()) {
      return std::string("a CNI error whose \"code\" is not a code");
    }
    if (error.contains("msg") && !error["msg"].is_string()) {
      return std::string("a CNI error whose \"msg\" is not a string");
    }
    return std::nullopt;
  }();
  if (malformed) {
    return failed(type, strCat(command, " exited with status ", exitCode,
                               output.empty() ? " and printed nothing" : " and printed ",
                               output.empty() ? "" : *malformed));
  }
  std::string msg = error.contains("msg") ? error["msg"].get<std::string>() : std::string();
  if (error.contains("details") && error["details"].is_string() &&
      !error["details"].get_ref<const std::string&>().empty()) {
    msg = strCat(msg, " (", error["details"].get<std::string>(), ")");
  }
  return cniError(static_cast<CniError>(error["code"].get<int>()),
                  strCat("ipam plugin ", type, ": ", msg));
}

absl::StatusOr<Result> DelegateRunner::add(const std::string& type, const nlohmann::json& config) {
  absl::StatusOr<std::string> output = exec("ADD", type, common::dumpJson(config));
  if (!output.ok()) return output.status();
  const auto versionKey = config.find("cniVersion");
  const std::string version = versionKey != config.end() && versionKey->is_string()
                                  ? versionKey->get<std::string>()
                                  : std::string();
  absl::StatusOr<Result> result = parseResult(std::string_view(*output), "ipam result", version);
  if (!result.ok()) {
    return failed(
        type, strCat("ADD printed an unusable result: ", common::toStd(result.status().message())));
  }
  return result;
}

absl::Status DelegateRunner::run(const std::string& command, const std::string& type,
                                 const nlohmann::json& config) {
  return exec(command, type, common::dumpJson(config)).status();
}

}  // namespace enadpdk::cni
