#include "nodeprep/eni_metadata.h"

#include <httplib.h>

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/config.h"
#include "common/strings.h"

namespace enadpdk::nodeprep {
namespace {

using common::strCat;

constexpr char kMacsPath[] = "/latest/meta-data/network/interfaces/macs/";
// The token only has to outlive one run.
constexpr char kTokenTtlSeconds[] = "60";
// IMDS answers are a few hundred bytes; anything much larger is not the metadata service.
constexpr std::size_t kMaxBodyBytes = 64 * 1024;

// One IMDSv2 session against `endpoint`.
class Session {
 public:
  explicit Session(const ImdsConfig& config) : endpoint_(config.endpoint), client_(endpoint_) {
    const auto timeout = std::chrono::milliseconds(config.timeoutMs);
    client_.set_connection_timeout(timeout);
    client_.set_read_timeout(timeout);
    client_.set_write_timeout(timeout);
  }

  absl::Status open() {
    httplib::Result res =
        client_.Put("/latest/api/token",
                    {{"X-aws-ec2-metadata-token-ttl-seconds", kTokenTtlSeconds}}, "", "text/plain");
    absl::StatusOr<std::string> body = check(res, "PUT", "/latest/api/token");
    if (!body.ok()) return body.status();
    token_ = std::string(absl::StripAsciiWhitespace(*body));
    if (token_.empty() ||
        std::any_of(token_.begin(), token_.end(), [](char c) { return c <= ' ' || c > '~'; })) {
      return absl::DataLossError(
          strCat("instance metadata service ", endpoint_, ": unusable session token"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> get(const std::string& path) {
    httplib::Result res = client_.Get(path, {{"X-aws-ec2-metadata-token", token_}});
    return check(res, "GET", path);
  }

  absl::Status invalid(const std::string& path, std::string_view what) const {
    return absl::DataLossError(
        strCat("instance metadata service ", endpoint_, ": GET ", path, ": ", what));
  }

 private:
  absl::StatusOr<std::string> check(const httplib::Result& res, std::string_view method,
                                    std::string_view path) const {
    if (!res) {
      return absl::UnavailableError(strCat("instance metadata service ", endpoint_, ": ", method,
                                           " ", path, ": ", httplib::to_string(res.error())));
    }
    if (res->status != 200) {
      return absl::UnavailableError(strCat("instance metadata service ", endpoint_, ": ", method,
                                           " ", path, ": HTTP ", res->status));
    }
    if (res->body.size() > kMaxBodyBytes) {
      return absl::DataLossError(strCat("instance metadata service ", endpoint_, ": ", method, " ",
                                        path, ": answer larger than ", kMaxBodyBytes, " bytes"));
    }
    return res->body;
  }

  std::string endpoint_;
  httplib::Client client_;
  std::string token_;
};

bool isEniId(std::string_view text) {
  return text.size() > 4 && text.starts_with("eni-") &&
         std::all_of(text.begin() + 4, text.end(),
                     [](char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); });
}

}  // namespace

absl::StatusOr<EniFactsByMac> ImdsEniMetadata::attachedEnis() const {
  // httplib reports failures through its Result; nothing it throws is expected, but no exception
  // may leave the module.
  try {
    Session session(config_);
    if (absl::Status opened = session.open(); !opened.ok()) return opened;
    absl::StatusOr<std::string> listing = session.get(kMacsPath);
    if (!listing.ok()) return listing.status();
    EniFactsByMac enis;
    for (absl::string_view line : absl::StrSplit(*listing, '\n', absl::SkipWhitespace())) {
      std::string mac(absl::StripSuffix(absl::StripAsciiWhitespace(line), "/"));
      absl::AsciiStrToLower(&mac);
      if (!common::isMacAddress(mac)) {
        return session.invalid(kMacsPath, strCat("\"", common::clipped(mac), "\" is not a MAC"));
      }
      const std::string base = strCat(kMacsPath, mac, "/");
      absl::StatusOr<std::string> number = session.get(base + "device-number");
      if (!number.ok()) return number.status();
      EniFacts facts{.mac = mac};
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*number), &facts.device_number)) {
        return session.invalid(base + "device-number", "not a number");
      }
      absl::StatusOr<std::string> id = session.get(base + "interface-id");
      if (!id.ok()) return id.status();
      facts.eni_id = std::string(absl::StripAsciiWhitespace(*id));
      if (!isEniId(facts.eni_id)) return session.invalid(base + "interface-id", "not an ENI ID");
      enis.emplace(mac, std::move(facts));
    }
    return enis;
  } catch (const std::exception& e) {
    return absl::InternalError(
        strCat("instance metadata service ", config_.endpoint, ": ", e.what()));
  }
}

}  // namespace enadpdk::nodeprep
