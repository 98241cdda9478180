// kubelet-standin against a scripted device plugin: start-up cleaning like a kubelet, dialing
// registered plugins, admission (free Healthy devices, preferred allocation, idempotence,
// exhaustion), PodResources, release, the checkpoint across restarts, and the binary's control
// API and usage errors.

#include "tests/tools/kubelet_standin.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>

#include "common/unix_socket.h"
#include "nlohmann/json.hpp"
#include "podresources/v1/api.grpc.pb.h"
#include "tests/tools/standin_control.h"

namespace enadpdk::testing {
namespace {

namespace fs = std::filesystem;
namespace sv1 = standin::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kResource[] = "example.com/widget";

// A device plugin whose devices, health and preferred allocation the test sets.
class ScriptedPlugin final : public v1beta1::DevicePlugin::Service {
 public:
  void setDevices(std::map<std::string, std::string> health) {
    absl::MutexLock lock(&mu_);
    health_ = std::move(health);
    ++version_;
  }
  // GetPreferredAllocation answers these IDs (empty: the last `size` available ones).
  void setHint(std::vector<std::string> hint) {
    absl::MutexLock lock(&mu_);
    hint_ = std::move(hint);
  }
  std::vector<std::vector<std::string>> allocateCalls() const {
    absl::MutexLock lock(&mu_);
    return allocateCalls_;
  }

  grpc::Status GetDevicePluginOptions(grpc::ServerContext*, const v1beta1::Empty*,
                                      v1beta1::DevicePluginOptions* options) override {
    options->set_get_preferred_allocation_available(true);
    return grpc::Status::OK;
  }

  grpc::Status ListAndWatch(grpc::ServerContext* context, const v1beta1::Empty*,
                            grpc::ServerWriter<v1beta1::ListAndWatchResponse>* writer) override {
    uint64_t sent = 0;
    while (!context->IsCancelled()) {
      v1beta1::ListAndWatchResponse response;
      {
        absl::MutexLock lock(&mu_);
        auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return version_ != sent || stopped_;
        };
        if (!mu_.AwaitWithTimeout(absl::Condition(&changed), absl::Milliseconds(100))) continue;
        if (stopped_) break;
        sent = version_;
        for (const auto& [id, health] : health_) {
          v1beta1::Device* device = response.add_devices();
          device->set_id(id);
          device->set_health(health);
          device->mutable_topology()->add_nodes()->set_id(0);
        }
      }
      if (!writer->Write(response)) break;
    }
    return grpc::Status::OK;
  }

