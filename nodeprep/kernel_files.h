#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "common/host_root.h"

namespace enadpdk::nodeprep {

// Writes the kernel's control files in sysfs and procfs (nr_hugepages, driver_override, unbind,
// drivers_probe, enable_unsafe_noiommu_mode). A seam: the kernel reacts to these writes (it
// reserves pages, probes drivers), which a fake host tree does not, so tests substitute an
// implementation that also emulates the reaction. Reads go straight to the files.
class KernelFiles {
 public:
  virtual ~KernelFiles() = default;

  // Writes `value` to the existing control file at host path `host_path`, as `echo` would (one
  // write of the whole value). The error names the path and the value.
  virtual absl::Status write(std::string_view host_path, std::string_view value) = 0;
};

// KernelFiles on the files under a HostRoot. The file must exist (control files are never
// created). Thread-safe.
class HostKernelFiles : public KernelFiles {
 public:
  explicit HostKernelFiles(common::HostRoot root) : root_(std::move(root)) {}

  absl::Status write(std::string_view host_path, std::string_view value) override;

 private:
  common::HostRoot root_;
};

}  // namespace enadpdk::nodeprep
