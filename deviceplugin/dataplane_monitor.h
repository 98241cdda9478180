#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "dataplane_client/dataplane_client.h"

namespace enadpdk::deviceplugin {

// Asks the dataplane (ListNetworks through the shared client, dataplane_client/) which networks
// are up. The dataplane is optional: when it cannot be reached the answer is
// "unknown", so that a dataplane restart does not flap the attachments; an answer the client
// cannot read (a network mode this build does not know) is refused, never guessed at. Keeps one
// channel whose reconnection backoff is capped at one second, so that a restarted dataplane is seen
// again quickly. Thread-safe.
class DataplaneMonitor {
 public:
  // `socket` is the control socket's path as the plugin sees it (under --root); `timeout`
  // bounds one call.
  DataplaneMonitor(const std::filesystem::path& socket, std::chrono::milliseconds timeout);
  ~DataplaneMonitor();

  // Whether each network is up (Network.up), by name; the call's error when it fails: UNAVAILABLE
  // or DEADLINE_EXCEEDED while the dataplane is down or restarting (dataplane_client::isTransient),
  // UNKNOWN when it answered what the client cannot read (dataplane_client/convert.h).
  absl::StatusOr<std::map<std::string, bool>> networksUp();

  // The socket this monitor asks.
  const std::filesystem::path& socket() const { return socket_; }

 private:
  const std::filesystem::path socket_;
  const std::chrono::milliseconds timeout_;
  dataplane_client::DataplaneClient client_;
};

}  // namespace enadpdk::deviceplugin
