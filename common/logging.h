#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "absl/status/statusor.h"

namespace enadpdk::common {

// The --log-level values every binary accepts.
inline constexpr char kLogLevels[] = "trace, debug, info, warn, error, off";

// Parses a --log-level value (one of kLogLevels). InvalidArgument otherwise.
absl::StatusOr<spdlog::level::level_enum> parseLogLevel(std::string_view level);

// How a log line is written (--log-format, the CNI's "logFormat"). One event per line either way.
enum class LogFormat {
  // ts=2026-11-25T01:02:03.456Z level=info component=dataplane msg="port added" id=abc
  Logfmt,
  // {"ts":"2026-11-25T01:02:03.456Z","level":"info","component":"dataplane","msg":"port added",
  //  "id":"abc"}
  Json,
};

// The --log-format values every binary accepts, and their spellings (config readers use them).
inline constexpr char kLogFormats[] = "logfmt, json";
inline constexpr std::pair<std::string_view, LogFormat> kLogFormatNames[] = {
    {"logfmt", LogFormat::Logfmt}, {"json", LogFormat::Json}};
// The default --log-format.
inline constexpr char kDefaultLogFormat[] = "logfmt";

// Parses a --log-format value (one of kLogFormats). InvalidArgument otherwise.
absl::StatusOr<LogFormat> parseLogFormat(std::string_view format);

// Size rotation of a log file (the CNI plugins' "logMaxBytes", "logMaxFiles").
inline constexpr uint64_t kDefaultLogMaxBytes = 10 * 1024 * 1024;
inline constexpr unsigned kDefaultLogMaxFiles = 3;
inline constexpr unsigned kMaxLogFiles = 100;
inline constexpr uint64_t kMaxLogMaxBytes = uint64_t{1} << 40;  // 1 TiB

// Where and how a logger writes.
struct LogOutput {
  // The line format of every sink.
  LogFormat format = LogFormat::Logfmt;
  // A file the lines are also appended to (besides stderr); empty: stderr only. Several
  // processes may append to the same file (SharedLogFile).
  std::filesystem::path file{};
  // The file is rotated before a line would take it past this size; 0: never rotated.
  uint64_t fileMaxBytes = kDefaultLogMaxBytes;
  // Rotated files kept: <file>.1 (newest) .. <file>.<fileMaxFiles>; 0: a full file is removed.
  unsigned fileMaxFiles = kDefaultLogMaxFiles;
};

// Creates (or replaces) the component's logger `name` ("dataplane", "cni", ...), writing one
// line per event to stderr, and also to `output.file` when given, in `output.format`.
//
// A message is free text followed by its context as key=value pairs:
//   logger->info("port added id={} network={}", id, network);
// becomes `... msg="port added" id=abc network=eni1`. A value that may hold a space, '=', a
// quote or a control character (an error message, a reason, a path from outside) is passed
// through logValue() at the call site: `error={}`, logValue(status.message()).
// Thread-safe (spdlog's _mt sinks); the file is safe to share between processes.
absl::StatusOr<std::shared_ptr<spdlog::logger>> makeLogger(const std::string& name,
                                                           spdlog::level::level_enum level,
                                                           const LogOutput& output = {});

// `value` as one logfmt value: unchanged when it is not empty and holds no space, '=', '"' or
// control character; else in double quotes with '"', '\' and control characters escaped
// (\", \\, \n, \r, \t, \u00XX). splitLogMessage() reads it back exactly.
std::string logValue(std::string_view value);

// A message split into its free text and its context.
struct LogEvent {
  // The text before the first key=value token, without trailing spaces.
  std::string msg{};
  // The key=value pairs in order, values unquoted.
  std::vector<std::pair<std::string, std::string>> context{};

  // Equality, for tests.
  bool operator==(const LogEvent&) const = default;
};

// Splits a message the way the formatter reads it. A key is [A-Za-z_][A-Za-z0-9_.-]* followed by
// '=' at the start of the message or after a space; the first one ends the free text. A value in
// double quotes (logValue()) ends at its closing quote when a space or the end follows; any other
// value runs to the next " key=" token or the end, so an unquoted value that holds spaces but no
// such token survives whole.
LogEvent splitLogMessage(std::string_view message);

// One formatted line (with its '\n') of the event `message` logged at `level` by `component` at
// `ts` (already formatted). Context keys named ts, level, component or msg are written as
// ctx_<key>; a key that repeats gets _2, _3... so that JSON objects never repeat a member.
std::string formatLogLine(LogFormat format, std::string_view ts, std::string_view level,
                          std::string_view component, std::string_view message);

}  // namespace enadpdk::common
