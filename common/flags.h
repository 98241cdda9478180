#pragma once

#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/logging.h"

namespace enadpdk::common {

// The default path of the shared configuration file.
inline constexpr char kDefaultConfigPath[] = "/etc/ena-dpdk/config.json";

// A small command-line parser for the project's binaries: long flags (`--name VALUE`,
// `--name=VALUE`, optional one-letter aliases `-o VALUE`), switches, repeated flags, and
// positional arguments anywhere (for subcommands such as `ena-dpdk-ctl port del ID`); `--` ends
// the flags. It also renders --help from the declarations so the help text stays true to the
// code. Not thread-safe; used once from main().
class FlagParser {
 public:
  // `program` is the binary name; `usage` the synopsis after it ("[--config PATH] COMMAND");
  // `summary` one paragraph saying what the program does.
  FlagParser(std::string program, std::string usage, std::string summary);

  // Declares a flag that takes a value. `value_name` is shown in help ("PATH"). When
  // `repeated`, every occurrence is kept (values()); otherwise the last one wins.
  FlagParser& addValue(std::string name, std::string value_name, std::string help,
                       std::string default_value = "", char short_name = 0, bool repeated = false);

  // Declares a switch without a value (`--dry-run`).
  FlagParser& addSwitch(std::string name, std::string help, char short_name = 0);

  // Declares the flags every daemon and tool shares: --config PATH (default
  // kDefaultConfigPath) unless `config` is false, --root DIR when `root`, and always
  // --log-level LEVEL, --log-format FORMAT, --version and --help. handleStandard() validates
  // both log flags, so a binary may dereference parseLogLevel()/parseLogFormat() of them.
  FlagParser& addCommonFlags(bool config = true, bool root = true);

  // What --log-format asks for: the LogOutput of a logger writing to stderr only. Call it after
  // handleStandard() (which rejects a bad format); an unknown format gives the default.
  LogOutput logOutput() const;

  // Appends a free-text section to --help (e.g. the list of subcommands).
  FlagParser& addHelpSection(std::string title, std::string text);

  // Parses argv[1..argc). InvalidArgument with a one-line message for an unknown flag, a missing
  // value, or a value given to a switch.
  absl::Status parse(int argc, const char* const* argv);

  // True when the user gave the flag (or switch) on the command line.
  bool has(std::string_view name) const;
  // The flag's last value, or its default when not given.
  std::string value(std::string_view name) const;
  // Every value given for a repeated flag, in order.
  std::vector<std::string> values(std::string_view name) const;
  // Arguments that are not flags, in order.
  const std::vector<std::string>& positional() const { return positional_; }

  // The --help text.
  std::string help() const;
  const std::string& program() const { return program_; }

  // Handles --help, --version and a failed parse the same way in every binary: prints help or
  // "<program> <version> (<git revision>)" to `out` and returns 0, or prints
  // "<program>: <message>" (one line) to `err` and returns 2. nullopt means "carry on".
  std::optional<int> handleStandard(const absl::Status& parse_status, std::ostream& out,
                                    std::ostream& err) const;

 private:
  struct Flag {
    std::string name;
    std::string value_name;  // empty for a switch
    std::string help;
    std::string default_value;
    char short_name = 0;
    bool repeated = false;
  };
  const Flag* find(std::string_view name) const;
  const Flag* findShort(char c) const;

  std::string program_;
  std::string usage_;
  std::string summary_;
  std::vector<Flag> flags_;
  std::vector<std::pair<std::string, std::string>> sections_;
  std::map<std::string, std::vector<std::string>, std::less<>> given_;
  std::vector<std::string> positional_;
};

// Prints "<program>: <message>" to `err` as a single line (newlines in `message` folded to
// "; ") and returns `exit_code`. The one place binaries report a fatal error.
int reportFatal(std::ostream& err, std::string_view program, std::string_view message,
                int exit_code = 1);

// Exit status of a binary whose main was left by an unexpected exception (sysexits' EX_SOFTWARE).
inline constexpr int kInternalErrorExit = 70;

// Runs `body` (the whole of a binary's main) and returns its exit status. An exception that
// escapes it is reported with reportFatal() as "internal error: <what>" and kInternalErrorExit
// is returned, so that no binary aborts on an exception (STYLE.md: catch at the edge).
int runCatching(std::ostream& err, std::string_view program, const std::function<int()>& body);

}  // namespace enadpdk::common
