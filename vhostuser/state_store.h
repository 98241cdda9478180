#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vhostuser/port_spec.h"

// The dataplane's state file: the port table, saved on every change and restored at start. Its
// entries are PortSpecs in their JSON form (portSpecToJson); a bad entry costs that entry only.
namespace enadpdk::vhostuser {

// Saves the port table to `path` atomically (temp + fsync + rename, mode 0600).
absl::Status saveState(const std::string& path, const std::vector<PortSpec>& ports);

// What a state file held.
struct LoadedState {
  // The entries that could be read, in file order.
  std::vector<PortSpec> ports{};
  // One line per entry that was skipped ("ports[3]: queues: ..."), or one for the whole file
  // when it is not a state file; empty when everything was read.
  std::vector<std::string> problems{};
  // Where the file was kept because of `problems` ("" when it was not, see loadState).
  std::string kept_copy{};
  // Why it could not be kept (OK when it was, or did not need to be).
  absl::Status keep_status{};
  // The bytes read, for keepStateCopy when a port then fails to restore (the file itself is
  // rewritten by the first port that is restored).
  std::string text{};
};

// Parses the text of a state file; pure. A malformed entry is skipped and reported, the others
// are kept; text that is not a state file gives no ports and one problem. Sets only `ports` and
// `problems`.
LoadedState parseState(std::string_view text);

// Where loadState and keepStateCopy keep a state file they could not use whole:
// "<path>.corrupt-<UTC time as 20261205T101112Z>".
std::string corruptCopyPath(const std::string& path, std::chrono::system_clock::time_point now);

// Writes `contents` (the state file as it was read) to corruptCopyPath (mode 0600; a suffix "-N"
// when that name is taken) so that the next save, which drops what could not be restored, loses
// nothing. Returns the copy's path.
absl::StatusOr<std::string> keepStateCopy(const std::string& path, std::string_view contents,
                                          std::chrono::system_clock::time_point now);

// Loads the port table from `path`; an absent file is an empty table. When an entry is skipped
// the file is first copied as keepStateCopy does (contents identical); when the file cannot be
// read at all it is moved to that name instead, so that the next save does not replace it.
// An error only when the file can be neither read nor moved aside.
absl::StatusOr<LoadedState> loadState(const std::string& path,
                                      std::chrono::system_clock::time_point now);

}  // namespace enadpdk::vhostuser
