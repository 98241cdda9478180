#include "common/json_reader.h"

#include <algorithm>
#include <charconv>

#include "common/strings.h"

namespace enadpdk::common {
namespace {

// Long values are cut in error messages so that one line stays readable.
constexpr std::size_t kMaxShownValueLength = 40;

// Says what a wrong value is: its JSON text for scalars, its kind for containers.
std::string describe(const nlohmann::json& value) {
  if (value.is_object()) return "an object";
  if (value.is_array()) return "an array";
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kMaxShownValueLength) {
    size_t cut = kMaxShownValueLength;  // back to a UTF-8 character boundary
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut) + "...";
  }
  return text;
}

std::string joinPath(std::string_view path, std::string_view relativePath) {
  bool dot = !path.empty() && !relativePath.empty() && relativePath.front() != '[';
  return strCat(path, dot ? "." : "", relativePath);
}

std::string indexPath(std::string_view key, std::size_t index) {
  return strCat(key, '[', index, ']');
}

}  // namespace

JsonReader::JsonReader(const nlohmann::json& value, std::string path, UnknownKeys unknownKeys)
    : value_(value), path_(std::move(path)), unknownKeys_(unknownKeys) {
  if (!value_.is_object()) failType("", "an object", value_);
}

bool JsonReader::has(std::string_view key) const {
  return value_.is_object() && value_.find(key) != value_.end();
}

void JsonReader::read(std::string_view key, std::string& out) {
  const nlohmann::json* json = take(key);
  if (json == nullptr) return;
  if (!json->is_string()) return failType(key, "a string", *json);
  out = json->get<std::string>();
}

void JsonReader::read(std::string_view key, std::string& out, const StringRule& rule) {
  const nlohmann::json* json = take(key);
  if (json == nullptr) return;
  if (!json->is_string() || !rule.accepts(json->get_ref<const std::string&>())) {
    return failType(key, rule.expected, *json);
  }
  out = json->get<std::string>();
}

void JsonReader::read(std::string_view key, bool& out) {
  const nlohmann::json* json = take(key);
  if (json == nullptr) return;
  if (!json->is_boolean()) return failType(key, "true or false", *json);
  out = json->get<bool>();
}

void JsonReader::read(std::string_view key, std::vector<std::string>& out) {
  const nlohmann::json* json = take(key);
  if (json == nullptr) return;
  if (!json->is_array()) return failType(key, "an array of strings", *json);
  std::vector<std::string> values;
  for (std::size_t i = 0; i < json->size(); ++i) {
    const nlohmann::json& element = (*json)[i];
    if (!element.is_string()) return failType(indexPath(key, i), "a string", element);
    values.push_back(element.get<std::string>());
  }
  out = std::move(values);
}

void JsonReader::readSet(std::string_view key, std::vector<std::string>& out,
                         const StringRule& rule) {
  const nlohmann::json* json = take(key);
  if (json == nullptr) return;
  if (!json->is_array()) return failType(key, "an array of strings", *json);
  std::vector<std::string> values;
  for (std::size_t i = 0; i < json->size(); ++i) {
    const nlohmann::json& element = (*json)[i];
    if (!element.is_string() || !rule.accepts(element.get_ref<const std::string&>())) {
      return failType(indexPath(key, i), rule.expected, element);
    }
    std::string value = element.get<std::string>();
    if (std::find(values.begin(), values.end(), value) != values.end()) {
      return fail(indexPath(key, i), strCat("duplicate entry ", describe(element)));
    }
    values.push_back(std::move(value));
  }
  out = std::move(values);
}

void JsonReader::readObject(std::string_view key, const std::function<void(JsonReader&)>& parse) {
  const nlohmann::json* json = take(key);
  if (json == nullptr) return;
  JsonReader child(*json, joinPath(path_, key), unknownKeys_);
  if (child.ok()) parse(child);
  status_ = child.finish();
}

