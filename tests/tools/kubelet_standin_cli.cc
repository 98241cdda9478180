#include "tests/tools/kubelet_standin_cli.h"

#include <google/protobuf/util/json_util.h>
#include <pthread.h>
#include <signal.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <string>

#include "common/flags.h"
#include "common/logging.h"
#include "common/strings.h"
#include "tests/tools/kubelet_standin.h"
#include "tests/tools/standin_control.h"

namespace enadpdk::testing {
namespace {

namespace sv1 = standin::v1;
using common::strCat;
using common::toStd;

constexpr char kCommandsHelp[] =
    "  serve                     be the kubelet until SIGTERM/SIGINT: delete every socket in\n"
    "                            <root>/var/lib/kubelet/device-plugins, serve Registration\n"
    "                            there (kubelet.sock) and PodResources\n"
    "                            (<root>/var/lib/kubelet/pod-resources/kubelet.sock), dial each\n"
    "                            plugin that registers and keep its ListAndWatch open;\n"
    "                            allocations persist in kubelet-standin-checkpoint.json\n"
    "  allocate RESOURCE COUNT --pod NAME [--container NAME]\n"
    "                            admit a container asking COUNT devices of RESOURCE: free\n"
    "                            Healthy devices, the plugin's preferred allocation, Allocate;\n"
    "                            prints {pod, container, resource, deviceIds, response} with\n"
    "                            the plugin's ContainerAllocateResponse (envs, mounts,\n"
    "                            devices); repeating it returns the recorded allocation\n"
    "  release --pod NAME        the pod is deleted: its devices become free\n"
    "  resources                 registered resources, their devices (health, NUMA, holder)\n"
    "                            and every allocation\n";

constexpr char kExitHelp[] =
    "  0  success\n"
    "  1  failure: one line on stderr, \"kubelet-standin: <gRPC code>: <message>\"\n"
    "  2  usage error\n";

int fail(std::ostream& err, const absl::Status& status) {
  return common::reportFatal(
      err, "kubelet-standin",
      strCat(absl::StatusCodeToString(status.code()), ": ", toStd(status.message())));
}

int printJson(const google::protobuf::Message& message, std::ostream& out, std::ostream& err) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  std::string json;
  if (auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
      !status.ok()) {
    return common::reportFatal(err, "kubelet-standin",
                               strCat("cannot encode the answer: ", status.ToString()));
  }
  out << json;
  return 0;
}

int serve(const common::HostRoot& root, const std::string& controlSocket,
          spdlog::level::level_enum level, const common::LogOutput& output, std::ostream& err) {
  absl::StatusOr<std::shared_ptr<spdlog::logger>> logger =
      common::makeLogger("kubelet-standin", level, output);
  if (!logger.ok()) return fail(err, logger.status());
  // Blocked before any thread starts, so that every thread inherits the mask and the signals
  // queue for sigwait().
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<KubeletStandin>> standin =
      KubeletStandin::start({.root = root}, *logger);
  if (!standin.ok()) return fail(err, standin.status());
  absl::StatusOr<std::unique_ptr<StandinControlServer>> control =
      StandinControlServer::start(controlSocket, **standin);
  if (!control.ok()) return fail(err, control.status());
  (*logger)->info("control socket={}", controlSocket);
  int signal = 0;
  while (sigwait(&signals, &signal) != 0) {
  }
  (*logger)->info("signal {} received, stopping", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  control->reset();
  standin->reset();
  return 0;
}

}  // namespace

int standinMain(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  common::FlagParser flags(
      "kubelet-standin", "[--root DIR] [--control-socket PATH] COMMAND [ARGS]",
      "The kubelet's side of the device-plugin API v1beta1 (Registration, ListAndWatch,\n"
      "GetPreferredAllocation, Allocate) and of PodResources, for demos and end-to-end tests\n"
      "on a machine without Kubernetes. `serve` runs it; the other commands drive a running\n"
      "one through its control socket and print JSON (protobuf's JSON mapping).");
  flags.addCommonFlags(/*config=*/false, /*root=*/true);
  flags.addValue("control-socket", "PATH", "control API socket",
                 "<root>/var/lib/kubelet/kubelet-standin.sock");
  flags.addValue("pod", "NAME", "allocate, release: the pod");
  flags.addValue("container", "NAME", "allocate: the container", kDefaultContainer);
  flags.addValue("timeout", "SECONDS", "deadline of a client call", "10");
  flags.addHelpSection("Commands", kCommandsHelp);
  flags.addHelpSection("Exit status", kExitHelp);
  if (auto rc = flags.handleStandard(flags.parse(argc, argv), out, err)) return *rc;

  auto usage = [&](std::string_view message) {
    return common::reportFatal(err, flags.program(), message, 2);
  };
  const common::HostRoot root(flags.value("root"));
  const std::string controlSocket = flags.has("control-socket")
                                        ? flags.value("control-socket")
                                        : root.path(kStandinControlSocket).string();
  absl::StatusOr<spdlog::level::level_enum> level = common::parseLogLevel(flags.value("log-level"));
  if (!level.ok()) return usage(strCat("--log-level: ", toStd(level.status().message())));
  const std::string timeoutText = flags.value("timeout");
  double timeout = 0;
  auto [end, ec] =
      std::from_chars(timeoutText.data(), timeoutText.data() + timeoutText.size(), timeout);
  if (ec != std::errc() || end != timeoutText.data() + timeoutText.size() ||
      !std::isfinite(timeout) || timeout <= 0 || timeout > 3600) {
    return usage(strCat("--timeout: expected seconds in (0, 3600], got \"", timeoutText, "\""));
  }

  const std::vector<std::string>& args = flags.positional();
  if (args.empty()) return usage("missing COMMAND (serve, allocate, release or resources)");
  const std::string& command = args[0];
  const std::size_t wantArgs = command == "allocate" ? 3 : 1;
  const bool needsPod = command == "allocate" || command == "release";
  if (command != "serve" && command != "allocate" && command != "release" &&
      command != "resources") {
    return usage(strCat("unknown command \"", command,
                        "\" (expected serve, allocate, release or resources)"));
  }
  if (args.size() != wantArgs) {
    return usage(command == "allocate"
                     ? "allocate: expected RESOURCE COUNT"
                     : strCat(command, ": unexpected argument \"", args[1], "\""));
  }
  if (needsPod && flags.value("pod").empty()) return usage(strCat(command, ": --pod is required"));
  if (!needsPod && flags.has("pod")) return usage(strCat("--pod does not apply to ", command));
  if (command != "allocate" && flags.has("container")) {
    return usage(strCat("--container does not apply to ", command));
  }

  if (command == "serve") return serve(root, controlSocket, *level, flags.logOutput(), err);

  StandinControlClient client(
      controlSocket, std::chrono::milliseconds(static_cast<long>(std::llround(timeout * 1000))));
  if (command == "resources") {
    absl::StatusOr<sv1::ListResourcesResponse> response = client.listResources();
    return response.ok() ? printJson(*response, out, err) : fail(err, response.status());
  }
  if (command == "release") {
    absl::StatusOr<sv1::ReleaseResponse> response = client.release(flags.value("pod"));
    return response.ok() ? printJson(*response, out, err) : fail(err, response.status());
  }
  int count = 0;
  auto [countEnd, countEc] =
      std::from_chars(args[2].data(), args[2].data() + args[2].size(), count);
  if (countEc != std::errc() || countEnd != args[2].data() + args[2].size() || count < 1) {
    return usage(strCat("allocate: COUNT must be a positive integer, got \"", args[2], "\""));
  }
  sv1::AllocateRequest request;
  request.set_pod(flags.value("pod"));
  request.set_container(flags.value("container"));
  request.set_resource(args[1]);
  request.set_count(count);
  absl::StatusOr<sv1::Allocation> allocation = client.allocate(request);
  return allocation.ok() ? printJson(*allocation, out, err) : fail(err, allocation.status());
}

}  // namespace enadpdk::testing
