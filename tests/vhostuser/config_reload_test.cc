// Config reload without DPDK: every key of the "dataplane" section classified (planReload), the
// file watcher on plain files and on a ConfigMap-style `..data` link, and the reloader with a fake
// switch and real metrics endpoints: applied, refused and failed reloads change what they should
// and nothing else, the metrics endpoint moves (or stays when the new address cannot be bound).
#include "vhostuser/config_reload.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "spdlog/sinks/ostream_sink.h"

namespace enadpdk::vhostuser {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// ---- planReload: every key

DataplaneConfig baseConfig() {
  return DataplaneConfig{
      .eal = {"-l", "0,1"},
      .workers = {1},
      .controlSocket = "/run/ena-dpdk/dataplane.sock",
      .stateFile = "/var/lib/ena-dpdk/state.json",
      .cniStateDir = "/var/lib/ena-dpdk/cni",
      .metricsAddress = "127.0.0.1:9640",
      .allowedSocketDirs = {"/var/run/ena-dpdk/vhost"},
      .socket = {.owner = "", .mode = 0660},
      .mbufs = 16384,
      .burstSize = 32,
      .txDrainMicroseconds = 0,
      .macAgingSeconds = 300,
      .maxPorts = 128,
      .networks = {NetworkConfig{.name = "eni1",
                                 .mode = NetworkMode::Vpc,
                                 .uplink = UplinkConfig{.device = "0000:00:06.0",
                                                        .queues = 2,
                                                        .devargs = {{"large_llq_hdr", "1"}}},
                                 .mtu = 9001},
                   NetworkConfig{.name = "local", .mode = NetworkMode::L2}}};
}

NetworkConfig& network(DataplaneConfig& c, const std::string& name) {
  return *std::find_if(c.networks.begin(), c.networks.end(),
                       [&](const NetworkConfig& n) { return n.name == name; });
}

struct PlanCase {
  std::string description;
  std::function<void(DataplaneConfig&)> change;
  std::vector<std::string> restart;  // keys, each "changed" unless the key says otherwise
  std::vector<std::string> live;
};

std::vector<RestartChange> changed(const std::vector<std::string>& keys) {
  std::vector<RestartChange> out;
  for (const std::string& key : keys) out.push_back({.key = key});
  return out;
}

class PlanReloadTest : public ::testing::TestWithParam<PlanCase> {};

TEST_P(PlanReloadTest, ClassifiesTheChange) {
  const DataplaneConfig running = baseConfig();
  DataplaneConfig next = running;
  GetParam().change(next);
  const ReloadPlan plan = planReload(running, next);
  EXPECT_EQ(plan.restart, changed(GetParam().restart));
  EXPECT_EQ(plan.live, GetParam().live);
  EXPECT_EQ(plan.changed(), !GetParam().restart.empty() || !GetParam().live.empty());
}

const PlanCase kPlanCases[] = {
    {"nothing", [](DataplaneConfig&) {}, {}, {}},
    {"eal", [](DataplaneConfig& c) { c.eal.push_back("--no-telemetry"); }, {"dataplane.eal"}, {}},
    {"workers", [](DataplaneConfig& c) { c.workers = {2}; }, {"dataplane.workers"}, {}},
    {"controlSocket",
     [](DataplaneConfig& c) { c.controlSocket = "/run/other.sock"; },
     {"dataplane.controlSocket"},
     {}},
    {"stateFile",
     [](DataplaneConfig& c) { c.stateFile = "/var/lib/other.json"; },
     {"dataplane.stateFile"},
     {}},
    {"cniStateDir",
     [](DataplaneConfig& c) { c.cniStateDir = "/var/lib/other"; },
     {},
     {"dataplane.cniStateDir"}},
    {"metricsAddress",
     [](DataplaneConfig& c) { c.metricsAddress = "0.0.0.0:9650"; },
     {},
     {"dataplane.metricsAddress"}},
    {"allowedSocketDirs",
     [](DataplaneConfig& c) { c.allowedSocketDirs.push_back("/var/run/x"); },
     {},
     {"dataplane.allowedSocketDirs"}},
    {"socket.owner",
     [](DataplaneConfig& c) { c.socket.owner = "1000:1000"; },
     {},
     {"dataplane.socket.owner"}},
    {"socket.mode",
     [](DataplaneConfig& c) { c.socket.mode = 0600; },
     {},
     {"dataplane.socket.mode"}},
    {"mbufs", [](DataplaneConfig& c) { c.mbufs = 32768; }, {"dataplane.mbufs"}, {}},
    {"burstSize", [](DataplaneConfig& c) { c.burstSize = 16; }, {"dataplane.burstSize"}, {}},
    {"txDrainMicroseconds",
     [](DataplaneConfig& c) { c.txDrainMicroseconds = 100; },
     {"dataplane.txDrainMicroseconds"},
     {}},
    {"macAgingSeconds",
     [](DataplaneConfig& c) { c.macAgingSeconds = 30; },
     {},
     {"dataplane.macAgingSeconds"}},
    {"maxPorts", [](DataplaneConfig& c) { c.maxPorts = 200; }, {}, {"dataplane.maxPorts"}},
    {"network added without uplink",
     [](DataplaneConfig& c) { c.networks.push_back({.name = "more", .mode = NetworkMode::L2}); },
     {},
     {"dataplane.networks[more]"}},
    {"network added with a vdev uplink",
     [](DataplaneConfig& c) {
       c.networks.push_back({.name = "more",
                             .mode = NetworkMode::Vpc,
                             .uplink = UplinkConfig{.device = "net_af_packet1,iface=veth1"}});
     },
     {},
     {"dataplane.networks[more]"}},
    {"networks reordered",
     [](DataplaneConfig& c) { std::swap(c.networks[0], c.networks[1]); },
     {},
     {}},
    {"network.mode",
     [](DataplaneConfig& c) { network(c, "local").mode = NetworkMode::Vpc; },
     {"dataplane.networks[local].mode"},
     {}},
    {"network.mtu",
     [](DataplaneConfig& c) { network(c, "eni1").mtu = 1500; },
     {"dataplane.networks[eni1].mtu"},
     {}},
    {"network.mac",
     [](DataplaneConfig& c) { network(c, "eni1").mac = "02:00:00:00:00:01"; },
     {"dataplane.networks[eni1].mac"},
     {}},
    {"network.uplink added",
     [](DataplaneConfig& c) { network(c, "local").uplink = UplinkConfig{.device = "net_tap0"}; },
     {"dataplane.networks[local].uplink"},
     {}},
    {"network.uplink removed",
     [](DataplaneConfig& c) { network(c, "eni1").uplink.reset(); },
     {"dataplane.networks[eni1].uplink"},
     {}},
    {"network.uplink.device",
     [](DataplaneConfig& c) { network(c, "eni1").uplink->device = "0000:00:07.0"; },
     {"dataplane.networks[eni1].uplink.device"},
     {}},
    {"network.uplink.queues",
     [](DataplaneConfig& c) { network(c, "eni1").uplink->queues = 4; },
     {"dataplane.networks[eni1].uplink.queues"},
     {}},
    {"network.uplink.rxDescriptors",
     [](DataplaneConfig& c) { network(c, "eni1").uplink->rxDescriptors = 512; },
     {"dataplane.networks[eni1].uplink.rxDescriptors"},
     {}},
    {"network.uplink.txDescriptors",
     [](DataplaneConfig& c) { network(c, "eni1").uplink->txDescriptors = 512; },
     {"dataplane.networks[eni1].uplink.txDescriptors"},
     {}},
    {"network.uplink.devargs",
     [](DataplaneConfig& c) { network(c, "eni1").uplink->devargs.clear(); },
     {"dataplane.networks[eni1].uplink.devargs"},
     {}},
    {"several at once: each named, live ones listed too",
     [](DataplaneConfig& c) {
       c.workers = {1, 2};
       c.mbufs = 8192;
       c.macAgingSeconds = 60;
       network(c, "eni1").mtu = 1500;
     },
     {"dataplane.workers", "dataplane.mbufs", "dataplane.networks[eni1].mtu"},
     {"dataplane.macAgingSeconds"}},
};

INSTANTIATE_TEST_SUITE_P(EveryKey, PlanReloadTest, ::testing::ValuesIn(kPlanCases),
                         [](const ::testing::TestParamInfo<PlanCase>& param) {
                           std::string name;
                           for (char c : param.param.description) {
                             name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           }
                           return name;
                         });

TEST(PlanReload, ARemovedNetworkIsNamedAsRemoved) {
  const DataplaneConfig running = baseConfig();
  DataplaneConfig next = running;
  next.networks.pop_back();
  EXPECT_THAT(planReload(running, next).restart,
              ElementsAre(RestartChange{.key = "dataplane.networks[local]", .what = "removed"}));
}

TEST(PlanReload, ANetworkAddedWithAPciUplinkNeedsARestart) {
  const DataplaneConfig running = baseConfig();
  DataplaneConfig next = running;
  next.networks.push_back(
      {.name = "eni2", .mode = NetworkMode::Vpc, .uplink = UplinkConfig{.device = "0000:00:07.0"}});
  const ReloadPlan plan = planReload(running, next);
  ASSERT_EQ(plan.restart.size(), 1u);
  EXPECT_EQ(plan.restart[0].key, "dataplane.networks[eni2]");
  EXPECT_THAT(refusalLine(plan.restart[0]),
              HasSubstr("config reload: dataplane.networks[eni2] added with a PCI uplink, which "
                        "is attached only at start"));
  EXPECT_THAT(plan.live, IsEmpty());
}

TEST(PlanReload, ARenamedNetworkIsARemovalAndAnAddition) {
  const DataplaneConfig running = baseConfig();
  DataplaneConfig next = running;
  network(next, "local").name = "local2";
  const ReloadPlan plan = planReload(running, next);
  EXPECT_THAT(plan.restart,
              ElementsAre(RestartChange{.key = "dataplane.networks[local]", .what = "removed"}));
  EXPECT_THAT(plan.live, ElementsAre("dataplane.networks[local2]"));
}

TEST(PlanReload, TheRefusalLineSaysWhatToDo) {
  EXPECT_EQ(refusalLine({.key = "dataplane.workers"}),
            "config reload: dataplane.workers changed; restart the dataplane to apply it");
}

// ---- ConfigWatcher

class TempDir {
 public:
  TempDir() {
    static int n = 0;
    path_ = fs::temp_directory_path() /
            ("config-reload-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Writes `text` to `path` as a new file renamed into place (as editors and kubectl cp do).
void replaceFile(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  std::ofstream(tmp) << text;
  fs::rename(tmp, path);
}

TEST(ConfigWatcher, SeesARenamedFileOnceItHasStayedTheSameForOnePoll) {
  TempDir dir;
  const fs::path file = dir.path() / "config.json";
  replaceFile(file, "{}");
  ConfigWatcher watcher(file);
  EXPECT_FALSE(watcher.poll()) << "nothing changed";
  replaceFile(file, "{\"dataplane\": {}}");
  EXPECT_FALSE(watcher.poll()) << "a change waits for one more poll";
  EXPECT_TRUE(watcher.poll()) << "unchanged since: reported";
  EXPECT_FALSE(watcher.poll()) << "reported once";
}

TEST(ConfigWatcher, WaitsWhileTheFileKeepsChanging) {
  TempDir dir;
  const fs::path file = dir.path() / "config.json";
  replaceFile(file, "{}");
  ConfigWatcher watcher(file);
  replaceFile(file, "{\"a\": 1}");
  EXPECT_FALSE(watcher.poll());
  replaceFile(file, "{\"a\": 12}");
  EXPECT_FALSE(watcher.poll()) << "changed again since the last poll";
  EXPECT_TRUE(watcher.poll());
}

TEST(ConfigWatcher, SeesAConfigMapUpdateThatSwapsTheDataLink) {
  // The kubelet's layout: config.json -> ..data/config.json, ..data -> ..<timestamp>; an update
  // writes a new timestamped directory and renames a new ..data link over the old one.
  TempDir dir;
  fs::create_directories(dir.path() / "..v1");
  std::ofstream(dir.path() / "..v1" / "config.json") << "{}";
  fs::create_directory_symlink("..v1", dir.path() / "..data");
  fs::create_symlink("..data/config.json", dir.path() / "config.json");
  ConfigWatcher watcher(dir.path() / "config.json");
  EXPECT_FALSE(watcher.poll());
  fs::create_directories(dir.path() / "..v2");
  std::ofstream(dir.path() / "..v2" / "config.json") << "{}";
  fs::create_directory_symlink("..v2", dir.path() / "..data_tmp");
  fs::rename(dir.path() / "..data_tmp", dir.path() / "..data");
  fs::remove_all(dir.path() / "..v1");
  EXPECT_FALSE(watcher.poll());
  EXPECT_TRUE(watcher.poll()) << "the path resolves to another file now";
}

TEST(ConfigWatcher, SeesTheFileGoAndComeBack) {
  TempDir dir;
  const fs::path file = dir.path() / "config.json";
  replaceFile(file, "{}");
  ConfigWatcher watcher(file);
  fs::remove(file);
  EXPECT_FALSE(watcher.poll());
  EXPECT_TRUE(watcher.poll()) << "gone is a change (the reload then fails to read it)";
  replaceFile(file, "{}");
  EXPECT_FALSE(watcher.poll());
  EXPECT_TRUE(watcher.poll());
}

TEST(ConfigWatcher, MarkSeenTakesTheCurrentFileAsSeen) {
  TempDir dir;
  const fs::path file = dir.path() / "config.json";
  replaceFile(file, "{}");
  ConfigWatcher watcher(file);
  replaceFile(file, "{\"a\": 1}");
  EXPECT_FALSE(watcher.poll());
  watcher.markSeen();  // a SIGHUP read it
  EXPECT_FALSE(watcher.poll());
  EXPECT_FALSE(watcher.poll());
}

// ---- ConfigReloader with a fake switch

// A TCP port nobody listens on at the moment.
int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The body of GET /metrics on 127.0.0.1:`port`; empty when nothing answers.
std::string scrape(int port, const std::string& host = "127.0.0.1") {
  httplib::Client client(host, port);
  client.set_connection_timeout(2);
  httplib::Result res = client.Get("/metrics");
  return res && res->status == 200 ? res->body : "";
}

class ConfigReloaderTest : public ::testing::Test {
 protected:
  void SetUp() override { start(baseDocument()); }

  // The file the dataplane started with: an l2 network, metrics on a free port.
  nlohmann::json baseDocument() {
    return {{"dataplane",
             {{"workers", nlohmann::json::array({1})},
              {"metricsAddress", "127.0.0.1:0"},
              {"macAgingSeconds", 300},
              {"networks", {{{"name", "local"}, {"mode", "l2"}}}}}}};
  }

  void start(const nlohmann::json& document) {
    write(document);
    ConfigWatcher watcher(file_);
    absl::StatusOr<DataplaneConfig> config = loadDataplaneConfig(file_);
    ASSERT_TRUE(config.ok()) << config.status();
    auto log = std::make_shared<spdlog::logger>(
        "dataplane", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_));
    absl::StatusOr<std::unique_ptr<ConfigReloader>> reloader = ConfigReloader::start(
        *config, std::move(watcher),
        ReloadTargets{.apply =
                          [this](const DataplaneConfig& next) {
                            applied_.push_back(next);
                            return apply_result_;
                          },
                      .render = [] { return std::string("switch_metric 1\n"); },
                      .health = [] { return absl::OkStatus(); },
                      .adjust = adjust_},
        log);
    ASSERT_TRUE(reloader.ok()) << reloader.status();
    reloader_ = *std::move(reloader);
  }

  void write(const nlohmann::json& document) { replaceFile(file_, document.dump(2)); }

  nlohmann::json changedDocument() {
    nlohmann::json d = baseDocument();
    d["dataplane"]["macAgingSeconds"] = 30;
    d["dataplane"]["networks"].push_back({{"name", "more"}, {"mode", "l2"}});
    return d;
  }

  std::string log() const { return log_.str(); }

  TempDir dir_;
  fs::path file_ = dir_.path() / "config.json";
  std::ostringstream log_;
  std::vector<DataplaneConfig> applied_;  // what the fake switch was asked to apply
  absl::Status apply_result_ = absl::OkStatus();
  std::function<void(DataplaneConfig&)> adjust_{};  // ReloadTargets::adjust of the next start()
  std::unique_ptr<ConfigReloader> reloader_;
};

TEST_F(ConfigReloaderTest, ServesTheSwitchMetricsAndTheReloadCounters) {
  const std::string metrics = scrape(reloader_->metricsPort());
  EXPECT_THAT(metrics, HasSubstr("switch_metric 1\n"));
  EXPECT_THAT(metrics, HasSubstr("# TYPE ena_dpdk_dataplane_config_reloads_total counter\n"
                                 "ena_dpdk_dataplane_config_reloads_total{result=\"applied\"} 0\n"
                                 "ena_dpdk_dataplane_config_reloads_total{result=\"refused\"} 0\n"
                                 "ena_dpdk_dataplane_config_reloads_total{result=\"failed\"} 0\n"));
  EXPECT_THAT(metrics, Not(HasSubstr("restart_required")));
}

TEST_F(ConfigReloaderTest, AppliesTheLiveKeysOnSighup) {
  write(changedDocument());
  EXPECT_EQ(reloader_->reload(ReloadTrigger::Signal), ReloadResult::Applied);
  ASSERT_EQ(applied_.size(), 1u);
  EXPECT_EQ(applied_[0].macAgingSeconds, 30u);
  EXPECT_EQ(applied_[0].networks.size(), 2u);
  EXPECT_EQ(reloader_->running(), applied_[0]);
  EXPECT_THAT(log(), HasSubstr("config reload applied trigger=SIGHUP "
                               "changed=dataplane.macAgingSeconds,dataplane.networks[more]"));
  EXPECT_EQ(reloader_->count(ReloadResult::Applied), 1u);
  EXPECT_THAT(scrape(reloader_->metricsPort()),
              HasSubstr("ena_dpdk_dataplane_config_reloads_total{result=\"applied\"} 1\n"));
}

TEST_F(ConfigReloaderTest, ASighupWithoutChangeAppliesNothing) {
  EXPECT_EQ(reloader_->reload(ReloadTrigger::Signal), ReloadResult::Applied);
  EXPECT_THAT(applied_, IsEmpty()) << "the switch is not touched";
  EXPECT_THAT(log(), HasSubstr("config reload applied, nothing changed trigger=SIGHUP"));
}

TEST_F(ConfigReloaderTest, RefusesTheWholeReloadWhenAKeyNeedsARestart) {
  nlohmann::json d = changedDocument();
  d["dataplane"]["workers"] = nlohmann::json::array({2});
  d["dataplane"]["mbufs"] = 8192;
  write(d);
  const DataplaneConfig before = reloader_->running();
  EXPECT_EQ(reloader_->reload(ReloadTrigger::Signal), ReloadResult::Refused);
  EXPECT_THAT(applied_, IsEmpty()) << "not even the live keys";
  EXPECT_EQ(reloader_->running(), before);
  EXPECT_THAT(log(), HasSubstr("config reload: dataplane.workers changed; restart the "
                               "dataplane to apply it\n"));
  EXPECT_THAT(log(), HasSubstr("config reload: dataplane.mbufs changed; restart the dataplane "
                               "to apply it\n"));
  EXPECT_THAT(log(),
              HasSubstr("config reload refused, nothing applied (the running config is unchanged) "
                        "trigger=SIGHUP restart_keys=2 live_keys=2"));
  EXPECT_THAT(reloader_->restartRequired(), ElementsAre(RestartChange{.key = "dataplane.workers"},
                                                        RestartChange{.key = "dataplane.mbufs"}));
  const std::string metrics = scrape(reloader_->metricsPort());
  EXPECT_THAT(metrics,
              HasSubstr("ena_dpdk_dataplane_config_reloads_total{result=\"refused\"} 1\n"));
  EXPECT_THAT(metrics,
              HasSubstr("ena_dpdk_dataplane_config_restart_required{key=\"dataplane.workers\"} 1\n"
                        "ena_dpdk_dataplane_config_restart_required{key=\"dataplane.mbufs\"} 1\n"));

  // Put back, the live part applies and nothing awaits a restart any more.
  write(changedDocument());
  EXPECT_EQ(reloader_->reload(ReloadTrigger::Signal), ReloadResult::Applied);
  EXPECT_THAT(reloader_->restartRequired(), IsEmpty());
  EXPECT_THAT(scrape(reloader_->metricsPort()), Not(HasSubstr("restart_required")));
}

TEST_F(ConfigReloaderTest, AMalformedFileFailsWithTheParseErrorAndChangesNothing) {
  const DataplaneConfig before = reloader_->running();
  replaceFile(file_, "{\"dataplane\": {\"macAgingSeconds\": 30,");
  EXPECT_EQ(reloader_->reload(ReloadTrigger::Signal), ReloadResult::Failed);
  EXPECT_THAT(log(),
              HasSubstr("config reload failed, nothing applied (the running config is unchanged) "
                        "trigger=SIGHUP error=\"" +
                        file_.string() + ": invalid JSON: "));
  nlohmann::json d = changedDocument();
  d["dataplane"]["macAgingSeconds"] = 0;
  write(d);
  EXPECT_EQ(reloader_->reload(ReloadTrigger::Signal), ReloadResult::Failed);
  EXPECT_THAT(log(), HasSubstr(file_.string() + ": dataplane.macAgingSeconds: "));
  fs::remove(file_);
  EXPECT_EQ(reloader_->reload(ReloadTrigger::Signal), ReloadResult::Failed);
  EXPECT_THAT(applied_, IsEmpty());
  EXPECT_EQ(reloader_->running(), before);
  EXPECT_EQ(reloader_->count(ReloadResult::Failed), 3u);
}

TEST_F(ConfigReloaderTest, MovesTheMetricsEndpoint) {
  const int old_port = reloader_->metricsPort();
  const int new_port = freePort();
  nlohmann::json d = baseDocument();
  d["dataplane"]["metricsAddress"] = "127.0.0.1:" + std::to_string(new_port);
  write(d);
  EXPECT_EQ(reloader_->reload(ReloadTrigger::Signal), ReloadResult::Applied);
  EXPECT_EQ(reloader_->metricsPort(), new_port);
  EXPECT_THAT(scrape(new_port), HasSubstr("result=\"applied\"} 1"));
  EXPECT_EQ(scrape(old_port), "") << "the old endpoint stopped";
}

TEST_F(ConfigReloaderTest, TheMetricsAddressFlagWinsOverAReloadedFile) {
  // --metrics-address: dataplane_cli pins the address it started with through adjust, so a
  // ConfigMap that names another metricsAddress never moves the endpoint the chart set.
  reloader_.reset();
  const std::string pinned = "127.0.0.1:" + std::to_string(freePort());
  adjust_ = [pinned](DataplaneConfig& next) { next.metricsAddress = pinned; };
  nlohmann::json started = baseDocument();
  started["dataplane"]["metricsAddress"] = pinned;  // what loadConfig(flags) started with
  start(started);
  const int port = reloader_->metricsPort();
  nlohmann::json moved = changedDocument();
  moved["dataplane"]["metricsAddress"] = "127.0.0.1:" + std::to_string(freePort());
  write(moved);
  EXPECT_EQ(reloader_->reload(ReloadTrigger::Signal), ReloadResult::Applied);
  EXPECT_EQ(reloader_->metricsPort(), port);
  EXPECT_EQ(reloader_->running().metricsAddress, pinned);
  ASSERT_EQ(applied_.size(), 1u);
  EXPECT_EQ(applied_[0].macAgingSeconds, 30u) << "the rest of the file still applies";
  EXPECT_THAT(scrape(port), HasSubstr("result=\"applied\"} 1"));
}

TEST_F(ConfigReloaderTest, MovesTheMetricsEndpointToAnotherHostOnTheSamePort) {
  // The old endpoint holds the port: it must stop before the new one can bind.
  const int port = freePort();
  nlohmann::json d = baseDocument();
  d["dataplane"]["metricsAddress"] = "127.0.0.1:" + std::to_string(port);
  reloader_.reset();
  start(d);
  ASSERT_EQ(reloader_->metricsPort(), port);
  d["dataplane"]["metricsAddress"] = "0.0.0.0:" + std::to_string(port);
  write(d);
  EXPECT_EQ(reloader_->reload(ReloadTrigger::Signal), ReloadResult::Applied);
  EXPECT_EQ(reloader_->running().metricsAddress, "0.0.0.0:" + std::to_string(port));
  EXPECT_THAT(scrape(port), HasSubstr("result=\"applied\"} 1"));
}

TEST_F(ConfigReloaderTest, KeepsTheOldMetricsEndpointWhenTheNewAddressCannotBeBound) {
  const int old_port = reloader_->metricsPort();
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> squatter =
      common::MetricsServer::start("127.0.0.1:0", [] { return std::string(); });
  ASSERT_TRUE(squatter.ok());
  nlohmann::json d = changedDocument();
  d["dataplane"]["metricsAddress"] = "127.0.0.1:" + std::to_string((*squatter)->port());
  write(d);
  EXPECT_EQ(reloader_->reload(ReloadTrigger::Signal), ReloadResult::Failed);
  EXPECT_THAT(log(), HasSubstr("dataplane.metricsAddress: "));
  EXPECT_THAT(log(), HasSubstr("; metrics stay on 127.0.0.1:0"));
  EXPECT_THAT(applied_, IsEmpty()) << "nothing of the reload applied";
  EXPECT_EQ(reloader_->metricsPort(), old_port);
  EXPECT_THAT(scrape(old_port), HasSubstr("result=\"failed\"} 1"));
}

TEST_F(ConfigReloaderTest, PutsTheMetricsEndpointBackWhenTheSwitchFails) {
  const int old_port = reloader_->metricsPort();
  const int new_port = freePort();
  apply_result_ = absl::FailedPreconditionError("dataplane.networks[more].uplink.device: no");
  nlohmann::json d = changedDocument();
  d["dataplane"]["metricsAddress"] = "127.0.0.1:" + std::to_string(new_port);
  write(d);
  EXPECT_EQ(reloader_->reload(ReloadTrigger::Signal), ReloadResult::Failed);
  EXPECT_THAT(log(), HasSubstr("error=\"dataplane.networks[more].uplink.device: no\""));
  EXPECT_EQ(reloader_->metricsPort(), old_port);
  EXPECT_EQ(scrape(new_port), "") << "the new endpoint stopped again";
  EXPECT_THAT(scrape(old_port), HasSubstr("result=\"failed\"} 1"));
  EXPECT_EQ(reloader_->running().macAgingSeconds, 300u);
}

TEST_F(ConfigReloaderTest, ReloadsWhenTheFileChangesAndOnlyWhenItsContentDiffers) {
  EXPECT_EQ(reloader_->poll(), std::nullopt);
  write(changedDocument());
  EXPECT_EQ(reloader_->poll(), std::nullopt) << "waits for one more poll";
  EXPECT_EQ(reloader_->poll(), ReloadResult::Applied);
  EXPECT_THAT(log(), HasSubstr("config reload applied trigger=file changed="));
  EXPECT_EQ(reloader_->poll(), std::nullopt);
  write(changedDocument());  // a new file with the same bytes
  EXPECT_EQ(reloader_->poll(), std::nullopt);
  EXPECT_EQ(reloader_->poll(), std::nullopt) << "same content: no reload";
  EXPECT_EQ(applied_.size(), 1u);
}

TEST_F(ConfigReloaderTest, AFileReadBySighupIsNotReloadedAgainByTheWatcher) {
  write(changedDocument());
  EXPECT_EQ(reloader_->poll(), std::nullopt);  // the watcher saw the change first
  EXPECT_EQ(reloader_->reload(ReloadTrigger::Signal), ReloadResult::Applied);
  EXPECT_EQ(reloader_->poll(), std::nullopt);
  EXPECT_EQ(reloader_->poll(), std::nullopt);
  EXPECT_EQ(applied_.size(), 1u);
  EXPECT_EQ(reloader_->count(ReloadResult::Applied), 1u);
}

TEST_F(ConfigReloaderTest, ARefusedFileIsNotRetriedUntilItChanges) {
  nlohmann::json d = baseDocument();
  d["dataplane"]["workers"] = nlohmann::json::array({2});
  write(d);
  EXPECT_EQ(reloader_->poll(), std::nullopt);
  EXPECT_EQ(reloader_->poll(), ReloadResult::Refused);
  write(d);  // rewritten, same bytes
  EXPECT_EQ(reloader_->poll(), std::nullopt);
  EXPECT_EQ(reloader_->poll(), std::nullopt);
  EXPECT_EQ(reloader_->count(ReloadResult::Refused), 1u) << "one refusal, one set of log lines";
}

}  // namespace
}  // namespace enadpdk::vhostuser