void JsonReader::readObjects(std::string_view key, const std::function<void(JsonReader&)>& parse) {
  const nlohmann::json* json = take(key);
  if (json == nullptr) return;
  if (!json->is_array()) return failType(key, "an array of objects", *json);
  for (std::size_t i = 0; i < json->size() && ok(); ++i) {
    JsonReader child((*json)[i], joinPath(path_, indexPath(key, i)), unknownKeys_);
    if (child.ok()) parse(child);
    status_ = child.finish();
  }
}

void JsonReader::readObjectMap(
    std::string_view key, const std::function<void(const std::string& name, JsonReader&)>& parse) {
  const nlohmann::json* json = take(key);
  if (json == nullptr) return;
  if (!json->is_object()) return failType(key, "an object", *json);
  for (auto it = json->begin(); it != json->end() && ok(); ++it) {
    JsonReader child(it.value(), joinPath(joinPath(path_, key), it.key()), unknownKeys_);
    if (child.ok()) parse(it.key(), child);
    status_ = child.finish();
  }
}

void JsonReader::require(std::string_view key) {
  if (!has(key)) fail(key, "missing required key");
}

void JsonReader::fail(std::string_view relativePath, std::string_view what) {
  if (!ok()) return;
  status_ = absl::InvalidArgumentError(strCat(joinPath(path_, relativePath), ": ", what));
}

absl::Status JsonReader::finish() const {
  if (!ok() || unknownKeys_ == UnknownKeys::Ignore) return status_;
  for (const auto& [key, value] : value_.items()) {
    if (!readKeys_.contains(key)) {
      return absl::InvalidArgumentError(strCat(joinPath(path_, key), ": unknown key"));
    }
  }
  return absl::OkStatus();
}

const nlohmann::json* JsonReader::take(std::string_view key) {
  if (!ok()) return nullptr;
  readKeys_.emplace(key);
  auto it = value_.find(key);
  return it == value_.end() ? nullptr : &*it;
}

void JsonReader::failType(std::string_view relativePath, std::string_view expected,
                          const nlohmann::json& value) {
  fail(relativePath, strCat("expected ", expected, ", got ", describe(value)));
}

std::vector<std::string> JsonReader::keys() const {
  std::vector<std::string> out;
  if (!value_.is_object()) return out;
  for (const auto& [key, value] : value_.items()) out.push_back(key);
  return out;
}

void JsonReader::readIntegerText(std::string_view key, std::string& out, std::int64_t min,
                                 std::int64_t max) {
  const nlohmann::json* json = take(key);
  if (json == nullptr) return;
  std::int64_t value = 0;
  if (json->is_string()) {
    const auto& text = json->get_ref<const std::string&>();
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    const bool digits = !text.empty() && text.front() != '-' && error == std::errc() &&
                        end == text.data() + text.size();
    if (!digits || value < min || value > max) {
      return failType(key, strCat("an integer between ", min, " and ", max), *json);
    }
  } else if (!readInteger(key, *json, min, max, value)) {
    return;
  }
  out = std::to_string(value);
}

bool JsonReader::readInteger(std::string_view relativePath, const nlohmann::json& value,
                             std::int64_t min, std::int64_t max, std::int64_t& out) {
  bool inRange = false;
  if (value.is_number_unsigned()) {
    auto number = value.get<std::uint64_t>();
    inRange = max >= 0 && number <= static_cast<std::uint64_t>(max) &&
              static_cast<std::int64_t>(number) >= min;
    out = static_cast<std::int64_t>(number);
  } else if (value.is_number_integer()) {
    out = value.get<std::int64_t>();
    inRange = out >= min && out <= max;
  }
  if (!inRange) {
    failType(relativePath, strCat("an integer between ", min, " and ", max), value);
  }
  return inRange;
}

void JsonReader::failEnum(std::string_view key, const std::vector<std::string_view>& names,
                          const nlohmann::json& value) {
  std::string expected;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) expected += i + 1 == names.size() ? " or " : ", ";
    expected += strCat('"', names[i], '"');
  }
  failType(key, expected, value);
}

}  // namespace enadpdk::common
