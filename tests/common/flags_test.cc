#include "common/flags.h"

#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>
#include <vector>

namespace enadpdk::common {
namespace {

absl::Status parse(FlagParser& p, std::vector<const char*> args) {
  args.insert(args.begin(), "prog");
  return p.parse(static_cast<int>(args.size()), args.data());
}

FlagParser ctlLike() {
  FlagParser p("prog", "[flags] COMMAND", "A test program.");
  p.addValue("socket", "PATH", "control socket", "/run/x.sock")
      .addValue("output", "FORMAT", "table or json", "table", 'o')
      .addValue("ip", "CIDR", "address", "", 0, /*repeated=*/true)
      .addSwitch("dry-run", "change nothing")
      .addCommonFlags();
  return p;
}

TEST(FlagParser, ParsesLongShortInlineAndPositional) {
  FlagParser p = ctlLike();
  ASSERT_TRUE(parse(p, {"port", "add", "--socket=/tmp/s", "-o", "json", "--ip", "10.0.0.1/24",
                        "--ip", "10.0.0.2/24", "--dry-run", "--", "--not-a-flag"})
                  .ok());
  EXPECT_EQ(p.value("socket"), "/tmp/s");
  EXPECT_EQ(p.value("output"), "json");
  EXPECT_EQ(p.values("ip"), (std::vector<std::string>{"10.0.0.1/24", "10.0.0.2/24"}));
  EXPECT_TRUE(p.has("dry-run"));
  EXPECT_EQ(p.positional(), (std::vector<std::string>{"port", "add", "--not-a-flag"}));
}

TEST(FlagParser, DefaultsApplyAndLastValueWins) {
  FlagParser p = ctlLike();
  ASSERT_TRUE(parse(p, {"--output", "json", "--output", "table"}).ok());
  EXPECT_EQ(p.value("output"), "table");
  EXPECT_EQ(p.value("socket"), "/run/x.sock");
  EXPECT_FALSE(p.has("socket"));
  EXPECT_EQ(p.value("config"), kDefaultConfigPath);
  EXPECT_EQ(p.value("root"), "/");
}

TEST(FlagParser, RejectsBadInputWithOneLine) {
  struct Case {
    std::vector<const char*> args;
    std::string message;
  } const cases[] = {
      {{"--bogus"}, "unknown flag --bogus (see prog --help)"},
      {{"--bogus=1"}, "unknown flag --bogus (see prog --help)"},
      {{"-x"}, "unknown flag -x (see prog --help)"},
      {{"--socket"}, "--socket needs a value (PATH)"},
      {{"--dry-run=yes"}, "--dry-run does not take a value"},
  };
  for (const auto& c : cases) {
    FlagParser p = ctlLike();
    absl::Status s = parse(p, c.args);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(std::string(s.message()), c.message);
  }
}

TEST(FlagParser, HandleStandardHelpVersionAndErrors) {
  FlagParser p = ctlLike();
  std::ostringstream out, err;
  ASSERT_TRUE(parse(p, {"--help"}).ok());
  EXPECT_EQ(p.handleStandard(absl::OkStatus(), out, err), 0);
  EXPECT_NE(out.str().find("Usage: prog [flags] COMMAND"), std::string::npos);
  EXPECT_NE(out.str().find("-o, --output FORMAT"), std::string::npos);
  EXPECT_NE(out.str().find("(default /run/x.sock)"), std::string::npos);
  EXPECT_NE(out.str().find("(repeatable)"), std::string::npos);

  FlagParser v = ctlLike();
  std::ostringstream vout, verr;
  ASSERT_TRUE(parse(v, {"--version"}).ok());
  EXPECT_EQ(v.handleStandard(absl::OkStatus(), vout, verr), 0);
  EXPECT_EQ(vout.str().rfind("prog 0.", 0), 0u);

  FlagParser l = ctlLike();
  std::ostringstream lout, lerr;
  ASSERT_TRUE(parse(l, {"--log-level", "loud"}).ok());
  EXPECT_EQ(l.handleStandard(absl::OkStatus(), lout, lerr), 2);
  EXPECT_EQ(lerr.str(),
            "prog: --log-level: \"loud\" is not one of trace, debug, info, warn, error, off\n");

  FlagParser ok = ctlLike();
  std::ostringstream oout, oerr;
  ASSERT_TRUE(parse(ok, {"--log-level", "debug"}).ok());
  EXPECT_EQ(ok.handleStandard(absl::OkStatus(), oout, oerr), std::nullopt);
  EXPECT_EQ(ok.logOutput().format, LogFormat::Logfmt);

  FlagParser f = ctlLike();
  std::ostringstream fout, ferr;
  ASSERT_TRUE(parse(f, {"--log-format", "yaml"}).ok());
  EXPECT_EQ(f.handleStandard(absl::OkStatus(), fout, ferr), 2);
  EXPECT_EQ(ferr.str(), "prog: --log-format: \"yaml\" is not one of logfmt, json\n");

  FlagParser json = ctlLike();
  std::ostringstream jout, jerr;
  ASSERT_TRUE(parse(json, {"--log-format=json"}).ok());
  EXPECT_EQ(json.handleStandard(absl::OkStatus(), jout, jerr), std::nullopt);
  EXPECT_EQ(json.logOutput().format, LogFormat::Json);
  EXPECT_TRUE(json.logOutput().file.empty());
  EXPECT_NE(json.help().find("--log-format FORMAT"), std::string::npos);
  EXPECT_NE(json.help().find("log line format: logfmt, json (default logfmt)"), std::string::npos);
}

TEST(ReportFatal, FoldsToOneLine) {
  std::ostringstream err;
  EXPECT_EQ(reportFatal(err, "prog", "first\nsecond", 3), 3);
  EXPECT_EQ(err.str(), "prog: first; second\n");
}

// The edge of every binary's main (ena-dpdk-dataplane, -deviceplugin, -ctl, -nodeprep): an
// exception that escapes is one clear line and a non-zero exit, never an abort.
TEST(RunCatchingTest, ExceptionsBecomeOneLineAndExitStatus70) {
  std::ostringstream err;
  EXPECT_EQ(runCatching(err, "prog", [] { return 3; }), 3);
  EXPECT_EQ(err.str(), "");
  EXPECT_EQ(runCatching(err, "prog", []() -> int { throw std::runtime_error("bad json"); }),
            kInternalErrorExit);
  EXPECT_EQ(err.str(), "prog: internal error: bad json\n");
  err.str("");
  EXPECT_EQ(runCatching(err, "prog", []() -> int { throw 42; }), kInternalErrorExit);
  EXPECT_EQ(err.str(), "prog: internal error: unknown exception\n");
}

}  // namespace
}  // namespace enadpdk::common
