#include "common/json_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace enadpdk::testing {
namespace {

using common::EnumName;
using common::JsonReader;
using common::StringRule;
using common::UnknownKeys;
using ::testing::ElementsAre;
using ::testing::Pair;

enum class Color { Red, Green, Blue };
constexpr EnumName<Color> kColors[] = {
    {"red", Color::Red}, {"green", Color::Green}, {"blue", Color::Blue}};

bool isShort(std::string_view text) { return text.size() <= 3; }
constexpr StringRule kShort{isShort, "at most 3 characters"};

// Everything one reader can fill, with recognisable defaults.
struct Fields {
  std::string text = "default";
  std::string shortText = "abc";
  bool flag = false;
  int number = 7;
  std::vector<unsigned> numbers = {1};
  std::vector<std::string> texts = {"x"};
  std::vector<std::string> set = {};
  Color color = Color::Red;
  std::map<std::string, int> children = {};
};

// Reads every field of `Fields` from `json` at path "root" and returns the reader's result.
absl::Status readFields(const nlohmann::json& json, Fields& fields) {
  JsonReader r(json, "root");
  r.read("text", fields.text);
  r.read("shortText", fields.shortText, kShort);
  r.read("flag", fields.flag);
  r.read("number", fields.number, -10, 10);
  r.read("numbers", fields.numbers, 0, 100);
  r.read("texts", fields.texts);
  r.readSet("set", fields.set, kShort);
  r.readEnum("color", fields.color, kColors);
  r.readObjectMap("children", [&](const std::string& name, JsonReader& child) {
    child.read("value", fields.children[name], 0, 9);
  });
  return r.finish();
}

TEST(JsonReaderTest, ReadsEveryKind) {
  Fields fields;
  absl::Status status = readFields(nlohmann::json::parse(R"({
      "text": "hello", "shortText": "ab", "flag": true, "number": -3, "numbers": [0, 100],
      "texts": ["a", "b"], "set": ["p", "q"], "color": "blue",
      "children": {"one": {"value": 1}, "two": {"value": 2}}})"),
                                   fields);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(fields.text, "hello");
  EXPECT_EQ(fields.shortText, "ab");
  EXPECT_TRUE(fields.flag);
  EXPECT_EQ(fields.number, -3);
  EXPECT_THAT(fields.numbers, ElementsAre(0, 100));
  EXPECT_THAT(fields.texts, ElementsAre("a", "b"));
  EXPECT_THAT(fields.set, ElementsAre("p", "q"));
  EXPECT_EQ(fields.color, Color::Blue);
  EXPECT_THAT(fields.children, ElementsAre(Pair("one", 1), Pair("two", 2)));
}

TEST(JsonReaderTest, AbsentKeysKeepDefaults) {
  Fields fields;
  ASSERT_TRUE(readFields(nlohmann::json::object(), fields).ok());
  EXPECT_EQ(fields.text, "default");
  EXPECT_EQ(fields.shortText, "abc");
  EXPECT_FALSE(fields.flag);
  EXPECT_EQ(fields.number, 7);
  EXPECT_THAT(fields.numbers, ElementsAre(1));
  EXPECT_THAT(fields.texts, ElementsAre("x"));
  EXPECT_EQ(fields.color, Color::Red);
}

TEST(JsonReaderTest, AcceptsTheEndsOfARange) {
  for (std::int64_t number : {-10, 10}) {
    Fields fields;
    ASSERT_TRUE(readFields({{"number", number}}, fields).ok()) << number;
    EXPECT_EQ(fields.number, number);
  }
}

struct ErrorCase {
  std::string name;
  std::string json;
  std::string message;
};

void PrintTo(const ErrorCase& testCase, std::ostream* out) { *out << testCase.name; }

class JsonReaderErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(JsonReaderErrorTest, NamesThePathAndTheProblem) {
  Fields fields;
  absl::Status status = readFields(nlohmann::json::parse(GetParam().json), fields);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(status.message()), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, JsonReaderErrorTest,
    ::testing::Values(
        ErrorCase{"NotAnObject", R"([1])", "root: expected an object, got an array"},
        ErrorCase{"Null", R"(null)", "root: expected an object, got null"},
        ErrorCase{"StringIsNumber", R"({"text": 5})", "root.text: expected a string, got 5"},
        ErrorCase{"RuleFails", R"({"shortText": "abcd"})",
                  R"(root.shortText: expected at most 3 characters, got "abcd")"},
        ErrorCase{"RuleOnNonString", R"({"shortText": {}})",
                  "root.shortText: expected at most 3 characters, got an object"},
        ErrorCase{"BoolIsString", R"({"flag": "true"})",
                  R"(root.flag: expected true or false, got "true")"},
        ErrorCase{"IntegerIsString", R"({"number": "a"})",
                  R"(root.number: expected an integer between -10 and 10, got "a")"},
        ErrorCase{"IntegerIsFloat", R"({"number": 1.5})",
                  "root.number: expected an integer between -10 and 10, got 1.5"},
        ErrorCase{"IntegerIsBool", R"({"number": true})",
                  "root.number: expected an integer between -10 and 10, got true"},
        ErrorCase{"IntegerTooSmall", R"({"number": -11})",
                  "root.number: expected an integer between -10 and 10, got -11"},
        ErrorCase{"IntegerTooLarge", R"({"number": 18446744073709551615})",
                  "root.number: expected an integer between -10 and 10, got 18446744073709551615"},
        ErrorCase{"IntegerArrayIsNumber", R"({"numbers": 5})",
                  "root.numbers: expected an array of integers, got 5"},
        ErrorCase{"IntegerArrayElement", R"({"numbers": [1, 101]})",
                  "root.numbers[1]: expected an integer between 0 and 100, got 101"},
        ErrorCase{"StringArrayIsString", R"({"texts": "a b"})",
                  R"(root.texts: expected an array of strings, got "a b")"},
        ErrorCase{"StringArrayElement", R"({"texts": ["a", null]})",
                  "root.texts[1]: expected a string, got null"},
        ErrorCase{"SetElementFailsRule", R"({"set": ["a", "long"]})",
                  R"(root.set[1]: expected at most 3 characters, got "long")"},
        ErrorCase{"SetDuplicate", R"({"set": ["a", "b", "a"]})",
                  R"(root.set[2]: duplicate entry "a")"},
        ErrorCase{"EnumUnknown", R"({"color": "pink"})",
                  R"(root.color: expected "red", "green" or "blue", got "pink")"},
        ErrorCase{"EnumNotString", R"({"color": 1})",
                  R"(root.color: expected "red", "green" or "blue", got 1)"},
        ErrorCase{"UnknownKey", R"({"text": "a", "txet": "b"})", "root.txet: unknown key"},
        ErrorCase{"MapIsArray", R"({"children": []})",
                  "root.children: expected an object, got an array"},
        ErrorCase{"MapValueNotObject", R"({"children": {"one": 1}})",
                  "root.children.one: expected an object, got 1"},
        ErrorCase{"MapValueError", R"({"children": {"one": {"value": 10}}})",
                  "root.children.one.value: expected an integer between 0 and 9, got 10"},
        ErrorCase{"MapValueUnknownKey", R"({"children": {"one": {"valeu": 1}}})",
                  "root.children.one.valeu: unknown key"},
        ErrorCase{"LongValueIsCut", R"({"number": "0123456789012345678901234567890123456789xyz"})",
                  "root.number: expected an integer between -10 and 10, got "
                  R"("012345678901234567890123456789012345678...)"},
        ErrorCase{"FirstErrorWins", R"({"text": 1, "flag": 1})",
                  "root.text: expected a string, got 1"}),
    [](const ::testing::TestParamInfo<ErrorCase>& testCase) { return testCase.param.name; });

// Reads nested objects and arrays of objects with a required key from `text`; returns the error
// message, empty for none.
std::string readNested(std::string_view text) {
  nlohmann::json json = nlohmann::json::parse(text);
  JsonReader r(json, "a");
  r.readObject("b", [](JsonReader& b) {
    b.readObjects("c", [](JsonReader& c) {
      std::string name;
      c.require("name");
      c.read("name", name);
    });
  });
  return std::string(r.finish().message());
}

TEST(JsonReaderTest, NestedPaths) {
  EXPECT_TRUE(readNested(R"({"b": {"c": [{"name": "x"}]}})").empty());
  EXPECT_EQ(readNested(R"({"b": {"c": [{"name": "x"}, {}]}})"),
            "a.b.c[1].name: missing required key");
  EXPECT_EQ(readNested(R"({"b": {"c": [{"name": "x", "nme": 1}]}})"), "a.b.c[0].nme: unknown key");
  EXPECT_EQ(readNested(R"({"b": {"c": [1]}})"), "a.b.c[0]: expected an object, got 1");
  EXPECT_EQ(readNested(R"({"b": {"c": {}}})"),
            "a.b.c: expected an array of objects, got an object");
  EXPECT_EQ(readNested(R"({"b": "c"})"), R"(a.b: expected an object, got "c")");
}

TEST(JsonReaderTest, FailJoinsRelativePaths) {
  struct Case {
    std::string path;
    std::string relativePath;
    std::string message;
  };
  const Case cases[] = {
      {"a", "", "a: bad"},          {"a", "b", "a.b: bad"}, {"a", "[1]", "a[1]: bad"},
      {"a", "b[1]", "a.b[1]: bad"}, {"", "b", "b: bad"},    {"a[0]", "b.c", "a[0].b.c: bad"},
  };
  for (const Case& c : cases) {
    nlohmann::json object = nlohmann::json::object();
    JsonReader r(object, c.path);
    r.fail(c.relativePath, "bad");
    r.fail("other", "later errors are dropped");
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(std::string(r.finish().message()), c.message);
  }
}

TEST(JsonReaderTest, UnknownKeysCanBeIgnored) {
  nlohmann::json json = nlohmann::json::parse(R"({"known": "a", "extra": 1, "o": {"x": 2}})");
  JsonReader r(json, "conf", UnknownKeys::Ignore);
  std::string known;
  r.read("known", known);
  r.readObject("o", [](JsonReader&) {});
  EXPECT_TRUE(r.finish().ok());
  EXPECT_EQ(known, "a");
}

TEST(JsonReaderTest, HasDoesNotCountAsReading) {
  nlohmann::json json = {{"key", 1}};
  JsonReader r(json, "x");
  EXPECT_TRUE(r.has("key"));
  EXPECT_FALSE(r.has("other"));
  EXPECT_EQ(std::string(r.finish().message()), "x.key: unknown key");
}

TEST(JsonReaderTest, ErrorsLeaveOutputsUntouched) {
  Fields fields;
  ASSERT_FALSE(readFields({{"numbers", {1, 2, -1}}, {"texts", {"a", 1}}}, fields).ok());
  EXPECT_THAT(fields.numbers, ElementsAre(1));
  EXPECT_THAT(fields.texts, ElementsAre("x"));
}

}  // namespace
}  // namespace enadpdk::testing
