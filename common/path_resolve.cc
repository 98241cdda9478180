#include "common/path_resolve.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "common/strings.h"

namespace enadpdk::common {

absl::StatusOr<ExistingPrefix> resolveExistingPrefix(const std::filesystem::path& path,
                                                     std::string_view field) {
  std::vector<std::string> parts;
  for (const std::filesystem::path& part : path.relative_path()) {
    if (!part.empty()) parts.push_back(part.string());
  }
  for (size_t keep = parts.size();; --keep) {
    std::string prefix = "/";
    for (size_t i = 0; i < keep; ++i) {
      if (i > 0) prefix += '/';
      prefix += parts[i];
    }
    char buf[PATH_MAX];
    if (::realpath(prefix.c_str(), buf) != nullptr) {
      return ExistingPrefix{.resolved = buf, .missing = {parts.begin() + keep, parts.end()}};
    }
    const int err = errno;
    if ((err != ENOENT && err != ENOTDIR) || keep == 0) {
      return absl::InvalidArgumentError(
          strCat(field, ": cannot resolve \"", clipped(prefix), "\": ", std::strerror(err)));
    }
  }
}

bool isWithin(const std::filesystem::path& path, const std::filesystem::path& dir) {
  const std::filesystem::path rel =
      path.lexically_normal().lexically_relative(dir.lexically_normal());
  return !rel.empty() && *rel.begin() != ".." && rel != ".";
}

}  // namespace enadpdk::common
