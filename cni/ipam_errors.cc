#include "cni/ipam_errors.h"

#include <charconv>
#include <string>
#include "absl/types/optional.h"

#include "absl/strings/cord.h"
#include "common/strings.h"

namespace enadpdk::cni::ipam {
namespace {

// The payload type URL under which the code travels.
constexpr char kCodePayload[] = "type.enadpdk/cni.error.code";

}  // namespace

absl::Status withCniCode(absl::Status status, CniError code) {
  if (!status.ok())
    status.SetPayload(kCodePayload, absl::Cord(std::to_string(static_cast<int>(code))));
  return status;
}

absl::Status cniError(absl::StatusCode kind, std::string_view message, CniError code) {
  return withCniCode(absl::Status(kind, absl::string_view(message.data(), message.size())), code);
}

CniError cniCodeOf(const absl::Status& status, CniError fallback) {
  absl::optional<absl::Cord> payload = status.GetPayload(kCodePayload);
  if (!payload) return fallback;
  std::string text(*payload);
  int code = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), code);
  if (error != std::errc() || end != text.data() + text.size()) return fallback;
  return static_cast<CniError>(code);
}

}  // namespace enadpdk::cni::ipam
