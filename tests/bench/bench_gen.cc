// ena-dpdk-bench-gen: the traffic generator of the dataplane benchmarks (tests/bench/).
//
// testpmd's flowgen sends the same source MAC and IP from every port, which a vpc network
// rightly drops as spoofed, and it cannot measure latency. This generator gives each ethdev port
// (in port order) one of two roles, and one lcore (the main one) polls every port:
//   --flow SMAC,DMAC,SIP,DIP[,DIP...]  the sender (the VPC, or a pod in pod-to-pod runs): sends
//       UDP frames from (SMAC, SIP) to DMAC and the DIPs, round robin over the DIPs frame by
//       frame, varying the UDP source port over 64 flows. The UDP payload starts with a stamp:
//       8 bytes of magic, then the TSC when the frame's burst was built (one rdtsc per TX burst).
//       Every frame it receives counts in rx_mpps; those that carry the magic are round trips
//       (or, pod to pod, one-way trips from another --flow port: one host, one TSC), with
//       latency = TSC when their RX burst arrived minus the stamp.
//   --reflect  a pod that answers (testpmd's 5tswap forwarding, on the generator's lcore because
//       the machine has no third core): every frame it receives goes back out of the same port
//       with the Ethernet, IPv4/IPv6 and UDP/TCP source and destination swapped, which keeps the
//       checksums valid. Frames the TX ring does not take are freed and counted.
// --rate-mpps R paces the --flow ports to R million frames/s in total, split evenly, with a
// token bucket on the TSC: a port sends only the frames whose time has come, in bursts of up to
// 32, and never owes more than one burst after a stall. Without it (or 0) they send a full burst
// every poll, as fast as the TX rings take them. Time the lcore loses (preemption; with
// SCHED_FIFO, the kernel's RT throttling: 50 ms a second) is not made up, so tx_mpps, not R, is
// the rate offered.
// Latency counts only frames both sent and received inside the measurement window (after
// --warmup), in a log-linear histogram of TSC cycles: exact below 256 cycles, then 128 buckets
// per power of two, so a percentile (nearest rank, reported as its bucket's midpoint) is within
// 0.4 % of the true value; the maximum is exact. Cycles become µs through rte_get_tsc_hz()
// (DPDK rounds it to 10 MHz: 0.2 % off on the 2.096 GHz benchmark VM).
// One process drives at most RTE_MAX_ETHPORTS ports (32 in Debian's DPDK): a VPC port and 31 pods.
//
// Usage: see kUsage. Prints one line over the measured window:
//   rx_mpps=X tx_mpps=Y reflected_mpps=Z lat_samples=N lat_p50_us=A lat_p99_us=B lat_p999_us=C
//   lat_max_us=D reflect_drops=E
// rx_mpps / tx_mpps: frames received on / sent by the --flow ports per second; reflected_mpps:
// frames sent back by the --reflect ports per second; reflect_drops: frames they could not send.
// With no latency sample the four latency values are "-". Like testpmd's --txpkts, --size counts
// the 4-byte FCS (64 sends 60-byte frames).

#include <arpa/inet.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_udp.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace enadpdk::bench {
namespace {

constexpr const char* kUsage =
    "usage: ena-dpdk-bench-gen EAL-ARGS -- --size N --warmup S --seconds S [--rate-mpps R]\n"
    "           { --flow SMAC,DMAC,SIP,DIP[,DIP...] | --reflect } ...\n"
    "  one --flow or --reflect per ethdev port, in port order; at least one --flow\n"
    "  --size N       frame size with the FCS, 62..1518 (default 64)\n"
    "  --warmup S     seconds before the measurement window (default 3)\n"
    "  --seconds S    length of the measurement window (default 8)\n"
    "  --rate-mpps R  total rate of the --flow ports in Mframes/s, split evenly (0: unpaced)\n"
    "  --flow ...     send stamped UDP frames, round robin over the DIPs; measure latency\n"
    "  --reflect      send every received frame back with MACs, IPs and ports swapped\n"
    "prints: rx_mpps= tx_mpps= reflected_mpps= lat_samples= lat_p50_us= lat_p99_us= "
    "lat_p999_us= lat_max_us= reflect_drops=\n";

constexpr uint16_t kBurst = 32;
constexpr uint16_t kDesc = 1024;
constexpr uint16_t kFlows = 64;
constexpr uint32_t kHeaderLen = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr);
constexpr uint32_t kSrcPortOffset = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr);
constexpr uint64_t kStampMagic = 0x31'4b'44'50'44'41'4e'45;  // "ENADPDK1" in memory (LE)