  grpc::Status GetPreferredAllocation(grpc::ServerContext*,
                                      const v1beta1::PreferredAllocationRequest* request,
                                      v1beta1::PreferredAllocationResponse* response) override {
    absl::MutexLock lock(&mu_);
    for (const auto& container : request->container_requests()) {
      auto* out = response->add_container_responses();
      if (!hint_.empty()) {
        for (const std::string& id : hint_) out->add_deviceids(id);
        continue;
      }
      const auto& available = container.available_deviceids();
      for (int i = available.size() - container.allocation_size(); i < available.size(); ++i) {
        out->add_deviceids(available[i]);
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status Allocate(grpc::ServerContext*, const v1beta1::AllocateRequest* request,
                        v1beta1::AllocateResponse* response) override {
    absl::MutexLock lock(&mu_);
    for (const auto& container : request->container_requests()) {
      std::vector<std::string> ids(container.devices_ids().begin(), container.devices_ids().end());
      allocateCalls_.push_back(ids);
      auto* out = response->add_container_responses();
      std::string joined;
      for (const std::string& id : ids) joined += joined.empty() ? id : "," + id;
      (*out->mutable_envs())["WIDGETS"] = joined;
      auto* mount = out->add_mounts();
      mount->set_container_path("/widgets");
      mount->set_host_path("/var/run/widgets/" + ids.front());
    }
    return grpc::Status::OK;
  }

  void stop() {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> health_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> hint_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<std::string>> allocateCalls_ ABSL_GUARDED_BY(mu_);
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

class KubeletStandinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "ena-dpdk-standin-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    deviceDir_ = root_ / "var/lib/kubelet/device-plugins";
    fs::create_directories(deviceDir_);
    logger_ = std::make_shared<spdlog::logger>("kubelet-standin-test");
    logger_->set_level(spdlog::level::off);
  }

  void TearDown() override {
    stopPlugin();
    standin_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  void startStandin() {
    absl::StatusOr<std::unique_ptr<KubeletStandin>> standin = KubeletStandin::start(
        {.root = common::HostRoot(root_.string()), .connectTimeout = std::chrono::seconds(2)},
        logger_);
    ASSERT_TRUE(standin.ok()) << standin.status();
    standin_ = *std::move(standin);
  }

  // Serves the plugin on <deviceDir>/widget.sock and registers it at kubelet.sock.
  void startAndRegisterPlugin() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(common::grpcUnixTarget(deviceDir_ / "widget.sock"),
                             grpc::InsecureServerCredentials());
    builder.RegisterService(plugin_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    auto stub = v1beta1::Registration::NewStub(grpc::CreateChannel(
        common::grpcUnixTarget(deviceDir_ / "kubelet.sock"), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1beta1::RegisterRequest request;
    request.set_version("v1beta1");
    request.set_endpoint("widget.sock");
    request.set_resource_name(kResource);
    request.mutable_options()->set_get_preferred_allocation_available(true);
    v1beta1::Empty empty;
    grpc::Status status = stub->Register(&context, request, &empty);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  void stopPlugin() {
    if (!server_) return;
    plugin_->stop();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
    server_.reset();
    // A gRPC service object serves one server in its life: the next start gets a new plugin.
    plugin_ = std::make_unique<ScriptedPlugin>();
  }

  // Waits until the resource is listed with `devices` devices on an open stream.
  sv1::Resource waitForResource(std::size_t devices, unsigned registrations = 1) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    sv1::Resource last;
    while (std::chrono::steady_clock::now() < deadline) {
      const sv1::ListResourcesResponse listed = standin_->listResources();
      for (const sv1::Resource& r : listed.resources()) {
        if (r.name() != kResource) continue;
        last = r;
        if (r.streaming() && static_cast<std::size_t>(r.devices_size()) == devices &&
            r.registrations() == registrations) {
          return r;
        }
      }
      absl::SleepFor(absl::Milliseconds(10));  // polling a condition with a deadline
    }
    ADD_FAILURE() << "resource not listed as expected; last: " << last.DebugString();
    return last;
  }

  // The first listed resource (a copy: the answer is a temporary).
  sv1::Resource firstResource() {
    const sv1::ListResourcesResponse listed = standin_->listResources();
    return listed.resources_size() > 0 ? listed.resources(0) : sv1::Resource();
  }

  absl::StatusOr<sv1::Allocation> allocate(const std::string& pod, int count) {
    sv1::AllocateRequest request;
    request.set_pod(pod);
    request.set_resource(kResource);
    request.set_count(count);
    return standin_->allocate(request);
  }

  // The PodResources answer as pod -> device IDs.
  std::map<std::string, std::vector<std::string>> podResources() {
    auto stub = v1::PodResourcesLister::NewStub(grpc::CreateChannel(
        common::grpcUnixTarget(root_ / "var/lib/kubelet/pod-resources/kubelet.sock"),
        grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListPodResourcesResponse response;
    grpc::Status status = stub->List(&context, v1::ListPodResourcesRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& pod : response.pod_resources()) {
      for (const auto& container : pod.containers()) {
        for (const auto& devices : container.devices()) {
          EXPECT_EQ(devices.resource_name(), kResource);
          for (const auto& id : devices.device_ids()) out[pod.name()].push_back(id);
        }
      }
    }
    return out;
  }

  fs::path root_;
  fs::path deviceDir_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<ScriptedPlugin> plugin_ = std::make_unique<ScriptedPlugin>();
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<KubeletStandin> standin_;
};

bool isSocket(const fs::path& p) {
  std::error_code ec;
  return fs::is_socket(fs::symlink_status(p, ec));
}

// A listening-less Unix socket file, like one a dead plugin leaves behind.
void makeStaleSocket(const fs::path& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);
}

TEST_F(KubeletStandinTest, StartDeletesSocketsLikeAKubeletAndKeepsOtherFiles) {
  makeStaleSocket(deviceDir_ / "old-plugin.sock");
  std::ofstream(deviceDir_ / "kubelet_internal_checkpoint") << "{}";
  fs::create_directories(deviceDir_ / "subdir");
  startStandin();
  EXPECT_FALSE(fs::exists(deviceDir_ / "old-plugin.sock"));
  EXPECT_TRUE(fs::exists(deviceDir_ / "kubelet_internal_checkpoint"));
  EXPECT_TRUE(fs::is_directory(deviceDir_ / "subdir"));
  EXPECT_TRUE(isSocket(deviceDir_ / "kubelet.sock"));
  EXPECT_TRUE(isSocket(root_ / "var/lib/kubelet/pod-resources/kubelet.sock"));
}

TEST_F(KubeletStandinTest, DialsARegisteredPluginAndFollowsItsDeviceList) {
  startStandin();
  plugin_->setDevices({{"w0", "Healthy"}, {"w1", "Healthy"}});
  startAndRegisterPlugin();
  sv1::Resource resource = waitForResource(2);
  EXPECT_EQ(resource.endpoint(), "widget.sock");
  EXPECT_EQ(resource.free(), 2u);
  EXPECT_THAT(resource.devices(0).numa_nodes(), ElementsAre(0));

  plugin_->setDevices({{"w0", "Healthy"}, {"w1", "Unhealthy"}, {"w2", "Healthy"}});
  resource = waitForResource(3);
  EXPECT_EQ(resource.free(), 2u);

  stopPlugin();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline && firstResource().streaming()) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  resource = firstResource();
  EXPECT_FALSE(resource.streaming());
  for (const auto& device : resource.devices()) EXPECT_EQ(device.health(), "Unhealthy");
  EXPECT_EQ(resource.free(), 0u);
}

TEST_F(KubeletStandinTest, AllocatesFreeHealthyDevicesAsThePluginPrefers) {
  startStandin();
  plugin_->setDevices(
      {{"w0", "Healthy"}, {"w1", "Unhealthy"}, {"w2", "Healthy"}, {"w3", "Healthy"}});
  startAndRegisterPlugin();
  waitForResource(4);

  // The hint is the last `size` available devices: w2, w3 (w1 is unhealthy).
  absl::StatusOr<sv1::Allocation> a = allocate("pod-a", 2);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->device_ids(), ElementsAre("w2", "w3"));
  EXPECT_EQ(a->container(), "app");
  EXPECT_EQ(a->response().envs().at("WIDGETS"), "w2,w3");
  EXPECT_EQ(a->response().mounts(0).host_path(), "/var/run/widgets/w2");

  // Repeating the request returns the recorded allocation without calling the plugin again.
  absl::StatusOr<sv1::Allocation> again = allocate("pod-a", 2);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(again->device_ids(), ElementsAre("w2", "w3"));
  EXPECT_EQ(plugin_->allocateCalls().size(), 1u);

  // A hint naming a held device is ignored: the first free one is taken.
  plugin_->setHint({"w2"});
  absl::StatusOr<sv1::Allocation> b = allocate("pod-b", 1);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(b->device_ids(), ElementsAre("w0"));

  absl::StatusOr<sv1::Allocation> c = allocate("pod-c", 1);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted) << c.status();
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("1 requested, 0 free"));

  EXPECT_THAT(podResources(),
              UnorderedElementsAre(
                  std::pair<const std::string, std::vector<std::string>>("pod-a", {"w2", "w3"}),
                  std::pair<const std::string, std::vector<std::string>>("pod-b", {"w0"})));
  const sv1::Resource resource = firstResource();
  std::map<std::string, std::string> holders;
  for (const auto& device : resource.devices()) holders[device.id()] = device.pod();
  EXPECT_EQ(holders, (std::map<std::string, std::string>{
                         {"w0", "pod-b"}, {"w1", ""}, {"w2", "pod-a"}, {"w3", "pod-a"}}));

  // Release frees the devices and drops the pod from PodResources.
  absl::StatusOr<sv1::ReleaseResponse> released = standin_->release("pod-a");
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(released->released_size(), 1);
  EXPECT_EQ(podResources().count("pod-a"), 0u);
  EXPECT_EQ(standin_->release("pod-a").status().code(), absl::StatusCode::kNotFound);
  plugin_->setHint({});
  absl::StatusOr<sv1::Allocation> d = allocate("pod-d", 2);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->device_ids(), ElementsAre("w2", "w3"));
}

TEST_F(KubeletStandinTest, RefusesBadRequestsAndUnknownResources) {
  startStandin();
  EXPECT_EQ(allocate("pod-a", 1).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(allocate("", 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(allocate("pod-a", 0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(KubeletStandinTest, AllocationsSurviveARestartAndPluginsRegisterAgain) {
  startStandin();
  plugin_->setDevices({{"w0", "Healthy"}, {"w1", "Healthy"}});
  startAndRegisterPlugin();
  waitForResource(2);
  ASSERT_TRUE(allocate("pod-a", 1).ok());
  EXPECT_EQ(fs::status(standin_->checkpointPath()).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  standin_.reset();
  stopPlugin();
  makeStaleSocket(deviceDir_ / "widget.sock");
  startStandin();
  // The plugin's socket is gone, as a restarting kubelet leaves it.
  EXPECT_FALSE(fs::exists(deviceDir_ / "widget.sock"));
  EXPECT_EQ(standin_->listResources().allocations_size(), 1);
  EXPECT_THAT(podResources()["pod-a"], ElementsAre("w1"));

  // The plugin serves and registers again: the held device stays held.
  plugin_->setDevices({{"w0", "Healthy"}, {"w1", "Healthy"}});
  startAndRegisterPlugin();
  const sv1::Resource resource = waitForResource(2);
  EXPECT_EQ(resource.free(), 1u);
  absl::StatusOr<sv1::Allocation> b = allocate("pod-b", 1);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(b->device_ids(), ElementsAre("w0"));
}

TEST_F(KubeletStandinTest, MalformedCheckpointFailsTheStartNamingTheFile) {
  std::ofstream(deviceDir_ / kStandinCheckpointName) << "{not json";
  absl::StatusOr<std::unique_ptr<KubeletStandin>> standin =
      KubeletStandin::start({.root = common::HostRoot(root_.string())}, logger_);
  ASSERT_FALSE(standin.ok());
  EXPECT_THAT(std::string(standin.status().message()), HasSubstr(kStandinCheckpointName));
}

// ---- the binary

struct BinaryRun {
  int exitCode = -1;
  std::string out{};
  std::string err{};
};

BinaryRun runBinary(const std::vector<std::string>& args) {
  const fs::path out = fs::temp_directory_path() / ("standin-out-" + std::to_string(::getpid()));
  const fs::path err = fs::temp_directory_path() / ("standin-err-" + std::to_string(::getpid()));
  std::string command = KUBELET_STANDIN_BINARY;
  for (const std::string& arg : args) command += " '" + arg + "'";
  command += " >" + out.string() + " 2>" + err.string();
  const int status = std::system(command.c_str());
  BinaryRun run;
  run.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream o(out), e(err);
  run.out.assign(std::istreambuf_iterator<char>(o), {});
  run.err.assign(std::istreambuf_iterator<char>(e), {});
  fs::remove(out);
  fs::remove(err);
  return run;
}

TEST_F(KubeletStandinTest, BinaryAllocatesThroughTheControlSocket) {
  const fs::path control = root_ / "control.sock";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl(KUBELET_STANDIN_BINARY, KUBELET_STANDIN_BINARY, "--root", root_.c_str(),
            "--control-socket", control.c_str(), "--log-level", "off", "serve", nullptr);
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline &&
         !(isSocket(control) && isSocket(deviceDir_ / "kubelet.sock"))) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  plugin_->setDevices({{"w0", "Healthy"}});
  startAndRegisterPlugin();
  StandinControlClient client(control, std::chrono::seconds(5));
  bool listed = false;
  while (std::chrono::steady_clock::now() < deadline && !listed) {
    absl::StatusOr<sv1::ListResourcesResponse> resources = client.listResources();
    listed = resources.ok() && resources->resources_size() == 1 &&
             resources->resources(0).devices_size() == 1;
    if (!listed) absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(listed);
  EXPECT_EQ(fs::status(control).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  BinaryRun run = runBinary(
      {"--control-socket", control.string(), "allocate", kResource, "1", "--pod", "pod-a"});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  nlohmann::json allocation = nlohmann::json::parse(run.out, nullptr, false);
  ASSERT_FALSE(allocation.is_discarded()) << run.out;
  EXPECT_EQ(allocation["deviceIds"], nlohmann::json::array({"w0"}));
  EXPECT_EQ(allocation["response"]["envs"]["WIDGETS"], "w0");
  EXPECT_EQ(allocation["response"]["mounts"][0]["hostPath"], "/var/run/widgets/w0");

  run = runBinary(
      {"--control-socket", control.string(), "allocate", kResource, "1", "--pod", "pod-b"});
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(run.err,
            "kubelet-standin: RESOURCE_EXHAUSTED: resource example.com/widget: 1 "
            "requested, 0 free\n");
  EXPECT_EQ(run.out, "");

  run = runBinary({"--control-socket", control.string(), "resources"});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  nlohmann::json resources = nlohmann::json::parse(run.out, nullptr, false);
  ASSERT_FALSE(resources.is_discarded()) << run.out;
  EXPECT_EQ(resources["resources"][0]["devices"][0]["pod"], "pod-a");
  EXPECT_EQ(resources["allocations"].size(), 1u);

  run = runBinary({"--control-socket", control.string(), "release", "--pod", "pod-a"});
  EXPECT_EQ(run.exitCode, 0) << run.err;

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_FALSE(fs::exists(control));
  EXPECT_FALSE(fs::exists(deviceDir_ / "kubelet.sock"));

  run = runBinary({"--control-socket", control.string(), "resources"});
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_THAT(run.err,
              HasSubstr("kubelet-standin: UNAVAILABLE: kubelet-standin at " + control.string()));
}

TEST(KubeletStandinCliTest, UsageErrorsExit2WithOneLine) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "missing COMMAND"},
      {{"frobnicate"}, "unknown command \"frobnicate\""},
      {{"allocate", "example.com/widget"}, "allocate: expected RESOURCE COUNT"},
      {{"allocate", "example.com/widget", "0", "--pod", "p"}, "COUNT must be a positive integer"},
      {{"allocate", "example.com/widget", "1"}, "allocate: --pod is required"},
      {{"release"}, "release: --pod is required"},
      {{"resources", "--pod", "p"}, "--pod does not apply to resources"},
      {{"resources", "--timeout", "0"}, "--timeout: expected seconds"},
      {{"resources", "extra"}, "resources: unexpected argument \"extra\""},
      {{"--bogus"}, "--bogus"},
  };
  for (const auto& [args, expected] : cases) {
    BinaryRun run = runBinary(args);
    EXPECT_EQ(run.exitCode, 2) << ::testing::PrintToString(args);
    EXPECT_THAT(run.err, HasSubstr(expected)) << ::testing::PrintToString(args);
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  }
}

}  // namespace
}  // namespace enadpdk::testing
