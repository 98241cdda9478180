#pragma once

namespace enadpdk::common {

// A hugepage size ("2M" or "1G").
enum class HugepageSize {
  Size2M,
  Size1G,
};

}  // namespace enadpdk::common
