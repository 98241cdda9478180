#include "vhostuser/ctl_output.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <utility>

#include "common/network_mode.h"
#include "common/strings.h"
#include "common/vhost.h"
#include "dataplane_client/convert.h"

namespace enadpdk::vhostuser {

namespace dp = dataplane::v1;

namespace {

std::string orDash(const std::string& s) { return s.empty() ? "-" : s; }

std::string yesNo(bool b) { return b ? "yes" : "no"; }

std::string numberOrDash(uint64_t n) { return n == 0 ? "-" : common::strCat(n); }

// The modes are read as every client reads them (dataplane_client/convert.h): a mode the
// dataplane left unspecified, or one this build does not know, fails the rendering with the
// client's message instead of being shown as a guess.
absl::StatusOr<std::string> vhostModeCell(const dp::Port& port) {
  absl::StatusOr<dataplane_client::PortInfo> info = dataplane_client::portInfoFromProto(port);
  if (!info.ok()) return info.status();
  return std::string(common::vhostModeName(info->spec.vhost_mode));
}

absl::StatusOr<std::string> networkModeCell(const dp::Network& network) {
  absl::StatusOr<dataplane_client::NetworkInfo> info =
      dataplane_client::networkInfoFromProto(network);
  if (!info.ok()) return info.status();
  return std::string(common::networkModeName(info->mode));
}

uint64_t totalDrops(const dp::Counters& c) {
  return c.drop_no_route() + c.drop_spoofed() + c.drop_tx_full() + c.drop_not_connected() +
         c.drop_mac_table_full() + c.drop_other();
}

std::string joined(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += common::strCat(out.empty() ? "" : ",", item);
  return orDash(out);
}

// "namespace/name", or "-" for a port whose pod the dataplane was not told.
std::string podText(const dp::Port& port) {
  if (port.pod_namespace().empty() && port.pod_name().empty()) return "-";
  return common::strCat(orDash(port.pod_namespace()), "/", orDash(port.pod_name()));
}

std::string linkText(const dp::Uplink& uplink) {
  if (!uplink.link_up()) return "down";
  if (uplink.link_speed_mbps() == 0) return "up";
  return common::strCat("up ", uplink.link_speed_mbps(), "Mb/s");
}

std::string busyRatio(const dp::WorkerStats& w) {
  if (w.total_cycles() == 0) return "-";
  return fmt::format("{:.1f}%", 100.0 * static_cast<double>(w.busy_cycles()) /
                                    static_cast<double>(w.total_cycles()));
}

// The drop columns of the stats tables, in proto field order.
const std::vector<TextTable::Column> kDropColumns = {
    {.title = "NO-ROUTE", .right = true},       {.title = "SPOOFED", .right = true},
    {.title = "TX-FULL", .right = true},        {.title = "NOT-CONNECTED", .right = true},
    {.title = "MAC-TABLE-FULL", .right = true}, {.title = "OTHER", .right = true}};

// Packet/byte counters then drops by reason, matching kTrafficColumns + kDropColumns.
const std::vector<TextTable::Column> kTrafficColumns = {{.title = "RX-PKTS", .right = true},
                                                        {.title = "RX-BYTES", .right = true},
                                                        {.title = "TX-PKTS", .right = true},
                                                        {.title = "TX-BYTES", .right = true}};

void appendCounterCells(const dp::Counters& c, std::vector<std::string>& row) {
  for (uint64_t v : {c.rx_packets(), c.rx_bytes(), c.tx_packets(), c.tx_bytes(), c.drop_no_route(),
                     c.drop_spoofed(), c.drop_tx_full(), c.drop_not_connected(),
                     c.drop_mac_table_full(), c.drop_other()}) {
    row.push_back(common::strCat(v));
  }
}

std::vector<TextTable::Column> withCounterColumns(std::vector<TextTable::Column> columns) {
  columns.insert(columns.end(), kTrafficColumns.begin(), kTrafficColumns.end());
  columns.insert(columns.end(), kDropColumns.begin(), kDropColumns.end());
  return columns;
}

}  // namespace

TextTable::TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}

void TextTable::addRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

