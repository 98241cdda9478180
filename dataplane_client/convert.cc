#include "dataplane_client/convert.h"

#include <optional>
#include <string>

#include "common/strings.h"

namespace enadpdk::dataplane_client {

namespace pb = dataplane::v1;
using common::clipped;
using common::strCat;

namespace {

// The library mode sent on the wire as `wire`; nullopt for UNSPECIFIED and unknown values.
// Derived from networkModeToProto() over every mode, so a new mode needs no change here.
std::optional<common::NetworkMode> knownNetworkMode(pb::NetworkMode wire) {
  for (const auto& entry : common::kNetworkModeNames) {
    if (networkModeToProto(entry.second) == wire) return entry.second;
  }
  return std::nullopt;
}

// "vpc, l2": the names of the modes this build knows, for messages.
template <typename Mode, size_t N>
std::string namesOf(const common::EnumName<Mode> (&modes)[N]) {
  std::string out;
  for (const auto& entry : modes) out += strCat(out.empty() ? "" : ", ", entry.first);
  return out;
}

// SERVER and CLIENT; nullopt for UNSPECIFIED and unknown values.
std::optional<VhostMode> knownVhostMode(pb::VhostMode wire) {
  for (const auto& entry : common::kVhostModeNames) {
    if (vhostModeToProto(entry.second) == wire) return entry.second;
  }
  return std::nullopt;
}

// The request fields of `p` with the vhost mode already decided.
PortSpec portSpecWithMode(const pb::Port& p, VhostMode mode) {
  PortSpec s;
  s.id = p.id();
  s.network = p.network();
  s.socket_path = p.socket_path();
  s.vhost_mode = mode;
  s.mac = p.mac();
  s.ips.assign(p.ips().begin(), p.ips().end());
  s.queues = p.queues();
  s.mtu = p.mtu();
  s.owner = p.socket_permissions().owner();
  s.perm = p.socket_permissions().mode();
  s.uid = p.uid();
  s.pod_namespace = p.pod_namespace();
  s.pod_name = p.pod_name();
  return s;
}

}  // namespace

dataplane::v1::VhostMode vhostModeToProto(VhostMode mode) {
  switch (mode) {
    case VhostMode::Server:
      return pb::VHOST_MODE_SERVER;
    case VhostMode::Client:
      return pb::VHOST_MODE_CLIENT;
  }
  return pb::VHOST_MODE_UNSPECIFIED;
}

dataplane::v1::NetworkMode networkModeToProto(common::NetworkMode mode) {
  switch (mode) {
    case common::NetworkMode::Vpc:
      return pb::NETWORK_MODE_VPC;
    case common::NetworkMode::L2:
      return pb::NETWORK_MODE_L2;
  }
  return pb::NETWORK_MODE_UNSPECIFIED;
}

absl::StatusOr<PortSpec> portSpecFromProto(const pb::Port& p) {
  // The proto documents UNSPECIFIED as server: a request may leave the mode out.
  std::optional<VhostMode> mode = p.vhost_mode() == pb::VHOST_MODE_UNSPECIFIED
                                      ? std::optional<VhostMode>(VhostMode::Server)
                                      : knownVhostMode(p.vhost_mode());
  if (!mode) {
    return absl::InvalidArgumentError(strCat("vhost_mode: unknown value ",
                                             static_cast<int>(p.vhost_mode()),
                                             " (expected VHOST_MODE_SERVER or VHOST_MODE_CLIENT)"));
  }
  return portSpecWithMode(p, *mode);
}

pb::Port portSpecToProto(const PortSpec& s) {
  pb::Port p;
  p.set_id(s.id);
  p.set_network(s.network);
  p.set_socket_path(s.socket_path);
  p.set_vhost_mode(vhostModeToProto(s.vhost_mode));
  p.set_mac(s.mac);
  for (const std::string& ip : s.ips) p.add_ips(ip);
  p.set_queues(s.queues);
  p.set_mtu(s.mtu);
  if (!s.owner.empty() || !s.perm.empty()) {
    p.mutable_socket_permissions()->set_owner(s.owner);
    p.mutable_socket_permissions()->set_mode(s.perm);
  }
  p.set_uid(s.uid);
  p.set_pod_namespace(s.pod_namespace);
  p.set_pod_name(s.pod_name);
  return p;
}

Counters countersFromProto(const pb::Counters& c) {
  return Counters{.rx_packets = c.rx_packets(),
                  .rx_bytes = c.rx_bytes(),
                  .tx_packets = c.tx_packets(),
                  .tx_bytes = c.tx_bytes(),
                  .drop_no_route = c.drop_no_route(),
                  .drop_spoofed = c.drop_spoofed(),
                  .drop_tx_full = c.drop_tx_full(),
                  .drop_not_connected = c.drop_not_connected(),
                  .drop_mac_table_full = c.drop_mac_table_full(),
                  .drop_other = c.drop_other()};
}

void countersToProto(const Counters& c, pb::Counters* out) {
  out->set_rx_packets(c.rx_packets);
  out->set_rx_bytes(c.rx_bytes);
  out->set_tx_packets(c.tx_packets);
  out->set_tx_bytes(c.tx_bytes);
  out->set_drop_no_route(c.drop_no_route);
  out->set_drop_spoofed(c.drop_spoofed);
  out->set_drop_tx_full(c.drop_tx_full);
  out->set_drop_not_connected(c.drop_not_connected);
  out->set_drop_mac_table_full(c.drop_mac_table_full);
  out->set_drop_other(c.drop_other);
}

absl::StatusOr<PortInfo> portInfoFromProto(const pb::Port& p) {
  // The dataplane answers with the mode it stored, never UNSPECIFIED.
  std::optional<VhostMode> mode = knownVhostMode(p.vhost_mode());
  if (!mode) {
    const std::string value = p.vhost_mode() == pb::VHOST_MODE_UNSPECIFIED
                                  ? "VHOST_MODE_UNSPECIFIED"
                                  : strCat(static_cast<int>(p.vhost_mode()));
    return absl::UnknownError(
        strCat("port \"", clipped(p.id()), "\": unknown vhost mode ", value,
               " from the dataplane (this client knows: ", namesOf(common::kVhostModeNames), ")"));
  }
  return PortInfo{.spec = portSpecWithMode(p, *mode),
                  .connected = p.connected(),
                  .worker_lcore = p.worker_lcore(),
                  .counters = countersFromProto(p.counters())};
}

pb::Port portInfoToProto(const PortInfo& port) {
  pb::Port p = portSpecToProto(port.spec);
  p.set_connected(port.connected);
  p.set_worker_lcore(port.worker_lcore);
  countersToProto(port.counters, p.mutable_counters());
  return p;
}

absl::StatusOr<NetworkInfo> networkInfoFromProto(const pb::Network& n) {
  std::optional<common::NetworkMode> mode = knownNetworkMode(n.mode());
  if (!mode) {
    const std::string value = n.mode() == pb::NETWORK_MODE_UNSPECIFIED
                                  ? "NETWORK_MODE_UNSPECIFIED"
                                  : strCat(static_cast<int>(n.mode()));
    return absl::UnknownError(strCat(
        "network \"", clipped(n.name()), "\": unknown mode ", value,
        " from the dataplane (this client knows: ", namesOf(common::kNetworkModeNames), ")"));
  }
  NetworkInfo out{.name = n.name(),
                  .mode = *mode,
                  .mtu = n.mtu(),
                  .uplink = std::nullopt,
                  .up = n.up(),
                  .port_count = n.port_count()};
  if (n.has_uplink()) {
    const pb::Uplink& u = n.uplink();
    out.uplink = UplinkInfo{.device = u.device(),
                            .port_id = u.port_id(),
                            .mac = u.mac(),
                            .link_up = u.link_up(),
                            .link_speed_mbps = u.link_speed_mbps(),
                            .queues = u.queues(),
                            .tx_queues = u.tx_queues(),
                            .numa_node = u.numa_node(),
                            .resets = u.resets(),
                            .reset_failures = u.reset_failures(),
                            .link_changes = u.link_changes(),
                            .counters = countersFromProto(u.counters()),
                            .xstats = {u.xstats().begin(), u.xstats().end()}};
  }
  return out;
}

pb::Network networkInfoToProto(const NetworkInfo& n) {
  pb::Network out;
  out.set_name(n.name);
  out.set_mode(networkModeToProto(n.mode));
  out.set_mtu(n.mtu);
  out.set_up(n.up);
  out.set_port_count(n.port_count);
  if (n.uplink) {
    pb::Uplink* u = out.mutable_uplink();
    u->set_device(n.uplink->device);
    u->set_port_id(n.uplink->port_id);
    u->set_mac(n.uplink->mac);
    u->set_link_up(n.uplink->link_up);
    u->set_link_speed_mbps(n.uplink->link_speed_mbps);
    u->set_queues(n.uplink->queues);
    u->set_tx_queues(n.uplink->tx_queues);
    u->set_numa_node(n.uplink->numa_node);
    u->set_resets(n.uplink->resets);
    u->set_reset_failures(n.uplink->reset_failures);
    u->set_link_changes(n.uplink->link_changes);
    countersToProto(n.uplink->counters, u->mutable_counters());
    for (const auto& [name, value] : n.uplink->xstats) (*u->mutable_xstats())[name] = value;
  }
  return out;
}

WorkerInfo workerInfoFromProto(const pb::WorkerStats& w) {
  return WorkerInfo{.lcore = w.lcore(),
                    .port_count = w.port_count(),
                    .busy_cycles = w.busy_cycles(),
                    .total_cycles = w.total_cycles(),
                    .rx_packets = w.rx_packets(),
                    .tx_packets = w.tx_packets()};
}

}  // namespace enadpdk::dataplane_client
