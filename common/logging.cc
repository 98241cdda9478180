#include "common/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <ctime>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "common/shared_log_file.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace enadpdk::common {
namespace {

bool isKeyStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isKeyChar(char c) { return isKeyStart(c) || (c >= '0' && c <= '9') || c == '.' || c == '-'; }

// The length of the key of a "key=" token at `i` (at the start or after a space), else 0.
size_t keyAt(std::string_view s, size_t i) {
  if (i >= s.size() || (i > 0 && s[i - 1] != ' ') || !isKeyStart(s[i])) return 0;
  size_t j = i + 1;
  while (j < s.size() && isKeyChar(s[j])) ++j;
  return j < s.size() && s[j] == '=' ? j - i : 0;
}

// The next position >= `from` where a "key=" token starts; npos when none does.
size_t nextKey(std::string_view s, size_t from) {
  for (size_t i = from; i < s.size(); ++i) {
    if (keyAt(s, i) > 0) return i;
  }
  return std::string_view::npos;
}

std::string_view trimRight(std::string_view s) {
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

void appendUtf8(std::string& out, unsigned code) {
  if (code < 0x80) {
    out.push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code >> 6)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (code >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads the quoted value starting at s[i] == '"'. Its unescaped text and the position after the
// closing quote, or nullopt when there is no closing quote followed by a space or the end.
std::optional<std::pair<std::string, size_t>> readQuoted(std::string_view s, size_t i) {
  std::string out;
  for (size_t j = i + 1; j < s.size(); ++j) {
    const char c = s[j];
    if (c == '"') {
      if (j + 1 < s.size() && s[j + 1] != ' ') return std::nullopt;
      return std::pair{std::move(out), j + 1};
    }
    if (c != '\\' || j + 1 == s.size()) {
      out.push_back(c);
      continue;
    }
    const char e = s[++j];
    switch (e) {
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case '"':
      case '\\':
        out.push_back(e);
        break;
      case 'u': {
        unsigned code = 0;
        bool ok = j + 4 < s.size();
        for (size_t k = 1; ok && k <= 4; ++k) {
          const int d = hexDigit(s[j + k]);
          ok = d >= 0;
          code = code * 16 + static_cast<unsigned>(d);
        }
        if (ok) {
          appendUtf8(out, code);
          j += 4;
        } else {
          out += "\\u";
        }
        break;
      }
      default:  // not an escape logValue() writes: kept as it stands
        out.push_back('\\');
        out.push_back(e);
    }
  }
  return std::nullopt;
}

bool needsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u == 0x7F || c == '=' || c == '"') return true;
  }
  return false;
}

std::string jsonString(std::string_view text) {
  // nlohmann's escaping, with invalid UTF-8 replaced (U+FFFD) instead of thrown at.
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The context with reserved and repeated keys renamed (formatLogLine()).
std::vector<std::pair<std::string, std::string>> uniqueKeys(
    std::vector<std::pair<std::string, std::string>> context) {
  std::set<std::string, std::less<>> used = {"ts", "level", "component", "msg"};
  for (auto& [key, value] : context) {
    if (key == "ts" || key == "level" || key == "component" || key == "msg") {
      key = strCat("ctx_", key);
    }
    const std::string base = key;
    for (int n = 2; used.contains(key); ++n) key = strCat(base, "_", n);
    used.insert(key);
  }
  return context;
}

// "2026-11-25T01:02:03.456Z"
std::string utcTimestamp(spdlog::log_clock::time_point time) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  const auto since = time.time_since_epoch();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  const long ms = static_cast<long>(duration_cast<milliseconds>(since).count() % 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms < 0 ? ms + 1000 : ms);
}

// spdlog's formatter for every sink of our loggers.
class EventFormatter final : public spdlog::formatter {
 public:
  explicit EventFormatter(LogFormat format) : format_(format) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const spdlog::string_view_t level = spdlog::level::to_string_view(msg.level);
    const std::string line = formatLogLine(
        format_, utcTimestamp(msg.time), {level.data(), level.size()},
        {msg.logger_name.data(), msg.logger_name.size()}, {msg.payload.data(), msg.payload.size()});
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<EventFormatter>(format_);
  }

 private:
  LogFormat format_;
};

