#include "common/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "nlohmann/json.hpp"
#include "tests/support/fake_host.h"

namespace enadpdk::common {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using Context = std::vector<std::pair<std::string, std::string>>;

struct SplitCase {
  std::string name;
  std::string message;
  LogEvent want;
};

TEST(SplitLogMessageTest, Table) {
  const SplitCase cases[] = {
      {"empty", "", {"", {}}},
      {"only msg", "switch stopped", {"switch stopped", {}}},
      {"empty msg", "id=abc network=eni1", {"", {{"id", "abc"}, {"network", "eni1"}}}},
      {"msg and context",
       "port added id=abc network=eni1",
       {"port added", {{"id", "abc"}, {"network", "eni1"}}}},
      {"quoted value with spaces",
       "cannot delete port id=a/b error=\"deadline exceeded after 2 s\"",
       {"cannot delete port", {{"id", "a/b"}, {"error", "deadline exceeded after 2 s"}}}},
      {"escaped quotes and backslashes",
       R"(bad config error="cniVersion \"9\" is not \\ supported" code=7)",
       {"bad config", {{"error", R"(cniVersion "9" is not \ supported)"}, {"code", "7"}}}},
      {"key=value inside a quoted value",
       "failed error=\"mtu=9002 is too big\" id=x",
       {"failed", {{"error", "mtu=9002 is too big"}, {"id", "x"}}}},
      {"escaped newline, tab and control character",
       R"(x error="line 1\nline 2\tend\u0001")",
       {"x", {{"error", "line 1\nline 2\tend\x01"}}}},
      {"unicode",
       "café ouvert name=\"naïve ü\" pod=日本",
       {"café ouvert", {{"name", "naïve ü"}, {"pod", "日本"}}}},
      {"escaped unicode", R"(m v="\u00e9")", {"m", {{"v", "é"}}}},
      {"unquoted value runs to the next key",
       "scan failed error=no such file or directory path=/sys",
       {"scan failed", {{"error", "no such file or directory"}, {"path", "/sys"}}}},
      {"unquoted last value runs to the end",
       "stop reason=shutting down now",
       {"stop", {{"reason", "shutting down now"}}}},
      {"raw newline in an unquoted value", "x v=a\nb", {"x", {{"v", "a\nb"}}}},
      {"'=' in free text that is no key",
       "a == b and --flag=x and =y done k=1",
       {"a == b and --flag=x and =y done", {{"k", "1"}}}},
      {"empty values", "x a= b=\"\"", {"x", {{"a", ""}, {"b", ""}}}},
      {"unterminated quote is an unquoted value",
       "x e=\"abc d=1",
       {"x", {{"e", "\"abc"}, {"d", "1"}}}},
      {"text after a closing quote makes it unquoted",
       "x e=\"a\"b c=1",
       {"x", {{"e", "\"a\"b"}, {"c", "1"}}}},
      {"quoted value followed by free text",
       "x e=\"a b\" then more c=1",
       {"x", {{"e", "\"a b\" then more"}, {"c", "1"}}}},
      {"keys with dots, dashes and digits",
       "m a.b=1 c-d=2 e_3=3",
       {"m", {{"a.b", "1"}, {"c-d", "2"}, {"e_3", "3"}}}},
      {"hex value",
       "ready features=0x1f rss=0x0",
       {"ready", {{"features", "0x1f"}, {"rss", "0x0"}}}},
      {"trailing spaces trimmed", "msg   k=v  ", {"msg", {{"k", "v"}}}},
      {"unknown escape kept", R"(m v="a\qb")", {"m", {{"v", R"(a\qb)"}}}},
  };
  for (const SplitCase& c : cases) {
    EXPECT_EQ(splitLogMessage(c.message), c.want) << c.name << ": " << c.message;
  }
}

TEST(LogValueTest, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(logValue("abc"), "abc");
  EXPECT_EQ(logValue("/var/log/x.log"), "/var/log/x.log");
  EXPECT_EQ(logValue("a\\b"), "a\\b");
  EXPECT_EQ(logValue("日本"), "日本");
  EXPECT_EQ(logValue(""), "\"\"");
  EXPECT_EQ(logValue("a b"), "\"a b\"");
  EXPECT_EQ(logValue("a=b"), "\"a=b\"");
  EXPECT_EQ(logValue("say \"hi\""), R"("say \"hi\"")");
  EXPECT_EQ(logValue("a\nb\r\tc\x7f"), R"("a\nb\r\tc\u007f")");
  EXPECT_EQ(logValue("back\\slash here"), R"("back\\slash here")");
}

// Whatever a value holds, `key=<logValue>` reads back as that value.
TEST(LogValueTest, RoundTripsThroughTheSplitter) {
  const std::string values[] = {"",
                                "plain",
                                "with space",
                                "a=b c=d",
                                "\"",
                                "\\",
                                "\\\"",
                                "ends with backslash\\",
                                "\" k=v \"",
                                "new\nline",
                                std::string("nul\0byte", 8),
                                "\x01\x1f\x7f",
                                "ünïcödé 日本 🚀",
                                "x\" y=\"z",
                                "trailing space ",
                                " leading space"};
  for (const std::string& v : values) {
    const LogEvent event = splitLogMessage("m k=" + logValue(v) + " after=1");
    ASSERT_EQ(event.context.size(), 2u) << v;
    EXPECT_EQ(event.context[0].second, v);
    EXPECT_EQ(event.context[1], (std::pair<std::string, std::string>{"after", "1"}));
  }
}

