#include "tests/tools/kubelet_standin.h"

#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>
#include <system_error>

#include "common/atomic_file.h"
#include "common/logging.h"
#include "common/strings.h"

namespace enadpdk::testing {
namespace {

namespace fs = std::filesystem;
namespace sv1 = standin::v1;
using common::strCat;
using common::toStd;

constexpr char kHealthy[] = "Healthy";
constexpr char kUnhealthy[] = "Unhealthy";
// How long the watcher waits for a registration before it looks at stopping_ again.
constexpr auto kWatchTick = std::chrono::milliseconds(100);

// A starting kubelet deletes every socket in the device-plugin directory (not directories, not
// its checkpoint), which is how plugins learn that they must register again.
absl::Status removeSockets(const fs::path& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      fs::remove(it->path(), ec);
      if (ec) break;
    }
  }
  if (ec) return absl::InternalError(strCat("cannot clean ", dir.string(), ": ", ec.message()));
  return absl::OkStatus();
}

std::string joined(const google::protobuf::RepeatedPtrField<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) out += out.empty() ? id : strCat(",", id);
  return out;
}

}  // namespace

KubeletStandin::KubeletStandin(StandinOptions options, std::shared_ptr<spdlog::logger> logger)
    : options_(std::move(options)),
      logger_(std::move(logger)),
      deviceDir_(options_.root.path(kKubeletDevicePluginDir)) {}

absl::StatusOr<std::unique_ptr<KubeletStandin>> KubeletStandin::start(
    StandinOptions options, std::shared_ptr<spdlog::logger> logger) {
  std::unique_ptr<KubeletStandin> standin(
      new KubeletStandin(std::move(options), std::move(logger)));
  if (absl::Status status = common::makeDirectories(standin->deviceDir_, 0750); !status.ok()) {
    return status;
  }
  {
    absl::MutexLock lock(&standin->allocMu_);
    if (absl::Status status = standin->loadCheckpoint(); !status.ok()) return status;
  }
  if (absl::Status status = removeSockets(standin->deviceDir_); !status.ok()) return status;
  absl::StatusOr<std::unique_ptr<FakePodResources>> podResources =
      FakePodResources::start(standin->options_.root.path(kKubeletPodResourcesSocket));
  if (!podResources.ok()) return podResources.status();
  standin->podResources_ = *std::move(podResources);
  {
    absl::MutexLock lock(&standin->allocMu_);
    standin->publishPodResources();
  }
  absl::StatusOr<std::unique_ptr<FakeKubelet>> kubelet = FakeKubelet::start(standin->deviceDir_);
  if (!kubelet.ok()) return kubelet.status();
  standin->kubelet_ = *std::move(kubelet);
  standin->watcher_ = std::thread([s = standin.get()] { s->watchRegistrations(); });
  standin->logger_->info("serving registration={} pod_resources={} allocations={}",
                         standin->kubelet_->socketPath().string(),
                         standin->options_.root.path(kKubeletPodResourcesSocket).string(),
                         standin->listResources().allocations_size());
  return standin;
}

KubeletStandin::~KubeletStandin() {
  stopping_ = true;
  if (watcher_.joinable()) watcher_.join();
  {
    absl::MutexLock lock(&mu_);
    resources_.clear();
  }
  kubelet_.reset();
  podResources_.reset();
}

absl::Status KubeletStandin::loadCheckpoint() {
  const fs::path path = checkpointPath();
  absl::StatusOr<std::string> text = common::readFile(path);
  if (absl::IsNotFound(text.status())) return absl::OkStatus();
  if (!text.ok()) return text.status();
  sv1::Checkpoint checkpoint;
  if (auto status = google::protobuf::util::JsonStringToMessage(*text, &checkpoint); !status.ok()) {
    return absl::InvalidArgumentError(
        strCat(path.string(), ": not a kubelet-standin checkpoint: ", status.ToString()));
  }
  allocations_.assign(checkpoint.allocations().begin(), checkpoint.allocations().end());
  return absl::OkStatus();
}

absl::Status KubeletStandin::saveCheckpoint() const {
  sv1::Checkpoint checkpoint;
  for (const sv1::Allocation& allocation : allocations_) *checkpoint.add_allocations() = allocation;
  std::string text;
  google::protobuf::util::JsonPrintOptions json;
  json.add_whitespace = true;
  if (auto status = google::protobuf::util::MessageToJsonString(checkpoint, &text, json);
      !status.ok()) {
    return absl::InternalError(strCat("cannot encode the checkpoint: ", status.ToString()));
  }
  return common::writeFileAtomic(checkpointPath(), text, 0600);
}

