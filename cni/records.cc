#include "cni/records.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <system_error>

#include <fmt/format.h>

#include "common/atomic_file.h"
#include "common/fnv1a.h"
#include "common/json_text.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace enadpdk::cni {
namespace {

namespace fs = std::filesystem;
using common::dumpJson;
using common::makeDirectories;
using common::readFile;
using common::strCat;
using common::toStd;
using common::writeFileAtomic;

constexpr size_t kMaxEscapedLength = 200;
constexpr size_t kShortenedPrefix = 180;
constexpr char kSuffix[] = ".json";

bool keepsByte(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

std::string nowRfc3339() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

fs::path pendingDir(const fs::path& stateDir) { return stateDir / kPendingDeletesDir; }

absl::StatusOr<PendingPortDelete> parseRecord(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return absl::InvalidArgumentError("not a JSON object");
  PendingPortDelete r;
  const std::pair<const char*, std::string*> fields[] = {{"portId", &r.portId},
                                                         {"containerID", &r.containerId},
                                                         {"ifname", &r.ifname},
                                                         {"network", &r.network},
                                                         {"dataplaneSocket", &r.dataplaneSocket},
                                                         {"recordedAt", &r.recordedAt},
                                                         {"uid", &r.uid}};
  for (const auto& [key, out] : fields) {
    auto it = j.find(key);
    if (it == j.end()) continue;
    if (!it->is_string()) return absl::InvalidArgumentError(strCat(key, ": expected a string"));
    *out = it->get<std::string>();
  }
  if (r.portId.empty()) return absl::InvalidArgumentError("portId: missing or empty");
  return r;
}

}  // namespace

std::string recordFileName(std::string_view portId) {
  std::string escaped;
  escaped.reserve(portId.size());
  for (unsigned char c : portId) {
    if (keepsByte(c)) {
      escaped.push_back(static_cast<char>(c));
    } else {
      fmt::format_to(std::back_inserter(escaped), "%{:02X}", c);
    }
  }
  // "." and ".." would name directories; escaping their first dot keeps them plain files.
  if (escaped == "." || escaped == "..") escaped.replace(0, 1, "%2E");
  if (escaped.size() > kMaxEscapedLength) {
    escaped =
        fmt::format("{}~{:016x}", escaped.substr(0, kShortenedPrefix), common::fnv1a64(portId));
  }
  return escaped + kSuffix;
}

absl::Status recordPendingPortDelete(const fs::path& stateDir, PendingPortDelete record) {
  if (record.portId.empty()) {
    return absl::InvalidArgumentError("pending port delete: portId must not be empty");
  }
  if (record.recordedAt.empty()) record.recordedAt = nowRfc3339();
  const fs::path dir = pendingDir(stateDir);
  if (absl::Status s = makeDirectories(dir, 0700); !s.ok()) return s;
  nlohmann::json j = {{"portId", record.portId},
                      {"containerID", record.containerId},
                      {"ifname", record.ifname},
                      {"network", record.network},
                      {"dataplaneSocket", record.dataplaneSocket},
                      {"recordedAt", record.recordedAt}};
  if (!record.uid.empty()) j["uid"] = record.uid;
  return writeFileAtomic(dir / recordFileName(record.portId), dumpJson(j) + "\n", 0600);
}

absl::StatusOr<std::vector<PendingPortDelete>> listPendingPortDeletes(
    const fs::path& stateDir, std::vector<std::string>* problems) {
  std::vector<PendingPortDelete> out;
  const fs::path dir = pendingDir(stateDir);
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return out;
    return absl::InternalError(strCat("cannot list ", dir.string(), ": ", ec.message()));
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return absl::InternalError(strCat("cannot list ", dir.string(), ": ", ec.message()));
    const std::string name = it->path().filename().string();
    // writeFileAtomic's temporaries start with '.'; they are not records yet.
    if (name.empty() || name[0] == '.' || !name.ends_with(kSuffix)) continue;
    absl::StatusOr<std::string> text = readFile(it->path());
    if (!text.ok()) {
      // Cleared by another process between listing and reading.
      if (absl::IsNotFound(text.status())) continue;
      if (problems) problems->push_back(std::string(text.status().message()));
      continue;
    }
    absl::StatusOr<PendingPortDelete> record = parseRecord(*text);
    if (!record.ok()) {
      if (problems) {
        problems->push_back(strCat(it->path().string(), ": ", toStd(record.status().message())));
      }
      continue;
    }
    out.push_back(*std::move(record));
  }
  std::sort(out.begin(), out.end(), [](const PendingPortDelete& a, const PendingPortDelete& b) {
    return a.portId < b.portId;
  });
  return out;
}

absl::Status clearPendingPortDelete(const fs::path& stateDir, std::string_view portId,
                                    std::string_view uid) {
  const fs::path path = pendingDir(stateDir) / recordFileName(portId);
  if (!uid.empty()) {
    absl::StatusOr<std::string> text = readFile(path);
    if (!text.ok()) return absl::IsNotFound(text.status()) ? absl::OkStatus() : text.status();
    absl::StatusOr<PendingPortDelete> record = parseRecord(*text);
    if (record.ok() && record->uid != uid) return absl::OkStatus();
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(strCat("cannot remove ", path.string(), ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace enadpdk::cni
