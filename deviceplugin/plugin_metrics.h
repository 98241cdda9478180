#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace enadpdk::deviceplugin {

// The device plugin's Prometheus metrics (all prefixed ena_dpdk_deviceplugin_):
//   build_info{version,revision}              gauge   always 1
//   devices{resource,health}                  gauge   devices listed, by health
//   allocations_total{resource,result}        counter Allocate calls, result ok|error
//   registrations_total{resource,result}      counter Register calls to the kubelet
//   config_reloads_total{result}              counter reloads, result ok|error
//   errors_total{kind}                        counter scan|server|gc|dataplane|... failures
//   dataplane_reachable                       gauge   1 when the dataplane answered last time
//   health_scans_total                        counter completed health-loop scans
//   network_free_leases{network}              gauge   attachments the network's IPAM can still
//                                                     give an address (one of each family)
//   network_leases{network}                   gauge   leases the network's IPAM holds
//   resource_registered{resource}             gauge   1 while registered with the kubelet's
//                                                     current socket (its /healthz says the same)
// Thread-safe; every method takes an internal mutex briefly.
class PluginMetrics {
 public:
  // Records the device counts of a resource.
  void setDevices(const std::string& resource, std::size_t healthy, std::size_t unhealthy);
  // Forgets a resource's device gauges (it is no longer served).
  void removeResource(const std::string& resource);
  // Counts an Allocate call.
  void countAllocation(const std::string& resource, bool ok);
  // Counts a Register call.
  void countRegistration(const std::string& resource, bool ok);
  // Counts a configuration reload.
  void countReload(bool ok);
  // Counts a failure of `kind`.
  void countError(std::string_view kind);
  // Records whether the dataplane answered.
  void setDataplaneReachable(bool reachable);
  // Counts a completed health scan (all pools refreshed).
  void countHealthScan();
  // Records the IPAM view of each network whose addresses are known (others are forgotten).
  void setNetworkAddresses(
      const std::map<std::string, std::pair<std::uint64_t, std::uint64_t>>& freeAndLeased);

  // Records which served resources are registered with the kubelet's current socket (others
  // are forgotten).
  void setRegistered(const std::map<std::string, bool>& registered);

  // The number of registrations of `resource` with the given result so far.
  std::uint64_t registrations(const std::string& resource, bool ok = true) const;
  // The number of reloads with the given result so far.
  std::uint64_t reloads(bool ok) const;
  // The number of errors of `kind` so far.
  std::uint64_t errors(std::string_view kind) const;
  // The number of completed health scans so far.
  std::uint64_t healthScans() const;
  // Whether the dataplane answered the last health query.
  bool dataplaneReachable() const;

  // The Prometheus text exposition.
  std::string render() const;

 private:
  using Key = std::pair<std::string, std::string>;
  mutable absl::Mutex mu_;
  std::map<std::string, std::pair<std::size_t, std::size_t>> devices_ ABSL_GUARDED_BY(mu_);
  std::map<Key, std::uint64_t> allocations_ ABSL_GUARDED_BY(mu_);
  std::map<Key, std::uint64_t> registrations_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::uint64_t> reloads_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::uint64_t, std::less<>> errors_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, bool> registered_ ABSL_GUARDED_BY(mu_);
  bool dataplaneReachable_ ABSL_GUARDED_BY(mu_) = false;
  std::uint64_t healthScans_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> networkAddresses_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace enadpdk::deviceplugin