void KubeletStandin::publishPodResources() {
  std::vector<PodDevices> pods;
  for (const sv1::Allocation& allocation : allocations_) {
    pods.push_back({.pod = allocation.pod(),
                    .podNamespace = "default",
                    .container = allocation.container(),
                    .resourceName = allocation.resource(),
                    .deviceIds = {allocation.device_ids().begin(), allocation.device_ids().end()}});
  }
  podResources_->setPods(std::move(pods));
}

void KubeletStandin::watchRegistrations() {
  std::size_t seen = 0;
  while (!stopping_) {
    if (!kubelet_->waitForRegistrations(seen + 1, kWatchTick)) continue;
    const std::vector<PluginRegistration> registrations = kubelet_->registrations();
    for (; seen < registrations.size() && !stopping_; ++seen) connect(registrations[seen]);
  }
}

void KubeletStandin::connect(const PluginRegistration& registration) {
  std::shared_ptr<DevicePluginClient> previous;
  {
    absl::MutexLock lock(&mu_);
    ResourceState& state = resources_[registration.resourceName];
    state.registration = registration;
    ++state.registrations;
    // The kubelet drops the old connection when a resource registers again.
    previous = std::move(state.client);
  }
  previous.reset();
  const fs::path endpoint = kubelet_->endpointPath(registration.endpoint);
  absl::StatusOr<std::unique_ptr<DevicePluginClient>> client =
      DevicePluginClient::connect(endpoint, options_.connectTimeout);
  absl::Status status = client.status();
  if (status.ok()) status = (*client)->options().status();
  if (status.ok()) status = (*client)->startListAndWatch();
  if (!status.ok()) {
    logger_->warn("cannot use plugin resource={} endpoint={} error={}", registration.resourceName,
                  endpoint.string(), common::logValue(toStd(status.message())));
    return;
  }
  logger_->info("registered resource={} endpoint={} preferred_allocation={}",
                registration.resourceName, registration.endpoint,
                registration.preferredAllocationAvailable);
  // The single watcher thread dials registrations in order, so this is still the latest one.
  absl::MutexLock lock(&mu_);
  resources_[registration.resourceName].client = *std::move(client);
}

std::map<std::string, std::string> KubeletStandin::holders(const std::string& resource) const {
  std::map<std::string, std::string> out;
  for (const sv1::Allocation& allocation : allocations_) {
    if (allocation.resource() != resource) continue;
    for (const std::string& id : allocation.device_ids()) out[id] = allocation.pod();
  }
  return out;
}

