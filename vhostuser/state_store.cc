#include "vhostuser/state_store.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "common/atomic_file.h"
#include "common/strings.h"

namespace enadpdk::vhostuser {

using common::strCat;

absl::Status saveState(const std::string& path, const std::vector<PortSpec>& ports) {
  nlohmann::json j = {{"version", 1}, {"ports", nlohmann::json::array()}};
  for (const PortSpec& p : ports) j["ports"].push_back(portSpecToJson(p));
  return common::writeFileAtomic(path, j.dump(2) + "\n", 0600);
}

LoadedState parseState(std::string_view text) {
  LoadedState out;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // The parser's message quotes the bytes it read; the byte offset is enough and cannot carry
    // invalid UTF-8 into a log line.
    out.problems.push_back(
        strCat("not a dataplane state file: not JSON (error at byte ", e.byte, ")"));
    return out;
  }
  if (!j.is_object() || !j.contains("ports") || !j["ports"].is_array()) {
    out.problems.push_back("not a dataplane state file: no \"ports\" array");
    return out;
  }
  const nlohmann::json& ports = j["ports"];
  for (size_t i = 0; i < ports.size(); ++i) {
    absl::StatusOr<PortSpec> spec = portSpecFromJson(ports[i]);
    if (!spec.ok()) {
      out.problems.push_back(strCat("ports[", i, "]: ", common::toStd(spec.status().message())));
      continue;
    }
    out.ports.push_back(std::move(*spec));
  }
  return out;
}

std::string corruptCopyPath(const std::string& path, std::chrono::system_clock::time_point now) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &utc);
  return strCat(path, ".corrupt-", stamp);
}

namespace {

// corruptCopyPath, or with "-N" appended when a copy of that second is already there.
std::string freeCopyPath(const std::string& path, std::chrono::system_clock::time_point now) {
  const std::string base = corruptCopyPath(path, now);
  std::string candidate = base;
  std::error_code ec;
  for (int n = 1; std::filesystem::exists(std::filesystem::symlink_status(candidate, ec)); ++n) {
    candidate = strCat(base, "-", n);
  }
  return candidate;
}

}  // namespace

absl::StatusOr<std::string> keepStateCopy(const std::string& path, std::string_view contents,
                                          std::chrono::system_clock::time_point now) {
  const std::string copy = freeCopyPath(path, now);
  if (absl::Status s = common::writeFileAtomic(copy, contents, 0600); !s.ok()) return s;
  return copy;
}

absl::StatusOr<LoadedState> loadState(const std::string& path,
                                      std::chrono::system_clock::time_point now) {
  absl::StatusOr<std::string> text = common::readFile(path);
  if (absl::IsNotFound(text.status())) return LoadedState{};
  if (!text.ok()) {
    // Unreadable (a directory, an I/O error): moved aside whole, so the next save cannot
    // replace what nobody has looked at yet.
    const std::string copy = freeCopyPath(path, now);
    if (::rename(path.c_str(), copy.c_str()) != 0) {
      return absl::DataLossError(strCat(common::toStd(text.status().message()),
                                        "; not moved aside: ", std::strerror(errno)));
    }
    LoadedState out;
    out.problems.emplace_back(common::toStd(text.status().message()));
    out.kept_copy = copy;
    return out;
  }
  LoadedState out = parseState(*text);
  out.text = std::move(*text);
  if (out.problems.empty()) return out;
  absl::StatusOr<std::string> copy = keepStateCopy(path, out.text, now);
  if (copy.ok()) {
    out.kept_copy = std::move(*copy);
  } else {
    out.keep_status = copy.status();
  }
  return out;
}

}  // namespace enadpdk::vhostuser
