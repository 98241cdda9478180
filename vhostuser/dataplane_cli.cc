#include "vhostuser/dataplane_cli.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string_view>

#include "cni/records.h"
#include "common/atomic_file.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/strings.h"
#include "vhostuser/config_reload.h"
#include "vhostuser/control_service.h"
#include "vhostuser/dataplane_config.h"
#include "vhostuser/eal_args.h"
#include "vhostuser/state_store.h"
#include "vhostuser/switch.h"
#include "vhostuser/timer_service.h"
#include "vhostuser/uplink_allocation.h"

namespace enadpdk::vhostuser {
namespace {

using common::reportFatal;
using common::strCat;
using common::toStd;

// Restores the ports of the state file, each on its own: an entry that cannot be read or
// restored is logged and skipped (and dropped from the file at the next save), the others come
// back. Before that save can lose anything, the file is kept as `<stateFile>.corrupt-<time>`.
void restorePorts(Switch& sw, const std::string& state_file, spdlog::logger& log) {
  const auto now = std::chrono::system_clock::now();
  absl::StatusOr<LoadedState> state = loadState(state_file, now);
  if (!state.ok()) {
    log.error("state not restored file={} error={}", state_file,
              common::logValue(toStd(state.status().message())));
    return;
  }
  for (const std::string& problem : state->problems) {
    log.error("state entry skipped file={} error={}", state_file, common::logValue(problem));
  }
  size_t restored = 0;
  bool failed = false;
  for (const PortSpec& spec : state->ports) {
    absl::StatusOr<PortStatus> st = sw.addPort(spec);
    if (!st.ok()) {
      failed = true;
      log.error("port not restored id={} error={}", spec.id,
                common::logValue(toStd(st.status().message())));
      continue;
    }
    ++restored;
  }
  // The first restored port has rewritten the file already: keep the bytes that were read.
  if (failed && state->kept_copy.empty() && state->keep_status.ok()) {
    absl::StatusOr<std::string> copy = keepStateCopy(state_file, state->text, now);
    if (copy.ok()) {
      state->kept_copy = *copy;
    } else {
      state->keep_status = copy.status();
    }
  }
  if (!state->kept_copy.empty()) {
    log.warn("state file kept file={} copy={}", state_file, state->kept_copy);
  } else if (!state->keep_status.ok()) {
    log.error("state file not kept file={} error={}", state_file,
              common::logValue(toStd(state->keep_status.message())));
  }
  if (!state->ports.empty() || !state->problems.empty()) {
    log.info("state restored ports={} skipped={} file={}", restored,
             state->problems.size() + (state->ports.size() - restored), state_file);
  }
}

// Finishes the port deletes that ena-dpdk-cni recorded for this dataplane while it was down
// (cni/records.h): runs after the state file is restored and before the control API
// serves, so that a port the CNI deleted never comes back to life. A record names the control
// socket of its dataplane; records of other dataplanes are left alone. A record that cannot be
// finished stays for the next sweep, start, or the CNI's next ADD, DEL or GC. Also run every
// kPendingDeleteSweep while serving: a DEL whose DeletePort timed out is finished within seconds
// even when no CNI command follows.
constexpr std::chrono::seconds kPendingDeleteSweep{5};

// How often the main loop looks at the config file's identity (ConfigWatcher: a change is
// applied once it has stayed the same for one more look).
constexpr std::chrono::seconds kConfigWatchPeriod{1};

void finishPendingDeletes(Switch& sw, const std::string& cni_state_dir,
                          const std::string& control_socket, spdlog::logger& log) {
  std::vector<std::string> problems;
  absl::StatusOr<std::vector<cni::PendingPortDelete>> records =
      cni::listPendingPortDeletes(cni_state_dir, &problems);
  for (const std::string& problem : problems)
    log.warn("pending delete unreadable problem={}", common::logValue(problem));
  if (!records.ok()) {
    log.error("pending deletes not read dir={} error={}", cni_state_dir,
              common::logValue(toStd(records.status().message())));
    return;
  }
  for (const cni::PendingPortDelete& record : *records) {
    if (std::filesystem::path(record.dataplaneSocket).lexically_normal() !=
        std::filesystem::path(control_socket).lexically_normal()) {
      continue;
    }
    absl::StatusOr<bool> deleted = sw.deletePort(record.portId, record.uid);
    if (!deleted.ok()) {
      log.error("pending delete not finished id={} error={}", record.portId,
                common::logValue(toStd(deleted.status().message())));
      continue;
    }
    if (absl::Status s = cni::clearPendingPortDelete(cni_state_dir, record.portId, record.uid);
        !s.ok()) {
      log.warn("pending delete record not removed id={} error={}", record.portId,
               common::logValue(toStd(s.message())));
      continue;
    }
    log.info("pending delete finished id={} existed={} recorded_at={}", record.portId, *deleted,
             record.recordedAt);
  }
}

// The process environment as a value, for checks that take it as one.
std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const std::size_t eq = text.find('=');
    if (eq != std::string_view::npos) env.emplace(text.substr(0, eq), text.substr(eq + 1));
  }
  return env;
}