std::string TextTable::render() const {
  std::vector<size_t> widths(columns_.size());
  for (size_t i = 0; i < columns_.size(); ++i) {
    widths[i] = columns_[i].title.size();
    for (const auto& row : rows_) widths[i] = std::max(widths[i], row[i].size());
  }
  auto line = [&](const auto& cellAt) {
    std::string out;
    for (size_t i = 0; i < columns_.size(); ++i) {
      const std::string& cell = cellAt(i);
      std::string pad(widths[i] - cell.size(), ' ');
      if (i > 0) out += "   ";
      out += columns_[i].right ? pad + cell : cell + pad;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line([&](size_t i) -> const std::string& { return columns_[i].title; });
  for (const auto& row : rows_) {
    out += line([&](size_t i) -> const std::string& { return row[i]; });
  }
  return out;
}

std::string renderHealth(const grpc::health::v1::HealthCheckResponse& response) {
  return common::strCat(
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()), "\n");
}

absl::StatusOr<std::string> renderNetworks(const dp::ListNetworksResponse& response) {
  TextTable table({{.title = "NAME"},
                   {.title = "MODE"},
                   {.title = "MTU", .right = true},
                   {.title = "UPLINK"},
                   {.title = "LINK"},
                   {.title = "PORTS", .right = true},
                   {.title = "UP"},
                   {.title = "RX-PKTS", .right = true},
                   {.title = "TX-PKTS", .right = true},
                   {.title = "DROPS", .right = true}});
  for (const dp::Network& n : response.networks()) {
    absl::StatusOr<std::string> mode = networkModeCell(n);
    if (!mode.ok()) return mode.status();
    const bool has_uplink = n.has_uplink();
    const dp::Counters& c = n.uplink().counters();
    table.addRow({n.name(), *mode, numberOrDash(n.mtu()),
                  has_uplink ? orDash(n.uplink().device()) : "-",
                  has_uplink ? linkText(n.uplink()) : "-", common::strCat(n.port_count()),
                  yesNo(n.up()), has_uplink ? common::strCat(c.rx_packets()) : "-",
                  has_uplink ? common::strCat(c.tx_packets()) : "-",
                  has_uplink ? common::strCat(totalDrops(c)) : "-"});
  }
  return table.render();
}

absl::StatusOr<std::string> renderPorts(const dp::ListPortsResponse& response) {
  TextTable table({{.title = "ID"},
                   {.title = "NETWORK"},
                   {.title = "POD"},
                   {.title = "MODE"},
                   {.title = "SOCKET"},
                   {.title = "MAC"},
                   {.title = "IPS"},
                   {.title = "QUEUES", .right = true},
                   {.title = "CONNECTED"},
                   {.title = "RX-PKTS", .right = true},
                   {.title = "TX-PKTS", .right = true},
                   {.title = "DROPS", .right = true}});
  for (const dp::Port& p : response.ports()) {
    absl::StatusOr<std::string> mode = vhostModeCell(p);
    if (!mode.ok()) return mode.status();
    table.addRow(
        {p.id(), p.network(), podText(p), *mode, p.socket_path(), orDash(p.mac()), joined(p.ips()),
         numberOrDash(p.queues()), yesNo(p.connected()), common::strCat(p.counters().rx_packets()),
         common::strCat(p.counters().tx_packets()), common::strCat(totalDrops(p.counters()))});
  }
  return table.render();
}

absl::StatusOr<std::string> renderPortDetail(const dp::Port& p) {
  absl::StatusOr<std::string> mode = vhostModeCell(p);
  if (!mode.ok()) return mode.status();
  const dp::Counters& c = p.counters();
  const std::vector<std::pair<std::string, std::string>> fields = {
      {"ID", p.id()},
      {"Network", p.network()},
      {"Pod", podText(p)},
      {"Socket", p.socket_path()},
      {"Vhost mode", *mode},
      {"Socket owner", orDash(p.socket_permissions().owner())},
      {"Socket mode", orDash(p.socket_permissions().mode())},
      {"MAC", orDash(p.mac())},
      {"IPs", joined(p.ips())},
      {"Queues", numberOrDash(p.queues())},
      {"MTU", numberOrDash(p.mtu())},
      {"Connected", yesNo(p.connected())},
      {"Worker lcore", common::strCat(p.worker_lcore())},
      {"RX", common::strCat(c.rx_packets(), " packets, ", c.rx_bytes(), " bytes")},
      {"TX", common::strCat(c.tx_packets(), " packets, ", c.tx_bytes(), " bytes")},
      {"Drops",
       common::strCat("no-route=", c.drop_no_route(), " spoofed=", c.drop_spoofed(),
                      " tx-full=", c.drop_tx_full(), " not-connected=", c.drop_not_connected(),
                      " mac-table-full=", c.drop_mac_table_full(), " other=", c.drop_other())},
  };
  size_t width = 0;
  for (const auto& [name, value] : fields) width = std::max(width, name.size());
  std::string out;
  for (const auto& [name, value] : fields) {
    out +=
        common::strCat(name, ":", std::string(width - name.size() + 2, ' '), orDash(value), "\n");
  }
  return out;
}

std::string renderDeleted(const std::string& id, const dp::DeletePortResponse& response) {
  return response.existed() ? common::strCat("port \"", id, "\" deleted\n")
                            : common::strCat("port \"", id, "\" did not exist\n");
}

std::string renderStats(const dp::GetStatsResponse& response) {
  TextTable ports(withCounterColumns(
      {{.title = "ID"}, {.title = "NETWORK"}, {.title = "LCORE", .right = true}}));
  for (const dp::Port& p : response.ports()) {
    std::vector<std::string> row = {p.id(), p.network(), common::strCat(p.worker_lcore())};
    appendCounterCells(p.counters(), row);
    ports.addRow(std::move(row));
  }

  TextTable networks(withCounterColumns({{.title = "NETWORK"}, {.title = "UPLINK"}}));
  TextTable xstats({{.title = "NETWORK"}, {.title = "XSTAT"}, {.title = "VALUE", .right = true}});
  bool any_xstat = false;
  for (const dp::Network& n : response.networks()) {
    std::vector<std::string> row = {n.name(), n.has_uplink() ? orDash(n.uplink().device()) : "-"};
    if (n.has_uplink()) {
      appendCounterCells(n.uplink().counters(), row);
    } else {
      row.resize(row.size() + kTrafficColumns.size() + kDropColumns.size(), "-");
    }
    networks.addRow(std::move(row));
    // Protobuf maps iterate in no particular order; sort for a stable table.
    std::vector<std::pair<std::string, uint64_t>> sorted(n.uplink().xstats().begin(),
                                                         n.uplink().xstats().end());
    std::sort(sorted.begin(), sorted.end());
    for (const auto& [name, value] : sorted) {
      xstats.addRow({n.name(), name, common::strCat(value)});
      any_xstat = true;
    }
  }

  TextTable workers({{.title = "LCORE", .right = true},
                     {.title = "PORTS", .right = true},
                     {.title = "RX-PKTS", .right = true},
                     {.title = "TX-PKTS", .right = true},
                     {.title = "BUSY-CYCLES", .right = true},
                     {.title = "TOTAL-CYCLES", .right = true},
                     {.title = "BUSY", .right = true}});
  for (const dp::WorkerStats& w : response.workers()) {
    workers.addRow({common::strCat(w.lcore()), common::strCat(w.port_count()),
                    common::strCat(w.rx_packets()), common::strCat(w.tx_packets()),
                    common::strCat(w.busy_cycles()), common::strCat(w.total_cycles()),
                    busyRatio(w)});
  }

  std::string out =
      common::strCat("Ports:\n", ports.render(), "\nNetworks (uplinks):\n", networks.render());
  if (any_xstat) out += common::strCat("\nUplink extended statistics:\n", xstats.render());
  out += common::strCat("\nWorkers:\n", workers.render());
  return out;
}

absl::StatusOr<std::string> renderJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = false;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        common::strCat("cannot render ", message.GetTypeName(), " as JSON: ", status.ToString()));
  }
  if (!json.ends_with("\n")) json += "\n";
  return json;
}

}  // namespace enadpdk::vhostuser
