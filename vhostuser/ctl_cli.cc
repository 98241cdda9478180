#include "vhostuser/ctl_cli.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/strings.h"
#include "common/unix_socket.h"
#include "dataplane_client/rpc_client.h"
#include "vhostuser/ctl_output.h"

namespace enadpdk::vhostuser {

namespace dp = dataplane::v1;
using dataplane_client::RpcClient;

namespace {

constexpr char kDefaultSocket[] = "/run/ena-dpdk/dataplane.sock";
constexpr double kDefaultTimeoutSeconds = 5;
constexpr double kMaxTimeoutSeconds = 3600;

constexpr char kCommandsHelp[] =
    "  health                    print SERVING or NOT_SERVING (grpc.health.v1, whole server);\n"
    "                            exit status 0 only when SERVING\n"
    "  networks                  networks: mode, MTU, uplink, link, ports, uplink counters\n"
    "  ports [--network NET]     ports (only those of NET when given)\n"
    "  port add --id ID --network NET --socket-path PATH --vhost-mode server|client\n"
    "           [--mac MAC] [--ip CIDR]... [--queues N] [--mtu N]\n"
    "           [--owner UID:GID] [--perm MODE]\n"
    "                            add a vhost-user port and print it; --owner and --perm only\n"
    "                            with --vhost-mode client (the dataplane creates the socket)\n"
    "  port get ID               one port: every field and counter\n"
    "  port del ID               delete a port; succeeds, saying so, when it does not exist\n"
    "  stats                     counters per port, network uplink and worker, drops by\n"
    "                            reason, uplink extended stats, worker busy ratio\n";

constexpr char kOutputHelp[] =
    "  table (default)           aligned columns for people\n"
    "  json                      the RPC's response message in protobuf's JSON mapping:\n"
    "                            lowerCamelCase field names, enum value names, 64-bit\n"
    "                            counters as strings, fields at their default value included\n"
    "  (with --log-level debug, each call is also logged on stderr: method, socket, code, time)\n";

constexpr char kExitHelp[] =
    "  0  success (for health: SERVING)\n"
    "  1  the call failed (one line on stderr: \"ena-dpdk-ctl: <gRPC code>: <message>\"),\n"
    "     or health is not SERVING, or the table cannot show the answer without guessing (a\n"
    "     network or vhost mode this build does not know: UNKNOWN; -o json shows it as sent)\n"
    "  2  usage error, found before anything is sent\n";

enum class Command { Health, Networks, Ports, PortAdd, PortGet, PortDel, Stats };

// What the command line asks for, validated before any call is made.
struct Invocation {
  Command command = Command::Health;
  // `port get` / `port del`: the port id.
  std::string port_id{};
  // `ports`: the network filter (empty = all).
  std::string network{};
  // `port add`: the request built from the flags.
  dp::AddPortRequest add{};
};

// Flags that belong to one or two commands; any other command refuses them so that a typo such as
// `ena-dpdk-ctl ports --id x` does not silently do something else.
const std::vector<std::string_view> kCommandFlags = {
    "network", "id", "socket-path", "vhost-mode", "mac", "ip", "queues", "mtu", "owner", "perm"};

std::set<std::string_view> flagsOf(Command command) {
  switch (command) {
    case Command::Ports:
      return {"network"};
    case Command::PortAdd:
      return {kCommandFlags.begin(), kCommandFlags.end()};
    default:
      return {};
  }
}

absl::StatusOr<std::chrono::milliseconds> parseTimeout(const std::string& text) {
  double seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(seconds) ||
      seconds <= 0 || seconds > kMaxTimeoutSeconds) {
    return absl::InvalidArgumentError(
        common::strCat("--timeout: expected seconds, more than 0 and at most ", kMaxTimeoutSeconds,
                       ", got \"", text, "\""));
  }
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::milliseconds(std::llround(seconds * 1000)));
}

absl::StatusOr<uint32_t> parsePositive(std::string_view flag, const std::string& text) {
  uint32_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n == 0) {
    return absl::InvalidArgumentError(common::strCat(
        "--", flag, ": expected a whole number from 1 to 4294967295, got \"", text, "\""));
  }
  return n;
}