// The "dataplane" section of --config with --metrics-address applied: one ConfigMap serves
// every node, and the chart gives each dataplane its node's address. A reload of the file must
// load it through here too, so that the flag keeps winning.
absl::StatusOr<DataplaneConfig> loadConfig(const common::FlagParser& flags) {
  absl::StatusOr<DataplaneConfig> config = loadDataplaneConfig(flags.value("config"));
  if (config.ok() && flags.has("metrics-address")) {
    config->metricsAddress = flags.value("metrics-address");
  }
  return config;
}

}  // namespace

int dataplaneMain(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  common::FlagParser flags(
      "ena-dpdk-dataplane", "[--config PATH] [--metrics-address ADDR] [--log-level LEVEL]",
      "The DPDK switching dataplane: owns the ENA uplinks and switches between pods' vhost-user\n"
      "ports and the VPC. Reads the \"dataplane\" section of the config file, serves the control\n"
      "API on dataplane.controlSocket and Prometheus metrics on dataplane.metricsAddress (or\n"
      "--metrics-address), and runs until SIGTERM or SIGINT. On SIGHUP, and within about 2 s of\n"
      "a change of the config file (also a ConfigMap update), it applies what it can without a\n"
      "restart: added networks (no uplink or a vdev one), macAgingSeconds, maxPorts,\n"
      "metricsAddress (unless --metrics-address is given), allowedSocketDirs, socket and\n"
      "cniStateDir. A file that changes any other key is refused as a whole, with one log line\n"
      "per key (\"config reload: <key> changed; restart the dataplane to apply it\");\n"
      "docs/dataplane.md, \"Reloading the configuration\".");
  flags.addCommonFlags(/*config=*/true, /*root=*/false);
  flags.addValue("metrics-address", "ADDR",
                 strCat("serve /metrics and /healthz on ADDR (HOST:PORT or\n", std::string(30, ' '),
                        "[IP]:PORT) instead of dataplane.metricsAddress"));
  if (auto rc = flags.handleStandard(flags.parse(argc, argv), out, err)) return *rc;
  const std::string program = flags.program();
  if (!flags.positional().empty()) {
    return reportFatal(err, program, strCat("unexpected argument \"", flags.positional()[0], "\""),
                       2);
  }
  if (flags.has("metrics-address")) {
    if (auto parsed = common::MetricsServer::parseAddress(flags.value("metrics-address"));
        !parsed.ok()) {
      return reportFatal(err, program,
                         strCat("--metrics-address: ", toStd(parsed.status().message())), 2);
    }
  }
  // Before the file is read, so that a change while the dataplane starts is noticed.
  ConfigWatcher watcher(flags.value("config"));
  absl::StatusOr<DataplaneConfig> config = loadConfig(flags);
  if (!config.ok()) return reportFatal(err, program, toStd(config.status().message()));
  auto log = common::makeLogger("dataplane", *common::parseLogLevel(flags.value("log-level")),
                                flags.logOutput());
  if (!log.ok()) return reportFatal(err, program, toStd(log.status().message()));
  // The kubelet allocates the uplinks to the dataplane's pod (<prefix>/ena-uplink) so that its
  // topology manager puts our CPUs and hugepages on their NUMA node. An uplink outside that
  // allocation still works, but nothing aligned it and nothing keeps another pod from it.
  for (const std::string& uplink : unallocatedUplinks(*config, environment())) {
    (*log)->warn(
        "uplink not among the devices the kubelet allocated to this container (ena-uplink), "
        "so its NUMA alignment is not guaranteed uplink={}",
        uplink);
  }

  // Every thread (EAL's, gRPC's) inherits this mask, so SIGTERM/SIGINT/SIGHUP reach only
  // sigtimedwait: the main loop itself stops or reloads.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // The PCI uplinks' device arguments (uplink.devargs) ride on their EAL allow-list entries.
  absl::StatusOr<std::vector<std::string>> eal = ealArgsForUplinks(config->eal, config->networks);
  if (!eal.ok()) return reportFatal(err, program, toStd(eal.status().message()));
  std::vector<std::string> eal_args = {program};
  eal_args.insert(eal_args.end(), eal->begin(), eal->end());
  std::vector<char*> eal_argv;
  for (std::string& a : eal_args) eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    return reportFatal(
        err, program,
        strCat("dataplane.eal: EAL initialisation failed: ", rte_strerror(rte_errno)));
  }
  int rc = 0;
  {
    // Before any uplink starts: the ENA PMD arms its watchdog timer in rte_eth_dev_start, on
    // this lcore, and it runs only from rte_timer_manage() below.
    absl::StatusOr<std::unique_ptr<TimerService>> timers = TimerService::create();
    if (!timers.ok()) {
      rte_eal_cleanup();
      return reportFatal(err, program, strCat("timers: ", toStd(timers.status().message())));
    }
    absl::StatusOr<std::unique_ptr<Switch>> sw = Switch::create(*config, *log);
    if (!sw.ok()) {
      rc = reportFatal(err, program, toStd(sw.status().message()));
    } else {
      const auto state_dir = std::filesystem::path(config->stateFile).parent_path();
      if (absl::Status s = common::makeDirectories(state_dir, 0700); !s.ok()) {
        (*log)->warn("state directory not created error={}", common::logValue(toStd(s.message())));
      }
      restorePorts(**sw, config->stateFile, **log);
      finishPendingDeletes(**sw, config->cniStateDir, config->controlSocket, **log);
      absl::StatusOr<std::unique_ptr<ControlServer>> control =
          ControlServer::start(config->controlSocket, **sw);
      // Serves the metrics too: a reload may move them.
      absl::StatusOr<std::unique_ptr<ConfigReloader>> reloader = ConfigReloader::start(
          *config, std::move(watcher),
          ReloadTargets{
              .apply = [&sw](const DataplaneConfig& next) { return (*sw)->applyConfig(next); },
              .render = [&sw] { return renderMetrics(**sw); },
              .health = [&sw] { return (*sw)->health(); },
              .adjust =
                  [&flags](DataplaneConfig& next) {
                    if (flags.has("metrics-address")) {
                      next.metricsAddress = flags.value("metrics-address");
                    }
                  }},
          *log);
      if (!control.ok()) {
        rc = reportFatal(err, program, toStd(control.status().message()));
      } else if (!reloader.ok()) {
        rc = reportFatal(err, program,
                         flags.has("metrics-address")
                             ? strCat("--metrics-address ", flags.value("metrics-address"), ": ",
                                      toStd(reloader.status().message()))
                             : toStd(reloader.status().message()));
      } else {
        (*log)->info("serving control={} metrics={}", config->controlSocket,
                     config->metricsAddress);
        const timespec tick = {0, 100'000'000};
        auto next_sweep = std::chrono::steady_clock::now() + kPendingDeleteSweep;
        auto next_watch = std::chrono::steady_clock::now() + kConfigWatchPeriod;
        bool healthy = true;
        for (;;) {
          int sig = sigtimedwait(&signals, nullptr, &tick);
          if (sig == SIGTERM || sig == SIGINT) {
            (*log)->info("signal received, shutting down signal={}", sig);
            break;
          }
          if (sig == SIGHUP) (*reloader)->reload(ReloadTrigger::Signal);
          if (std::chrono::steady_clock::now() >= next_watch) {
            (*reloader)->poll();
            next_watch = std::chrono::steady_clock::now() + kConfigWatchPeriod;
          }
          // The PMDs' timers (ENA: keep-alive and missing TX completions, which raise the
          // reset event that poll() then handles).
          if (absl::Status s = (*timers)->manage(); !s.ok()) {
            (*log)->error("timers not run error={}", common::logValue(toStd(s.message())));
          }
          (*sw)->poll();
          // /healthz asks the switch itself; the gRPC health follows it, logged on change.
          const absl::Status health = (*sw)->health();
          if (health.ok() != healthy) {
            healthy = health.ok();
            (*control)->setServing(healthy);
            if (healthy) {
              (*log)->info("healthy again");
            } else {
              (*log)->error("unhealthy reason={}", common::logValue(toStd(health.message())));
            }
          }
          if (std::chrono::steady_clock::now() >= next_sweep) {
            finishPendingDeletes(**sw, (*reloader)->running().cniStateDir, config->controlSocket,
                                 **log);
            next_sweep = std::chrono::steady_clock::now() + kPendingDeleteSweep;
          }
        }
        (*control)->shutdown();
      }
      // The state file is current (written on every change); stopping closes ports only.
      (*sw)->stop();
    }
  }
  rte_eal_cleanup();
  return rc;
}

}  // namespace enadpdk::vhostuser
