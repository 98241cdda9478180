#include "tests/support/packet_builder.h"

#include <cstdio>
#include <cstdlib>

namespace enadpdk::testing {
namespace {

void put16(Frame& f, uint16_t v) {
  f.push_back(v >> 8);
  f.push_back(v & 0xff);
}
void append(Frame& f, const std::vector<uint8_t>& b) { f.insert(f.end(), b.begin(), b.end()); }

uint16_t checksum(const uint8_t* d, size_t n, uint32_t sum) {
  for (; n > 1; d += 2, n -= 2) sum += d[0] << 8 | d[1];
  if (n) sum += d[0] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

Frame ipv6(const std::string& eth_dst, const std::string& eth_src, const std::string& src,
           const std::string& dst, uint8_t next, uint8_t hop_limit, const Frame& l4) {
  Frame ip = {0x60, 0, 0, 0};
  put16(ip, l4.size());
  ip.push_back(next);
  ip.push_back(hop_limit);
  append(ip, ipBytes(src));
  append(ip, ipBytes(dst));
  append(ip, l4);
  return ethernet(eth_dst, eth_src, 0x86dd, ip);
}

}  // namespace

std::vector<uint8_t> macBytes(const std::string& mac) {
  unsigned b[6];
  if (std::sscanf(mac.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) !=
      6) {
    std::fprintf(stderr, "bad MAC in test data: %s\n", mac.c_str());
    std::abort();
  }
  return {uint8_t(b[0]), uint8_t(b[1]), uint8_t(b[2]), uint8_t(b[3]), uint8_t(b[4]), uint8_t(b[5])};
}

std::vector<uint8_t> ipBytes(const std::string& ip) {
  std::vector<uint8_t> out(16);
  if (inet_pton(AF_INET, ip.c_str(), out.data()) == 1) {
    out.resize(4);
    return out;
  }
  if (inet_pton(AF_INET6, ip.c_str(), out.data()) == 1) return out;
  std::fprintf(stderr, "bad IP in test data: %s\n", ip.c_str());
  std::abort();
}

Frame ethernet(const std::string& dst, const std::string& src, uint16_t ethertype,
               const std::vector<uint8_t>& payload) {
  Frame f = macBytes(dst);
  append(f, macBytes(src));
  put16(f, ethertype);
  append(f, payload);
  return f;
}

Frame arp(uint16_t op, const std::string& eth_dst, const std::string& eth_src,
          const std::string& sha, const std::string& spa, const std::string& tha,
          const std::string& tpa) {
  Frame a = {0, 1, 8, 0, 6, 4};
  put16(a, op);
  append(a, macBytes(sha));
  append(a, ipBytes(spa));
  append(a, macBytes(tha));
  append(a, ipBytes(tpa));
  return ethernet(eth_dst, eth_src, 0x0806, a);
}

Frame udp4(const std::string& eth_dst, const std::string& eth_src, const std::string& src,
           const std::string& dst, size_t payload_len) {
  Frame ip = {0x45, 0};
  put16(ip, 20 + 8 + payload_len);
  ip.insert(ip.end(), {0, 1, 0, 0, 64, 17, 0, 0});
  append(ip, ipBytes(src));
  append(ip, ipBytes(dst));
  uint16_t c = checksum(ip.data(), 20, 0);
  ip[10] = c >> 8;
  ip[11] = c & 0xff;
  put16(ip, 1234);
  put16(ip, 5678);
  put16(ip, 8 + payload_len);
  put16(ip, 0);
  ip.resize(ip.size() + payload_len);
  return ethernet(eth_dst, eth_src, 0x0800, ip);
}

Frame udp6(const std::string& eth_dst, const std::string& eth_src, const std::string& src,
           const std::string& dst, size_t payload_len) {
  Frame l4;
  put16(l4, 1234);
  put16(l4, 5678);
  put16(l4, 8 + payload_len);
  put16(l4, 0);
  l4.resize(l4.size() + payload_len);
  return ipv6(eth_dst, eth_src, src, dst, 17, 64, l4);
}

Frame icmpv6(const std::string& eth_dst, const std::string& eth_src, const std::string& src,
             const std::string& dst, uint8_t type, const std::vector<uint8_t>& body,
             uint8_t hop_limit, bool router_alert) {
  Frame icmp = {type, 0, 0, 0};
  append(icmp, body);
  uint32_t sum = 0;
  for (const std::string& a : {src, dst}) {
    const std::vector<uint8_t> b = ipBytes(a);
    for (size_t i = 0; i < 16; i += 2) sum += b[i] << 8 | b[i + 1];
  }
  sum += icmp.size() + 58;
  const uint16_t c = checksum(icmp.data(), icmp.size(), sum);
  icmp[2] = c >> 8;
  icmp[3] = c & 0xff;
  std::string mac = eth_dst;
  if (mac.empty()) {
    const std::vector<uint8_t> d = ipBytes(dst);
    char text[32];
    std::snprintf(text, sizeof(text), "33:33:%02x:%02x:%02x:%02x", d[12], d[13], d[14], d[15]);
    mac = text;
  }
  if (!router_alert) return ipv6(mac, eth_src, src, dst, 58, hop_limit, icmp);
  // Next header ICMPv6, length 0 (8 bytes), Router Alert (type 5, length 2, value 0), PadN 2.
  Frame l4 = {58, 0, 5, 2, 0, 0, 1, 0};
  append(l4, icmp);
  return ipv6(mac, eth_src, src, dst, 0, hop_limit, l4);
}

Frame neighborSolicitTo(const std::string& eth_dst, const std::string& eth_src,
                        const std::string& src, const std::string& dst, const std::string& target) {
  Frame body = {0, 0, 0, 0};
  append(body, ipBytes(target));
  if (src != "::") {
    body.push_back(1);  // source link-layer address
    body.push_back(1);
    append(body, macBytes(eth_src));
  }
  return icmpv6(eth_dst, eth_src, src, dst, 135, body);
}

Frame neighborSolicit(const std::string& eth_src, const std::string& src,
                      const std::string& target) {
  std::vector<uint8_t> t = ipBytes(target);
  std::vector<uint8_t> dst = ipBytes("ff02::1:ff00:0");
  dst[13] = t[13];
  dst[14] = t[14];
  dst[15] = t[15];
  char dst_text[64];
  inet_ntop(AF_INET6, dst.data(), dst_text, sizeof(dst_text));
  return neighborSolicitTo("", eth_src, src, dst_text, target);
}

Frame routerSolicit(const std::string& eth_src, const std::string& src) {
  Frame body = {0, 0, 0, 0};
  if (src != "::") {
    body.push_back(1);
    body.push_back(1);
    append(body, macBytes(eth_src));
  }
  return icmpv6("", eth_src, src, "ff02::2", 133, body);
}

Frame routerAdvert(const std::string& eth_dst, const std::string& eth_src, const std::string& src,
                   const std::string& dst) {
  // Current hop limit 64, no flags, router lifetime 1800, reachable and retrans timers 0.
  Frame body = {64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1};
  append(body, macBytes(eth_src));
  return icmpv6(eth_dst, eth_src, src, dst, 134, body);
}

Frame mldv2Report(const std::string& eth_src, const std::string& src, const std::string& group) {
  // Reserved, one record: CHANGE_TO_EXCLUDE_MODE, no aux data, no sources, the group.
  Frame body = {0, 0, 0, 1, 4, 0, 0, 0};
  append(body, ipBytes(group));
  return icmpv6("", eth_src, src, "ff02::16", 143, body, 1, /*router_alert=*/true);
}

Frame echo6(const std::string& eth_dst, const std::string& eth_src, const std::string& src,
            const std::string& dst) {
  return icmpv6(eth_dst, eth_src, src, dst, 128, {0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'}, 64);
}

bool icmpv6ChecksumValid(const Frame& f) {
  if (f.size() < 14 + 40 + 4) return false;
  const uint8_t* ip6 = f.data() + 14;
  size_t len = ip6[4] << 8 | ip6[5];
  if (f.size() < 14 + 40 + len) return false;
  uint32_t sum = 0;
  for (int i = 8; i < 40; i += 2) sum += ip6[i] << 8 | ip6[i + 1];
  sum += len + 58;
  return checksum(ip6 + 40, len, sum) == 0;
}

}  // namespace enadpdk::testing
