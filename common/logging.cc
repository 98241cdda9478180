#include "common/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <vector>

#include "common/strings.h"

namespace enadpdk::common {

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

absl::StatusOr<std::shared_ptr<spdlog::logger>> makeLogger(const std::string& name,
                                                           spdlog::level::level_enum level,
                                                           const std::filesystem::path& file) {
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (!file.empty()) {
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(file.string()));
    } catch (const spdlog::spdlog_ex& e) {
      return absl::InvalidArgumentError(strCat("log file ", file.string(), ": ", e.what()));
    }
  }
  auto logger = std::make_shared<spdlog::logger>(name, sinks.begin(), sinks.end());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l component=%n %v",
                      spdlog::pattern_time_type::utc);
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::drop(name);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace enadpdk::common
