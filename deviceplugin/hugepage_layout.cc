#include "deviceplugin/hugepage_layout.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "common/strings.h"

namespace enadpdk::deviceplugin {
namespace {

constexpr HugepageKind k1G{.size = common::HugepageSize::Size1G,
                           .bytes = 1ull << 30,
                           .resource = "hugepages-1Gi",
                           .sysfsDir = "hugepages-1048576kB",
                           .mountPageSize = "1G",
                           .mountUnit = "G",
                           .mountUnitsPerPage = 1,
                           .cgroupName = "1GB"};
constexpr HugepageKind k2M{.size = common::HugepageSize::Size2M,
                           .bytes = 2ull << 20,
                           .resource = "hugepages-2Mi",
                           .sysfsDir = "hugepages-2048kB",
                           .mountPageSize = "2M",
                           .mountUnit = "M",
                           .mountUnitsPerPage = 2,
                           .cgroupName = "2MB"};

// DPDK 22.11's memseg list geometry for one page size on one socket ("memory type"), as
// eal_dynmem_memseg_lists_init() (lib/eal/common/eal_common_dynmem.c) computes it from the
// build constants of Debian's libdpdk 22.11 (config/rte_config.h): RTE_MAX_MEM_MB_PER_TYPE 65536,
// RTE_MAX_MEMSEG_PER_TYPE 32768, RTE_MAX_MEM_MB_PER_LIST 32768, RTE_MAX_MEMSEG_PER_LIST 8192.
//   1G: 64 segments per type, at most 32 GiB per list -> 2 lists of 32 segments;
//   2M: 32768 segments per type, at most 8192 per list -> 4 lists of 8192 segments.
// (It also caps a type at RTE_MAX_MEM_MB / types and the lists at RTE_MAX_MEMSEG_LISTS / types,
// which bind only beyond 8 sockets.)
struct MemsegGeometry {
  unsigned listsPerSocket;
  std::uint64_t segmentsPerList;
};

MemsegGeometry memsegGeometry(common::HugepageSize size) {
  switch (size) {
    case common::HugepageSize::Size1G:
      return {.listsPerSocket = 2, .segmentsPerList = 32};
    case common::HugepageSize::Size2M:
      return {.listsPerSocket = 4, .segmentsPerList = 8192};
  }
  return {.listsPerSocket = 0, .segmentsPerList = 0};  // unreachable: the switch is exhaustive
}

std::uint64_t megabytes(common::HugepageSize size, std::uint64_t pages) {
  return pages * (hugepageKind(size).bytes >> 20);
}

}  // namespace

const HugepageKind& hugepageKind(common::HugepageSize size) {
  switch (size) {
    case common::HugepageSize::Size1G:
      return k1G;
    case common::HugepageSize::Size2M:
      return k2M;
  }
  return k1G;  // unreachable: the switch is exhaustive
}

// Where a DPDK 22.11 EAL keeps its hugepages, and so which files the plugin must fill for it.
//
// The EAL gets "--huge-dir <mount> --single-file-segments --huge-unlink=never --file-prefix P
// --socket-mem <MB>" (ealArguments()). Then, in DPDK 22.11:
//  - Only page sizes with a hugetlbfs mount matching --huge-dir are used (get_hugepage_dir() in
//    lib/eal/linux/eal_hugepage_info.c): the mount's size alone.
//  - Memseg lists are laid out per page size, then per socket in rte_socket_id_by_idx() order,
//    listsPerSocket lists each (eal_dynmem_memseg_lists_init()); with one page size the lists of
//    socket s are s * listsPerSocket ... s * listsPerSocket + listsPerSocket - 1. (This takes
//    socket indexes to be NUMA node numbers, i.e. every node up to s has CPUs, as on EC2.)
//  - With --single-file-segments list L lives in one file "<huge-dir>/<P>map_<L>", segment k at
//    offset k * page size (get_seg_fd() and alloc_seg() in lib/eal/linux/eal_memalloc.c).
//  - At init the EAL allocates --socket-mem from segment 0 of the socket's first list on, list
//    after list; allocation re-uses pages already in the file (fallocate() of an allocated range
//    allocates nothing) and checks with get_mempolicy() that each page is on the socket of its
//    list, so the pages of socket s's files must come from node s.
//  - With --huge-unlink=never existing files are kept and counted as reusable pages, but
//    calc_num_pages() then credits every page to socket 0 (it cannot know their nodes), so
//    --socket-mem can only ask for socket 0 (ealArguments()); pages in another socket's files are
//    taken when the app allocates memory on that socket (rte_malloc_socket(), mempools).
// A node without NUMA ("page-*" devices, node -1) is socket 0.
absl::StatusOr<std::vector<EalHugepageFile>> ealHugepageFiles(common::HugepageSize size,
                                                              std::string_view filePrefix,
                                                              const PagesPerNode& pages) {
  const MemsegGeometry geometry = memsegGeometry(size);
  std::vector<EalHugepageFile> files;
  for (const auto& [node, count] : pages) {
    const unsigned socket = node < 0 ? 0 : static_cast<unsigned>(node);
    if (count > geometry.listsPerSocket * geometry.segmentsPerList) {
      return absl::InvalidArgumentError(
          common::strCat(count, " pages of ", hugepageKind(size).mountPageSize,
                         " on one NUMA node: DPDK 22.11 maps at most ",
                         geometry.listsPerSocket * geometry.segmentsPerList, " per socket"));
    }
    std::uint64_t left = count;
    for (unsigned list = socket * geometry.listsPerSocket; left > 0; ++list) {
      const std::uint64_t inList = std::min(left, geometry.segmentsPerList);
      files.push_back({.name = common::strCat(filePrefix, "map_", list),
                       .pages = inList,
                       .node = node < 0 ? std::nullopt : std::optional<int>(node)});
      left -= inList;
    }
  }
  return files;
}

std::string ealArguments(common::HugepageSize size, std::string_view hugeDir,
                         std::string_view filePrefix, const PagesPerNode& pages) {
  // Socket 0 holds the pages of node 0 or, without NUMA, all of them (see ealHugepageFiles()).
  std::uint64_t socket0 = 0;
  for (const auto& [node, count] : pages) {
    if (node <= 0) socket0 += count;
  }
  return common::strCat("--huge-dir ", hugeDir, " --file-prefix ", filePrefix,
                        " --huge-unlink=never --single-file-segments --socket-mem ",
                        megabytes(size, socket0));
}

std::string ealFilePrefix(std::string_view allocationId) {
  return common::strCat("ena", allocationId);
}

std::string ealEnvName(std::string_view resource) {
  std::string name = common::strCat("ENA_DPDK_", resource, "_EAL");
  std::transform(name.begin(), name.end(), name.begin(),
                 [](char c) { return absl::ascii_isalnum(c) ? absl::ascii_toupper(c) : '_'; });
  return name;
}

}  // namespace enadpdk::deviceplugin
