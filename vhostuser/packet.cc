#include "vhostuser/packet.h"

#include <fmt/format.h>

namespace enadpdk::vhostuser {

std::optional<MacAddr> parseMac(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  MacAddr mac;
  for (int i = 0; i < 6; ++i) {
    if (i > 0 && text[i * 3 - 1] != ':') return std::nullopt;
    uint8_t v = 0;
    for (int j = 0; j < 2; ++j) {
      char c = text[i * 3 + j];
      uint8_t d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return std::nullopt;
      }
      v = static_cast<uint8_t>(v << 4 | d);
    }
    mac.bytes[i] = v;
  }
  return mac;
}

std::string formatMac(const MacAddr& m) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m.bytes[0], m.bytes[1],
                     m.bytes[2], m.bytes[3], m.bytes[4], m.bytes[5]);
}

uint32_t checksumPartial(const uint8_t* data, uint32_t len, uint32_t sum) noexcept {
  for (; len > 1; data += 2, len -= 2) sum += load16(data);
  if (len) sum += static_cast<uint32_t>(data[0]) << 8;
  return sum;
}

uint16_t checksumFold(uint32_t sum) noexcept {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

}  // namespace enadpdk::vhostuser
