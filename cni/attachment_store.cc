#include "cni/attachment_store.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "cni/records.h"
#include "cni/slot_files.h"
#include "common/atomic_file.h"
#include "common/json_reader.h"
#include "common/json_text.h"
#include "common/strings.h"

namespace enadpdk::cni {
namespace {

namespace fs = std::filesystem;
using common::strCat;

nlohmann::json toJson(const AttachmentRecord& r) {
  return {{"containerID", r.containerId},
          {"ifname", r.ifname},
          {"cniNetwork", r.cniNetwork},
          {"mode", r.mode},
          {"network", r.network},
          {"deviceID", r.deviceId},
          {"slotDir", r.slotDir},
          {"ownsSlotDir", r.ownsSlotDir},
          {"socketPath", r.socketPath},
          {"dataplaneSocket", r.dataplaneSocket},
          {"deviceInfoFile", r.deviceInfoFile},
          {"portUid", r.portUid}};
}

absl::StatusOr<AttachmentRecord> fromText(const std::string& text, const fs::path& path) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::DataLossError(strCat(path.string(), ": not JSON"));
  AttachmentRecord r;
  common::JsonReader reader(j, path.string(), common::UnknownKeys::Ignore);
  reader.require("containerID");
  reader.read("containerID", r.containerId);
  reader.require("ifname");
  reader.read("ifname", r.ifname);
  reader.read("cniNetwork", r.cniNetwork);
  reader.read("mode", r.mode);
  reader.read("network", r.network);
  reader.read("deviceID", r.deviceId);
  reader.read("slotDir", r.slotDir);
  reader.read("ownsSlotDir", r.ownsSlotDir);
  reader.read("socketPath", r.socketPath);
  reader.read("dataplaneSocket", r.dataplaneSocket);
  reader.read("deviceInfoFile", r.deviceInfoFile);
  reader.read("portUid", r.portUid);
  if (absl::Status s = reader.finish(); !s.ok()) {
    return absl::DataLossError(s.message());
  }
  return r;
}

}  // namespace

AttachmentStore::AttachmentStore(fs::path stateDir) : dir_(std::move(stateDir) / kAttachmentsDir) {}

fs::path AttachmentStore::pathOf(std::string_view portId) const {
  return dir_ / recordFileName(portId);
}

absl::Status AttachmentStore::save(const AttachmentRecord& record) const {
  if (absl::Status s = common::makeDirectories(dir_, 0700); !s.ok()) return s;
  // Not fsynced: after a power loss DEL rebuilds a lost record from its configuration and GC
  // collects the ports the dataplane restored without one.
  return replaceFile(pathOf(record.portId()), common::dumpJson(toJson(record)) + "\n", 0600);
}

absl::StatusOr<std::optional<AttachmentRecord>> AttachmentStore::load(
    std::string_view portId) const {
  const fs::path path = pathOf(portId);
  absl::StatusOr<std::string> text = common::readFile(path);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) return std::nullopt;
    return text.status();
  }
  absl::StatusOr<AttachmentRecord> record = fromText(*text, path);
  if (!record.ok()) return record.status();
  return std::optional<AttachmentRecord>(*std::move(record));
}

absl::StatusOr<std::vector<AttachmentRecord>> AttachmentStore::list(
    std::vector<std::string>* problems) const {
  std::vector<AttachmentRecord> out;
  std::error_code ec;
  fs::directory_iterator it(dir_, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return out;
    return absl::InternalError(strCat("cannot list ", dir_.string(), ": ", ec.message()));
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return absl::InternalError(strCat("cannot list ", dir_.string(), ": ", ec.message()));
    const std::string name = it->path().filename().string();
    // writeFileAtomic's temporaries start with '.'.
    if (name.empty() || name[0] == '.' || !name.ends_with(".json")) continue;
    absl::StatusOr<std::string> text = common::readFile(it->path());
    if (!text.ok() && absl::IsNotFound(text.status())) continue;
    absl::StatusOr<AttachmentRecord> record =
        text.ok() ? fromText(*text, it->path()) : absl::StatusOr<AttachmentRecord>(text.status());
    if (!record.ok()) {
      if (problems) problems->push_back(std::string(record.status().message()));
      continue;
    }
    out.push_back(*std::move(record));
  }
  std::sort(out.begin(), out.end(), [](const AttachmentRecord& a, const AttachmentRecord& b) {
    return a.portId() < b.portId();
  });
  return out;
}

absl::Status AttachmentStore::remove(std::string_view portId) const {
  const fs::path path = pathOf(portId);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(strCat("cannot remove ", path.string(), ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace enadpdk::cni
