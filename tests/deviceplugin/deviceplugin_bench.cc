// Driver of tests/bench/deviceplugin_bench.sh: runs the device plugin in process on a fake host
// (under $TMPDIR) with a fake kubelet, and measures through the plugin's real gRPC Unix sockets
//   - Allocate latency, p50/p99/max over N calls, for dpdk.aws/ena-dedicated (sysfs reads,
//     device-info file and CDI spec writes) and dpdk.aws/ena (slot mounts), target p99 <= 1 ms;
//   - health-change-to-update latency: a dedicated device's driver link is flipped in the fake
//     sysfs and the time until ListAndWatch delivers the new health is taken, M times, with the
//     production health interval (200 ms), target max <= 1 s.
// Two reference rows without a target follow the Allocate rows: the same dedicated Allocate
// called in process (the plugin's own share, without gRPC and thread hand-offs) and one
// health-loop host scan. Prints a table; exits 1 when a target is missed, 2 on a setup failure.
//
// Usage: deviceplugin_bench [--calls N] [--changes M]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "deviceplugin/dedicated_pool.h"
#include "deviceplugin/host_scan.h"
#include "tests/deviceplugin/test_env.h"

namespace enadpdk::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct Result {
  std::string metric;
  std::size_t samples = 0;
  double p50Ms = 0;
  double p99Ms = 0;
  double maxMs = 0;
  std::string target;
  bool pass = false;
};

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const std::size_t index =
      std::min(values.size() - 1, static_cast<std::size_t>(p / 100.0 * values.size()));
  return values[index];
}

Result summarize(std::string metric, const std::vector<double>& ms, std::string target,
                 bool (*pass)(double p99, double max)) {
  Result r{.metric = std::move(metric), .samples = ms.size(), .target = std::move(target)};
  r.p50Ms = percentile(ms, 50);
  r.p99Ms = percentile(ms, 99);
  r.maxMs = *std::max_element(ms.begin(), ms.end());
  r.pass = pass(r.p99Ms, r.maxMs);
  return r;
}

double elapsedMs(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

int fail(const std::string& what) {
  std::fprintf(stderr, "deviceplugin_bench: %s\n", what.c_str());
  return 2;
}

int run(int calls, int changes) {
  PluginTestEnv env;
  deviceplugin::PluginOptions options = env.options();
  // The production loop periods, so that the health latency is the one a node sees.
  const deviceplugin::PluginOptions defaults;
  options.healthInterval = defaults.healthInterval;
  options.watchInterval = defaults.watchInterval;
  if (absl::Status status = env.startPlugin(options); !status.ok()) {
    return fail(std::string(status.message()));
  }
  if (!env.kubelet().waitForRegistrations(3, std::chrono::seconds(10))) {
    return fail("the plugin did not register with the fake kubelet");
  }
  auto dedicated = env.watch("ena-dedicated");
  auto ena = env.watch("ena");
  if (!dedicated.ok() || !ena.ok()) return fail("cannot connect to the plugin sockets");
  if (!(*dedicated)->waitForUpdate(0).ok() || !(*ena)->waitForUpdate(0).ok()) {
    return fail("no first device list");
  }

  std::vector<Result> results;
  auto allocateLatency = [&](DevicePluginClient& client, const std::vector<std::string>& ids,
                             const std::string& name) -> bool {
    std::vector<double> ms;
    for (int i = 0; i < calls; ++i) {
      const auto start = Clock::now();
      absl::StatusOr<v1beta1::ContainerAllocateResponse> response = client.allocate(ids);
      ms.push_back(elapsedMs(start));
      if (!response.ok()) {
        fail(name + ": " + std::string(response.status().message()));
        return false;
      }
    }
    results.push_back(summarize("Allocate " + name, ms, "p99 <= 1 ms",
                                [](double p99, double) { return p99 <= 1.0; }));
    return true;
  };
  if (!allocateLatency(**dedicated, {"0000:00:07.0"}, "dpdk.aws/ena-dedicated")) return 2;
  if (!allocateLatency(**ena, {"eni1-00", "eni1-01"}, "dpdk.aws/ena (2 slots)")) return 2;

  // For reference (no target): the plugin's own share of a dedicated Allocate, without gRPC,
  // and one health-loop host scan.
  {
    deviceplugin::DedicatedPool pool(env.host().hostRoot(), {});
    absl::StatusOr<deviceplugin::HostState> host = deviceplugin::scanHost(env.host().hostRoot());
    if (!host.ok()) return fail(std::string(host.status().message()));
    pool.refresh(*host);
    std::vector<double> direct;
    std::vector<double> scans;
    for (int i = 0; i < calls; ++i) {
      auto start = Clock::now();
      if (!pool.allocate({"0000:00:07.0"}).ok()) return fail("in-process Allocate failed");
      direct.push_back(elapsedMs(start));
      start = Clock::now();
      if (!deviceplugin::scanHost(env.host().hostRoot()).ok()) return fail("scan failed");
      scans.push_back(elapsedMs(start));
    }
    auto info = [](double, double) { return true; };
    results.push_back(summarize("  (in process, no gRPC)", direct, "-", info));
    results.push_back(summarize("  (health-loop host scan)", scans, "-", info));
  }

  std::vector<double> ms;
  for (int i = 0; i < changes; ++i) {
    const bool down = i % 2 == 0;
    const auto start = Clock::now();
    env.host().setDriver("0000:00:07.0", down ? "ena" : "vfio-pci");
    absl::StatusOr<std::vector<v1beta1::Device>> list =
        (*dedicated)
            ->waitForDevices(
                [&](const std::vector<v1beta1::Device>& devices) {
                  for (const v1beta1::Device& d : devices) {
                    if (d.id() == "0000:00:07.0")
                      return d.health() == (down ? "Unhealthy" : "Healthy");
                  }
                  return false;
                },
                std::chrono::seconds(5));
    if (!list.ok())
      return fail("health change not delivered: " + std::string(list.status().message()));
    ms.push_back(elapsedMs(start));
  }
  results.push_back(summarize("health change -> ListAndWatch update", ms, "max <= 1000 ms",
                              [](double, double max) { return max <= 1000.0; }));

  std::printf("%-40s %8s %10s %10s %10s  %-15s %s\n", "metric", "samples", "p50 ms", "p99 ms",
              "max ms", "target", "result");
  bool all = true;
  for (const Result& r : results) {
    // Reference rows have no target and no verdict.
    const char* verdict = r.target == "-" ? "-" : (r.pass ? "PASS" : "FAIL");
    std::printf("%-40s %8zu %10.3f %10.3f %10.3f  %-15s %s\n", r.metric.c_str(), r.samples, r.p50Ms,
                r.p99Ms, r.maxMs, r.target.c_str(), verdict);
    all = all && r.pass;
  }
  return all ? 0 : 1;
}

}  // namespace
}  // namespace enadpdk::testing

int main(int argc, char** argv) {
  int calls = 1000;
  int changes = 20;
  for (int i = 1; i < argc; ++i) {
    const bool hasValue = i + 1 < argc;
    if (std::strcmp(argv[i], "--calls") == 0 && hasValue) {
      calls = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--changes") == 0 && hasValue) {
      changes = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--calls N] [--changes M]\n", argv[0]);
      return 2;
    }
  }
  if (calls < 1 || changes < 1) {
    std::fprintf(stderr, "deviceplugin_bench: --calls and --changes must be positive\n");
    return 2;
  }
  return enadpdk::testing::run(calls, changes);
}
