#include "cni/errors.h"

#include <charconv>
#include <string>

#include "absl/strings/cord.h"
#include "common/strings.h"

namespace enadpdk::cni {
namespace {

constexpr char kPayloadUrl[] = "type.enadpdk/cni.error-code";

absl::StatusCode canonicalCodeFor(CniError code) {
  switch (code) {
    case CniError::kIncompatibleVersion:
    case CniError::kUnsupportedField:
    case CniError::kInvalidEnvironment:
    case CniError::kDecodeFailure:
    case CniError::kInvalidConfig:
      return absl::StatusCode::kInvalidArgument;
    case CniError::kUnknownContainer:
      return absl::StatusCode::kNotFound;
    case CniError::kTryAgainLater:
    case CniError::kPluginNotAvailable:
      return absl::StatusCode::kUnavailable;
    default:
      return code == kErrCheckFailed || code == kErrDeviceNotUsable
                 ? absl::StatusCode::kFailedPrecondition
                 : absl::StatusCode::kInternal;
  }
}

}  // namespace

absl::Status cniError(CniError code, std::string_view message) {
  absl::Status status(canonicalCodeFor(code), std::string(message));
  status.SetPayload(kPayloadUrl, absl::Cord(std::to_string(static_cast<int>(code))));
  return status;
}

absl::Status withPrefix(const absl::Status& status, std::string_view prefix) {
  if (status.ok()) return status;
  absl::Status out(status.code(), common::strCat(prefix, common::toStd(status.message())));
  if (auto payload = status.GetPayload(kPayloadUrl)) out.SetPayload(kPayloadUrl, *payload);
  return out;
}

CniError cniCodeOf(const absl::Status& status) {
  if (auto payload = status.GetPayload(kPayloadUrl)) {
    const std::string text(*payload);
    int code = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
    if (ec == std::errc() && end == text.data() + text.size()) return static_cast<CniError>(code);
  }
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return CniError::kInvalidConfig;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return CniError::kTryAgainLater;
    default:
      return CniError::kIoFailure;
  }
}

}  // namespace enadpdk::cni
