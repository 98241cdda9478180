#pragma once

#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "absl/status/statusor.h"
#include "enadpdk/dataplane/v1/dataplane.pb.h"
#include "grpc/health/v1/health.pb.h"

namespace enadpdk::vhostuser {

// Human-readable renderings of the control API's answers for ena-dpdk-ctl (`-o table`), and the
// JSON rendering (`-o json`). Pure functions of their input; no I/O.

// A text table: a header row and left-aligned (or right-aligned) columns separated by three
// spaces, no trailing blanks, one line per row.
class TextTable {
 public:
  // One column: its header and whether its cells are right-aligned (numbers).
  struct Column {
    // Header text, upper case by convention ("RX-PKTS").
    std::string title{};
    // Right-align the cells (and the header) of this column.
    bool right = false;
  };

  explicit TextTable(std::vector<Column> columns);

  // Appends a row of one cell per column (missing cells are left blank, extra ones dropped).
  void addRow(std::vector<std::string> cells);

  // The header and every row, each ending with "\n".
  std::string render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// "SERVING", "NOT_SERVING", ... and a newline.
std::string renderHealth(const grpc::health::v1::HealthCheckResponse& response);

// The renderers that show a network or vhost mode read it as every client of the dataplane does
// (dataplane_client/convert.h): a mode that is unspecified, or that this build does not know,
// fails the rendering with UNKNOWN naming the network or port and the value, e.g.
// 'network "eni1": unknown mode 7 from the dataplane (this client knows: vpc, l2)'.

// `networks`: NAME MODE MTU UPLINK LINK PORTS UP RX-PKTS TX-PKTS DROPS; the counters are the
// uplink's ("-" for a node-local network).
absl::StatusOr<std::string> renderNetworks(const dataplane::v1::ListNetworksResponse& response);

// `ports`: ID NETWORK POD MODE SOCKET MAC IPS QUEUES CONNECTED RX-PKTS TX-PKTS DROPS (POD is
// "namespace/name", "-" when unknown; DROPS is the sum of every drop reason).
absl::StatusOr<std::string> renderPorts(const dataplane::v1::ListPortsResponse& response);

// `port get` / `port add`: every field of one port, one "Field:  value" line each.
absl::StatusOr<std::string> renderPortDetail(const dataplane::v1::Port& port);

// `port del`: whether the port existed.
std::string renderDeleted(const std::string& id, const dataplane::v1::DeletePortResponse& response);

// `stats`: per-port, per-network (uplink) and per-worker counters with drops by reason, the
// uplinks' extended statistics, and each worker's busy ratio (busy_cycles / total_cycles).
std::string renderStats(const dataplane::v1::GetStatsResponse& response);

// The message as indented JSON (protobuf's canonical mapping: lowerCamelCase field names, enum
// value names, 64-bit integers as strings, fields at their default value included) plus a newline.
// Internal error when protobuf refuses (it does not for our messages).
absl::StatusOr<std::string> renderJson(const google::protobuf::Message& message);

}  // namespace enadpdk::vhostuser