// The first 16 bytes of the UDP payload of a --flow frame (unaligned in the frame: memcpy).
struct Stamp {
  uint64_t magic = kStampMagic;
  uint64_t tsc = 0;  // rte_rdtsc() when the frame's TX burst was built
};
constexpr uint32_t kStampEnd = kHeaderLen + sizeof(Stamp);

std::atomic<bool> g_stop{false};  // set by SIGINT/SIGTERM

enum class Role { Flow, Reflect };

// What one ethdev port does (one --flow or --reflect option).
struct PortSpec {
  Role role = Role::Flow;
  rte_ether_addr src_mac{};       // Flow: frames' source MAC
  rte_ether_addr dst_mac{};       // Flow: frames' destination MAC
  uint32_t src_ip = 0;            // Flow: source IPv4, network byte order
  std::vector<uint32_t> dst_ips;  // Flow: destination IPv4s, network byte order, round robin
};

struct Options {
  uint32_t size = 64;    // frame size including the FCS
  unsigned warmup = 3;   // seconds before the window
  unsigned seconds = 8;  // window length
  double rate_mpps = 0;  // total paced rate of the --flow ports; 0: unpaced
  std::vector<PortSpec> ports;
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "ena-dpdk-bench-gen: %s\n", what.c_str());
  std::exit(1);
}

[[noreturn]] void failUsage(const std::string& what) {
  std::fprintf(stderr, "ena-dpdk-bench-gen: %s\n%s", what.c_str(), kUsage);
  std::exit(1);
}

unsigned long parseUnsigned(const std::string& option, const std::string& value) {
  errno = 0;
  char* end = nullptr;
  const unsigned long v = std::strtoul(value.c_str(), &end, 10);
  if (value.empty() || value[0] == '-' || *end != '\0' || errno != 0 || v > 1'000'000) {
    failUsage(option + " \"" + value + "\": expected a whole number");
  }
  return v;
}

double parseRate(const std::string& value) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || errno != 0 || !std::isfinite(v) || v < 0) {
    failUsage("--rate-mpps \"" + value + "\": expected a rate >= 0 in Mframes/s");
  }
  return v;
}

std::vector<std::string> splitCommas(const std::string& text) {
  std::vector<std::string> fields;
  size_t from = 0;
  while (true) {
    const size_t comma = text.find(',', from);
    fields.push_back(text.substr(from, comma - from));
    if (comma == std::string::npos) return fields;
    from = comma + 1;
  }
}

PortSpec parseFlow(const std::string& text) {
  const std::vector<std::string> f = splitCommas(text);
  PortSpec p;
  bool ok = f.size() >= 4 && rte_ether_unformat_addr(f[0].c_str(), &p.src_mac) == 0 &&
            rte_ether_unformat_addr(f[1].c_str(), &p.dst_mac) == 0 &&
            inet_pton(AF_INET, f[2].c_str(), &p.src_ip) == 1;
  for (size_t i = 3; ok && i < f.size(); ++i) {
    uint32_t ip = 0;
    ok = inet_pton(AF_INET, f[i].c_str(), &ip) == 1;
    p.dst_ips.push_back(ip);
  }
  if (!ok) failUsage("--flow \"" + text + "\": expected SMAC,DMAC,SRC-IP,DST-IP[,DST-IP...]");
  return p;
}

