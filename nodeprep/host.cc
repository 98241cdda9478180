#include "nodeprep/host.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "common/atomic_file.h"
#include "common/strings.h"

namespace enadpdk::nodeprep {

absl::StatusOr<std::string> readHostFile(const common::HostRoot& root, std::string_view host_path) {
  absl::StatusOr<std::string> content = common::readFile(root.path(host_path));
  if (!content.ok()) {
    // Name the host path, not the path under a fake root.
    if (absl::IsNotFound(content.status())) {
      return absl::NotFoundError(common::strCat(host_path, ": no such file"));
    }
    return content.status();
  }
  while (!content->empty() && absl::ascii_isspace(static_cast<unsigned char>(content->back()))) {
    content->pop_back();
  }
  return content;
}

absl::StatusOr<uint64_t> readHostNumber(const common::HostRoot& root, std::string_view host_path) {
  absl::StatusOr<std::string> text = readHostFile(root, host_path);
  if (!text.ok()) return text.status();
  uint64_t value = 0;
  if (!absl::SimpleAtoi(*text, &value)) {
    return absl::InvalidArgumentError(
        common::strCat(host_path, ": expected a number, got \"", *text, "\""));
  }
  return value;
}

bool hostPathExists(const common::HostRoot& root, std::string_view host_path) {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::symlink_status(root.path(host_path), ec));
}

HugepageSizeInfo hugepageSizeInfo(common::HugepageSize size) {
  if (size == common::HugepageSize::Size1G) {
    return {.label = "1G", .kib = 1048576, .cpu_flag = "pdpe1gb"};
  }
  return {.label = "2M", .kib = 2048, .cpu_flag = "pse"};
}

std::string hugepagesDir(common::HugepageSize size) {
  return common::strCat("/sys/kernel/mm/hugepages/hugepages-", hugepageSizeInfo(size).kib, "kB");
}

}  // namespace enadpdk::nodeprep
