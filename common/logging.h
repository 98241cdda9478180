#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "absl/status/statusor.h"

namespace enadpdk::common {

// The --log-level values every binary accepts.
inline constexpr char kLogLevels[] = "trace, debug, info, warn, error, off";

// Parses a --log-level value (one of kLogLevels). InvalidArgument otherwise.
absl::StatusOr<spdlog::level::level_enum> parseLogLevel(std::string_view level);

// Creates (or replaces) the component's logger `name` ("dataplane", "cni", ...), writing
// structured text lines to stderr, and also to `file` when given:
//   2026-11-25T01:02:03.456Z level=info component=dataplane port added id=abc network=eni1
// Messages carry their context as key=value pairs. Thread-safe (spdlog's _mt sinks).
absl::StatusOr<std::shared_ptr<spdlog::logger>> makeLogger(const std::string& name,
                                                           spdlog::level::level_enum level,
                                                           const std::filesystem::path& file = {});

}  // namespace enadpdk::common