// The options after EAL's "--"; checked before EAL starts, so a typo costs no hugepages.
Options parseOptions(int argc, char** argv) {
  Options o;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--reflect") {
      PortSpec reflector;
      reflector.role = Role::Reflect;
      o.ports.push_back(std::move(reflector));
      continue;
    }
    if (arg != "--size" && arg != "--warmup" && arg != "--seconds" && arg != "--rate-mpps" &&
        arg != "--flow") {
      failUsage("unknown option " + arg);
    }
    if (i + 1 >= argc) failUsage("missing value for " + arg);
    const std::string value = argv[++i];
    if (arg == "--size") {
      o.size = static_cast<uint32_t>(parseUnsigned(arg, value));
    } else if (arg == "--warmup") {
      o.warmup = static_cast<unsigned>(parseUnsigned(arg, value));
    } else if (arg == "--seconds") {
      o.seconds = static_cast<unsigned>(parseUnsigned(arg, value));
    } else if (arg == "--rate-mpps") {
      o.rate_mpps = parseRate(value);
    } else {
      o.ports.push_back(parseFlow(value));
    }
  }
  if (o.size < kStampEnd + RTE_ETHER_CRC_LEN || o.size > RTE_ETHER_MAX_LEN) {
    failUsage("--size " + std::to_string(o.size) + ": must be between " +
              std::to_string(kStampEnd + RTE_ETHER_CRC_LEN) +
              " (headers, 16-byte stamp and FCS) and " + std::to_string(RTE_ETHER_MAX_LEN));
  }
  if (o.seconds == 0) failUsage("--seconds must be > 0");
  if (o.ports.size() > RTE_MAX_ETHPORTS) {
    failUsage(std::to_string(o.ports.size()) + " ports: this DPDK build has at most " +
              std::to_string(RTE_MAX_ETHPORTS) + " (RTE_MAX_ETHPORTS) per process");
  }
  if (std::none_of(o.ports.begin(), o.ports.end(),
                   [](const PortSpec& p) { return p.role == Role::Flow; })) {
    failUsage("need at least one --flow port");
  }
  return o;
}

// Round-trip latencies in TSC cycles, log-linear like HDR histograms: exact below 2^(kSubBits+1)
// cycles, then 2^kSubBits buckets per power of two, so a bucket spans at most 1/128 (0.8 %) of
// its values. Fixed size; record() does not allocate. Used by the polling lcore only.
class LatencyHistogram {
 public:
  void record(uint64_t cycles) noexcept {
    ++counts_[bucketOf(cycles)];
    ++count_;
    max_ = std::max(max_, cycles);
  }

  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }

  // Nearest-rank percentile (fraction in (0, 1]) as its bucket's midpoint, capped at the exact
  // maximum; 0 when empty.
  uint64_t percentile(double fraction) const {
    if (count_ == 0) return 0;
    const auto rank = std::max<uint64_t>(
        1, static_cast<uint64_t>(std::ceil(fraction * static_cast<double>(count_))));
    uint64_t seen = 0;
    for (size_t b = 0; b < kBuckets; ++b) {
      seen += counts_[b];
      if (seen >= rank) return std::min(midpointOf(b), max_);
    }
    return max_;
  }

 private:
  static constexpr unsigned kSubBits = 7;
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;
  static constexpr uint64_t kExact = kSub * 2;  // values below this have their own bucket
  static constexpr size_t kBuckets = kExact + (64 - kSubBits - 1) * kSub;

  static size_t bucketOf(uint64_t v) noexcept {
    if (v < kExact) return v;
    const unsigned shift = static_cast<unsigned>(std::bit_width(v)) - 1 - kSubBits;  // >= 1
    return kExact + (shift - 1) * kSub + ((v >> shift) - kSub);
  }

  static uint64_t midpointOf(size_t b) {
    if (b < kExact) return b;
    const uint64_t shift = (b - kExact) / kSub + 1;
    const uint64_t low = ((b - kExact) % kSub + kSub) << shift;
    return low + ((uint64_t{1} << shift) >> 1);
  }

  std::vector<uint64_t> counts_ = std::vector<uint64_t>(kBuckets, 0);
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

// Token bucket on the TSC for one --flow port. Frame k is due at k * cycles_per_frame; at most
// one burst may be owed, so a stall (preemption, a full TX ring) is followed by one full burst,
// not a flood that would measure the generator's backlog instead of the switch.
class Pacer {
 public:
  // cycles_per_frame 0: unpaced (a full burst is always due). now: rte_rdtsc() at start.
  Pacer(double cycles_per_frame, uint64_t now) : cycles_per_frame_(cycles_per_frame), base_(now) {}

  // Frames due at TSC now, 0..kBurst.
  uint16_t due(uint64_t now) noexcept {
    if (cycles_per_frame_ == 0) return kBurst;
    const double t = static_cast<double>(now - base_);
    next_ = std::max(next_, t - (kBurst - 1) * cycles_per_frame_);
    if (t < next_) return 0;
    return static_cast<uint16_t>(
        std::min<double>(kBurst, std::floor((t - next_) / cycles_per_frame_) + 1));
  }

  // n frames left (the ring took them): the next ones are due later.
  void sent(uint16_t n) noexcept { next_ += n * cycles_per_frame_; }

 private:
  double cycles_per_frame_;
  uint64_t base_;    // TSC the schedule counts from (keeps the doubles small and exact)
  double next_ = 0;  // cycles after base_ when the next frame is due
};

