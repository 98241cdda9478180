#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/host_root.h"
#include "nodeprep/command_runner.h"
#include "nodeprep/kernel_files.h"
#include "nodeprep/nodeprep_config.h"

namespace enadpdk::nodeprep {

// What the preparation steps act on: the host tree (read through `root`), the host's programs
// and the kernel's control files. Non-owning; the referenced objects outlive the steps.
struct Host {
  // The host root every host path is read and written under.
  const common::HostRoot& root;
  // Runs host programs.
  CommandRunner& commands;
  // Writes kernel control files.
  KernelFiles& kernel;
};

// Reads a small text file at host path `host_path`, trailing whitespace removed. NotFound when
// it does not exist; other errors name the path.
absl::StatusOr<std::string> readHostFile(const common::HostRoot& root, std::string_view host_path);

// Reads a file holding one unsigned decimal number ("4\n"). InvalidArgument, naming the path,
// for anything else.
absl::StatusOr<uint64_t> readHostNumber(const common::HostRoot& root, std::string_view host_path);

// True when something exists at host path `host_path` (a dangling link counts).
bool hostPathExists(const common::HostRoot& root, std::string_view host_path);

// Facts about a hugepage size.
struct HugepageSizeInfo {
  // "2M" or "1G", as the config and the kernel command line spell it.
  std::string_view label;
  // Size in KiB, as sysfs names its directories (hugepages-<kB>kB).
  uint64_t kib;
  // The x86 CPU flag that says the size is supported.
  std::string_view cpu_flag;
};

// The facts about `size`.
HugepageSizeInfo hugepageSizeInfo(common::HugepageSize size);

// "/sys/kernel/mm/hugepages/hugepages-1048576kB", the system-wide directory of a size.
std::string hugepagesDir(common::HugepageSize size);

}  // namespace enadpdk::nodeprep
