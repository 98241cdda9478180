#pragma once

// Builds Ethernet frames for forwarding tests (Katran style: tables of input and expected
// output frames). Independent of the code under test: fields are written byte by byte.

#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <vector>

namespace enadpdk::testing {

using Frame = std::vector<uint8_t>;

// "02:00:00:00:00:01" -> 6 bytes. Aborts the test binary on malformed input (test data only).
std::vector<uint8_t> macBytes(const std::string& mac);
// "10.0.0.1" -> 4 bytes, "2600::1" -> 16 bytes.
std::vector<uint8_t> ipBytes(const std::string& ip);

Frame ethernet(const std::string& dst, const std::string& src, uint16_t ethertype,
               const std::vector<uint8_t>& payload);
// ARP request/reply (op 1/2) for IPv4 over Ethernet.
Frame arp(uint16_t op, const std::string& eth_dst, const std::string& eth_src,
          const std::string& sha, const std::string& spa, const std::string& tha,
          const std::string& tpa);
// IPv4 + UDP with `payload_len` zero bytes of payload.
Frame udp4(const std::string& eth_dst, const std::string& eth_src, const std::string& src,
           const std::string& dst, size_t payload_len = 18);
// IPv6 + UDP.
Frame udp6(const std::string& eth_dst, const std::string& eth_src, const std::string& src,
           const std::string& dst, size_t payload_len = 8);
// An ICMPv6 message of `type` (code 0) whose `body` follows the type, code and checksum, with
// the checksum filled in. `eth_dst` empty: the multicast MAC of `dst` (33:33 + its low 32
// bits). With `router_alert` the message follows a hop-by-hop header with a Router Alert option,
// as MLD messages do.
Frame icmpv6(const std::string& eth_dst, const std::string& eth_src, const std::string& src,
             const std::string& dst, uint8_t type, const std::vector<uint8_t>& body,
             uint8_t hop_limit = 255, bool router_alert = false);
// ICMPv6 Neighbor Solicitation for `target` from `src` with a source link-layer option
// (omitted when src is "::"), to the solicited-node multicast address.
Frame neighborSolicit(const std::string& eth_src, const std::string& src,
                      const std::string& target);
// The same to `dst` (unicast: neighbour unreachability detection) at Ethernet `eth_dst`.
Frame neighborSolicitTo(const std::string& eth_dst, const std::string& eth_src,
                        const std::string& src, const std::string& dst, const std::string& target);
// Router Solicitation from `src` to ff02::2 with a source link-layer option unless src is "::".
Frame routerSolicit(const std::string& eth_src, const std::string& src);
// Router Advertisement (router lifetime 1800 s) from `src` to `dst` with a source link-layer
// option; `eth_dst` empty for a multicast `dst`.
Frame routerAdvert(const std::string& eth_dst, const std::string& eth_src, const std::string& src,
                   const std::string& dst);
// MLDv2 report (hop limit 1, Router Alert) from `src` to ff02::16 joining `group`.
Frame mldv2Report(const std::string& eth_src, const std::string& src, const std::string& group);
// ICMPv6 echo request (hop limit 64) with 8 bytes of identifier, sequence and data.
Frame echo6(const std::string& eth_dst, const std::string& eth_src, const std::string& src,
            const std::string& dst);
// The ICMPv6 checksum of an IPv6 frame is valid.
bool icmpv6ChecksumValid(const Frame& f);

}  // namespace enadpdk::testing