// Frames counted by one port since start; the window's figures are differences of two copies.
struct Counters {
  uint64_t rx = 0;             // Flow: frames received
  uint64_t tx = 0;             // Flow: frames the TX ring took
  uint64_t reflected = 0;      // Reflect: frames sent back
  uint64_t reflect_drops = 0;  // Reflect: frames the TX ring refused (freed)

  Counters& operator+=(const Counters& c) {
    rx += c.rx;
    tx += c.tx;
    reflected += c.reflected;
    reflect_drops += c.reflect_drops;
    return *this;
  }
  Counters operator-(const Counters& c) const {
    return {rx - c.rx, tx - c.tx, reflected - c.reflected, reflect_drops - c.reflect_drops};
  }
};

// The measurement window in TSC cycles: latency counts frames stamped at or after from and
// received before to.
struct Window {
  uint64_t from = 0;
  uint64_t to = 0;
};

// One port's state, owned by the polling lcore.
struct alignas(RTE_CACHE_LINE_SIZE) Port {
  uint16_t id = 0;
  Role role = Role::Flow;
  std::vector<std::vector<uint8_t>> frames;  // Flow: one template per destination IP
  size_t next_frame = 0;                     // Flow: round robin over frames
  uint16_t next_flow = 0;                    // Flow: UDP source port offset, 0..kFlows-1
  Pacer pacer{0, 0};
  Counters counters;
};

// The frame to one destination of a --flow port, built once; packets copy it, vary the UDP
// source port and write the stamp. UDP checksum 0 (none), so the stamp needs no update.
std::vector<uint8_t> buildTemplate(const PortSpec& p, uint32_t dst_ip, uint32_t frame_len) {
  std::vector<uint8_t> frame(frame_len, 0);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(frame.data());
  eth->src_addr = p.src_mac;
  eth->dst_addr = p.dst_mac;
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_UDP;
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(frame_len - sizeof(rte_ether_hdr)));
  ip->src_addr = p.src_ip;
  ip->dst_addr = dst_ip;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
  udp->src_port = rte_cpu_to_be_16(1024);
  udp->dst_port = rte_cpu_to_be_16(4789);
  udp->dgram_len = rte_cpu_to_be_16(
      static_cast<uint16_t>(frame_len - sizeof(rte_ether_hdr) - sizeof(rte_ipv4_hdr)));
  return frame;
}

void startPort(uint16_t port, rte_mempool* pool) {
  rte_eth_conf conf{};
  if (rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
      rte_eth_rx_queue_setup(port, 0, kDesc, rte_eth_dev_socket_id(port), nullptr, pool) != 0 ||
      rte_eth_tx_queue_setup(port, 0, kDesc, rte_eth_dev_socket_id(port), nullptr) != 0 ||
      rte_eth_dev_start(port) != 0) {
    fail("cannot start port " + std::to_string(port));
  }
}

// A --flow port's receive side: counts every frame, records the latency of stamped ones.
void receiveStamped(Port& port, const Window& window, LatencyHistogram& latency) noexcept {
  rte_mbuf* pkts[kBurst];
  const uint16_t n = rte_eth_rx_burst(port.id, 0, pkts, kBurst);
  if (n == 0) return;
  port.counters.rx += n;
  const uint64_t now = rte_rdtsc();
  // Before the window no stamp can count (it would be older than the window), after it none is
  // recorded: only frames received inside it are read.
  if (now < window.from || now >= window.to) {
    rte_pktmbuf_free_bulk(pkts, n);
    return;
  }
  // The stamps were just written by the switch on the other core: start every transfer at once.
  for (uint16_t i = 0; i < n; ++i) {
    rte_prefetch0(rte_pktmbuf_mtod_offset(pkts[i], void*, kHeaderLen));
  }
  for (uint16_t i = 0; i < n; ++i) {
    if (rte_pktmbuf_data_len(pkts[i]) < kStampEnd) continue;
    Stamp stamp;
    std::memcpy(&stamp, rte_pktmbuf_mtod_offset(pkts[i], const void*, kHeaderLen), sizeof(stamp));
    if (stamp.magic == kStampMagic && stamp.tsc >= window.from && stamp.tsc <= now) {
      latency.record(now - stamp.tsc);
    }
  }
  rte_pktmbuf_free_bulk(pkts, n);
}

