#include "ipam/imds.h"

#include <algorithm>
#include <mutex>

#include "absl/strings/ascii.h"
#include "common/config.h"
#include "common/strings.h"
#include "ipam/address.h"
#include "ipam/curl_api.h"

namespace enadpdk::ipam {
namespace {

using common::strCat;

constexpr char kTokenPath[] = "/latest/api/token";
constexpr char kMetadataPrefix[] = "/latest/meta-data/";

// Where libcurl's callbacks put what arrives: the body, up to kMaxImdsBodyBytes, and the size of
// the headers, up to kMaxImdsHeaderBytes. A callback that would pass its limit returns 0, which
// makes libcurl abort the transfer (CURLE_WRITE_ERROR), so memory never grows past the limit.
struct Received {
  std::string body{};
  std::size_t headerBytes = 0;
  bool bodyTooLarge = false;
  bool headersTooLarge = false;
};

std::size_t appendBody(char* data, std::size_t size, std::size_t count, void* user) {
  Received& received = *static_cast<Received*>(user);
  const std::size_t bytes = size * count;
  if (bytes > kMaxImdsBodyBytes - received.body.size()) {
    received.bodyTooLarge = true;
    return 0;
  }
  received.body.append(data, bytes);
  return bytes;
}

std::size_t countHeader(char* /*data*/, std::size_t size, std::size_t count, void* user) {
  Received& received = *static_cast<Received*>(user);
  const std::size_t bytes = size * count;
  if (bytes > kMaxImdsHeaderBytes - received.headerBytes) {
    received.headersTooLarge = true;
    return 0;
  }
  received.headerBytes += bytes;
  return bytes;
}

// The metadata lists one value per line; trailing newlines and blank lines carry nothing.
std::vector<std::string> lines(std::string_view body) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= body.size()) {
    std::size_t end = body.find('\n', start);
    if (end == std::string_view::npos) end = body.size();
    std::string line(
        absl::StripAsciiWhitespace(absl::string_view(body.data() + start, end - start)));
    if (!line.empty()) out.push_back(std::move(line));
    start = end + 1;
  }
  return out;
}

absl::Status badData(std::string_view what) {
  return absl::DataLossError(strCat("instance metadata: ", what));
}

