#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cni/attachment.h"
#include "cni/attachment_store.h"
#include "cni/delegate.h"
#include "cni/netconf.h"
#include "cni/skel.h"
#include "dataplane_client/dataplane_client.h"
#include "nlohmann/json.hpp"

namespace enadpdk::cni {

// Default limit on one run of the IPAM plugin.
inline constexpr std::chrono::milliseconds kDefaultDelegateTimeout{60000};

// Makes the dataplane client for a configuration (the seam tests replace).
using DataplaneFactory = std::function<std::unique_ptr<dataplane_client::DataplaneClient>(
    const NetConf&, std::shared_ptr<spdlog::logger>)>;

// The shared client (dataplane_client/) on conf.dataplaneSocket with conf.dataplaneTimeoutMs:
// every call has that deadline and fails fast when nothing listens; creating it does not connect.
std::unique_ptr<dataplane_client::DataplaneClient> grpcDataplaneFor(
    const NetConf& conf, std::shared_ptr<spdlog::logger> logger);

// What the plugin takes from its surroundings.
struct PluginEnvironment {
  // The process environment: the CNI_* parameters, and what the IPAM plugin inherits.
  std::map<std::string, std::string> env{};
  // How to reach the dataplane.
  DataplaneFactory dataplane = grpcDataplaneFor;
  // Limit on one run of the IPAM plugin.
  std::chrono::milliseconds delegateTimeout = kDefaultDelegateTimeout;
};

// One invocation of ena-dpdk-cni: ADD, DEL, CHECK, GC or STATUS for one network configuration
// (docs/cni.md describes each), one file per command (cni/add.cc, del.cc, check.cc, gc.cc,
// status.cc) over the attachment of the configured mode (cni/attachment.h). Every command that
// changes something is atomic: ADD undoes what it did when a later step fails; DEL never fails
// because something is already gone or the dataplane is down (it records the port as a pending
// delete, cni/records.h). Errors are absl::Status values carrying their CNI code
// (cni/errors.h). Not thread-safe; one per process.
class CniPlugin {
 public:
  // `dataplane` may be null in pci mode (it is never called there).
  CniPlugin(NetConf conf, Invocation invocation,
            std::unique_ptr<dataplane_client::DataplaneClient> dataplane, DelegateRunner ipam,
            std::shared_ptr<spdlog::logger> logger);
  ~CniPlugin();
  CniPlugin(const CniPlugin&) = delete;
  CniPlugin& operator=(const CniPlugin&) = delete;

  // ADD: returns the result, rendered in the configuration's cniVersion, extending prevResult.
  absl::StatusOr<nlohmann::json> add();
  // DEL.
  absl::Status del();
  // CHECK (cniVersion ≥ 0.4.0): the attachment still matches prevResult.
  absl::Status check();
  // GC (cniVersion ≥ 1.1.0): removes what belongs to attachments not in the valid list.
  absl::Status gc();
  // STATUS (cniVersion ≥ 1.1.0): OK when the dataplane (and the IPAM plugin) can take ADDs;
  // otherwise CNI code 50 (or the IPAM plugin's).
  absl::Status status();

 private:
  // The configuration handed to the IPAM plugin: as received, with ipam.network set to `network`
  // when the IPAM section names none.
  nlohmann::json ipamConfig(const std::string& network) const;
  // The networks to run the IPAM plugin's GC or STATUS for: the configured one (ipam.network or
  // "network"), else each of `candidates` (the networks the device IDs named).
  std::vector<std::string> ipamNetworks(const std::set<std::string>& candidates) const;
  // The record of this attachment as ADD would write it, without the mode's fields.
  AttachmentRecord newRecord() const;

  NetConf conf_;
  Invocation inv_;
  std::unique_ptr<dataplane_client::DataplaneClient> dataplane_;
  DelegateRunner ipam_;
  std::shared_ptr<spdlog::logger> log_;
  AttachmentStore store_;
  // The mode's steps, over the members above.
  std::unique_ptr<Attachment> attachment_;
};

// ena-dpdk-cni's command handlers for the skeleton (cni/skel.h): ADD, DEL, CHECK, GC and STATUS.
// Each parses the network configuration of its request and the CNI_* variables of
// `environment.env`, checks the node path policy, builds the plugin and runs its command; it
// prints the result (ADD) or the spec's error JSON on `out` and returns the exit status (0 on
// success, 1 on error). Logs go to stderr (spdlog writes to the process's stderr) and to the
// configuration's logFile.
std::map<std::string, CommandHandler> commandHandlers(const PluginEnvironment& environment);

}  // namespace enadpdk::cni