// A --flow port's send side: the frames the pacer says are due, stamped with one TSC read.
void sendPaced(Port& port, rte_mempool* pool, uint32_t frame_len) noexcept {
  const uint64_t now = rte_rdtsc();
  const uint16_t want = port.pacer.due(now);
  if (want == 0) return;
  rte_mbuf* pkts[kBurst];
  if (rte_pktmbuf_alloc_bulk(pool, pkts, want) != 0) return;
  const Stamp stamp{.tsc = now};
  for (uint16_t i = 0; i < want; ++i) {
    rte_mbuf* m = pkts[i];
    uint8_t* data = rte_pktmbuf_mtod(m, uint8_t*);
    std::memcpy(data, port.frames[port.next_frame].data(), frame_len);
    port.next_frame = port.next_frame + 1 == port.frames.size() ? 0 : port.next_frame + 1;
    const rte_be16_t src_port = rte_cpu_to_be_16(static_cast<uint16_t>(1024 + port.next_flow));
    std::memcpy(data + kSrcPortOffset, &src_port, sizeof(src_port));
    port.next_flow = static_cast<uint16_t>((port.next_flow + 1) % kFlows);
    std::memcpy(data + kHeaderLen, &stamp, sizeof(stamp));
    m->data_len = static_cast<uint16_t>(frame_len);
    m->pkt_len = frame_len;
  }
  const uint16_t sent = rte_eth_tx_burst(port.id, 0, pkts, want);
  port.counters.tx += sent;
  port.pacer.sent(sent);
  if (sent < want) rte_pktmbuf_free_bulk(pkts + sent, want - sent);
}

template <typename T>
void swapAt(uint8_t* a, uint8_t* b) noexcept {
  T t;
  std::memcpy(&t, a, sizeof(T));
  std::memcpy(a, b, sizeof(T));
  std::memcpy(b, &t, sizeof(T));
}

// testpmd's 5tswap on one frame: Ethernet addresses always, then IPv4 or IPv6 addresses and
// UDP or TCP ports when the frame holds them. Swapping keeps every checksum valid.
void swapFiveTuple(rte_mbuf* m) noexcept {
  uint8_t* data = rte_pktmbuf_mtod(m, uint8_t*);
  const uint32_t len = rte_pktmbuf_data_len(m);
  if (len < sizeof(rte_ether_hdr)) return;
  auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
  swapAt<rte_ether_addr>(data + offsetof(rte_ether_hdr, dst_addr),
                         data + offsetof(rte_ether_hdr, src_addr));
  uint32_t l4 = 0;
  uint8_t proto = 0;
  if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
    if (len < sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)) return;
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    uint8_t* ip_data = data + sizeof(rte_ether_hdr);
    swapAt<uint32_t>(ip_data + offsetof(rte_ipv4_hdr, src_addr),
                     ip_data + offsetof(rte_ipv4_hdr, dst_addr));
    l4 = sizeof(rte_ether_hdr) + rte_ipv4_hdr_len(ip);
    proto = ip->next_proto_id;
  } else if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
    if (len < sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr)) return;
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
    swapAt<uint8_t[16]>(ip->src_addr, ip->dst_addr);
    l4 = sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr);
    proto = ip->proto;
  } else {
    return;
  }
  // UDP and TCP both start with the source and destination ports.
  if ((proto == IPPROTO_UDP || proto == IPPROTO_TCP) && len >= l4 + 4) {
    swapAt<uint16_t>(data + l4, data + l4 + 2);
  }
}

// A --reflect port: every frame received goes back out of the same port, 5-tuple swapped.
void reflect(Port& port) noexcept {
  rte_mbuf* pkts[kBurst];
  const uint16_t n = rte_eth_rx_burst(port.id, 0, pkts, kBurst);
  if (n == 0) return;
  for (uint16_t i = 0; i < n; ++i) rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
  for (uint16_t i = 0; i < n; ++i) swapFiveTuple(pkts[i]);
  const uint16_t sent = rte_eth_tx_burst(port.id, 0, pkts, n);
  port.counters.reflected += sent;
  if (sent < n) {
    port.counters.reflect_drops += n - sent;
    rte_pktmbuf_free_bulk(pkts + sent, n - sent);
  }
}

Counters sum(const std::vector<Port>& ports) {
  Counters total;
  for (const Port& p : ports) total += p.counters;
  return total;
}