// Checks what fetchEni() and the cache rely on; errors name the ENI and the field.
absl::Status validate(const EniMetadata& eni) {
  const std::string where = strCat("ENI ", eni.mac, ": ");
  if (!common::isMacAddress(eni.mac))
    return badData(strCat("\"", common::clipped(eni.mac), "\" is not a MAC address"));
  if (eni.localIpv4s.empty()) return badData(strCat(where, "local-ipv4s is empty"));
  std::optional<IpPrefix> subnet = parseIpPrefix(eni.subnetIpv4Cidr);
  if (!subnet || subnet->address.family != 4) {
    return badData(strCat(where, "subnet-ipv4-cidr-block \"", common::clipped(eni.subnetIpv4Cidr),
                          "\" is not an IPv4 CIDR"));
  }
  for (const std::string& ip : eni.localIpv4s) {
    std::optional<IpAddress> address = parseIpAddress(ip);
    if (!address || address->family != 4) {
      return badData(
          strCat(where, "local-ipv4s entry \"", common::clipped(ip), "\" is not an IPv4 address"));
    }
    if (!subnet->contains(*address)) {
      return badData(
          strCat(where, "local-ipv4s entry ", ip, " is outside the subnet ", eni.subnetIpv4Cidr));
    }
  }
  std::vector<IpPrefix> blocks;
  for (const std::string& block : eni.subnetIpv6Cidrs) {
    std::optional<IpPrefix> prefix = parseIpPrefix(block);
    if (!prefix || prefix->address.family != 6) {
      return badData(strCat(where, "subnet-ipv6-cidr-blocks entry \"", common::clipped(block),
                            "\" is not an IPv6 CIDR"));
    }
    blocks.push_back(*prefix);
  }
  for (const std::string& ip : eni.ipv6s) {
    std::optional<IpAddress> address = parseIpAddress(ip);
    if (!address || address->family != 6) {
      return badData(
          strCat(where, "ipv6s entry \"", common::clipped(ip), "\" is not an IPv6 address"));
    }
    if (std::none_of(blocks.begin(), blocks.end(),
                     [&](const IpPrefix& b) { return b.contains(*address); })) {
      return badData(
          strCat(where, "ipv6s entry ", ip, " is in none of the subnet-ipv6-cidr-blocks"));
    }
  }
  if (eni.ipv4Prefixes) {
    for (const std::string& text : *eni.ipv4Prefixes) {
      std::optional<IpPrefix> prefix = parseIpPrefix(text);
      if (!prefix || prefix->address.family != 4 || prefix->address != prefix->network()) {
        return badData(strCat(where, "ipv4-prefix entry \"", common::clipped(text),
                              "\" is not an IPv4 prefix (a CIDR such as 10.0.1.48/28)"));
      }
      if (prefix->length < subnet->length || !subnet->contains(prefix->address)) {
        return badData(strCat(where, "ipv4-prefix entry ", text, " is outside the subnet ",
                              eni.subnetIpv4Cidr));
      }
    }
  }
  if (eni.ipv6Prefixes) {
    for (const std::string& text : *eni.ipv6Prefixes) {
      std::optional<IpPrefix> prefix = parseIpPrefix(text);
      if (!prefix || prefix->address.family != 6 || prefix->address != prefix->network()) {
        return badData(strCat(where, "ipv6-prefix entry \"", common::clipped(text),
                              "\" is not an IPv6 prefix (a CIDR such as 2600:1f18::1:0:0:0/80)"));
      }
      if (std::none_of(blocks.begin(), blocks.end(), [&](const IpPrefix& b) {
            return prefix->length >= b.length && b.contains(prefix->address);
          })) {
        return badData(strCat(where, "ipv6-prefix entry ", text,
                              " is in none of the subnet-ipv6-cidr-blocks"));
      }
    }
  }
  return absl::OkStatus();
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  absl::AsciiStrToLower(&out);
  return out;
}

}  // namespace

unsigned imdsBudgetMs(unsigned timeoutMs) {
  // Written so that kImdsBudgetFactor × timeoutMs cannot overflow.
  if (timeoutMs >= kMaxImdsBudgetMs / kImdsBudgetFactor) {
    return std::max(timeoutMs, kMaxImdsBudgetMs);
  }
  return kImdsBudgetFactor * timeoutMs;
}

std::string headerValueProblem(std::string_view value) {
  if (value.empty()) return "it is empty";
  if (value.size() > kMaxImdsHeaderValueBytes) {
    return strCat("it has ", value.size(), " bytes, more than ", kMaxImdsHeaderValueBytes);
  }
  for (std::size_t i = 0; i < value.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c == '\r' || c == '\n') return strCat("it has a line break at offset ", i);
    const char* what = c == ' '                ? "a space"
                       : c < 0x20 || c == 0x7f ? "a control character"
                       : c > 0x7f              ? "a non-ASCII byte"
                                               : nullptr;
    if (what != nullptr) return strCat("it has ", what, " at offset ", i);
  }
  return "";
}

nlohmann::json EniMetadata::toJson() const {
  nlohmann::json json = {{"mac", mac},
                         {"localIpv4s", localIpv4s},
                         {"subnetIpv4Cidr", subnetIpv4Cidr},
                         {"ipv6s", ipv6s},
                         {"subnetIpv6Cidrs", subnetIpv6Cidrs}};
  // Absent when not fetched, so that entries written before prefix delegation read back alike.
  if (ipv4Prefixes) json["ipv4Prefixes"] = *ipv4Prefixes;
  if (ipv6Prefixes) json["ipv6Prefixes"] = *ipv6Prefixes;
  return json;
}

