#include "cni/errors.h"

#include <charconv>
#include <optional>
#include <string>

#include "absl/strings/cord.h"
#include "common/strings.h"

namespace enadpdk::cni {
namespace {

// The payload type URL under which the CNI code travels.
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
    case CniError::kCheckFailed:
    case CniError::kDeviceNotUsable:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInternal;
  }
}

// The code attached to `status`, if any.
std::optional<CniError> attachedCode(const absl::Status& status) {
  auto payload = status.GetPayload(kPayloadUrl);
  if (!payload) return std::nullopt;
  const std::string text(*payload);
  int code = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return static_cast<CniError>(code);
}

}  // namespace

const CustomErrorCode* findCustomErrorCode(CniError code) {
  for (const CustomErrorCode& row : kCustomErrorCodes) {
    if (row.code == code) return &row;
  }
  return nullptr;
}

absl::Status cniError(CniError code, std::string_view message) {
  return cniError(canonicalCodeFor(code), message, code);
}

absl::Status cniError(absl::StatusCode kind, std::string_view message, CniError code) {
  return withCniCode(absl::Status(kind, absl::string_view(message.data(), message.size())), code);
}

absl::Status withCniCode(absl::Status status, CniError code) {
  if (!status.ok()) {
    status.SetPayload(kPayloadUrl, absl::Cord(std::to_string(static_cast<int>(code))));
  }
  return status;
}

absl::Status withPrefix(const absl::Status& status, std::string_view prefix) {
  if (status.ok()) return status;
  absl::Status out(status.code(), common::strCat(prefix, common::toStd(status.message())));
  if (auto payload = status.GetPayload(kPayloadUrl)) out.SetPayload(kPayloadUrl, *payload);
  return out;
}

CniError cniCodeOf(const absl::Status& status) {
  if (std::optional<CniError> code = attachedCode(status)) return *code;
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

CniError cniCodeOf(const absl::Status& status, CniError fallback) {
  return attachedCode(status).value_or(fallback);
}

}  // namespace enadpdk::cni
