#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace enadpdk::testing {

// Recording fake programs for code that runs host commands found through PATH: each fake is a
// small shell script in a temporary bin directory that appends its name and arguments to a log
// and then runs an optional shell body. Put path() first in (or use it as) the PATH the code
// under test searches, then assert the exact invocations. The scripts set their own PATH to the
// system directories, so bodies may use ordinary tools. Not thread-safe.
class FakeCommands {
 public:
  // Creates the temporary bin directory and an empty log.
  FakeCommands();
  // Removes the directory.
  ~FakeCommands();
  FakeCommands(const FakeCommands&) = delete;
  FakeCommands& operator=(const FakeCommands&) = delete;

  // Adds (or replaces) fake `name`: it records "name ARGS..." and then runs `body` (POSIX sh,
  // "$@" holds the arguments); the script exits 0 unless the body exits otherwise.
  FakeCommands& add(std::string_view name, std::string_view body = "");
  // Adds a fake nsenter: it records its own arguments, then executes the command after "--"
  // through this bin directory (exit 127 when that program is not there, like util-linux).
  FakeCommands& addNsenter();

  // The bin directory, to be used as a PATH value (alone, so that a command the test did not
  // fake is not found instead of running the real one).
  std::string path() const { return bin_.string(); }
  // The bin directory.
  const std::filesystem::path& bin() const { return bin_; }

  // Every recorded invocation in order: {name, arg1, arg2, ...}.
  std::vector<std::vector<std::string>> invocations() const;
  // Forgets the recorded invocations.
  void clearLog();

 private:
  std::filesystem::path dir_;
  std::filesystem::path bin_;
  std::filesystem::path log_;
};

}  // namespace enadpdk::testing
