#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace enadpdk::common {

// A test that a string value must pass, with what it describes for error messages: a value
// that fails `accepts` gives "<path>: expected <expected>, got <value>".
struct StringRule {
  // Returns true when the string is acceptable.
  bool (*accepts)(std::string_view);
  // What an acceptable value is, e.g. "an absolute path".
  std::string_view expected;
};

// One name an enum value is spelled as in JSON, e.g. {"vpc", NetworkMode::Vpc}.
template <typename T>
using EnumName = std::pair<std::string_view, T>;

// Whether a JsonReader treats keys its parser never asked for as errors.
enum class UnknownKeys {
  // finish() fails with "<path>.<key>: unknown key" (ena-dpdk's own config files).
  Reject,
  // finish() ignores them (CNI network configs, whose spec says to ignore unknown keys).
  Ignore,
};

// Reads the fields of one JSON object into plain structs, tracking the JSON path so that every
// error names where it is ("dataplane.networks[1].mode: expected \"vpc\" or \"l2\", got \"x\"").
//
// Errors are sticky: the first one is kept, later reads do nothing, and finish() returns it. A
// parser therefore reads every field in a row and checks the result once:
//
//   JsonReader r(root.at("dataplane"), "dataplane");
//   r.read("controlSocket", config.controlSocket, kAbsolutePath);
//   r.read("mtu", config.mtu, 68, 9001);
//   absl::Status status = r.finish();
//
// Optional fields keep the value `out` already holds when the key is absent, so defaults come from
// the struct being filled. Every error is absl::InvalidArgumentError. Not thread-safe; a reader
// refers to the JSON value it was given, which must outlive it.
class JsonReader {
 public:
  // Reads `value`, which must be a JSON object, found at `path` ("dataplane.networks[1]"; empty for
  // the document root). A value that is not an object is the reader's first error.
  JsonReader(const nlohmann::json& value, std::string path,
             UnknownKeys unknownKeys = UnknownKeys::Reject);
  // A reader refers to its value, so it cannot be built from a temporary.
  JsonReader(nlohmann::json&& value, std::string path,
             UnknownKeys unknownKeys = UnknownKeys::Reject) = delete;

  // True until the first error.
  bool ok() const { return status_.ok(); }

  // Returns true when the object has `key`. Does not count as reading it.
  bool has(std::string_view key) const;
  // Returns the object's keys in key order (none when it is not an object). Does not count as
  // reading them: for objects whose keys are checked against a list of their own.
  std::vector<std::string> keys() const;

  // Reads an optional string.
  void read(std::string_view key, std::string& out);
  // Reads an optional string that must pass `rule`.
  void read(std::string_view key, std::string& out, const StringRule& rule);
  // Reads an optional boolean.
  void read(std::string_view key, bool& out);
  // Reads an optional array of strings.
  void read(std::string_view key, std::vector<std::string>& out);
  // Reads an optional integer in [min, max]; the range must fit T.
  template <std::integral T>
  void read(std::string_view key, T& out, std::int64_t min, std::int64_t max);
  // Reads an optional array of integers, each in [min, max]; the range must fit T.
  template <std::integral T>
  void read(std::string_view key, std::vector<T>& out, std::int64_t min, std::int64_t max);
  // Reads an optional integer in [min, max], written in JSON as a number or as a string of decimal
  // digits ("3"), into its decimal text ("3"): for values that end up in a text such as a DPDK
  // device argument.
  void readIntegerText(std::string_view key, std::string& out, std::int64_t min, std::int64_t max);
  // Reads an optional array of strings that each pass `rule` and appear only once.
  void readSet(std::string_view key, std::vector<std::string>& out, const StringRule& rule);
  // Reads an optional string that must be one of `names` into the matching enum value. An
  // unknown name fails with `expected "a", "b" or "c", got "x"`.
  template <typename T, std::size_t N>
  void readEnum(std::string_view key, T& out, const EnumName<T> (&names)[N]);

  // Reads an optional object: calls `parse` with a reader for it (path "<path>.<key>"), then
  // finishes that reader. `parse` is not called when the key is absent.
  void readObject(std::string_view key, const std::function<void(JsonReader&)>& parse);
  // Reads an optional array of objects: calls `parse` with a reader for each element (path
  // "<path>.<key>[<index>]"), in order, until one fails.
  void readObjects(std::string_view key, const std::function<void(JsonReader&)>& parse);
  // Reads an optional object whose keys are names chosen by the user: calls `parse` with each key
  // and a reader for its value (path "<path>.<key>.<name>"), in key order, until one fails.
  void readObjectMap(std::string_view key,
                     const std::function<void(const std::string& name, JsonReader&)>& parse);

  // Records "<path>.<key>: missing required key" unless the object has `key`. Call it before
  // reading a required field.
  void require(std::string_view key);

  // Records the error "<path>.<relativePath>: <what>" unless an earlier error was recorded.
  // `relativePath` is a key ("mtu"), an index ("[2]"), a key and index ("workers[0]"), or empty for
  // the object itself. For checks that involve more than one field.
  void fail(std::string_view relativePath, std::string_view what);

  // Returns the first error, or with UnknownKeys::Reject the first key (in key order) that was
  // never read, as "<path>.<key>: unknown key"; else OK.
  absl::Status finish() const;

 private:
  // Returns the value of `key` and marks it read, or nullptr when it is absent or an error was
  // already recorded.
  const nlohmann::json* take(std::string_view key);
  // Records "<path>.<relativePath>: expected <expected>, got <value>".
  void failType(std::string_view relativePath, std::string_view expected,
                const nlohmann::json& value);
  // Returns `value` as an int64 when it is an integer in [min, max], else records an error at
  // `relativePath` and returns false.
  bool readInteger(std::string_view relativePath, const nlohmann::json& value, std::int64_t min,
                   std::int64_t max, std::int64_t& out);
  // Records `expected "a", "b" or "c", got <value>` at `key`.
  void failEnum(std::string_view key, const std::vector<std::string_view>& names,
                const nlohmann::json& value);

  const nlohmann::json& value_;
  std::string path_;
  UnknownKeys unknownKeys_;
  std::set<std::string, std::less<>> readKeys_;
  absl::Status status_;
};

template <std::integral T>
void JsonReader::read(std::string_view key, T& out, std::int64_t min, std::int64_t max) {
  std::int64_t value;
  if (const nlohmann::json* json = take(key); json && readInteger(key, *json, min, max, value)) {
    out = static_cast<T>(value);
  }
}

template <std::integral T>
void JsonReader::read(std::string_view key, std::vector<T>& out, std::int64_t min,
                      std::int64_t max) {
  const nlohmann::json* json = take(key);
  if (json == nullptr) return;
  if (!json->is_array()) return failType(key, "an array of integers", *json);
  std::vector<T> values;
  for (std::size_t i = 0; i < json->size(); ++i) {
    std::int64_t value;
    if (!readInteger(strCat(key, '[', i, ']'), (*json)[i], min, max, value)) return;
    values.push_back(static_cast<T>(value));
  }
  out = std::move(values);
}

template <typename T, std::size_t N>
void JsonReader::readEnum(std::string_view key, T& out, const EnumName<T> (&names)[N]) {
  const nlohmann::json* json = take(key);
  if (json == nullptr) return;
  std::vector<std::string_view> spellings;
  for (const auto& [name, value] : names) {
    if (json->is_string() && json->get_ref<const std::string&>() == name) {
      out = value;
      return;
    }
    spellings.push_back(name);
  }
  failEnum(key, spellings, *json);
}

}  // namespace enadpdk::common