absl::Status requireFlag(const common::FlagParser& flags, std::string_view flag) {
  if (!flags.has(flag)) {
    return absl::InvalidArgumentError(common::strCat("port add: --", flag, " is required"));
  }
  if (flags.value(flag).empty()) {
    return absl::InvalidArgumentError(common::strCat("port add: --", flag, " is empty"));
  }
  return absl::OkStatus();
}

absl::StatusOr<dp::AddPortRequest> buildAddPort(const common::FlagParser& flags) {
  for (std::string_view flag : {"id", "network", "socket-path", "vhost-mode"}) {
    if (absl::Status s = requireFlag(flags, flag); !s.ok()) return s;
  }
  dp::AddPortRequest request;
  dp::Port& port = *request.mutable_port();
  port.set_id(flags.value("id"));
  port.set_network(flags.value("network"));
  port.set_socket_path(flags.value("socket-path"));
  const std::string mode = flags.value("vhost-mode");
  if (mode == "server") {
    port.set_vhost_mode(dp::VHOST_MODE_SERVER);
  } else if (mode == "client") {
    port.set_vhost_mode(dp::VHOST_MODE_CLIENT);
  } else {
    return absl::InvalidArgumentError(
        common::strCat("--vhost-mode: expected \"server\" or \"client\", got \"", mode, "\""));
  }
  if (flags.has("mac")) port.set_mac(flags.value("mac"));
  for (const std::string& ip : flags.values("ip")) {
    if (ip.empty()) return absl::InvalidArgumentError("--ip: empty address");
    port.add_ips(ip);
  }
  // Unset numbers stay 0, which the API reads as "the default" (1 queue pair, the network's MTU).
  for (auto [flag, setter] :
       {std::pair<std::string_view, void (dp::Port::*)(uint32_t)>{"queues", &dp::Port::set_queues},
        {"mtu", &dp::Port::set_mtu}}) {
    if (!flags.has(flag)) continue;
    absl::StatusOr<uint32_t> n = parsePositive(flag, flags.value(flag));
    if (!n.ok()) return n.status();
    (port.*setter)(*n);
  }
  if (flags.has("owner") || flags.has("perm")) {
    // In server mode the pod creates the socket; permissions the dataplane would never apply
    // are an operator mistake, not something to ignore.
    if (port.vhost_mode() != dp::VHOST_MODE_CLIENT) {
      return absl::InvalidArgumentError(
          "--owner and --perm apply to --vhost-mode client only (in server mode the pod creates "
          "the socket)");
    }
    if (flags.has("owner")) port.mutable_socket_permissions()->set_owner(flags.value("owner"));
    if (flags.has("perm")) port.mutable_socket_permissions()->set_mode(flags.value("perm"));
  }
  return request;
}

