#pragma once

// Small text helpers the commands share.

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace enadpdk::cni {

// `s` in lowercase (MACs and IPv6 addresses compare case-insensitively).
inline std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The items separated by ", ".
inline std::string joined(const std::vector<std::string>& items) {
  return fmt::format("{}", fmt::join(items, ", "));
}

}  // namespace enadpdk::cni