absl::StatusOr<EniMetadata> EniMetadata::fromJson(const nlohmann::json& json) {
  EniMetadata eni;
  try {
    eni.mac = json.at("mac").get<std::string>();
    eni.localIpv4s = json.at("localIpv4s").get<std::vector<std::string>>();
    eni.subnetIpv4Cidr = json.at("subnetIpv4Cidr").get<std::string>();
    eni.ipv6s = json.at("ipv6s").get<std::vector<std::string>>();
    eni.subnetIpv6Cidrs = json.at("subnetIpv6Cidrs").get<std::vector<std::string>>();
    if (json.contains("ipv4Prefixes")) {
      eni.ipv4Prefixes = json.at("ipv4Prefixes").get<std::vector<std::string>>();
    }
    if (json.contains("ipv6Prefixes")) {
      eni.ipv6Prefixes = json.at("ipv6Prefixes").get<std::vector<std::string>>();
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(strCat("malformed ENI metadata: ", e.what()));
  }
  if (absl::Status status = validate(eni); !status.ok()) {
    return absl::InvalidArgumentError(status.message());
  }
  return eni;
}

ImdsClient::ImdsClient(ImdsOptions options)
    : options_(std::move(options)),
      budgetMs_(options_.budgetMs > 0 ? options_.budgetMs : imdsBudgetMs(options_.timeoutMs)),
      deadline_(std::chrono::steady_clock::now() + std::chrono::milliseconds(budgetMs_)) {
  while (!options_.endpoint.empty() && options_.endpoint.back() == '/')
    options_.endpoint.pop_back();
}

ImdsClient::~ImdsClient() = default;

absl::Status ImdsClient::budgetSpent(const char* method, const std::string& path) const {
  return absl::DeadlineExceededError(
      strCat("instance metadata service ", options_.endpoint, ": the ", budgetMs_,
             " ms budget of this command's metadata requests is spent (", requests_,
             requests_ == 1 ? " request" : " requests", ", the last ", method, " ", path,
             "); try again later"));
}

absl::StatusOr<ImdsClient::Response> ImdsClient::send(const char* method, const std::string& path,
                                                      const std::vector<Header>& headers) {
  // Checked here too (token() checks the token when it arrives): a header value with CR or LF
  // would add header lines of its own.
  for (const Header& header : headers) {
    if (std::string problem = headerValueProblem(header.value); !problem.empty()) {
      return absl::DataLossError(strCat("instance metadata service ", options_.endpoint, ": ",
                                        method, " ", path, ": refusing to send header ",
                                        header.name, ": ", problem));
    }
  }
  // The request may take what is left of the budget, and at most timeoutMs (libcurl reads a
  // timeout of 0 as none, so a timeoutMs of 0 leaves only the budget).
  const auto now = std::chrono::steady_clock::now();
  if (now >= deadline_) return budgetSpent(method, path);
  const long left =
      static_cast<long>(std::chrono::ceil<std::chrono::milliseconds>(deadline_ - now).count());
  const bool cutByBudget = options_.timeoutMs == 0 || left < static_cast<long>(options_.timeoutMs);
  const long timeoutMs = cutByBudget ? left : static_cast<long>(options_.timeoutMs);

  // libcurl is loaded on the first request (ipam/curl_api.h), not at process start.
  absl::StatusOr<const CurlApi*> loaded = curlApi();
  if (!loaded.ok()) {
    return absl::UnavailableError(strCat("instance metadata service ", options_.endpoint,
                                         ": no HTTP client: ", loaded.status().message()));
  }
  const CurlApi& api = **loaded;
  std::unique_ptr<CURL, void (*)(CURL*)> curl(api.easy_init(), api.easy_cleanup);
  if (!curl) return absl::InternalError("curl_easy_init failed");
  curl_slist* list = nullptr;
  for (const Header& header : headers) {
    list = api.slist_append(list, strCat(header.name, ": ", header.value).c_str());
  }
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> headerList(list, api.slist_free_all);

  const std::string url = options_.endpoint + path;
  Received received;
  char error[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  api.easy_setopt(c, CURLOPT_URL, url.c_str());
  api.easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (std::string_view(method) == "PUT") {
    // A PUT without a body; libcurl would otherwise wait for an upload source.
    api.easy_setopt(c, CURLOPT_POSTFIELDS, "");
    api.easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
  }
  api.easy_setopt(c, CURLOPT_HTTPHEADER, headerList.get());
  api.easy_setopt(c, CURLOPT_TIMEOUT_MS, timeoutMs);
  api.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeoutMs);
  // No signals (SIGALRM for DNS timeouts) in a process that may have threads; no proxies, since
  // an HTTP_PROXY from the runtime's environment must not see metadata tokens; no redirects.
  api.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  api.easy_setopt(c, CURLOPT_NOPROXY, "*");
  api.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  // A Content-Length above the limit is refused before the body arrives; a body without one is
  // cut by appendBody().
  api.easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(kMaxImdsBodyBytes));
  api.easy_setopt(c, CURLOPT_WRITEFUNCTION, appendBody);
  api.easy_setopt(c, CURLOPT_WRITEDATA, &received);
  api.easy_setopt(c, CURLOPT_HEADERFUNCTION, countHeader);
  api.easy_setopt(c, CURLOPT_HEADERDATA, &received);
  api.easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  ++requests_;
  CURLcode code = api.easy_perform(c);
  if (received.bodyTooLarge || received.headersTooLarge || code == CURLE_FILESIZE_EXCEEDED) {
    // The body is not quoted: it is outside input of any size.
    return absl::DataLossError(strCat(
        "instance metadata service ", options_.endpoint, ": ", method, " ", path, ": the answer's ",
        received.headersTooLarge ? "headers are" : "body is", " larger than ",
        received.headersTooLarge ? kMaxImdsHeaderBytes : kMaxImdsBodyBytes, " bytes (refused)"));
  }
  if (code != CURLE_OK) {
    if (code == CURLE_OPERATION_TIMEDOUT && cutByBudget) return budgetSpent(method, path);
    std::string why = error[0] != '\0' ? error : api.easy_strerror(code);
    if (code == CURLE_OPERATION_TIMEDOUT) {
      why = strCat("timed out after ", options_.timeoutMs, " ms");
    }
    return absl::UnavailableError(strCat("instance metadata service ", options_.endpoint,
                                         " unreachable: ", method, " ", path, ": ", why));
  }
  Response response;
  api.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  response.body = std::move(received.body);
  return response;
}