absl::StatusOr<Invocation> parseInvocation(const common::FlagParser& flags) {
  const std::vector<std::string>& args = flags.positional();
  if (args.empty()) {
    return absl::InvalidArgumentError("missing command (see ena-dpdk-ctl --help)");
  }
  Invocation inv;
  std::string name = args[0];
  size_t used = 1;
  if (args[0] == "health") {
    inv.command = Command::Health;
  } else if (args[0] == "networks") {
    inv.command = Command::Networks;
  } else if (args[0] == "ports") {
    inv.command = Command::Ports;
  } else if (args[0] == "stats") {
    inv.command = Command::Stats;
  } else if (args[0] == "port") {
    if (args.size() < 2) {
      return absl::InvalidArgumentError("port: missing subcommand: add, get or del");
    }
    name = common::strCat("port ", args[1]);
    used = 2;
    if (args[1] == "add") {
      inv.command = Command::PortAdd;
    } else if (args[1] == "get" || args[1] == "del") {
      inv.command = args[1] == "get" ? Command::PortGet : Command::PortDel;
      if (args.size() < 3) {
        return absl::InvalidArgumentError(common::strCat(name, ": missing port ID"));
      }
      if (args[2].empty()) {
        return absl::InvalidArgumentError(common::strCat(name, ": empty port ID"));
      }
      inv.port_id = args[2];
      used = 3;
    } else {
      return absl::InvalidArgumentError(
          common::strCat("port: unknown subcommand \"", args[1], "\" (expected add, get or del)"));
    }
  } else {
    return absl::InvalidArgumentError(
        common::strCat("unknown command \"", args[0], "\" (see ena-dpdk-ctl --help)"));
  }
  if (args.size() > used) {
    return absl::InvalidArgumentError(
        common::strCat(name, ": unexpected argument \"", args[used], "\""));
  }
  const std::set<std::string_view> allowed = flagsOf(inv.command);
  for (std::string_view flag : kCommandFlags) {
    if (flags.has(flag) && !allowed.contains(flag)) {
      return absl::InvalidArgumentError(
          common::strCat("--", flag, " does not apply to \"", name, "\""));
    }
  }
  if (inv.command == Command::Ports) inv.network = flags.value("network");
  if (inv.command == Command::PortAdd) {
    absl::StatusOr<dp::AddPortRequest> add = buildAddPort(flags);
    if (!add.ok()) return add.status();
    inv.add = *std::move(add);
  }
  return inv;
}

// Reports `status` as "ena-dpdk-ctl: <code>: <message>"; returns the exit status 1.
int reportStatus(std::ostream& err, const absl::Status& status) {
  return common::reportFatal(err, "ena-dpdk-ctl",
                             common::strCat(absl::StatusCodeToString(status.code()), ": ",
                                            common::toStd(status.message())));
}

// Prints a successful response in the chosen format, or reports a failed call (or a table that
// cannot show the answer). Returns the exit status.
template <typename Response>
int emit(const absl::StatusOr<Response>& response, bool json,
         const std::function<absl::StatusOr<std::string>(const Response&)>& table,
         std::ostream& out, std::ostream& err) {
  if (!response.ok()) return reportStatus(err, response.status());
  if (!json) {
    absl::StatusOr<std::string> text = table(*response);
    if (!text.ok()) return reportStatus(err, text.status());
    out << *text;
  } else {
    absl::StatusOr<std::string> text = renderJson(*response);
    if (!text.ok()) {
      return common::reportFatal(
          err, "ena-dpdk-ctl",
          common::strCat("INTERNAL: ", common::toStd(text.status().message())));
    }
    out << *text;
  }
  out.flush();
  return 0;
}

int run(const Invocation& inv, const RpcClient& client, bool json, std::ostream& out,
        std::ostream& err) {
  switch (inv.command) {
    case Command::Health: {
      auto response = client.health();
      int rc = emit<grpc::health::v1::HealthCheckResponse>(response, json, renderHealth, out, err);
      if (rc != 0) return rc;
      return response->status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
    }
    case Command::Networks:
      return emit<dp::ListNetworksResponse>(client.listNetworks({}), json, renderNetworks, out,
                                            err);
    case Command::Ports: {
      dp::ListPortsRequest request;
      request.set_network(inv.network);
      return emit<dp::ListPortsResponse>(client.listPorts(request), json, renderPorts, out, err);
    }
    case Command::PortAdd:
      return emit<dp::AddPortResponse>(
          client.addPort(inv.add), json,
          [](const dp::AddPortResponse& r) { return renderPortDetail(r.port()); }, out, err);
    case Command::PortGet: {
      dp::GetPortRequest request;
      request.set_id(inv.port_id);
      return emit<dp::GetPortResponse>(
          client.getPort(request), json,
          [](const dp::GetPortResponse& r) { return renderPortDetail(r.port()); }, out, err);
    }
    case Command::PortDel: {
      dp::DeletePortRequest request;
      request.set_id(inv.port_id);
      return emit<dp::DeletePortResponse>(
          client.deletePort(request), json,
          [&](const dp::DeletePortResponse& r) { return renderDeleted(inv.port_id, r); }, out, err);
    }
    case Command::Stats:
      return emit<dp::GetStatsResponse>(client.getStats({}), json, renderStats, out, err);
  }
  return common::reportFatal(err, "ena-dpdk-ctl", "INTERNAL: unhandled command");
}

}  // namespace

