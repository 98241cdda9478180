#pragma once

#include <cstdint>
#include <string_view>

namespace enadpdk::common {

// FNV-1a hashes (http://www.isthe.com/chongo/tech/comp/fnv/): stable across runs, builds and
// machines, so they may name files on disk. Not for anything an attacker chooses to collide.

inline constexpr uint32_t kFnv1a32Offset = 0x811c9dc5u;
inline constexpr uint64_t kFnv1a64Offset = 0xcbf29ce484222325ULL;

// Continues a 32-bit FNV-1a hash `h` over the bytes of `s`.
constexpr uint32_t fnv1a32(std::string_view s, uint32_t h = kFnv1a32Offset) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x01000193u;
  }
  return h;
}

// Continues a 64-bit FNV-1a hash `h` over the bytes of `s`.
constexpr uint64_t fnv1a64(std::string_view s, uint64_t h = kFnv1a64Offset) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace enadpdk::common