absl::StatusOr<std::string> ImdsClient::token() {
  if (!token_.empty()) return token_;
  const std::string ttl = std::to_string(kImdsTokenTtlSeconds);
  absl::StatusOr<Response> response =
      send("PUT", kTokenPath, {{"X-aws-ec2-metadata-token-ttl-seconds", ttl}});
  if (!response.ok()) return response.status();
  if (response->status != 200 || response->body.empty()) {
    return absl::FailedPreconditionError(strCat("instance metadata service ", options_.endpoint,
                                                ": PUT ", kTokenPath, " answered HTTP ",
                                                response->status, " (IMDSv2 token refused)"));
  }
  // The token goes back in a header: one with CR or LF (or other bytes a header value cannot
  // hold) would inject header lines, so it is refused, and never quoted.
  if (std::string problem = headerValueProblem(response->body); !problem.empty()) {
    return absl::DataLossError(strCat("instance metadata service ", options_.endpoint, ": PUT ",
                                      kTokenPath, " answered an unusable IMDSv2 token (", problem,
                                      "; a token is 1 to ", kMaxImdsHeaderValueBytes,
                                      " printable ASCII characters); it is not sent"));
  }
  token_ = std::move(response->body);
  return token_;
}

absl::StatusOr<std::string> ImdsClient::get(std::string_view path) {
  absl::StatusOr<std::string> session = token();
  if (!session.ok()) return session.status();
  const std::string fullPath = strCat(kMetadataPrefix, path);
  absl::StatusOr<Response> response =
      send("GET", fullPath, {{"X-aws-ec2-metadata-token", *session}});
  if (!response.ok()) return response.status();
  if (response->status == 404) {
    return absl::NotFoundError(strCat("instance metadata service ", options_.endpoint, ": GET ",
                                      fullPath, ": not found (HTTP 404)"));
  }
  if (response->status != 200) {
    return absl::FailedPreconditionError(strCat("instance metadata service ", options_.endpoint,
                                                ": GET ", fullPath, " answered HTTP ",
                                                response->status));
  }
  return std::move(response->body);
}