int ctlMain(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  common::FlagParser flags(
      "ena-dpdk-ctl", "[--socket PATH] [-o table|json] [--timeout SECONDS] COMMAND [ARGS]",
      "Operator CLI for ena-dpdk-dataplane's gRPC control API (enadpdk.dataplane.v1.Dataplane\n"
      "and grpc.health.v1.Health) on its Unix socket.");
  flags.addValue("socket", "PATH", "dataplane control socket", kDefaultSocket)
      .addValue("output", "FORMAT", "output format: table or json", "table", 'o')
      .addValue("timeout", "SECONDS", "deadline of the call in seconds, at most 3600 (0.5 works)",
                common::strCat(kDefaultTimeoutSeconds))
      .addValue("network", "NET", "ports: only this network's ports; port add: the network")
      .addValue("id", "ID", "port add: port id (the CNI uses <containerID>/<ifname>)")
      .addValue("socket-path", "PATH", "port add: absolute vhost-user socket path (<= 107 bytes)")
      .addValue("vhost-mode", "MODE", "port add: server (pod creates the socket) or client")
      .addValue("mac", "MAC", "port add: pod MAC (default: the dataplane picks; the ENI's in vpc)")
      .addValue("ip", "CIDR", "port add: pod address, e.g. 10.0.1.23/24", "", 0,
                /*repeated=*/true)
      .addValue("queues", "N", "port add: queue pairs (default: the dataplane's, 1)")
      .addValue("mtu", "N", "port add: MTU (default: the network's)")
      .addValue("owner", "UID:GID",
                "port add, client mode: socket owner (default: the dataplane's)")
      .addValue("perm", "MODE", "port add, client mode: octal socket mode (default: the config's)")
      .addCommonFlags(/*config=*/false, /*root=*/false)
      .addHelpSection("Commands", kCommandsHelp)
      .addHelpSection("Output (-o)", kOutputHelp)
      .addHelpSection("Exit status", kExitHelp);
  if (auto rc = flags.handleStandard(flags.parse(argc, argv), out, err)) return *rc;

  const std::string format = flags.value("output");
  if (format != "table" && format != "json") {
    return common::reportFatal(
        err, flags.program(),
        common::strCat("-o: expected \"table\" or \"json\", got \"", format, "\""), 2);
  }
  absl::StatusOr<std::chrono::milliseconds> timeout = parseTimeout(flags.value("timeout"));
  if (!timeout.ok()) {
    return common::reportFatal(err, flags.program(), common::toStd(timeout.status().message()), 2);
  }
  // A relative --socket is resolved here so that the length check sees what gRPC will use.
  std::filesystem::path socket = flags.value("socket");
  std::error_code ec;
  if (!socket.empty()) socket = std::filesystem::absolute(socket, ec);
  absl::Status socket_ok =
      ec ? absl::InvalidArgumentError(common::strCat("--socket: ", ec.message()))
         : common::checkSocketPath(socket.string(), "--socket");
  if (!socket_ok.ok()) {
    return common::reportFatal(err, flags.program(), common::toStd(socket_ok.message()), 2);
  }
  absl::StatusOr<Invocation> inv = parseInvocation(flags);
  if (!inv.ok()) {
    return common::reportFatal(err, flags.program(), common::toStd(inv.status().message()), 2);
  }
  // handleStandard() has validated the level.
  absl::StatusOr<std::shared_ptr<spdlog::logger>> logger = common::makeLogger(
      "ctl", *common::parseLogLevel(flags.value("log-level")), flags.logOutput());
  if (!logger.ok()) {
    return common::reportFatal(err, flags.program(), common::toStd(logger.status().message()));
  }
  const RpcClient client = RpcClient::forSocket(socket, *timeout, *std::move(logger));
  return run(*inv, client, format == "json", out, err);
}

}  // namespace enadpdk::vhostuser