TEST(FormatLogLineTest, Logfmt) {
  EXPECT_EQ(formatLogLine(LogFormat::Logfmt, "2026-11-25T01:02:03.456Z", "info", "dataplane",
                          "port added id=abc network=eni1"),
            "ts=2026-11-25T01:02:03.456Z level=info component=dataplane msg=\"port added\" id=abc "
            "network=eni1\n");
  EXPECT_EQ(formatLogLine(LogFormat::Logfmt, "T", "warning", "cni", "x error=a b\nc"),
            "ts=T level=warning component=cni msg=x error=\"a b\\nc\"\n");
  EXPECT_EQ(formatLogLine(LogFormat::Logfmt, "T", "info", "cni", "id=1"),
            "ts=T level=info component=cni msg=\"\" id=1\n");
  EXPECT_EQ(formatLogLine(LogFormat::Logfmt, "T", "info", "cni", "two\nlines"),
            "ts=T level=info component=cni msg=\"two\\nlines\"\n");
}

TEST(FormatLogLineTest, Json) {
  const std::string line =
      formatLogLine(LogFormat::Json, "2026-11-25T01:02:03.456Z", "info", "dataplane",
                    "port added id=abc network=eni1 error=\"say \\\"hi\\\"\\n\" u=日本");
  EXPECT_EQ(line,
            "{\"ts\":\"2026-11-25T01:02:03.456Z\",\"level\":\"info\",\"component\":\"dataplane\","
            "\"msg\":\"port added\",\"id\":\"abc\",\"network\":\"eni1\",\"error\":\"say "
            "\\\"hi\\\"\\n\",\"u\":\"日本\"}\n");
  const nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["error"], "say \"hi\"\n");
  EXPECT_EQ(j["u"], "日本");
}

TEST(FormatLogLineTest, JsonReplacesInvalidUtf8AndEscapesControls) {
  const std::string line =
      formatLogLine(LogFormat::Json, "T", "error", "c", "bad \xff byte v=\"\\u0001\"");
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["msg"], "bad \xEF\xBF\xBD byte");
  EXPECT_EQ(j["v"], "\x01");
  EXPECT_THAT(line, HasSubstr("\\u0001"));
}

TEST(FormatLogLineTest, ReservedAndRepeatedKeysAreRenamed) {
  EXPECT_EQ(formatLogLine(LogFormat::Logfmt, "T", "info", "c", "m level=x id=1 id=2 msg=y id=3"),
            "ts=T level=info component=c msg=m ctx_level=x id=1 id_2=2 ctx_msg=y id_3=3\n");
  const nlohmann::json j = nlohmann::json::parse(
      formatLogLine(LogFormat::Json, "T", "info", "c", "m ts=1 component=2 id=1 id=2"));
  EXPECT_EQ(j.size(), 8u);
  EXPECT_EQ(j["ctx_ts"], "1");
  EXPECT_EQ(j["ctx_component"], "2");
  EXPECT_EQ(j["id_2"], "2");
}

TEST(ParseLogFormatTest, AcceptsTheTwoFormats) {
  EXPECT_EQ(*parseLogFormat("logfmt"), LogFormat::Logfmt);
  EXPECT_EQ(*parseLogFormat("json"), LogFormat::Json);
  EXPECT_THAT(std::string(parseLogFormat("JSON").status().message()),
              HasSubstr("\"JSON\" is not one of logfmt, json"));
}

std::string slurp(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(MakeLoggerTest, WritesTheFormatToTheFile) {
  testing::FakeHost host;
  const std::filesystem::path file = host.root() / "x.log";
  {
    auto logger = makeLogger("logging-test", spdlog::level::info,
                             {.format = LogFormat::Logfmt, .file = file});
    ASSERT_TRUE(logger.ok()) << logger.status();
    (*logger)->info("port added id={} error={}", "a/b", logValue("no such \"thing\""));
    (*logger)->debug("not written");
    (*logger)->flush();
  }
  EXPECT_THAT(slurp(file),
              MatchesRegex("ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                           "level=info component=logging-test msg=\"port added\" id=a/b "
                           "error=\"no such \\\\\"thing\\\\\"\"\n"));
  {
    auto logger =
        makeLogger("logging-test", spdlog::level::info, {.format = LogFormat::Json, .file = file});
    ASSERT_TRUE(logger.ok()) << logger.status();
    (*logger)->warn("slow id={}", 7);
    (*logger)->flush();
  }
  const std::string text = slurp(file);
  const std::string last = text.substr(text.find('\n') + 1);
  const nlohmann::json j = nlohmann::json::parse(last);
  EXPECT_EQ(j["level"], "warning");
  EXPECT_EQ(j["component"], "logging-test");
  EXPECT_EQ(j["msg"], "slow");
  EXPECT_EQ(j["id"], "7");
  spdlog::drop("logging-test");
}

TEST(MakeLoggerTest, FailsForAFileItCannotOpen) {
  auto logger =
      makeLogger("logging-test", spdlog::level::info, {.file = "/nonexistent-dir-for-test/x.log"});
  ASSERT_FALSE(logger.ok());
  EXPECT_THAT(std::string(logger.status().message()), HasSubstr("/nonexistent-dir-for-test/x.log"));
}

}  // namespace
}  // namespace enadpdk::common
