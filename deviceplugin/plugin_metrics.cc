#include "deviceplugin/plugin_metrics.h"

#include "common/metrics.h"
#include "common/version.h"

namespace enadpdk::deviceplugin {
namespace {

const char* result(bool ok) { return ok ? "ok" : "error"; }

}  // namespace

void PluginMetrics::setDevices(const std::string& resource, std::size_t healthy,
                               std::size_t unhealthy) {
  absl::MutexLock lock(&mu_);
  devices_[resource] = {healthy, unhealthy};
}

void PluginMetrics::removeResource(const std::string& resource) {
  absl::MutexLock lock(&mu_);
  devices_.erase(resource);
}

void PluginMetrics::countAllocation(const std::string& resource, bool ok) {
  absl::MutexLock lock(&mu_);
  ++allocations_[{resource, result(ok)}];
}

void PluginMetrics::countRegistration(const std::string& resource, bool ok) {
  absl::MutexLock lock(&mu_);
  ++registrations_[{resource, result(ok)}];
}

void PluginMetrics::countReload(bool ok) {
  absl::MutexLock lock(&mu_);
  ++reloads_[result(ok)];
}

void PluginMetrics::countError(std::string_view kind) {
  absl::MutexLock lock(&mu_);
  auto it = errors_.find(kind);
  if (it == errors_.end()) it = errors_.emplace(std::string(kind), 0).first;
  ++it->second;
}

void PluginMetrics::setDataplaneReachable(bool reachable) {
  absl::MutexLock lock(&mu_);
  dataplaneReachable_ = reachable;
}

void PluginMetrics::countHealthScan() {
  absl::MutexLock lock(&mu_);
  ++healthScans_;
}

std::uint64_t PluginMetrics::healthScans() const {
  absl::MutexLock lock(&mu_);
  return healthScans_;
}

bool PluginMetrics::dataplaneReachable() const {
  absl::MutexLock lock(&mu_);
  return dataplaneReachable_;
}

std::uint64_t PluginMetrics::registrations(const std::string& resource, bool ok) const {
  absl::MutexLock lock(&mu_);
  auto it = registrations_.find({resource, result(ok)});
  return it == registrations_.end() ? 0 : it->second;
}

std::uint64_t PluginMetrics::reloads(bool ok) const {
  absl::MutexLock lock(&mu_);
  auto it = reloads_.find(result(ok));
  return it == reloads_.end() ? 0 : it->second;
}

std::uint64_t PluginMetrics::errors(std::string_view kind) const {
  absl::MutexLock lock(&mu_);
  auto it = errors_.find(kind);
  return it == errors_.end() ? 0 : it->second;
}

void PluginMetrics::setNetworkAddresses(
    const std::map<std::string, std::pair<std::uint64_t, std::uint64_t>>& freeAndLeased) {
  absl::MutexLock lock(&mu_);
  networkAddresses_ = freeAndLeased;
}

void PluginMetrics::setRegistered(const std::map<std::string, bool>& registered) {
  absl::MutexLock lock(&mu_);
  registered_ = registered;
}

std::string PluginMetrics::render() const {
  absl::MutexLock lock(&mu_);
  common::PrometheusWriter w;
  w.gauge("ena_dpdk_deviceplugin_build_info",
          "Always 1; the labels name the device plugin's version and git revision.",
          {{"version", common::kVersion}, {"revision", common::kGitRevision}}, 1);
  for (const auto& [resource, counts] : devices_) {
    w.gauge("ena_dpdk_deviceplugin_devices", "Devices listed to the kubelet, by health.",
            {{"resource", resource}, {"health", "Healthy"}}, static_cast<double>(counts.first));
    w.gauge("ena_dpdk_deviceplugin_devices", "Devices listed to the kubelet, by health.",
            {{"resource", resource}, {"health", "Unhealthy"}}, static_cast<double>(counts.second));
  }
  for (const auto& [key, value] : allocations_) {
    w.counter("ena_dpdk_deviceplugin_allocations_total", "Allocate calls, by result.",
              {{"resource", key.first}, {"result", key.second}}, value);
  }
  for (const auto& [key, value] : registrations_) {
    w.counter("ena_dpdk_deviceplugin_registrations_total",
              "Registrations with the kubelet, by result.",
              {{"resource", key.first}, {"result", key.second}}, value);
  }
  for (const auto& [resource, registered] : registered_) {
    w.gauge("ena_dpdk_deviceplugin_resource_registered",
            "1 while the resource is registered with the kubelet's current socket.",
            {{"resource", resource}}, registered ? 1 : 0);
  }
  for (const auto& [key, value] : reloads_) {
    w.counter("ena_dpdk_deviceplugin_config_reloads_total", "Configuration reloads, by result.",
              {{"result", key}}, value);
  }
  for (const auto& [kind, value] : errors_) {
    w.counter("ena_dpdk_deviceplugin_errors_total", "Failures, by kind.", {{"kind", kind}}, value);
  }
  w.gauge("ena_dpdk_deviceplugin_dataplane_reachable",
          "1 when the dataplane answered the last health query.", {}, dataplaneReachable_ ? 1 : 0);
  w.counter("ena_dpdk_deviceplugin_health_scans_total", "Completed health-loop scans.", {},
            healthScans_);
  for (const auto& [network, counts] : networkAddresses_) {
    w.gauge("ena_dpdk_deviceplugin_network_free_leases",
            "Attachments the network's IPAM can still give addresses to.", {{"network", network}},
            static_cast<double>(counts.first));
  }
  for (const auto& [network, counts] : networkAddresses_) {
    w.gauge("ena_dpdk_deviceplugin_network_leases", "Leases the network's IPAM holds.",
            {{"network", network}}, static_cast<double>(counts.second));
  }
  return w.text();
}

}  // namespace enadpdk::deviceplugin
