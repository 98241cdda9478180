#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
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

// The most bytes of one piece of outside input (an environment value, a request field, a file
// name) that a message quotes; clipped() cuts longer pieces.
inline constexpr size_t kMaxEchoBytes = 256;

// `text` itself when it has at most `max` bytes, else its first `max` bytes (cut back to a UTF-8
// character boundary) followed by "…". Every message that quotes outside input quotes it
// through this, so that no input makes an error message (or a gRPC status) unbounded.
inline std::string clipped(std::string_view text, size_t max = kMaxEchoBytes) {
  if (text.size() <= max) return std::string(text);
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return strCat(text.substr(0, cut), "\u2026");
}

// True when `text` is well-formed UTF-8 (no stray continuation bytes, overlong forms, surrogates
// or code points above U+10FFFF).
inline bool isValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > text.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMinOfLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinOfLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace enadpdk::common