// A sink writing to a SharedLogFile: one append per line, so other processes' lines never
// interleave with ours.
class SharedFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit SharedFileSink(std::unique_ptr<SharedLogFile> file) : file_(std::move(file)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    const absl::Status s = file_->append({line.data(), line.size()});
    // spdlog catches what a sink throws and reports it on stderr through its error handler.
    if (!s.ok()) throw spdlog::spdlog_ex(std::string(s.message()));
  }
  void flush_() override {}  // every line is written when logged

 private:
  std::unique_ptr<SharedLogFile> file_;
};

}  // namespace

absl::StatusOr<spdlog::level::level_enum> parseLogLevel(std::string_view level) {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},   {"off", spdlog::level::off},
  };
  for (const auto& [name, value] : kLevels) {
    if (level == name) return value;
  }
  return absl::InvalidArgumentError(
      strCat("--log-level: \"", level, "\" is not one of ", kLogLevels));
}

absl::StatusOr<LogFormat> parseLogFormat(std::string_view format) {
  for (const auto& [name, value] : kLogFormatNames) {
    if (format == name) return value;
  }
  return absl::InvalidArgumentError(
      strCat("--log-format: \"", clipped(format), "\" is not one of ", kLogFormats));
}

std::string logValue(std::string_view value) {
  if (!needsQuotes(value)) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20 || u == 0x7F) {
          out += fmt::format("\\u{:04x}", u);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

LogEvent splitLogMessage(std::string_view message) {
  LogEvent event;
  size_t i = nextKey(message, 0);
  event.msg = std::string(trimRight(message.substr(0, std::min(i, message.size()))));
  while (i != std::string_view::npos) {
    const size_t keyLength = keyAt(message, i);
    std::string key(message.substr(i, keyLength));
    const size_t start = i + keyLength + 1;
    if (start < message.size() && message[start] == '"') {
      if (auto quoted = readQuoted(message, start)) {
        const size_t next = nextKey(message, quoted->second);
        // Only spaces may stand between a quoted value and the next key; anything else makes the
        // value an unquoted one (below).
        if (trimRight(message.substr(quoted->second, next == std::string_view::npos
                                                         ? std::string_view::npos
                                                         : next - quoted->second))
                .empty()) {
          event.context.emplace_back(std::move(key), std::move(quoted->first));
          i = next;
          continue;
        }
      }
    }
    const size_t next = nextKey(message, start);
    std::string_view value = message.substr(
        start, next == std::string_view::npos ? std::string_view::npos : next - start);
    event.context.emplace_back(std::move(key), std::string(trimRight(value)));
    i = next;
  }
  return event;
}

std::string formatLogLine(LogFormat format, std::string_view ts, std::string_view level,
                          std::string_view component, std::string_view message) {
  LogEvent event = splitLogMessage(message);
  const auto context = uniqueKeys(std::move(event.context));
  std::string line;
  switch (format) {
    case LogFormat::Logfmt:
      line = strCat("ts=", logValue(ts), " level=", logValue(level),
                    " component=", logValue(component), " msg=", logValue(event.msg));
      for (const auto& [key, value] : context) line += strCat(" ", key, "=", logValue(value));
      break;
    case LogFormat::Json:
      line = strCat("{\"ts\":", jsonString(ts), ",\"level\":", jsonString(level),
                    ",\"component\":", jsonString(component), ",\"msg\":", jsonString(event.msg));
      for (const auto& [key, value] : context) {
        line += strCat(",", jsonString(key), ":", jsonString(value));
      }
      line += "}";
      break;
  }
  line.push_back('\n');
  return line;
}

absl::StatusOr<std::shared_ptr<spdlog::logger>> makeLogger(const std::string& name,
                                                           spdlog::level::level_enum level,
                                                           const LogOutput& output) {
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (!output.file.empty()) {
    absl::StatusOr<std::unique_ptr<SharedLogFile>> file =
        SharedLogFile::open(output.file, output.fileMaxBytes, output.fileMaxFiles);
    if (!file.ok()) return file.status();
    sinks.push_back(std::make_shared<SharedFileSink>(*std::move(file)));
  }
  auto logger = std::make_shared<spdlog::logger>(name, sinks.begin(), sinks.end());
  logger->set_formatter(std::make_unique<EventFormatter>(output.format));
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::drop(name);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace enadpdk::common
