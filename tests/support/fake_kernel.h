#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "tests/support/fake_host.h"

namespace enadpdk::testing {

// Emulates how the kernel (and module loading and mounting) reacts to what host-preparation code
// does, on a FakeHost, which by itself only holds files. Code under test routes its kernel writes
// through write() and reports the host commands it ran to commandRan(); the FakeKernel then
// updates the FakeHost the way a real host would change:
//
//   * writing N to an nr_hugepages file reserves min(N, what the limit leaves) pages;
//   * driver_override, <driver>/unbind and drivers_probe bind and unbind PCI devices, and a
//     vfio-pci probe fails (the device stays unbound) without an IOMMU group unless vfio's
//     enable_unsafe_noiommu_mode is on;
//   * enable_unsafe_noiommu_mode reads "Y" after writing 1;
//   * `modprobe NAME` loads the module, `mount -t hugetlbfs -o pagesize=S nodev DIR` adds the
//     mount to /proc/mounts;
//   * `rmmod NAME` unloads the module, `umount DIR` removes the mount from /proc/mounts.
//
// Not thread-safe.
class FakeKernel {
 public:
  // `host` outlives the FakeKernel.
  explicit FakeKernel(FakeHost& host) : host_(host) {}

  // From now on at most `pages` pages of `size` can be reserved in total (on all NUMA nodes
  // together); a larger request is granted up to the limit, as when memory is fragmented.
  FakeKernel& limitHugepages(HugepageSize size, int pages);

  // Writes `value` to the control file at host path `host_path` and applies the kernel's
  // reaction. NotFound when the file does not exist (the kernel has no such control).
  absl::Status write(std::string_view host_path, std::string_view value);

  // Applies the effect of host command `argv` having succeeded. A path argument may be under the
  // fake root (commands run directly) or a host path (commands run through nsenter).
  void commandRan(const std::vector<std::string>& argv);

  // The native kernel driver drivers_probe binds a device to when it has no driver_override:
  // "ena" for ENAs unless set otherwise here.
  FakeKernel& setNativeDriver(std::string_view address, std::string_view driver);

 private:
  void writeHugepages(std::string_view host_path, int requested);
  void probe(const std::string& address);
  std::string hostPathOf(std::string_view path) const;

  FakeHost& host_;
  std::map<HugepageSize, int> limits_;
  std::map<std::string, std::string, std::less<>> native_drivers_;
};

}  // namespace enadpdk::testing
