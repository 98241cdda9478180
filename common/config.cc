#include "common/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "common/json_reader.h"
#include "common/strings.h"

namespace enadpdk::common {
namespace {

bool isHexDigit(char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); }

// The longest error message a parser returns. Messages name the JSON path, and a path holds the
// keys of the file, which may be of any length; longer messages keep their start and their end
// (what is wrong) around a "…".
constexpr std::size_t kMaxMessageBytes = 1024;
constexpr std::size_t kMaxMessageTailBytes = 256;

// `text` with every byte that is not part of a valid UTF-8 sequence written as \xNN.
std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t length = c < 0x80             ? 1
                               : (c & 0xE0) == 0xC0 ? 2
                               : (c & 0xF0) == 0xE0 ? 3
                               : (c & 0xF8) == 0xF0 ? 4
                                                    : 0;
    if (length > 0 && isValidUtf8(text.substr(i, length))) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += {'\\', 'x', kHex[c >> 4], kHex[c & 0xF]};
      ++i;
    }
  }
  return out;
}

// `status` with its message cut to kMaxMessageBytes: its start and its last
// kMaxMessageTailBytes, at UTF-8 character boundaries, around a "…".
absl::Status bounded(const absl::Status& status) {
  std::string_view message = toStd(status.message());
  if (message.size() <= kMaxMessageBytes) return status;
  std::size_t tail = message.size() - kMaxMessageTailBytes;
  while (tail < message.size() && (static_cast<unsigned char>(message[tail]) & 0xC0) == 0x80) {
    ++tail;
  }
  // clipped() cuts at a character boundary and appends the 3 bytes of "…".
  return absl::Status(
      status.code(),
      strCat(clipped(message, kMaxMessageBytes - kMaxMessageTailBytes - 3), message.substr(tail)));
}

// nlohmann's parse errors end in the token the parser stopped in ("...; last read: '<token>'",
// then maybe "; expected ..."): bytes of the file, any number of them, not necessarily UTF-8. The
// token is quoted up to kMaxShownTokenBytes, and what is not UTF-8 is written as \xNN.
constexpr std::size_t kMaxShownTokenBytes = 40;

std::string parseErrorMessage(std::string_view message) {
  constexpr std::string_view kLastRead = "; last read: '";
  const std::size_t start = message.find(kLastRead);
  if (start == std::string_view::npos) return printable(message);
  const std::size_t token = start + kLastRead.size();
  std::size_t end = message.rfind("'; expected ");
  if (end == std::string_view::npos || end < token) end = message.rfind('\'');
  if (end == std::string_view::npos || end < token) end = message.size();
  return printable(strCat(message.substr(0, token),
                          clipped(message.substr(token, end - token), kMaxShownTokenBytes),
                          message.substr(end)));
}

// Parses a non-empty run of decimal digits (no sign, no spaces) that fits `out`.
bool parseDigits(std::string_view text, unsigned& out) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && error == std::errc() && end == text.data() + text.size();
}

}  // namespace

absl::Status readSection(const nlohmann::json& root, std::string_view name,
                         const std::function<void(JsonReader&)>& parse) {
  if (!root.is_object()) {
    return absl::InvalidArgumentError("expected a JSON object at the top level");
  }
  for (const auto& item : root.items()) {
    if (std::find(std::begin(kConfigSections), std::end(kConfigSections), item.key()) ==
        std::end(kConfigSections)) {
      return absl::InvalidArgumentError(strCat(clipped(item.key()), ": unknown section"));
    }
  }
  auto section = root.find(name);
  if (section == root.end()) return absl::OkStatus();
  JsonReader reader(*section, std::string(name));
  parse(reader);
  // The reader's paths quote the file's keys, of any length.
  return bounded(reader.finish());
}

absl::Status withPathPrefix(const std::filesystem::path& path, const absl::Status& status) {
  return absl::Status(status.code(), strCat(path.string(), ": ", status.message()));
}

// absl::StrSplit() does not take std::string_view in Debian's Abseil (its string_view is its own
// type), so this small one does.
std::vector<std::string_view> splitText(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

bool isPciAddressSyntax(std::string_view text) {
  constexpr std::string_view kPattern = "hhhh:hh:hh.f";
  if (text.size() != kPattern.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool matches = kPattern[i] == 'h'   ? isHexDigit(c)
                   : kPattern[i] == 'f' ? c >= '0' && c <= '7'
                                        : c == kPattern[i];
    if (!matches) return false;
  }
  return true;
}

bool isAbsolutePath(std::string_view text) { return text.starts_with('/'); }

// The multicast bit is the lowest bit of the first octet, i.e. of its second hex digit.
bool isUnicastMacAddress(std::string_view text) {
  return isMacAddress(text) &&
         std::string_view("02468aceACE").find(text[1]) != std::string_view::npos;
}

bool isHostPort(std::string_view text) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view host = text.substr(0, colon);
  unsigned port = 0;
  if (!parseDigits(text.substr(colon + 1), port) || port > 65535) return false;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    // Either family in brackets (a manifest's "[$(NODE_IP)]:9640" fits both); IPv6 needs them.
    return isIpAddress(host.substr(1, host.size() - 2));
  }
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '.';
  });
}

bool isNetworkName(std::string_view text) {
  return !text.empty() && text.size() <= kMaxNetworkNameLength &&
         std::all_of(text.begin(), text.end(), [](char c) {
           return absl::ascii_isdigit(c) || absl::ascii_islower(c) || c == '-';
         });
}

bool isIpAddress(std::string_view text) {
  std::string address(text);
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(AF_INET, address.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, address.c_str(), buffer) == 1;
}

bool isCidr(std::string_view text) {
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  std::string address(text.substr(0, slash));
  std::string_view prefix = text.substr(slash + 1);
  unsigned char buffer[sizeof(in6_addr)];
  unsigned maxLength = inet_pton(AF_INET, address.c_str(), buffer) == 1    ? 32
                       : inet_pton(AF_INET6, address.c_str(), buffer) == 1 ? 128
                                                                           : 0;
  unsigned length = 0;
  return maxLength > 0 && parseDigits(prefix, length) && length <= maxLength;
}

bool isMacAddress(std::string_view text) {
  if (text.size() != 17) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i % 3 == 2 ? text[i] != ':' : !absl::ascii_isxdigit(text[i])) return false;
  }
  return true;
}

absl::StatusOr<nlohmann::json> readJsonFile(const std::filesystem::path& path) {
  // POSIX I/O rather than iostreams, so that the error says why (errno).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, strCat(path.string(), ": cannot read"));
  std::string text;
  char buffer[8192];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) != 0) {
    if (n > 0) {
      text.append(buffer, static_cast<std::size_t>(n));
    } else if (errno != EINTR) {
      int error = errno;
      ::close(fd);
      return absl::ErrnoToStatus(error, strCat(path.string(), ": cannot read"));
    }
  }
  ::close(fd);
  return parseJsonDocument(path, text);
}

absl::StatusOr<nlohmann::json> parseJsonDocument(const std::filesystem::path& path,
                                                 std::string_view text) {
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix; the rest names line and column.
    std::string_view message = e.what();
    if (std::size_t end = message.find("] "); end != std::string_view::npos) {
      message.remove_prefix(end + 2);
    }
    return bounded(absl::InvalidArgumentError(
        strCat(path.string(), ": invalid JSON: ", parseErrorMessage(message))));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        strCat(path.string(), ": expected a JSON object at the top level"));
  }
  return root;
}

}  // namespace enadpdk::common