absl::StatusOr<sv1::Allocation> KubeletStandin::allocate(const sv1::AllocateRequest& request) {
  if (request.pod().empty()) return absl::InvalidArgumentError("pod: must not be empty");
  if (request.resource().empty()) return absl::InvalidArgumentError("resource: must not be empty");
  if (request.count() < 1) {
    return absl::InvalidArgumentError(strCat("count: must be at least 1, got ", request.count()));
  }
  const std::string container =
      request.container().empty() ? std::string(kDefaultContainer) : request.container();

  absl::MutexLock allocLock(&allocMu_);
  for (const sv1::Allocation& allocation : allocations_) {
    if (allocation.pod() == request.pod() && allocation.container() == container &&
        allocation.resource() == request.resource()) {
      return allocation;
    }
  }
  std::shared_ptr<DevicePluginClient> client;
  bool preferred = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = resources_.find(request.resource());
    if (it != resources_.end()) {
      client = it->second.client;
      preferred = it->second.registration.preferredAllocationAvailable;
    }
  }
  if (!client) {
    return absl::FailedPreconditionError(
        strCat("resource ", request.resource(), " is not registered"));
  }
  absl::StatusOr<std::vector<v1beta1::Device>> devices =
      client->waitForDevices([](const auto&) { return true; }, options_.firstListTimeout);
  if (!devices.ok() || client->streamEnded()) {
    return absl::FailedPreconditionError(
        strCat("resource ", request.resource(), " has no open ListAndWatch stream"));
  }
  const std::map<std::string, std::string> held = holders(request.resource());
  std::vector<std::string> available;
  for (const v1beta1::Device& device : *devices) {
    if (device.health() == kHealthy && !held.contains(device.id()))
      available.push_back(device.id());
  }
  std::sort(available.begin(), available.end());
  const auto count = static_cast<std::size_t>(request.count());
  if (available.size() < count) {
    return absl::ResourceExhaustedError(strCat("resource ", request.resource(), ": ", count,
                                               " requested, ", available.size(), " free"));
  }
  std::vector<std::string> chosen(available.begin(), available.begin() + count);
  if (preferred) {
    absl::StatusOr<std::vector<std::string>> hint =
        client->preferredAllocation(available, {}, request.count());
    if (!hint.ok()) return hint.status();
    const std::set<std::string> free(available.begin(), available.end());
    const std::set<std::string> unique(hint->begin(), hint->end());
    const bool valid =
        hint->size() == count && unique.size() == count &&
        std::all_of(hint->begin(), hint->end(), [&](const auto& id) { return free.contains(id); });
    // The kubelet ignores a hint it cannot use; so does the stand-in, but it says so.
    if (valid) {
      chosen = *hint;
    } else {
      logger_->warn("ignoring preferred allocation resource={} hint_size={}", request.resource(),
                    hint->size());
    }
  }
  absl::StatusOr<v1beta1::ContainerAllocateResponse> response = client->allocate(chosen);
  if (!response.ok()) return response.status();

  sv1::Allocation allocation;
  allocation.set_pod(request.pod());
  allocation.set_container(container);
  allocation.set_resource(request.resource());
  for (const std::string& id : chosen) allocation.add_device_ids(id);
  *allocation.mutable_response() = *std::move(response);
  allocations_.push_back(allocation);
  if (absl::Status status = saveCheckpoint(); !status.ok()) {
    allocations_.pop_back();
    return status;
  }
  publishPodResources();
  logger_->info("allocated pod={} container={} resource={} devices={}", allocation.pod(),
                allocation.container(), allocation.resource(), joined(allocation.device_ids()));
  return allocation;
}

absl::StatusOr<sv1::ReleaseResponse> KubeletStandin::release(const std::string& pod) {
  absl::MutexLock allocLock(&allocMu_);
  sv1::ReleaseResponse response;
  std::vector<sv1::Allocation> kept;
  for (const sv1::Allocation& allocation : allocations_) {
    if (allocation.pod() == pod) {
      *response.add_released() = allocation;
    } else {
      kept.push_back(allocation);
    }
  }
  if (response.released().empty())
    return absl::NotFoundError(strCat("pod ", pod, " holds no devices"));
  allocations_.swap(kept);
  if (absl::Status status = saveCheckpoint(); !status.ok()) {
    allocations_.swap(kept);
    return status;
  }
  publishPodResources();
  logger_->info("released pod={} allocations={}", pod, response.released_size());
  return response;
}

sv1::ListResourcesResponse KubeletStandin::listResources() const {
  sv1::ListResourcesResponse response;
  absl::MutexLock allocLock(&allocMu_);
  for (const sv1::Allocation& allocation : allocations_) *response.add_allocations() = allocation;
  absl::MutexLock lock(&mu_);
  for (const auto& [name, state] : resources_) {
    sv1::Resource* resource = response.add_resources();
    resource->set_name(name);
    resource->set_endpoint(state.registration.endpoint);
    resource->set_registrations(state.registrations);
    const bool streaming = state.client && !state.client->streamEnded();
    resource->set_streaming(streaming);
    if (!state.client) continue;
    resource->set_updates(static_cast<uint32_t>(state.client->updates()));
    const std::map<std::string, std::string> held = holders(name);
    uint32_t free = 0;
    for (const v1beta1::Device& device :
         state.client->latest().value_or(std::vector<v1beta1::Device>{})) {
      sv1::ResourceDevice* out = resource->add_devices();
      out->set_id(device.id());
      out->set_health(streaming ? device.health() : kUnhealthy);
      for (const v1beta1::NUMANode& node : device.topology().nodes()) {
        out->add_numa_nodes(node.id());
      }
      auto holder = held.find(device.id());
      if (holder != held.end()) out->set_pod(holder->second);
      if (out->health() == kHealthy && holder == held.end()) ++free;
    }
    resource->set_free(free);
  }
  return response;
}

}  // namespace enadpdk::testing
