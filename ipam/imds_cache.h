#pragma once

// A file cache of ENI metadata with a time-to-live, so that a burst of CNI invocations asks the
// instance metadata service once.

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ipam/imds.h"

namespace enadpdk::ipam {

// The wall clock (entries outlive the process, so they carry wall-clock times).
using WallClock = std::function<std::chrono::system_clock::time_point()>;

// Caches EniMetadata in `<dir>/<selector>.json` (mode 0600, atomic writes). An entry is used when
// it came from the same endpoint and is younger than the TTL; an entry from the future (the clock
// went back), a corrupt entry or a TTL of 0 means fetching again. Concurrent processes may both
// fetch; the last complete write wins. Not thread-safe per object.
class EniMetadataCache {
 public:
  // `dir` is created (0700) on the first store. `endpoint` is recorded in and compared with each
  // entry, so that pointing the plugin at another metadata service does not reuse old answers.
  EniMetadataCache(std::filesystem::path dir, std::string endpoint, unsigned ttlSeconds,
                   WallClock clock);

  // Returns the fresh entry for `selector` ("mac-0a1b2c3d4e5f", "device-1"; a file name), or
  // calls `fetch`, stores its answer and returns it. A fetch error is returned as is; a failure
  // to store is ignored (the answer is still good), a failure to read means fetching.
  absl::StatusOr<EniMetadata> get(std::string_view selector,
                                  const std::function<absl::StatusOr<EniMetadata>()>& fetch);

 private:
  std::filesystem::path dir_;
  std::string endpoint_;
  unsigned ttlSeconds_;
  WallClock clock_;
};

}  // namespace enadpdk::ipam
