#include "deviceplugin/deviceplugin_cli.h"

#include <pthread.h>
#include <signal.h>

#include "common/flags.h"
#include "common/host_root.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/strings.h"
#include "deviceplugin/clock.h"
#include "deviceplugin/hugetlbfs.h"
#include "deviceplugin/plugin_config.h"
#include "deviceplugin/plugin_manager.h"

namespace enadpdk::deviceplugin {

int devicepluginMain(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  common::FlagParser flags(
      "ena-dpdk-deviceplugin",
      "[--config PATH] [--root DIR] [--metrics-address ADDR] [--log-level LEVEL]",
      "Kubelet device plugin (v1beta1) for <prefix>/ena (attachments to the dataplane's\n"
      "networks; a network named in deviceplugin.ena.networkResources gets a resource of its\n"
      "own), <prefix>/ena-dedicated (whole DPDK-bound ENAs), <prefix>/hugepages-1Gi and\n"
      "<prefix>/hugepages-2Mi (hugepages pre-faulted outside the pods' cgroups, with the EAL\n"
      "arguments in ENA_DPDK_HUGEPAGES_1GI_EAL / ENA_DPDK_HUGEPAGES_2MI_EAL).\n"
      "Reads the \"deviceplugin\", \"dataplane\" and \"ipam\" sections of the config file (no\n"
      "network lists more healthy attachments than its IPAM has free addresses). Serves one\n"
      "socket per resource in <root>/var/lib/kubelet/device-plugins and registers each with the\n"
      "kubelet, again whenever the kubelet restarts; /metrics and /healthz on\n"
      "deviceplugin.metricsAddress (or --metrics-address).");
  flags.addCommonFlags();
  // One ConfigMap serves every node; the chart gives each plugin its node's address.
  flags.addValue(
      "metrics-address", "ADDR",
      common::strCat("serve /metrics and /healthz on ADDR (HOST:PORT or\n", std::string(30, ' '),
                     "[IP]:PORT) instead of deviceplugin.metricsAddress,\n", std::string(30, ' '),
                     "also after a reload"));
  flags.addHelpSection(
      "Signals",
      "  SIGHUP           reload the config file (also reloaded when it changes);\n"
      "                   resources whose config is unchanged keep running, a\n"
      "                   config that fails to load is logged and ignored\n"
      "  SIGTERM, SIGINT  stop serving, remove the sockets, exit 0\n");
  if (auto rc = flags.handleStandard(flags.parse(argc, argv), out, err)) return *rc;
  if (!flags.positional().empty()) {
    return common::reportFatal(
        err, flags.program(), common::strCat("unexpected argument \"", flags.positional()[0], "\""),
        2);
  }
  if (flags.has("metrics-address")) {
    if (auto parsed = common::MetricsServer::parseAddress(flags.value("metrics-address"));
        !parsed.ok()) {
      return common::reportFatal(
          err, flags.program(),
          common::strCat("--metrics-address: ", common::toStd(parsed.status().message())), 2);
    }
  }
  absl::StatusOr<PluginConfig> config = loadPluginConfig(flags.value("config"));
  if (!config.ok()) {
    return common::reportFatal(err, flags.program(), common::toStd(config.status().message()));
  }
  absl::StatusOr<spdlog::level::level_enum> level = common::parseLogLevel(flags.value("log-level"));
  absl::StatusOr<std::shared_ptr<spdlog::logger>> logger =
      common::makeLogger("deviceplugin", *level, flags.logOutput());
  if (!logger.ok()) {
    return common::reportFatal(err, flags.program(), common::toStd(logger.status().message()));
  }

  // Block the signals before any thread starts, so that all of them inherit the mask and the
  // signals queue for sigwait() below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  SystemHugetlbfsMounter mounter;
  SystemClock clock;
  absl::StatusOr<std::unique_ptr<PluginManager>> manager =
      PluginManager::start({.root = common::HostRoot(flags.value("root")),
                            .configPath = flags.value("config"),
                            .mounter = &mounter,
                            .clock = &clock,
                            .metricsAddress = flags.value("metrics-address")},
                           *logger);
  if (!manager.ok()) {
    return common::reportFatal(err, flags.program(), common::toStd(manager.status().message()));
  }
  for (;;) {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) continue;
    if (signal == SIGHUP) {
      (*logger)->info("SIGHUP received, reloading the config");
      (*manager)->requestReload();
      continue;
    }
    (*logger)->info("signal {} received, stopping", signal == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  (*manager)->stop();
  (*logger)->info("stopped");
  return 0;
}

}  // namespace enadpdk::deviceplugin
