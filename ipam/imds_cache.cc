#include "ipam/imds_cache.h"

#include "common/atomic_file.h"
#include "common/json_text.h"
#include "common/strings.h"

namespace enadpdk::ipam {
namespace {

std::int64_t millisSinceEpoch(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

EniMetadataCache::EniMetadataCache(std::filesystem::path dir, std::string endpoint,
                                   unsigned ttlSeconds, WallClock clock)
    : dir_(std::move(dir)),
      endpoint_(std::move(endpoint)),
      ttlSeconds_(ttlSeconds),
      clock_(std::move(clock)) {}

absl::StatusOr<EniMetadata> EniMetadataCache::get(
    std::string_view selector, const std::function<absl::StatusOr<EniMetadata>()>& fetch) {
  const std::filesystem::path file = dir_ / common::strCat(selector, ".json");
  const std::int64_t now = millisSinceEpoch(clock_());
  if (ttlSeconds_ > 0) {
    if (absl::StatusOr<std::string> text = common::readFile(file); text.ok()) {
      nlohmann::json entry = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
      // A cache file is ours, but may be corrupt or from another version: every key is checked
      // before it is read (nlohmann's value() and get() throw on a key of another type).
      if (entry.is_object() && entry.contains("endpoint") && entry["endpoint"].is_string() &&
          entry["endpoint"].get_ref<const std::string&>() == endpoint_ &&
          entry.contains("fetchedAtMs") && entry["fetchedAtMs"].is_number_integer() &&
          entry.contains("eni")) {
        const std::int64_t age = now - entry["fetchedAtMs"].get<std::int64_t>();
        if (age >= 0 && age < static_cast<std::int64_t>(ttlSeconds_) * 1000) {
          if (absl::StatusOr<EniMetadata> eni = EniMetadata::fromJson(entry["eni"]); eni.ok()) {
            return eni;
          }
        }
      }
    }
  }
  absl::StatusOr<EniMetadata> eni = fetch();
  if (!eni.ok() || ttlSeconds_ == 0) return eni;
  nlohmann::json entry = {{"endpoint", endpoint_}, {"fetchedAtMs", now}, {"eni", eni->toJson()}};
  if (common::makeDirectories(dir_, 0700).ok()) {
    // A cache that cannot be written only costs the next invocation a fetch.
    (void)common::writeFileAtomic(file, common::dumpJson(entry) + "\n", 0600);
  }
  return eni;
}

}  // namespace enadpdk::ipam
