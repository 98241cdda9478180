// ena-dpdk-bench-gen: a minimal traffic generator for tests/bench/dataplane_bench.sh.
//
// testpmd's flowgen sends the same source MAC and IP from every port, which a vpc network
// rightly drops as spoofed. This generator gives each port its own addresses: port i sends UDP
// frames from its (source MAC, source IP) to its (destination MAC, destination IP), varying the
// UDP source port over 64 flows, and counts what it receives. One lcore (the main one) polls
// every port, like flowgen on one forwarding lcore.
//
// Usage: ena-dpdk-bench-gen EAL-ARGS -- --size N --warmup S --seconds S
//            --flow SMAC,DMAC,SIP,DIP [--flow ...]      (one --flow per port, in port order)
// Prints "rx_mpps=<aggregate> tx_mpps=<aggregate>" over the measured window. Like testpmd's
// --txpkts, --size counts the 4-byte FCS (64 sends 60-byte frames).

#include <arpa/inet.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>
#include <signal.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace enadpdk::bench {
namespace {

constexpr uint16_t kBurst = 32;
constexpr uint16_t kDesc = 1024;
constexpr uint16_t kFlows = 64;
constexpr uint32_t kHeaderLen = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr);

std::atomic<bool> g_stop{false};  // set by SIGINT/SIGTERM

struct Flow {
  rte_ether_addr src_mac{};
  rte_ether_addr dst_mac{};
  uint32_t src_ip = 0;  // network byte order
  uint32_t dst_ip = 0;
};

struct Options {
  uint32_t size = 64;
  unsigned warmup = 3;
  unsigned seconds = 8;
  std::vector<Flow> flows;
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "ena-dpdk-bench-gen: %s\n", what.c_str());
  std::exit(1);
}

Flow parseFlow(const std::string& text) {
  char smac[32], dmac[32], sip[32], dip[32];
  Flow f;
  if (std::sscanf(text.c_str(), "%31[^,],%31[^,],%31[^,],%31s", smac, dmac, sip, dip) != 4 ||
      rte_ether_unformat_addr(smac, &f.src_mac) != 0 ||
      rte_ether_unformat_addr(dmac, &f.dst_mac) != 0 || inet_pton(AF_INET, sip, &f.src_ip) != 1 ||
      inet_pton(AF_INET, dip, &f.dst_ip) != 1) {
    fail("--flow \"" + text + "\": expected SMAC,DMAC,SRC-IP,DST-IP");
  }
  return f;
}

Options parseOptions(int argc, char** argv) {
  Options o;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) fail("missing value for " + arg);
    const std::string value = argv[++i];
    if (arg == "--size") {
      o.size = static_cast<uint32_t>(std::stoul(value));
    } else if (arg == "--warmup") {
      o.warmup = static_cast<unsigned>(std::stoul(value));
    } else if (arg == "--seconds") {
      o.seconds = static_cast<unsigned>(std::stoul(value));
    } else if (arg == "--flow") {
      o.flows.push_back(parseFlow(value));
    } else {
      fail("unknown option " + arg);
    }
  }
  if (o.size < kHeaderLen + RTE_ETHER_CRC_LEN || o.size > RTE_ETHER_MAX_LEN) {
    fail("--size must be between 46 and 1518");
  }
  if (o.flows.empty() || o.seconds == 0) fail("need --flow per port and --seconds > 0");
  return o;
}

// The frame of one port, built once; packets copy it and vary the UDP source port.
std::vector<uint8_t> buildTemplate(const Flow& f, uint32_t frame_len) {
  std::vector<uint8_t> frame(frame_len, 0);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(frame.data());
  eth->src_addr = f.src_mac;
  eth->dst_addr = f.dst_mac;
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_UDP;
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(frame_len - sizeof(rte_ether_hdr)));
  ip->src_addr = f.src_ip;
  ip->dst_addr = f.dst_ip;
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

int run(int argc, char** argv) {
  const int eal = rte_eal_init(argc, argv);
  if (eal < 0) fail(std::string("EAL: ") + rte_strerror(rte_errno));
  const Options o = parseOptions(argc - eal - 1, argv + eal + 1);
  const uint16_t ports = rte_eth_dev_count_avail();
  if (ports != o.flows.size()) {
    fail(std::to_string(ports) + " ports but " + std::to_string(o.flows.size()) + " --flow");
  }
  const uint32_t mbufs = std::max<uint32_t>(32768, ports * (2u * kDesc + 4u * kBurst));
  rte_mempool* pool = rte_pktmbuf_pool_create("bench_gen", mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                              rte_socket_id());
  if (pool == nullptr) fail(std::string("mbuf pool: ") + rte_strerror(rte_errno));
  const uint32_t frame_len = o.size - RTE_ETHER_CRC_LEN;
  std::vector<std::vector<uint8_t>> templates;
  for (uint16_t p = 0; p < ports; ++p) {
    startPort(p, pool);
    templates.push_back(buildTemplate(o.flows[p], frame_len));
  }

  std::vector<uint64_t> rx(ports, 0), tx(ports, 0);
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t start = rte_rdtsc();
  const uint64_t measure_from = start + o.warmup * hz;
  const uint64_t measure_to = measure_from + o.seconds * hz;
  uint64_t rx_base = 0, tx_base = 0;
  bool measuring = false;
  uint16_t flow = 0;
  rte_mbuf* pkts[kBurst];
  while (!g_stop.load(std::memory_order_relaxed)) {
    for (uint16_t p = 0; p < ports; ++p) {
      const uint16_t n = rte_eth_rx_burst(p, 0, pkts, kBurst);
      if (n != 0) {
        rx[p] += n;
        rte_pktmbuf_free_bulk(pkts, n);
      }
      if (rte_pktmbuf_alloc_bulk(pool, pkts, kBurst) != 0) continue;
      const uint8_t* frame = templates[p].data();
      for (uint16_t i = 0; i < kBurst; ++i) {
        rte_mbuf* m = pkts[i];
        uint8_t* data = rte_pktmbuf_mtod(m, uint8_t*);
        std::memcpy(data, frame, frame_len);
        auto* udp =
            reinterpret_cast<rte_udp_hdr*>(data + sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr));
        udp->src_port = rte_cpu_to_be_16(static_cast<uint16_t>(1024 + flow));
        flow = static_cast<uint16_t>((flow + 1) % kFlows);
        m->data_len = static_cast<uint16_t>(frame_len);
        m->pkt_len = frame_len;
      }
      const uint16_t sent = rte_eth_tx_burst(p, 0, pkts, kBurst);
      tx[p] += sent;
      if (sent < kBurst) rte_pktmbuf_free_bulk(pkts + sent, kBurst - sent);
    }
    const uint64_t now = rte_rdtsc();
    if (!measuring && now >= measure_from) {
      measuring = true;
      for (uint16_t p = 0; p < ports; ++p) {
        rx_base += rx[p];
        tx_base += tx[p];
      }
    }
    if (now >= measure_to) break;
  }
  uint64_t rx_total = 0, tx_total = 0;
  for (uint16_t p = 0; p < ports; ++p) {
    rx_total += rx[p];
    tx_total += tx[p];
  }
  const double secs = static_cast<double>(o.seconds);
  std::printf("rx_mpps=%.2f tx_mpps=%.2f\n", static_cast<double>(rx_total - rx_base) / secs / 1e6,
              static_cast<double>(tx_total - tx_base) / secs / 1e6);
  for (uint16_t p = 0; p < ports; ++p) {
    rte_eth_dev_stop(p);
    rte_eth_dev_close(p);
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