void printResult(const Counters& c, const LatencyHistogram& latency, double secs, uint64_t hz) {
  const auto mpps = [secs](uint64_t frames) { return static_cast<double>(frames) / secs / 1e6; };
  std::printf("rx_mpps=%.2f tx_mpps=%.2f reflected_mpps=%.2f lat_samples=%llu", mpps(c.rx),
              mpps(c.tx), mpps(c.reflected), static_cast<unsigned long long>(latency.count()));
  const auto us = [hz](uint64_t cycles) {
    return static_cast<double>(cycles) * 1e6 / static_cast<double>(hz);
  };
  if (latency.count() == 0) {
    std::printf(" lat_p50_us=- lat_p99_us=- lat_p999_us=- lat_max_us=-");
  } else {
    std::printf(" lat_p50_us=%.2f lat_p99_us=%.2f lat_p999_us=%.2f lat_max_us=%.2f",
                us(latency.percentile(0.5)), us(latency.percentile(0.99)),
                us(latency.percentile(0.999)), us(latency.max()));
  }
  std::printf(" reflect_drops=%llu\n", static_cast<unsigned long long>(c.reflect_drops));
}

int run(int argc, char** argv) {
  const auto separator =
      std::find_if(argv, argv + argc, [](const char* a) { return std::strcmp(a, "--") == 0; });
  if (separator == argv + argc) failUsage("missing \"--\" between EAL arguments and options");
  const Options o = parseOptions(static_cast<int>(argv + argc - separator - 1), separator + 1);

  const int eal = rte_eal_init(static_cast<int>(separator - argv), argv);
  if (eal < 0) fail(std::string("EAL: ") + rte_strerror(rte_errno));
  const uint16_t count = rte_eth_dev_count_avail();
  if (count != o.ports.size()) {
    fail(std::to_string(count) + " ports but " + std::to_string(o.ports.size()) +
         " --flow/--reflect options (one per port, in port order)");
  }
  const uint32_t mbufs = std::max<uint32_t>(32768, count * (2u * kDesc + 4u * kBurst));
  rte_mempool* pool = rte_pktmbuf_pool_create("bench_gen", mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                              rte_socket_id());
  if (pool == nullptr) fail(std::string("mbuf pool: ") + rte_strerror(rte_errno));

  const uint32_t frame_len = o.size - RTE_ETHER_CRC_LEN;
  const uint64_t hz = rte_get_tsc_hz();
  const auto flow_ports = static_cast<double>(std::count_if(
      o.ports.begin(), o.ports.end(), [](const PortSpec& p) { return p.role == Role::Flow; }));
  const double cycles_per_frame =
      o.rate_mpps > 0 ? static_cast<double>(hz) * flow_ports / (o.rate_mpps * 1e6) : 0;
  std::vector<Port> ports(count);
  for (uint16_t p = 0; p < count; ++p) {
    startPort(p, pool);
    ports[p].id = p;
    ports[p].role = o.ports[p].role;
    for (uint32_t ip : o.ports[p].dst_ips) {
      ports[p].frames.push_back(buildTemplate(o.ports[p], ip, frame_len));
    }
  }
  auto latency = std::make_unique<LatencyHistogram>();

  const uint64_t start = rte_rdtsc();
  for (Port& p : ports) p.pacer = Pacer(cycles_per_frame, start);
  const Window window{.from = start + o.warmup * hz, .to = start + (o.warmup + o.seconds) * hz};
  Counters base;
  bool measuring = false;
  while (!g_stop.load(std::memory_order_relaxed)) {
    for (Port& p : ports) {
      switch (p.role) {
        case Role::Flow:
          receiveStamped(p, window, *latency);
          sendPaced(p, pool, frame_len);
          break;
        case Role::Reflect:
          reflect(p);
          break;
      }
    }
    const uint64_t now = rte_rdtsc();
    if (!measuring && now >= window.from) {
      measuring = true;
      base = sum(ports);
    }
    if (now >= window.to) break;
  }
  printResult(sum(ports) - base, *latency, static_cast<double>(o.seconds), hz);
  std::fflush(stdout);
  for (const Port& p : ports) {
    rte_eth_dev_stop(p.id);
    rte_eth_dev_close(p.id);
  }
  rte_eal_cleanup();
  return g_stop.load() ? 1 : 0;
}

}  // namespace
}  // namespace enadpdk::bench

int main(int argc, char** argv) {
  signal(SIGINT, [](int) { enadpdk::bench::g_stop.store(true); });
  signal(SIGTERM, [](int) { enadpdk::bench::g_stop.store(true); });
  return enadpdk::bench::run(argc, argv);
}
