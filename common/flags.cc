#include "common/flags.h"

#include <algorithm>

#include "common/logging.h"
#include "common/strings.h"
#include "common/version.h"

namespace enadpdk::common {

FlagParser::FlagParser(std::string program, std::string usage, std::string summary)
    : program_(std::move(program)), usage_(std::move(usage)), summary_(std::move(summary)) {}

FlagParser& FlagParser::addValue(std::string name, std::string value_name, std::string help,
                                 std::string default_value, char short_name, bool repeated) {
  flags_.push_back({std::move(name), std::move(value_name), std::move(help),
                    std::move(default_value), short_name, repeated});
  return *this;
}

FlagParser& FlagParser::addSwitch(std::string name, std::string help, char short_name) {
  flags_.push_back({std::move(name), "", std::move(help), "", short_name, false});
  return *this;
}

FlagParser& FlagParser::addCommonFlags(bool config, bool root) {
  if (config) addValue("config", "PATH", "configuration file", kDefaultConfigPath);
  if (root) {
    addValue("root", "DIR", "host root: prefix for /sys, /proc, /dev, /etc, /run, /var", "/");
  }
  addValue("log-level", "LEVEL", strCat("log level: ", kLogLevels), "info");
  addValue("log-format", "FORMAT", strCat("log line format: ", kLogFormats), kDefaultLogFormat);
  addSwitch("version", "print the version and exit");
  addSwitch("help", "print this help and exit", 'h');
  return *this;
}

FlagParser& FlagParser::addHelpSection(std::string title, std::string text) {
  sections_.emplace_back(std::move(title), std::move(text));
  return *this;
}

const FlagParser::Flag* FlagParser::find(std::string_view name) const {
  auto it =
      std::find_if(flags_.begin(), flags_.end(), [&](const Flag& f) { return f.name == name; });
  return it == flags_.end() ? nullptr : &*it;
}

const FlagParser::Flag* FlagParser::findShort(char c) const {
  auto it =
      std::find_if(flags_.begin(), flags_.end(), [&](const Flag& f) { return f.short_name == c; });
  return it == flags_.end() ? nullptr : &*it;
}

absl::Status FlagParser::parse(int argc, const char* const* argv) {
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      positional_.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    const Flag* flag = nullptr;
    std::optional<std::string> inline_value;
    std::string shown(arg);
    if (arg.starts_with("--")) {
      std::string_view body = arg.substr(2);
      size_t eq = body.find('=');
      if (eq != std::string_view::npos) {
        inline_value = std::string(body.substr(eq + 1));
        body = body.substr(0, eq);
        shown = strCat("--", body);
      }
      flag = find(body);
    } else if (arg.size() == 2) {
      flag = findShort(arg[1]);
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          strCat("unknown flag ", shown, " (see ", program_, " --help)"));
    }
    std::vector<std::string>& slot = given_[flag->name];
    if (flag->value_name.empty()) {
      if (inline_value) {
        return absl::InvalidArgumentError(strCat(shown, " does not take a value"));
      }
      slot.emplace_back("true");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(strCat(shown, " needs a value (", flag->value_name, ")"));
      }
      inline_value = argv[++i];
    }
    if (!flag->repeated) slot.clear();
    slot.push_back(std::move(*inline_value));
  }
  return absl::OkStatus();
}

LogOutput FlagParser::logOutput() const {
  return {.format = parseLogFormat(value("log-format")).value_or(LogFormat::Logfmt)};
}

bool FlagParser::has(std::string_view name) const { return given_.contains(name); }

std::string FlagParser::value(std::string_view name) const {
  auto it = given_.find(name);
  if (it != given_.end() && !it->second.empty()) return it->second.back();
  const Flag* flag = find(name);
  return flag ? flag->default_value : "";
}

std::vector<std::string> FlagParser::values(std::string_view name) const {
  auto it = given_.find(name);
  return it == given_.end() ? std::vector<std::string>{} : it->second;
}

std::string FlagParser::help() const {
  std::string out = strCat("Usage: ", program_, " ", usage_, "\n\n", summary_, "\n\nFlags:\n");
  for (const Flag& f : flags_) {
    std::string left = f.short_name ? strCat("  -", std::string(1, f.short_name), ", --")
                                    : std::string("      --");
    left += strCat(f.name);
    if (!f.value_name.empty()) left += strCat(" ", f.value_name);
    if (left.size() < 30)
      left.resize(30, ' ');
    else
      left += strCat("\n", std::string(30, ' '));
    out += strCat(left, f.help);
    if (!f.default_value.empty()) out += strCat(" (default ", f.default_value, ")");
    if (f.repeated) out += strCat(" (repeatable)");
    out += strCat("\n");
  }
  for (const auto& [title, text] : sections_) out += strCat("\n", title, ":\n", text);
  if (!out.ends_with("\n")) out += "\n";
  return out;
}

std::optional<int> FlagParser::handleStandard(const absl::Status& parse_status, std::ostream& out,
                                              std::ostream& err) const {
  if (!parse_status.ok()) return reportFatal(err, program_, toStd(parse_status.message()), 2);
  if (has("help")) {
    out << help();
    return 0;
  }
  if (has("version")) {
    out << program_ << " " << kVersion << " (" << kGitRevision << ")\n";
    return 0;
  }
  if (find("log-level") != nullptr) {
    absl::StatusOr<spdlog::level::level_enum> level = parseLogLevel(value("log-level"));
    if (!level.ok()) return reportFatal(err, program_, toStd(level.status().message()), 2);
  }
  if (find("log-format") != nullptr) {
    absl::StatusOr<LogFormat> format = parseLogFormat(value("log-format"));
    if (!format.ok()) return reportFatal(err, program_, toStd(format.status().message()), 2);
  }
  return std::nullopt;
}

namespace {
std::string foldLines(std::string_view message) {
  std::string out;
  for (char c : message) {
    if (c == '\n') {
      out += "; ";
    } else {
      out.push_back(c);
    }
  }
  return out;
}
}  // namespace

int reportFatal(std::ostream& err, std::string_view program, std::string_view message,
                int exit_code) {
  err << program << ": " << foldLines(message) << "\n";
  err.flush();
  return exit_code;
}

int runCatching(std::ostream& err, std::string_view program, const std::function<int()>& body) {
  std::string what = "unknown exception";
  try {
    return body();
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  try {
    return reportFatal(err, program, strCat("internal error: ", clipped(what)), kInternalErrorExit);
  } catch (...) {
    return kInternalErrorExit;
  }
}

}  // namespace enadpdk::common
