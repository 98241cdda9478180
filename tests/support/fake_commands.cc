#include "tests/support/fake_commands.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/str_split.h"

namespace enadpdk::testing {
namespace {

namespace fs = std::filesystem;

// Single-quotes a string for sh.
std::string shellQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

void writeExecutable(const fs::path& path, const std::string& text) {
  {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out.flush()) ADD_FAILURE() << "FakeCommands: cannot write " << path;
  }
  if (::chmod(path.c_str(), 0755) != 0) ADD_FAILURE() << "FakeCommands: cannot chmod " << path;
}

}  // namespace

FakeCommands::FakeCommands() {
  std::error_code ec;
  std::string tmpl = (fs::temp_directory_path(ec) / "ena-dpdk-fakecmd-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "FakeCommands: cannot create a temporary directory from " << tmpl;
  }
  dir_ = tmpl;
  bin_ = dir_ / "bin";
  log_ = dir_ / "invocations.log";
  fs::create_directories(bin_, ec);
  if (ec) ADD_FAILURE() << "FakeCommands: cannot create " << bin_ << ": " << ec.message();
  clearLog();
}

FakeCommands::~FakeCommands() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

FakeCommands& FakeCommands::add(std::string_view name, std::string_view body) {
  // One line per invocation: the name and each argument, tab-separated (arguments may hold
  // spaces, never tabs).
  std::string script =
      "#!/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n";
  script += "{ printf '%s' " + shellQuote(name) +
            "; for a in \"$@\"; do printf '\\t%s' \"$a\"; "
            "done; printf '\\n'; } >>" +
            shellQuote(log_.string()) + "\n";
  script += std::string(body) + "\nexit 0\n";
  writeExecutable(bin_ / std::string(name), script);
  return *this;
}

FakeCommands& FakeCommands::addNsenter() {
  return add("nsenter",
             "while [ $# -gt 0 ] && [ \"$1\" != -- ]; do shift; done\n"
             "[ $# -gt 0 ] && shift\n"
             "[ -x " +
                 shellQuote(bin_.string()) +
                 "/\"$1\" ] || exit 127\n"
                 "exec " +
                 shellQuote(bin_.string()) + "/\"$@\"");
}

std::vector<std::vector<std::string>> FakeCommands::invocations() const {
  std::ifstream in(log_);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::vector<std::string>> calls;
  for (absl::string_view line : absl::StrSplit(text.str(), '\n', absl::SkipEmpty())) {
    std::vector<std::string> argv;
    for (absl::string_view arg : absl::StrSplit(line, '\t')) argv.emplace_back(arg);
    calls.push_back(std::move(argv));
  }
  return calls;
}

void FakeCommands::clearLog() {
  std::ofstream out(log_, std::ios::trunc);
  if (!out) ADD_FAILURE() << "FakeCommands: cannot create " << log_;
}

}  // namespace enadpdk::testing
