#pragma once

#include <fmt/format.h>

#include <iterator>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/string_view.h"

namespace enadpdk::common {

// Debian's Abseil (20220623) has its own absl::string_view, distinct from std::string_view, so
// absl::StrCat does not accept std::string_view. strCat() is the project's replacement: it
// concatenates strings, string views of either kind, characters and numbers.
namespace internal {
template <typename T>
void appendPiece(std::string& out, const T& piece) {
  if constexpr (std::is_same_v<T, absl::string_view>) {
    out.append(piece.data(), piece.size());
  } else if constexpr (std::is_same_v<T, char>) {
    out.push_back(piece);
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    out.append(std::string_view(piece));
  } else {
    fmt::format_to(std::back_inserter(out), "{}", piece);
  }
}
}  // namespace internal

template <typename... Pieces>
std::string strCat(const Pieces&... pieces) {
  std::string out;
  (internal::appendPiece(out, pieces), ...);
  return out;
}

// Views an absl::string_view (as absl::Status::message() returns) as a std::string_view.
inline std::string_view toStd(absl::string_view s) { return {s.data(), s.size()}; }

}  // namespace enadpdk::common
