#pragma once

// What differs between the hugepage resources (1G and 2M pages), and where a pod's DPDK EAL
// (DPDK 22.11) keeps the pages of its memory: the files the plugin creates and faults in for the
// pod, and the EAL arguments that make the EAL use exactly those files.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/hugepage_size.h"

namespace enadpdk::deviceplugin {

// The properties of one hugepage size.
struct HugepageKind {
  // The size.
  common::HugepageSize size = common::HugepageSize::Size1G;
  // Bytes per page.
  std::uint64_t bytes = 0;
  // The resource name without prefix ("hugepages-1Gi").
  std::string_view resource{};
  // The size's directory in sysfs ("hugepages-1048576kB").
  std::string_view sysfsDir{};
  // The size as hugetlbfs's pagesize= option spells it ("1G").
  std::string_view mountPageSize{};
  // The unit of the size=/min_size= mount options ("G"), and how many of it one page is.
  std::string_view mountUnit{};
  std::uint64_t mountUnitsPerPage = 0;
  // The size in the names of the hugetlb cgroup files ("1GB": hugetlb.1GB.current).
  std::string_view cgroupName{};
};

// The properties of `size`.
const HugepageKind& hugepageKind(common::HugepageSize size);

// The pages of one allocation by NUMA node; node -1 holds the pages of a host without NUMA
// nodes ("page-<k>" devices).
using PagesPerNode = std::map<int, std::uint64_t>;

// One hugepage file of a DPDK EAL, which the plugin creates and fills before the pod starts.
struct EalHugepageFile {
  // The file name in the EAL's --huge-dir ("ena1a2b3c4d5e6f7a8bmap_0").
  std::string name{};
  // How many pages, from offset 0.
  std::uint64_t pages = 0;
  // The NUMA node the pages must come from; none on a host without NUMA nodes.
  std::optional<int> node{};

  friend bool operator==(const EalHugepageFile&, const EalHugepageFile&) = default;
};

// The files in which a DPDK 22.11 EAL started with ealArguments() looks for `pages` of `size`,
// one per (node, memseg list), in list order. InvalidArgument when a node has more pages than
// DPDK maps for one page size on one socket (64 GiB).
absl::StatusOr<std::vector<EalHugepageFile>> ealHugepageFiles(common::HugepageSize size,
                                                              std::string_view filePrefix,
                                                              const PagesPerNode& pages);

// The EAL arguments that make a DPDK 22.11 app use the files of ealHugepageFiles() in
// `hugeDir` (the container path of the allocation's mount):
// "--huge-dir <hugeDir> --file-prefix <prefix> --huge-unlink=never --single-file-segments
//  --socket-mem <MB on socket 0>".
std::string ealArguments(common::HugepageSize size, std::string_view hugeDir,
                         std::string_view filePrefix, const PagesPerNode& pages);

// The --file-prefix of an allocation: "ena" + its ID (19 characters for the plugin's IDs).
std::string ealFilePrefix(std::string_view allocationId);

// The environment variable Allocate puts the EAL arguments in: "ENA_DPDK_" + the resource name
// upper-cased with every other character than a letter or digit turned into '_' + "_EAL"
// ("ENA_DPDK_HUGEPAGES_1GI_EAL").
std::string ealEnvName(std::string_view resource);

}  // namespace enadpdk::deviceplugin
