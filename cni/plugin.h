#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cni/attachment_store.h"
#include "cni/dataplane.h"
#include "cni/delegate.h"
#include "cni/netconf.h"
#include "nlohmann/json.hpp"

namespace enadpdk::cni {

// Default limit on one run of the IPAM plugin.
inline constexpr std::chrono::milliseconds kDefaultDelegateTimeout{60000};

// Makes the dataplane client for a configuration (the seam tests replace).
using DataplaneFactory =
    std::function<std::unique_ptr<Dataplane>(const NetConf&, std::shared_ptr<spdlog::logger>)>;

// The gRPC client on conf.dataplaneSocket with conf.dataplaneTimeoutMs.
std::unique_ptr<Dataplane> grpcDataplaneFor(const NetConf& conf,
                                            std::shared_ptr<spdlog::logger> logger);

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
// (docs/cni.md describes each). Every command that changes something is atomic: ADD undoes what
// it did when a later step fails; DEL never fails because something is already gone or the
// dataplane is down (it records the port as a pending delete, cni/records.h). Errors are
// absl::Status values carrying their CNI code (cni/errors.h). Not thread-safe; one per process.
class CniPlugin {
 public:
  // `dataplane` may be null in pci mode (it is never called there).
  CniPlugin(NetConf conf, Invocation invocation, std::unique_ptr<Dataplane> dataplane,
            DelegateRunner ipam, std::shared_ptr<spdlog::logger> logger);

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
  // ADD in each mode, after the common checks.
  absl::StatusOr<nlohmann::json> addVhostUser();
  absl::StatusOr<nlohmann::json> addPci();
  // The dataplane network of this attachment: "network", or the one its device ID names.
  absl::StatusOr<std::string> resolveNetwork(const std::string& deviceId) const;
  // The configuration handed to the IPAM plugin: as received, with ipam.network set to `network`
  // when the IPAM section names none.
  nlohmann::json ipamConfig(const std::string& network) const;
  // The networks to run the IPAM plugin's GC or STATUS for: the configured one (ipam.network or
  // "network"), else each of `candidates` (the networks the device IDs named).
  std::vector<std::string> ipamNetworks(const std::set<std::string>& candidates) const;
  // Deletes the dataplane port and the slot files of `record` (DEL, GC). A port that cannot be
  // deleted is recorded as a pending delete; fails only when that record cannot be written.
  absl::Status teardownVhostUser(const AttachmentRecord& record);
  // Deletes pending ports of this dataplane accepted by `wanted`; stops at the first transient
  // dataplane error. Problems are logged, never returned (it is clean-up on someone's behalf).
  // Returns how many records it finished.
  unsigned finishPendingDeletes(
      const std::function<bool(const common::PendingPortDelete&)>& wanted);
  // After an AddPort that failed with `error`: when the port may exist anyway (a timeout), records
  // it as a pending delete of incarnation `uid` and tries that delete once at once; the record
  // stays unless the port was found and deleted. Problems are logged.
  void settlePortInDoubt(const std::string& id, const std::string& uid, const std::string& network,
                         const absl::Status& error);
  // The record of this attachment as ADD would write it.
  AttachmentRecord newRecord() const;
  // Checks the dedicated device (pci mode); returns its canonical PCI address.
  absl::StatusOr<std::string> checkDedicatedDevice() const;

  NetConf conf_;
  Invocation inv_;
  std::unique_ptr<Dataplane> dataplane_;
  DelegateRunner ipam_;
  std::shared_ptr<spdlog::logger> log_;
  AttachmentStore store_;
};

// Runs the command named by CNI_COMMAND in `environment.env` on the network configuration
// `stdinConfig`: prints the result (ADD) or the spec's error JSON on `out` and returns the exit
// status (0 on success, 1 on error). Logs go to stderr (`err` is not used for logs; spdlog writes
// to the process's stderr) and to the configuration's logFile.
int runCommand(const std::string& stdinConfig, const PluginEnvironment& environment,
               std::ostream& out);

}  // namespace enadpdk::cni