absl::StatusOr<EniMetadata> ImdsClient::fetchEni(std::string_view mac, EniFetch what) {
  EniMetadata eni{.mac = lowercase(mac)};
  const std::string base = strCat("network/interfaces/macs/", eni.mac, "/");
  absl::StatusOr<std::string> ipv4s = get(base + "local-ipv4s");
  if (absl::IsNotFound(ipv4s.status())) {
    return absl::NotFoundError(strCat("instance metadata: no ENI with MAC ", eni.mac,
                                      " is attached (", ipv4s.status().message(), ")"));
  }
  if (!ipv4s.ok()) return ipv4s.status();
  eni.localIpv4s = lines(*ipv4s);

  absl::StatusOr<std::string> subnet = get(base + "subnet-ipv4-cidr-block");
  if (!subnet.ok()) return subnet.status();
  eni.subnetIpv4Cidr = std::string(absl::StripAsciiWhitespace(*subnet));

  // An ENI without IPv6 has no ipv6s entry at all.
  absl::StatusOr<std::string> ipv6s = get(base + "ipv6s");
  if (ipv6s.ok()) {
    eni.ipv6s = lines(*ipv6s);
  } else if (!absl::IsNotFound(ipv6s.status())) {
    return ipv6s.status();
  }
  // An ENI without delegated prefixes has no ipv4-prefix / ipv6-prefix entry at all.
  auto optionalList = [&](const char* name) -> absl::StatusOr<std::vector<std::string>> {
    absl::StatusOr<std::string> body = get(base + name);
    if (absl::IsNotFound(body.status())) return std::vector<std::string>();
    if (!body.ok()) return body.status();
    return lines(*body);
  };
  if (what.ipv4Prefixes) {
    absl::StatusOr<std::vector<std::string>> prefixes = optionalList("ipv4-prefix");
    if (!prefixes.ok()) return prefixes.status();
    eni.ipv4Prefixes = std::move(*prefixes);
  }
  if (what.ipv6Prefixes) {
    absl::StatusOr<std::vector<std::string>> prefixes = optionalList("ipv6-prefix");
    if (!prefixes.ok()) return prefixes.status();
    eni.ipv6Prefixes = std::move(*prefixes);
  }
  if (!eni.ipv6s.empty() || (eni.ipv6Prefixes && !eni.ipv6Prefixes->empty())) {
    absl::StatusOr<std::string> blocks = get(base + "subnet-ipv6-cidr-blocks");
    if (!blocks.ok()) return blocks.status();
    eni.subnetIpv6Cidrs = lines(*blocks);
  }
  if (absl::Status status = validate(eni); !status.ok()) return status;
  return eni;
}

absl::StatusOr<std::string> ImdsClient::macOfDevice(unsigned deviceNumber) {
  absl::StatusOr<std::string> macs = get("network/interfaces/macs/");
  if (!macs.ok()) return macs.status();
  for (std::string entry : lines(*macs)) {
    if (!entry.empty() && entry.back() == '/') entry.pop_back();
    if (!common::isMacAddress(entry)) {
      return badData(strCat("network/interfaces/macs/ lists \"", common::clipped(entry),
                            "\", not a MAC address"));
    }
    absl::StatusOr<std::string> number =
        get(strCat("network/interfaces/macs/", entry, "/device-number"));
    if (absl::IsNotFound(number.status())) continue;  // detached while we looked
    if (!number.ok()) return number.status();
    if (std::string(absl::StripAsciiWhitespace(*number)) == std::to_string(deviceNumber)) {
      return lowercase(entry);
    }
  }
  return absl::NotFoundError(
      strCat("instance metadata: no attached ENI has device-number ", deviceNumber));
}

}  // namespace enadpdk::ipam
