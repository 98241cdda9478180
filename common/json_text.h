#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace enadpdk::common {

// Serialises `value` as nlohmann::json::dump(indent) does, except that an invalid UTF-8 sequence
// in a string is replaced with U+FFFD instead of throwing type_error.316. Every JSON document a
// binary prints or writes is produced through this, so that no byte taken from the environment,
// a file or a network answer can abort the process or make its output malformed.
inline std::string dumpJson(const nlohmann::json& value, int indent = -1) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace enadpdk::common
