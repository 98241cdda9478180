#include "cni/dataplane.h"

#include "dataplane_client/convert.h"
#include "dataplane_client/dataplane_client.h"

namespace enadpdk::cni {
namespace {

namespace dp = dataplane::v1;
using dataplane_client::DataplaneClient;

// The CNI's Dataplane interface over the shared client (dataplane_client/): the plugin code
// still reads the proto messages, so the library types are mapped back at this edge.
class GrpcDataplane final : public Dataplane {
 public:
  GrpcDataplane(const std::filesystem::path& socket, std::chrono::milliseconds timeout,
                std::shared_ptr<spdlog::logger> logger)
      : client_(DataplaneClient::forSocket(socket, timeout, std::move(logger))) {}

  absl::Status health() override { return client_.health(); }

  absl::StatusOr<std::vector<dp::Network>> listNetworks() override {
    auto networks = client_.listNetworks();
    if (!networks.ok()) return networks.status();
    std::vector<dp::Network> out;
    out.reserve(networks->size());
    for (const auto& network : *networks) {
      out.push_back(dataplane_client::networkInfoToProto(network));
    }
    return out;
  }

  absl::StatusOr<dp::Port> addPort(const dp::Port& port) override {
    auto added = client_.addPort(dataplane_client::portSpecFromProto(port));
    if (!added.ok()) return added.status();
    return dataplane_client::portInfoToProto(*added);
  }

  absl::StatusOr<bool> deletePort(const std::string& id, const std::string& uid) override {
    return client_.deletePort(id, uid);
  }

  absl::StatusOr<dp::Port> getPort(const std::string& id) override {
    auto port = client_.getPort(id);
    if (!port.ok()) return port.status();
    return dataplane_client::portInfoToProto(*port);
  }

  absl::StatusOr<std::vector<dp::Port>> listPorts(const std::string& network) override {
    auto ports = client_.listPorts(network);
    if (!ports.ok()) return ports.status();
    std::vector<dp::Port> out;
    out.reserve(ports->size());
    for (const auto& port : *ports) out.push_back(dataplane_client::portInfoToProto(port));
    return out;
  }

 private:
  DataplaneClient client_;
};

}  // namespace

std::unique_ptr<Dataplane> makeGrpcDataplane(const std::filesystem::path& socket,
                                             std::chrono::milliseconds timeout,
                                             std::shared_ptr<spdlog::logger> logger) {
  return std::make_unique<GrpcDataplane>(socket, timeout, std::move(logger));
}

bool isTransient(const absl::Status& status) { return dataplane_client::isTransient(status); }

}  // namespace enadpdk::cni
