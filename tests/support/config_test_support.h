#pragma once

// What the config tests of every component share: parsing a JSON text, a status's message as a
// std::string, the row type of the malformed-config tables and a fixture that writes config files
// into a fresh temporary directory.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace enadpdk::testing {

inline nlohmann::json parse(std::string_view text) { return nlohmann::json::parse(text); }

// The message as a std::string, which gtest prints readably (absl::string_view it does not).
inline std::string message(const absl::Status& status) { return std::string(status.message()); }

// A row of a malformed-config table: a document and the exact error it gets.
struct MalformedCase {
  std::string name;
  std::string json;
  std::string message;
};

inline void PrintTo(const MalformedCase& testCase, std::ostream* out) { *out << testCase.name; }

// Config files in a fresh temporary directory, removed after the test.
class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "config_test.XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `text` to a file in the test's directory and returns its path.
  std::filesystem::path write(std::string_view text) {
    std::filesystem::path path = dir_ / "config.json";
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

}  // namespace enadpdk::testing
