// Seeded, bounded fuzzing of the dataplane's control API (issue 20): a real Switch (DPDK's EAL
// without hugepages, PCI or shared files; one poll-mode worker; an "l2" network without uplink and
// a "vpc" network on a net_null uplink) behind a real ControlServer on a temporary Unix socket,
// driven through real gRPC stubs with random requests over every method, plausible and hostile
// (oversized, non-UTF-8 and NUL-carrying fields, paths through symbolic links that leave the
// allowed directory, conflicting addresses, out-of-range enums, garbage socket permissions...).
// For every call:
// - the status code is one the method may legitimately answer (never UNKNOWN or UNAVAILABLE;
//   INTERNAL only when the request is not valid UTF-8 and gRPC itself refused to parse it);
// - the message is valid UTF-8 of at most kMaxStatusMessageBytes plus the ellipsis;
// - an AddPort that must fail whatever the state (see invalidReason) is not accepted (counted by
//   reason and reported at the end, so that the run goes on), an accepted port is what was asked
//   for and its socket (client mode) is inside the allowed directory once links are resolved; an
//   exact replay of a listed port is accepted, a conflicting one is ALREADY_EXISTS;
// - the state file parses whole and holds exactly what ListPorts answers.
// The health service answers every kHealthEvery calls; an "outside" directory that the links in
// the allowed directory point to stays empty, and the component's default directories are not
// touched. Every kRestartEvery calls the dataplane restarts and restores the same ports from its
// state file. At the end every port is deleted: no port and no socket is left.
//
// Deterministic: the seed is fixed (ENA_DPDK_FUZZ_SEED overrides it to explore) and the sequence
// of states repeats, so a failure repeats (deadlines that pass while a call runs are in
// ConcurrentCallersKeepTheStateWhole, which is not). Needs neither root nor hugepages.

#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <sched.h>
#include <spdlog/sinks/base_sink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "common/atomic_file.h"
#include "common/strings.h"
#include "common/unix_socket.h"
#include "enadpdk/dataplane/v1/dataplane.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_eal.h"
#include "vhostuser/control_service.h"
#include "vhostuser/dataplane_config.h"
#include "vhostuser/port_spec.h"
#include "vhostuser/state_store.h"
#include "vhostuser/switch.h"

namespace enadpdk::vhostuser {
namespace {

namespace fs = std::filesystem;
namespace pb = dataplane::v1;
using grpc::StatusCode;
using nlohmann::json;

constexpr int kCases = 4000;
constexpr int kHealthEvery = 25;
constexpr int kFilesystemEvery = 20;
constexpr int kRestartEvery = 1000;
constexpr int kMaxFailures = 5;
constexpr unsigned kMaxPorts = 16;
constexpr char kL2[] = "l2net";
constexpr char kVpc[] = "vpc1";
constexpr char kEniMac[] = "02:00:00:00:0e:01";
constexpr uint32_t kL2Mtu = 9001;
constexpr uint32_t kVpcMtu = 1500;

// The spec of a port the dataplane reported, read as its clients read it: the dataplane always
// answers with a mode they know (a port it answers otherwise fails the test).
PortSpec reportedSpec(const pb::Port& port) {
  absl::StatusOr<dataplane_client::PortInfo> info = dataplane_client::portInfoFromProto(port);
  EXPECT_TRUE(info.ok()) << info.status();
  return info.ok() ? info->spec : PortSpec{};
}

// ---- the EAL, once per process

// "--no-huge --no-shconf": anonymous memory, no hugetlbfs, no files in DPDK's runtime directory
// (which the EAL creates all the same: removed again at exit), so the test needs no root and no
// hugepage setup. Both lcores may run on every CPU the process may use: the worker busy-polls,
// and pinning it would take a core away from the control threads.
struct Eal {
  bool ok = false;
  std::string error;
};

Eal& eal() {
  static Eal state = [] {
    Eal out;
    const absl::Status s = testing::initTestEal("control-fuzz", 2);
    out.ok = s.ok();
    out.error = std::string(s.message());
    return out;
  }();
  return state;
}

class EalCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    if (!eal().ok) return;
    const std::string runtimeDir = rte_eal_get_runtime_dir();
    rte_eal_cleanup();
    ::rmdir(runtimeDir.c_str());  // only when empty
  }
};
[[maybe_unused]] ::testing::Environment* const kEalCleanup =
    ::testing::AddGlobalTestEnvironment(new EalCleanup);

// protobuf logs every non-UTF-8 string it is asked to serialise or parse: hundreds of lines.
std::atomic<int> g_protobufLogLines{0};
void countProtobufLog(google::protobuf::LogLevel, const char*, int, const std::string&) {
  g_protobufLogLines.fetch_add(1, std::memory_order_relaxed);
}

// Keeps the switch's error lines (a state file not saved, a socket not unregistered) for the
// report; everything else is dropped.
class ErrorSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> errors() {
    std::lock_guard<std::mutex> lock(mutex_);
    return errors_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (msg.level < spdlog::level::err) return;
    errors_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> errors_;
};

// ---- helpers

const char* codeName(StatusCode code) {
  switch (code) {
    case StatusCode::OK:
      return "OK";
    case StatusCode::CANCELLED:
      return "CANCELLED";
    case StatusCode::UNKNOWN:
      return "UNKNOWN";
    case StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case StatusCode::ABORTED:
      return "ABORTED";
    case StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case StatusCode::INTERNAL:
      return "INTERNAL";
    case StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "?";
  }
}

// Every file, directory and link below `root` (not following links), `root` included.
std::set<std::string> listing(const fs::path& root) {
  std::set<std::string> out;
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(root, ec))) return out;
  out.insert(root.string());
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    out.insert(it->path().string());
  }
  return out;
}

// The sockets below `root` (not following links).
std::set<std::string> socketsBelow(const fs::path& root) {
  std::set<std::string> out;
  for (const std::string& path : listing(root)) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) out.insert(path);
  }
  return out;
}

std::string clip(std::string text, size_t max = 600) {
  if (text.size() > max) text = text.substr(0, max) + "...(" + std::to_string(text.size()) + ")";
  return text;
}

bool isPrintableId(const std::string& id) {
  return std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

bool isValidUid(const std::string& uid) {
  return uid.size() <= kMaxPortUidLength && std::all_of(uid.begin(), uid.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
         });
}

// Whether any string field of `message` (recursively) is not valid UTF-8: such a request cannot
// be parsed by the server's protobuf (proto3 strings), so gRPC answers INTERNAL before any
// dataplane code runs.
bool hasInvalidUtf8(const google::protobuf::Message& message) {
  const google::protobuf::Reflection* r = message.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(message, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    using FD = google::protobuf::FieldDescriptor;
    if (f->cpp_type() == FD::CPPTYPE_STRING) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(message, f); ++i) {
          if (!common::isValidUtf8(r->GetRepeatedString(message, f, i))) return true;
        }
      } else if (!common::isValidUtf8(r->GetString(message, f))) {
        return true;
      }
    } else if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(message, f); ++i) {
          if (hasInvalidUtf8(r->GetRepeatedMessage(message, f, i))) return true;
        }
      } else if (hasInvalidUtf8(r->GetMessage(message, f))) {
        return true;
      }
    }
  }
  return false;
}

// ---- the fixture

enum class Method { AddPort, DeletePort, GetPort, ListPorts, ListNetworks, GetStats, Health };

const char* methodName(Method m) {
  switch (m) {
    case Method::AddPort:
      return "AddPort";
    case Method::DeletePort:
      return "DeletePort";
    case Method::GetPort:
      return "GetPort";
    case Method::ListPorts:
      return "ListPorts";
    case Method::ListNetworks:
      return "ListNetworks";
    case Method::GetStats:
      return "GetStats";
    case Method::Health:
      return "Health";
  }
  return "?";
}

// What one generated AddPort is expected to get, as far as the generator knows.
enum class Expect {
  Anything,       // the answer depends on state the generator does not track
  Reject,         // an invalid request: any error but never OK
  Ok,             // an exact replay of a listed port (idempotent)
  AlreadyExists,  // a listed port's id with another configuration
};

class ControlFuzzTest : public ::testing::Test {
 protected:
  void SetUp() override {
    google::protobuf::SetLogHandler(&countProtobufLog);
    ASSERT_TRUE(eal().ok) << eal().error;
    std::string tmpl = (fs::temp_directory_path() / "control-fuzz.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    allowed_ = root_ / "allowed";
    outside_ = root_ / "outside";
    stateDir_ = root_ / "state";
    for (const fs::path& d : {allowed_, outside_, stateDir_, root_ / "ctl", allowed_ / "sub",
                              allowed_ / "sub" / "deeper", root_ / "cni"}) {
      fs::create_directories(d);
    }
    // The links a path may go through: inside, out (absolute and relative), dangling, a loop.
    fs::create_directory_symlink(allowed_ / "sub", allowed_ / "link-in");
    fs::create_directory_symlink(outside_, allowed_ / "link-out");
    fs::create_symlink(outside_ / "target.sock", allowed_ / "link-out-file");
    fs::create_symlink(outside_ / "newdir", allowed_ / "link-missing");
    fs::create_symlink(allowed_ / "link-loop", allowed_ / "link-loop");
    fs::create_directory_symlink("/", allowed_ / "link-root");
    fs::create_directory_symlink("..", allowed_ / "link-up");
    fs::create_directory_symlink("../../outside", allowed_ / "sub" / "link-out2");
    std::ofstream(allowed_ / "file.txt") << "not a socket\n";
    // A socket something listens on, and one nobody does (left by a crashed pod).
    live_ = listenOn(allowed_ / "live.sock");
    ASSERT_GE(live_, 0);
    const int stale = listenOn(allowed_ / "stale.sock");
    ASSERT_GE(stale, 0);
    ::close(stale);

    stateFile_ = (stateDir_ / "dataplane-state.json").string();
    controlSocket_ = (root_ / "ctl" / "dataplane.sock").string();
    const char* seed = std::getenv("ENA_DPDK_FUZZ_SEED");
    seed_ = seed != nullptr ? std::strtoull(seed, nullptr, 10) : 20261205;
    rng_.seed(seed_);
    absl::StatusOr<DataplaneConfig> config = makeConfig();
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *config;
    forbiddenBefore_ = forbiddenListing();

    sink_ = std::make_shared<ErrorSink>();
    startDataplane();
    if (HasFatalFailure()) return;
    start_ = std::chrono::steady_clock::now();
  }

  void TearDown() override {
    stopDataplane();
    if (live_ >= 0) ::close(live_);
    EXPECT_EQ(forbiddenListing(), forbiddenBefore_)
        << "something was written to the dataplane's default directories";
    google::protobuf::SetLogHandler(nullptr);
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
  }

  // The dataplane section: an l2 network without uplink and a vpc network on a net_null uplink
  // that never receives. Each call names a vdev of its own: a probed vdev stays on the bus after
  // the switch that used it closed it.
  absl::StatusOr<DataplaneConfig> makeConfig() {
    static int instance = 0;
    const json doc = {
        {"dataplane",
         {{"workers", json::array({1})},
          {"controlSocket", controlSocket_},
          {"stateFile", stateFile_},
          {"cniStateDir", (root_ / "cni").string()},
          {"allowedSocketDirs", json::array({allowed_.string()})},
          {"mbufs", 2048},
          {"maxPorts", kMaxPorts},
          {"networks", json::array({{{"name", kL2}, {"mode", "l2"}, {"mtu", kL2Mtu}},
                                    {{"name", kVpc},
                                     {"mode", "vpc"},
                                     {"mac", kEniMac},
                                     {"mtu", kVpcMtu},
                                     {"uplink",
                                      {{"device", "net_null_fuzz" + std::to_string(instance++) +
                                                      ",no-rx=1"}}}}})}}}};
    return parseDataplaneConfig(doc);
  }

  // Starts the switch and the control server as ena-dpdk-dataplane does, with the ports of the
  // state file restored (each must come back: the dataplane saved them).
  void startDataplane() {
    auto log = std::make_shared<spdlog::logger>("dataplane-fuzz", sink_);
    log->set_level(spdlog::level::info);
    absl::StatusOr<std::unique_ptr<Switch>> sw = Switch::create(config_, log);
    ASSERT_TRUE(sw.ok()) << sw.status();
    sw_ = std::move(*sw);
    absl::StatusOr<LoadedState> state = loadState(stateFile_, std::chrono::system_clock::now());
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_TRUE(state->problems.empty()) << state->problems.front();
    for (const PortSpec& spec : state->ports) {
      absl::StatusOr<PortStatus> restored = sw_->addPort(spec);
      EXPECT_TRUE(restored.ok()) << "a saved port does not restore: " << spec.id << ": "
                                 << restored.status();
    }
    absl::StatusOr<std::unique_ptr<ControlServer>> server =
        ControlServer::start(controlSocket_, *sw_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    // The dataplane's main loop: housekeeping every 100 ms (closes ports whose grace period
    // ended after their DeletePort returned).
    stopPolling_.store(false);
    poller_ = std::thread([this] {
      while (!stopPolling_.load()) {
        sw_->poll();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
    // A new channel: the old one may be in its reconnect backoff.
    channel_ = grpc::CreateChannel("unix:" + controlSocket_, grpc::InsecureChannelCredentials());
    stub_ = pb::Dataplane::NewStub(channel_);
    health_ = grpc::health::v1::Health::NewStub(channel_);
  }

  void stopDataplane() {
    if (server_) server_->shutdown();
    stopPolling_.store(true);
    if (poller_.joinable()) poller_.join();
    server_.reset();
    sw_.reset();
  }

  // A dataplane restart: the same ports, in the same order, come back from the state file.
  void restart(int index) {
    const pb::ListPortsResponse before = listed_;
    stopDataplane();
    absl::StatusOr<DataplaneConfig> config = makeConfig();
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *config;
    startDataplane();
    if (HasFatalFailure()) return;
    checkState(index);
    std::vector<PortSpec> was, is;
    for (const pb::Port& p : before.ports()) was.push_back(reportedSpec(p));
    for (const pb::Port& p : listed_.ports()) is.push_back(reportedSpec(p));
    if (was != is) {
      breach(index, Method::ListPorts, nullptr,
             common::strCat("after a restart ", is.size(), " ports instead of ", was.size()));
    }
  }

  static int listenOn(const fs::path& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd, 4) != 0) {
      return -1;
    }
    return fd;
  }

  static std::set<std::string> forbiddenListing() {
    std::set<std::string> out;
    for (const char* root : {"/var/lib/ena-dpdk/dataplane-state.json", "/run/ena-dpdk",
                             "/var/run/ena-dpdk", "/etc/ena-dpdk"}) {
      for (const std::string& p : listing(root)) out.insert(p);
    }
    return out;
  }

  // ---- random values

  uint64_t below(uint64_t n) { return rng_() % n; }
  bool chance(unsigned percent) { return below(100) < percent; }
  template <typename T>
  T pick(const std::vector<T>& from) {
    return from[below(from.size())];
  }
  std::string hex(size_t n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s(n, '0');
    for (char& c : s) c = kDigits[below(16)];
    return s;
  }
  std::string randomBytes(size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(below(256));
    return s;
  }
  // `text` with one to three edits: a printable byte replaced, bytes removed, separators or a
  // long run inserted, rarely a NUL or a byte that is not UTF-8.
  std::string mutate(std::string text) {
    const int edits = 1 + static_cast<int>(below(3));
    for (int i = 0; i < edits; ++i) {
      const size_t at = text.empty() ? 0 : below(text.size() + 1);
      switch (below(12)) {
        case 0:
          text.insert(at, 1, static_cast<char>(0x80 + below(128)));
          break;
        case 1:
          text.insert(at, 1, '\0');
          break;
        case 2:
        case 3:
        case 4:
          if (at < text.size()) text[at] = static_cast<char>(0x20 + below(95));
          break;
        case 5:
        case 6:
          if (at < text.size()) text.erase(at, 1 + below(4));
          break;
        case 7:
          text.insert(at, std::string(1 + below(300), 'a'));
          break;
        default:
          text.insert(at, std::string(1 + below(3), "/. :-"[below(5)]));
          break;
      }
    }
    return text;
  }

  const pb::Port* listedPort() {
    if (listed_.ports_size() == 0) return nullptr;
    return &listed_.ports(static_cast<int>(below(listed_.ports_size())));
  }

  // Each field has a plausible generator (values a CNI could send, including conflicts with the
  // listed ports) and a hostile one.
  std::string portId(bool hostile) {
    const pb::Port* known = listedPort();
    if (!hostile) {
      if (known != nullptr && chance(25)) return known->id();
      return "c" + hex(8) + "/net" + std::to_string(below(4));
    }
    switch (below(10)) {
      case 0:
        return "";
      case 1:
        return std::string(kMaxPortIdLength, 'i');
      case 2:
        return std::string(kMaxPortIdLength + 1, 'i');
      case 3:
        return chance(10) ? std::string(100000, 'x') : std::string(10000, 'x');
      case 4:
        return "c0ffee " + hex(4) + "/net1";
      case 5:
        return pick<std::string>({"c0ffee/net1\xff\xfe", std::string("c0\0ffee/net1", 12)});
      case 6:
        return pick<std::string>(
            {"/", "../../etc/passwd", "a/b/c/../d", "pod-\xc3\xa9", "\t", "a\nb", "\x7f"});
      default:
        return mutate("c" + hex(8) + "/net1");
    }
  }
  std::string uid(bool hostile) {
    const pb::Port* known = listedPort();
    if (!hostile) {
      if (known != nullptr && chance(20)) return known->uid();
      return chance(50) ? "" : hex(8) + "-" + hex(4);
    }
    switch (below(5)) {
      case 0:
        return std::string(kMaxPortUidLength, 'u');
      case 1:
        return std::string(kMaxPortUidLength + 1, 'u');
      case 2:
        return pick<std::string>(
            {"a_b", "a b", "a/b", "\xff", std::string("a\0b", 3), "\xc3\xa9", "-", "--"});
      default:
        return mutate(hex(16));
    }
  }
  std::string socketPath(bool hostile) {
    const std::string a = allowed_.string();
    const std::string n = "p" + std::to_string(counter_++) + ".sock";
    const pb::Port* known = listedPort();
    if (!hostile) {
      switch (below(12)) {
        case 0:
          return allowed_ / "sub" / n;
        case 1:
          return allowed_ / ("d" + std::to_string(below(4))) / ("e" + std::to_string(below(3))) / n;
        case 2:
          return allowed_ / "link-in" / n;  // a link that stays inside
        case 3:
          return allowed_ / "sub" / "deeper" / n;
        case 4:
          if (known != nullptr) return known->socket_path();
          [[fallthrough]];
        case 5:
          return a + "/" + std::string(kMaxSocketPath - a.size() - 1 - 4, 'l') +
                 std::to_string(1000 + below(9000));  // exactly the longest path
        case 6:
          return allowed_ / "stale.sock";  // left by a crashed pod: client mode replaces it
        default:
          return allowed_ / n;
      }
    }
    switch (below(24)) {
      case 0:
        return outside_ / n;
      case 1:
        return allowed_ / "link-out" / n;
      case 2:
        return allowed_ / "link-out-file";
      case 3:
        return allowed_ / "link-missing" / n;
      case 4:
        return allowed_ / "link-loop" / n;
      case 5:
        return allowed_ / "link-root" / "tmp" / n;
      case 6:
        return allowed_ / "link-up" / "outside" / n;
      case 7:
        return allowed_ / "sub" / "link-out2" / n;
      case 8:
        return allowed_ / "link-out" / "newdir" / n;
      case 9:
        return allowed_ / "file.txt";
      case 10:
        return allowed_ / "file.txt" / n;
      case 11:
        return allowed_ / "live.sock";
      case 12:
        return pick<std::string>({a, a + "/", a + "/sub", a + "/sub/", a + "/link-in"});
      case 13:
        return pick<std::string>({a + "/../outside/" + n, a + "/./" + n, a + "//" + n,
                                  a + "/sub/../" + n, a + "/link-out/../" + n});
      case 14:
        return a + "/" +
               pick<std::string>({std::string(kMaxSocketPath - a.size(), 'l'),
                                  std::string(200, 'l'), std::string(10000, 'l')});
      case 15:
        return pick<std::string>({n, "allowed/" + n, "./" + n, "../" + n, "~/" + n});
      case 16:
        return pick<std::string>({"", "/", "/dev/null", "/proc/self/fd/0", controlSocket_});
      case 17:
        return a + "/" + std::string("p\0x.sock", 8);
      case 18:
        return a + "/p\xff" + std::to_string(counter_) + ".sock";
      case 19:
        return a + "/p\xc3\xa9" + std::to_string(counter_) + ".sock";
      case 20:
        return a + "/" + pick<std::string>({"p q.sock", "p\nq.sock", "p\tq.sock", "-p.sock"});
      case 21:
        return allowed_ / "sub" / "deeper";  // an existing directory
      default:
        return mutate(a + "/" + n);
    }
  }
  std::string mac(bool vpc, bool hostile) {
    if (!hostile) {
      if (vpc) return pick<std::string>({"", kEniMac, "02:00:00:00:0E:01"});
      if (chance(50)) return "";
      return (chance(50) ? "02:" : "0A:") + hex(2) + ":" + hex(2) + ":" + hex(2) + ":" + hex(2) +
             ":" + hex(2);
    }
    switch (below(5)) {
      case 0:
        return pick<std::string>({"01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00",
                                  "03:00:00:00:00:01", "02:00:00:00:0e:02"});
      case 1:
        return pick<std::string>({"zz:zz:zz:zz:zz:zz", "02-00-00-00-00-01", "0200.0000.0001",
                                  "02:00:00:00:00", "02:00:00:00:00:01:02", "2:0:0:0:0:1",
                                  " 02:00:00:00:00:01", "02:00:00:00:00:01 "});
      case 2:
        return std::string(5000, 'm');
      default:
        return mutate(kEniMac);
    }
  }
  std::string ip(bool vpc, bool hostile) {
    const pb::Port* known = listedPort();
    if (!hostile) {
      if (known != nullptr && known->ips_size() > 0 && chance(15)) {
        return known->ips(static_cast<int>(below(known->ips_size())));
      }
      switch (below(6)) {
        case 0:
          return "fd00::" + std::to_string(1 + below(40));
        case 1:
          return "fd00::" + std::to_string(1 + below(40)) + "/64";
        case 2:
          return (vpc ? "10.1.0." : "10.2.0.") + std::to_string(1 + below(60)) + "/24";
        default:
          return (vpc ? "10.1.0." : "10.2.0.") + std::to_string(1 + below(60));
      }
    }
    switch (below(6)) {
      case 0:
        return "fd00::" + std::to_string(1 + below(30)) + "/" + std::to_string(129 + below(900));
      case 1:
        return "10.1.0." + std::to_string(below(40)) + "/" + std::to_string(33 + below(70));
      case 2:
        return pick<std::string>({"0.0.0.0", "::", "255.255.255.255", "1.2.3.4/", "1.2.3.4/0024",
                                  "1.2.3.4/-1", " 1.2.3.4", "1.2.3.4 ", "1.2.3", "1.2.3.4.5",
                                  "01.2.3.4", "::ffff:10.1.0.3", "fe80::1%eth0", "10.1.0.1/24/8",
                                  "[fd00::1]", "1.2.3.4/999999999999", "", "10.1.0.300"});
      case 3:
        return pick<std::string>({std::string("10.1.0.9\0junk", 13), "10.1.0.9\xff"});
      case 4:
        return std::string(3000, '1');
      default:
        return mutate("10.1.0." + std::to_string(below(40)));
    }
  }
  std::vector<std::string> ips(bool vpc, bool hostile) {
    std::vector<std::string> out;
    if (hostile) {
      switch (below(4)) {
        case 0:
          return {};  // a vpc port needs one
        case 1: {
          const std::string one = ip(vpc, false);
          return {one, one};  // the same address twice
        }
        case 2:
          for (int i = 0; i < 300; ++i) out.push_back(ip(vpc, chance(2)));  // very many
          return out;
        default:
          out.push_back(ip(vpc, true));
          if (chance(50)) out.push_back(ip(vpc, false));
          return out;
      }
    }
    const size_t count = vpc ? 1 + below(2) : below(3);
    for (size_t i = 0; i < count; ++i) out.push_back(ip(vpc, false));
    return out;
  }
  uint32_t queues(bool hostile) {
    if (!hostile) return static_cast<uint32_t>(chance(60) ? below(2) : below(kMaxPortQueues + 1));
    return chance(60) ? static_cast<uint32_t>(kMaxPortQueues + 1 + below(12))
                      : pick<uint32_t>({65536, 65537, UINT32_MAX, 1u << 31, 1u << 16 | 1});
  }
  uint32_t mtu(bool vpc, bool hostile) {
    if (!hostile) {
      if (chance(60)) return 0;
      return vpc ? pick<uint32_t>({68, 1280, 1500}) : pick<uint32_t>({68, 1500, 9000, 9001});
    }
    return pick<uint32_t>({1, 67, vpc ? 1501u : 9002u, 65535, UINT32_MAX,
                           static_cast<uint32_t>(rng_() | (1u << 20))});
  }
  void permissions(pb::Port& p, bool hostile) {
    if (!hostile) {
      if (p.vhost_mode() != pb::VHOST_MODE_CLIENT || chance(60)) return;
      pb::SocketPermissions& perm = *p.mutable_socket_permissions();
      perm.set_owner(pick<std::string>({"", "", "0:0", "root", "root:root", "65534:65534"}));
      perm.set_mode(pick<std::string>({"", "0660", "660", "0600", "0666"}));
      return;
    }
    pb::SocketPermissions& perm = *p.mutable_socket_permissions();
    perm.set_owner(
        pick<std::string>({"", "0:0", "nobody", "4294967295:0", "4294967296:4294967296",
                           "0:4294967297", "x:y:z", ":", "0:", ":0", "no-such-user",
                           "no-such-user:root", "root:no-such-group", std::string("root\0junk", 9),
                           "r\xffoot", std::string(3000, 'o'), "-1:-1", "root:root:root"}));
    perm.set_mode(pick<std::string>({"", "0660", "7777", "4755", "17777", "8888", "-1", "0o660",
                                     "abc", "01000000", " 0660", std::string("06\0", 3),
                                     std::string(3000, '6'), "0x1ff"}));
  }

  // A random AddPort request and what the generator knows about its outcome: a plausible request
  // (often conflicting with a listed port), or one with one to three hostile fields.
  std::pair<pb::AddPortRequest, Expect> addPortRequest() {
    pb::AddPortRequest req;
    const pb::Port* known = listedPort();
    if (known != nullptr && chance(8)) {
      *req.mutable_port() = *known;  // output fields included: the server ignores them
      return {req, Expect::Ok};
    }
    if (known != nullptr && chance(5)) {
      *req.mutable_port() = *known;
      req.mutable_port()->set_queues(known->queues() % kMaxPortQueues + 1);
      return {req, Expect::AlreadyExists};
    }
    if (chance(1)) return {req, Expect::Reject};  // no port at all
    enum Field { kId, kNetwork, kPath, kMode, kMac, kIps, kQueues, kMtu, kPerm, kUid, kFields };
    std::set<int> hostile;
    if (chance(55)) {
      const int n = 1 + static_cast<int>(below(below(4) == 0 ? 3 : 1));
      for (int i = 0; i < n; ++i) hostile.insert(static_cast<int>(below(kFields)));
    }
    auto bad = [&](Field f) { return hostile.contains(f); };
    pb::Port& p = *req.mutable_port();
    p.set_id(portId(bad(kId)));
    if (!bad(kNetwork)) {
      p.set_network(chance(50) ? kL2 : kVpc);
    } else {
      p.set_network(pick<std::string>({"", "unknown", "L2NET", std::string(5000, 'n'),
                                       std::string("l2net\0", 6), "vpc1\xff", " l2net", "vpc1 "}));
    }
    const bool vpc = p.network() == kVpc;
    p.set_socket_path(socketPath(bad(kPath)));
    if (!bad(kMode)) {
      p.set_vhost_mode(pick<pb::VhostMode>(
          {pb::VHOST_MODE_SERVER, pb::VHOST_MODE_CLIENT, pb::VHOST_MODE_UNSPECIFIED}));
    } else {
      p.set_vhost_mode(static_cast<pb::VhostMode>(pick<int>({3, 99, -1, INT_MAX, INT_MIN})));
    }
    p.set_mac(mac(vpc, bad(kMac)));
    for (const std::string& one : ips(vpc, bad(kIps))) p.add_ips(one);
    p.set_queues(queues(bad(kQueues)));
    p.set_mtu(mtu(vpc, bad(kMtu)));
    permissions(p, bad(kPerm));
    p.set_uid(uid(bad(kUid)));
    return {req, invalidReason(p).empty() ? Expect::Anything : Expect::Reject};
  }

  // Why the dataplane must refuse `p` whatever its state ("" when it may accept it).
  std::string invalidReason(const pb::Port& p) const {
    const std::string a = allowed_.string() + "/";
    const std::string& path = p.socket_path();
    if (p.id().empty() || p.id().size() > kMaxPortIdLength || !isPrintableId(p.id())) return "id";
    if (!isValidUid(p.uid())) return "uid";
    if (p.network() != kL2 && p.network() != kVpc) return "network";
    if (p.vhost_mode() != pb::VHOST_MODE_UNSPECIFIED && p.vhost_mode() != pb::VHOST_MODE_SERVER &&
        p.vhost_mode() != pb::VHOST_MODE_CLIENT) {
      return "vhost_mode (a value the API does not define)";
    }
    if (path.size() > kMaxSocketPath || !path.starts_with(a) || path.ends_with("/") ||
        path.find('\0') != std::string::npos || path.find("/./") != std::string::npos ||
        path.find("/../") != std::string::npos || path.find("//") != std::string::npos) {
      return "socket_path";
    }
    for (const char* link : {"/link-out", "/link-missing", "/link-loop", "/link-root", "/link-up",
                             "/link-out2", "/file.txt/"}) {
      if (path.find(link) != std::string::npos) return "socket_path (leaves the allowed dir)";
    }
    const bool vpc = p.network() == kVpc;
    if (p.queues() > kMaxPortQueues) return "queues";
    const uint32_t netMtu = vpc ? kVpcMtu : kL2Mtu;
    if (p.mtu() != 0 && (p.mtu() < 68 || p.mtu() > netMtu)) return "mtu";
    if (vpc && p.ips_size() == 0) return "ips";
    if (vpc && !p.mac().empty() && p.mac() != kEniMac && p.mac() != "02:00:00:00:0E:01") {
      return "mac";
    }
    for (const std::string& ip : p.ips()) {
      if (ip.find('\0') != std::string::npos) return "ips (a NUL byte)";
    }
    const bool client = p.vhost_mode() == pb::VHOST_MODE_CLIENT;
    const std::string& owner = p.socket_permissions().owner();
    if (!client && (!owner.empty() || !p.socket_permissions().mode().empty())) {
      return "socket_permissions";
    }
    if (owner.find('\0') != std::string::npos) return "socket_permissions.owner (a NUL byte)";
    for (size_t start = 0; start <= owner.size();) {
      size_t end = std::min(owner.find(':', start), owner.size());
      const std::string part = owner.substr(start, end - start);
      if (!part.empty() && part.size() < 20 &&
          std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
          std::stoull(part) > 4294967294ULL) {
        return "socket_permissions.owner (an id beyond 32 bits or (uid_t)-1)";
      }
      start = end + 1;
    }
    return "";
  }

  // ---- calls

  // A call's context: a 10 s deadline, or a short one (0 to 3 ms), or one already past. Calls that
  // change ports get only the long or the past one, so that the sequence of states, and so the
  // requests drawn from it, repeats from the seed; ConcurrentCallersKeepTheStateWhole has
  // deadlines that pass while AddPort and DeletePort run.
  std::unique_ptr<grpc::ClientContext> context(bool shortDeadline, bool mutation = false) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    const auto timeout = !shortDeadline ? std::chrono::microseconds(10'000'000)
                         : mutation     ? std::chrono::microseconds(-1000)
                                        : std::chrono::microseconds(below(3000));
    ctx->set_deadline(std::chrono::system_clock::now() + timeout);
    return ctx;
  }

  // Fails the test (up to kMaxFailures times) with the case's context.
  void breach(int index, Method method, const google::protobuf::Message* request,
              const std::string& why) {
    ++failures_;
    ADD_FAILURE() << "case " << index << " " << methodName(method) << ": " << why
                  << "\n  request: " << (request ? clip(request->ShortDebugString(), 1500) : "")
                  << "\n  seed: " << seed_;
  }

  // The checks every answer gets.
  void checkStatus(int index, Method method, const google::protobuf::Message* request,
                   const grpc::Status& status, std::set<StatusCode> allowed, bool shortDeadline) {
    ++codes_[codeName(status.error_code())];
    ++perMethod_[std::string(methodName(method)) + ":" + codeName(status.error_code())];
    const bool badUtf8 = request != nullptr && hasInvalidUtf8(*request);
    if (shortDeadline) allowed.insert(StatusCode::DEADLINE_EXCEEDED);
    // gRPC's own answer when the request does not parse (proto3 strings must be UTF-8).
    if (badUtf8) allowed.insert(StatusCode::INTERNAL);
    if (request != nullptr && request->ByteSizeLong() > 4 * 1024 * 1024) {
      allowed.insert(StatusCode::RESOURCE_EXHAUSTED);  // gRPC's default receive limit
    }
    if (!allowed.contains(status.error_code())) {
      breach(index, method, request,
             common::strCat("unexpected status ", codeName(status.error_code()), ": ",
                            clip(status.error_message())));
    }
    const std::string& msg = status.error_message();
    if (msg.size() > kMaxStatusMessageBytes + 3) {
      breach(index, method, request,
             common::strCat("status message of ", msg.size(), " bytes: ", clip(msg)));
    }
    if (!common::isValidUtf8(msg)) {
      breach(index, method, request, "status message is not UTF-8: " + clip(msg));
    }
    if (!status.ok() && msg.empty() && !(badUtf8 && status.error_code() == StatusCode::INTERNAL)) {
      breach(index, method, request, "error without a message");
    }
  }

  // Checks a port the server accepted against the request and the filesystem.
  void checkAcceptedPort(int index, const pb::AddPortRequest& req, const pb::Port& got,
                         bool settled) {
    const pb::Port& want = req.port();
    if (got.id() != want.id() || got.network() != want.network() ||
        got.socket_path() != want.socket_path()) {
      breach(index, Method::AddPort, &req, "answer is another port: " + got.ShortDebugString());
    }
    if (got.queues() < 1 || got.queues() > kMaxPortQueues || got.mtu() < 68 ||
        got.mtu() > (got.network() == kVpc ? kVpcMtu : kL2Mtu)) {
      breach(index, Method::AddPort, &req, "answer out of range: " + got.ShortDebugString());
    }
    if (got.network() == kVpc && (got.mac() != kEniMac || got.ips_size() == 0)) {
      breach(index, Method::AddPort, &req, "vpc port without ENI MAC or IP");
    }
    // Where the socket lands once links are resolved: inside the allowed directory (a server-mode
    // port's directories need not exist yet).
    std::error_code ec;
    const fs::path parent = fs::weakly_canonical(fs::path(got.socket_path()).parent_path(), ec);
    const fs::path allowed = fs::canonical(allowed_);
    const fs::path rel = parent.lexically_relative(allowed);
    if (ec || rel.empty() || *rel.begin() == "..") {
      breach(index, Method::AddPort, &req,
             "accepted socket path outside the allowed directory: " + parent.string());
    }
    if (settled && got.vhost_mode() == pb::VHOST_MODE_CLIENT) {
      struct stat st {};
      if (::lstat(got.socket_path().c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
        breach(index, Method::AddPort, &req, "client-mode port without its socket");
      } else if (absl::StatusOr<mode_t> mode =
                     common::parseFileMode(got.socket_permissions().mode());
                 mode.ok() && (st.st_mode & 07777) != *mode) {
        breach(index, Method::AddPort, &req,
               common::strCat("socket mode ", st.st_mode & 07777, " instead of ",
                              got.socket_permissions().mode()));
      }
    }
  }

  // ListPorts and the state file agree, and the file parses whole. A mutation whose deadline
  // passed may still be running on the server: retried for up to 3 s before it counts.
  void checkState(int index) {
    std::string why;
    for (int attempt = 0; attempt < 150; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      pb::ListPortsResponse list;
      grpc::Status st = stub_->ListPorts(context(false).get(), pb::ListPortsRequest(), &list);
      if (!st.ok()) {
        why = common::strCat("ListPorts failed: ", codeName(st.error_code()), " ",
                             clip(st.error_message()));
        continue;
      }
      absl::StatusOr<std::string> text = common::readFile(stateFile_);
      LoadedState state;
      if (text.ok()) {
        state = parseState(*text);
      } else if (!absl::IsNotFound(text.status())) {
        why = "state file unreadable: " + text.status().ToString();
        continue;
      }
      if (!state.problems.empty()) {
        breach(index, Method::ListPorts, nullptr,
               "state file has problems: " + state.problems.front() + "\n" + clip(*text, 2000));
        return;
      }
      std::vector<PortSpec> listed;
      for (const pb::Port& p : list.ports()) listed.push_back(reportedSpec(p));
      if (listed != state.ports) {
        why = common::strCat("state file holds ", state.ports.size(), " ports, ListPorts ",
                             listed.size(), "; or they differ");
        continue;
      }
      listed_ = std::move(list);
      maxPorts_ = std::max<size_t>(maxPorts_, listed_.ports_size());
      return;
    }
    breach(index, Method::ListPorts, nullptr, why);
  }

  void checkHealth(int index) {
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status st = health_->Check(context(false).get(), req, &resp);
    checkStatus(index, Method::Health, &req, st, {StatusCode::OK}, false);
    if (st.ok() && resp.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
      breach(index, Method::Health, &req, "not SERVING");
    }
  }

  // After a mutation whose deadline passed: gives the server time to finish it, and holds the
  // checks against the last listing for a few cases.
  void unsettle(int index) {
    unsettledUntil_ = index + 4;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  void checkFilesystem(int index, bool settled = true) {
    const std::set<std::string> outside = listing(outside_);
    if (outside != std::set<std::string>{outside_.string()}) {
      breach(index, Method::AddPort, nullptr,
             "something appeared outside the allowed directory: " + *outside.rbegin());
    }
    for (const pb::Port& p : listed_.ports()) {
      if (!settled || p.vhost_mode() != pb::VHOST_MODE_CLIENT) continue;
      struct stat st {};
      if (::lstat(p.socket_path().c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
        breach(index, Method::ListPorts, nullptr,
               "listed client-mode port has no socket: " + p.socket_path());
      }
    }
  }

  // One random call, with the checks of its answer.
  void runCase(int index) {
    const bool shortDeadline = chance(4);
    // Shortly after a mutation whose deadline passed, the server may still be running it: the
    // checks that compare an answer with the last listing wait.
    const bool settled = index >= unsettledUntil_;
    const uint64_t what = below(100);
    if (what < 45) {
      auto [req, expect] = addPortRequest();
      pb::AddPortResponse resp;
      grpc::Status st = stub_->AddPort(context(shortDeadline, true).get(), req, &resp);
      checkStatus(index, Method::AddPort, &req, st,
                  {StatusCode::OK, StatusCode::INVALID_ARGUMENT, StatusCode::ALREADY_EXISTS,
                   StatusCode::RESOURCE_EXHAUSTED, StatusCode::PERMISSION_DENIED,
                   StatusCode::FAILED_PRECONDITION},
                  shortDeadline);
      if (st.ok()) {
        if (expect == Expect::Reject) {
          auto& [count, example] = acceptedInvalid_[invalidReason(req.port())];
          if (count++ == 0) {
            example = common::strCat("case ", index, ": ", clip(req.ShortDebugString(), 1500));
          }
        }
        checkAcceptedPort(index, req, resp.port(), settled);
      } else if (st.error_code() == StatusCode::DEADLINE_EXCEEDED) {
        unsettle(index);
      } else if (settled) {
        if (expect == Expect::Ok) {
          breach(index, Method::AddPort, &req,
                 common::strCat("an exact replay of a listed port was refused: ",
                                codeName(st.error_code()), " ", clip(st.error_message())));
        }
        if (expect == Expect::AlreadyExists && st.error_code() != StatusCode::ALREADY_EXISTS) {
          breach(index, Method::AddPort, &req,
                 common::strCat("a listed id with other queues got ", codeName(st.error_code()),
                                " ", clip(st.error_message())));
        }
      }
    } else if (what < 65) {
      pb::DeletePortRequest req;
      const pb::Port* known = listedPort();
      const bool byListed = known != nullptr && chance(70);
      if (byListed) {
        req.set_id(known->id());
        const uint64_t u = below(10);
        req.set_uid(u < 5 ? "" : u < 8 ? known->uid() : uid(chance(30)));
      } else {
        req.set_id(portId(chance(30)));
        req.set_uid(uid(chance(30)));
      }
      pb::DeletePortResponse resp;
      grpc::Status st = stub_->DeletePort(context(shortDeadline, true).get(), req, &resp);
      checkStatus(index, Method::DeletePort, &req, st,
                  {StatusCode::OK, StatusCode::INVALID_ARGUMENT}, shortDeadline);
      if (st.error_code() == StatusCode::DEADLINE_EXCEEDED) unsettle(index);
      if (settled && st.ok() && byListed && isValidUid(req.uid())) {
        const bool mine = req.uid().empty() || req.uid() == known->uid();
        if (resp.existed() != mine) {
          breach(index, Method::DeletePort, &req,
                 common::strCat("existed=", resp.existed(), " for a listed port with uid \"",
                                known->uid(), "\""));
        }
      }
    } else if (what < 75) {
      pb::GetPortRequest req;
      const pb::Port* known = listedPort();
      const bool byListed = known != nullptr && chance(50);
      req.set_id(byListed ? known->id() : portId(chance(30)));
      pb::GetPortResponse resp;
      grpc::Status st = stub_->GetPort(context(shortDeadline).get(), req, &resp);
      checkStatus(index, Method::GetPort, &req, st,
                  {StatusCode::OK, StatusCode::INVALID_ARGUMENT, StatusCode::NOT_FOUND},
                  shortDeadline);
      if (settled && byListed && !st.ok() && st.error_code() != StatusCode::DEADLINE_EXCEEDED) {
        breach(index, Method::GetPort, &req, "a listed port was not found");
      }
      if (settled && byListed && st.ok() && reportedSpec(resp.port()) != reportedSpec(*known)) {
        breach(index, Method::GetPort, &req, "GetPort and ListPorts differ");
      }
    } else if (what < 85) {
      pb::ListPortsRequest req;
      const uint64_t n = below(6);
      req.set_network(n < 2 ? "" : n < 3 ? kL2 : n < 4 ? kVpc : n < 5 ? "unknown" : mutate(kL2));
      pb::ListPortsResponse resp;
      grpc::Status st = stub_->ListPorts(context(shortDeadline).get(), req, &resp);
      checkStatus(index, Method::ListPorts, &req, st, {StatusCode::OK}, shortDeadline);
      for (const pb::Port& p : resp.ports()) {
        if (!req.network().empty() && p.network() != req.network()) {
          breach(index, Method::ListPorts, &req, "a port of another network: " + p.network());
        }
      }
    } else if (what < 90) {
      pb::ListNetworksRequest req;
      pb::ListNetworksResponse resp;
      grpc::Status st = stub_->ListNetworks(context(shortDeadline).get(), req, &resp);
      checkStatus(index, Method::ListNetworks, &req, st, {StatusCode::OK}, shortDeadline);
      if (st.ok() && (resp.networks_size() != 2 || resp.networks(0).name() != kL2 ||
                      resp.networks(1).name() != kVpc || !resp.networks(1).has_uplink() ||
                      resp.networks(1).uplink().mac() != kEniMac)) {
        breach(index, Method::ListNetworks, &req, "networks: " + resp.ShortDebugString());
      }
    } else if (what < 95) {
      pb::GetStatsRequest req;
      pb::GetStatsResponse resp;
      grpc::Status st = stub_->GetStats(context(shortDeadline).get(), req, &resp);
      checkStatus(index, Method::GetStats, &req, st, {StatusCode::OK}, shortDeadline);
      if (st.ok() && (resp.workers_size() != 1 || resp.networks_size() != 2)) {
        breach(index, Method::GetStats, &req, "stats: " + clip(resp.ShortDebugString()));
      }
    } else {
      grpc::health::v1::HealthCheckRequest req;
      if (chance(30))
        req.set_service(pick<std::string>({"unknown", "\xff", std::string(5000, 's')}));
      grpc::health::v1::HealthCheckResponse resp;
      grpc::Status st = health_->Check(context(shortDeadline).get(), req, &resp);
      checkStatus(index, Method::Health, &req, st,
                  req.service().empty()
                      ? std::set<StatusCode>{StatusCode::OK}
                      : std::set<StatusCode>{StatusCode::NOT_FOUND, StatusCode::INVALID_ARGUMENT},
                  shortDeadline);
    }
  }

  std::string summary(int cases) const {
    std::string codes;
    for (const auto& [code, n] : codes_)
      codes += common::strCat(codes.empty() ? "" : " ", code, "=", n);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    return common::strCat(
        "control_fuzz seed=", seed_, " cases=", cases, " codes{", codes, "} max_ports=", maxPorts_,
        " protobuf_log_lines=", g_protobufLogLines.load(), " seconds=", static_cast<int>(seconds));
  }

  fs::path root_, allowed_, outside_, stateDir_;
  std::string stateFile_, controlSocket_;
  int live_ = -1;
  DataplaneConfig config_;
  std::set<std::string> forbiddenBefore_;
  std::shared_ptr<ErrorSink> sink_;
  std::unique_ptr<Switch> sw_;
  std::unique_ptr<ControlServer> server_;
  std::thread poller_;
  std::atomic<bool> stopPolling_{false};
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Dataplane::Stub> stub_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  std::mt19937_64 rng_;
  uint64_t seed_ = 0;
  uint64_t counter_ = 0;
  pb::ListPortsResponse listed_;
  int unsettledUntil_ = 0;
  size_t maxPorts_ = 0;
  int failures_ = 0;
  std::map<std::string, int> codes_;
  std::map<std::string, int> perMethod_;
  // Invalid requests the dataplane accepted, by reason: count and first example.
  std::map<std::string, std::pair<int, std::string>> acceptedInvalid_;
  std::chrono::steady_clock::time_point start_;

  static constexpr size_t kMaxSocketPath = 107;
};

TEST_F(ControlFuzzTest, EveryRequestGetsAWellFormedAnswer) {
  int cases = 0;
  for (; cases < kCases && failures_ < kMaxFailures; ++cases) {
    runCase(cases);
    checkState(cases);
    if (cases % kHealthEvery == 0) checkHealth(cases);
    if (cases % kFilesystemEvery == 0) checkFilesystem(cases, cases >= unsettledUntil_);
    if (cases % kRestartEvery == kRestartEvery - 1) {
      restart(cases);
      if (HasFatalFailure()) return;
    }
  }
  checkFilesystem(cases);
  for (const auto& [reason, seen] : acceptedInvalid_) {
    ADD_FAILURE() << "accepted " << seen.first << " invalid AddPort requests (" << reason
                  << "), first: " << seen.second;
  }
  std::cout << summary(cases) << "\n";
  std::cout << "control_fuzz per method:";
  for (const auto& [key, n] : perMethod_) std::cout << " " << key << "=" << n;
  std::cout << std::endl;

  // Every port deleted: none left, no socket left, the state file empty and whole.
  for (const pb::Port& p : listed_.ports()) {
    pb::DeletePortRequest req;
    req.set_id(p.id());
    pb::DeletePortResponse resp;
    grpc::Status st = stub_->DeletePort(context(false).get(), req, &resp);
    EXPECT_TRUE(st.ok()) << p.id() << ": " << st.error_message();
    EXPECT_TRUE(resp.existed()) << p.id();
  }
  checkState(cases);
  EXPECT_EQ(listed_.ports_size(), 0);
  absl::StatusOr<std::string> text = common::readFile(stateFile_);
  if (text.ok()) {
    LoadedState state = parseState(*text);
    EXPECT_TRUE(state.problems.empty());
    EXPECT_TRUE(state.ports.empty());
  }
  // Client-mode sockets go when the port's grace period ends (at once, or at the next poll()).
  const std::set<std::string> fixtures = {(allowed_ / "live.sock").string(),
                                          (allowed_ / "stale.sock").string()};
  std::set<std::string> left;
  for (int i = 0; i < 50; ++i) {
    left.clear();
    for (const std::string& s : socketsBelow(allowed_)) {
      if (!fixtures.contains(s)) left.insert(s);
    }
    if (left.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(left.empty()) << left.size() << " sockets left, e.g. " << *left.begin();
  EXPECT_EQ(listing(outside_), std::set<std::string>{outside_.string()});
  checkHealth(cases);
  const std::vector<std::string> errors = sink_->errors();
  EXPECT_TRUE(errors.empty()) << errors.size()
                              << " error lines from the switch, first: " << errors.front();
}

// Several callers at once, on a few shared ids and socket paths, some with deadlines that pass
// while their call waits for the others: every answer is still one the method may give, and once
// the calls are over the state file matches ListPorts, every port deletes and no socket is left.
TEST_F(ControlFuzzTest, ConcurrentCallersKeepTheStateWhole) {
  constexpr int kThreads = 4;
  constexpr int kCallsPerThread = 500;
  struct Call {
    Method method;
    std::unique_ptr<google::protobuf::Message> request;
    grpc::Status status;
    bool shortDeadline = false;
  };
  std::vector<std::vector<Call>> calls(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed_ + static_cast<uint64_t>(t) + 1);
      auto below = [&](uint64_t n) { return rng() % n; };
      auto stub = pb::Dataplane::NewStub(channel_);
      for (int i = 0; i < kCallsPerThread; ++i) {
        Call call;
        call.shortDeadline = below(5) == 0;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() +
                         (call.shortDeadline ? std::chrono::microseconds(below(20000))
                                             : std::chrono::microseconds(10'000'000)));
        const std::string slot = std::to_string(below(10));
        const uint64_t what = below(10);
        if (what < 5) {
          auto req = std::make_unique<pb::AddPortRequest>();
          pb::Port& p = *req->mutable_port();
          p.set_id("conc-" + slot);
          const bool vpc = below(2) == 0;
          p.set_network(vpc ? kVpc : kL2);
          p.set_socket_path((allowed_ / ("conc-" + std::to_string(below(10)) + ".sock")).string());
          p.set_vhost_mode(below(2) == 0 ? pb::VHOST_MODE_CLIENT : pb::VHOST_MODE_SERVER);
          p.add_ips((vpc ? "10.1.0." : "10.2.0.") + std::to_string(1 + below(10)));
          p.set_queues(static_cast<uint32_t>(below(3)));
          if (below(2) == 0) p.set_uid("u" + std::to_string(below(3)));
          pb::AddPortResponse resp;
          call.method = Method::AddPort;
          call.status = stub->AddPort(&ctx, *req, &resp);
          call.request = std::move(req);
        } else if (what < 8) {
          auto req = std::make_unique<pb::DeletePortRequest>();
          req->set_id("conc-" + slot);
          if (below(2) == 0) req->set_uid("u" + std::to_string(below(3)));
          pb::DeletePortResponse resp;
          call.method = Method::DeletePort;
          call.status = stub->DeletePort(&ctx, *req, &resp);
          call.request = std::move(req);
        } else if (what < 9) {
          auto req = std::make_unique<pb::GetPortRequest>();
          req->set_id("conc-" + slot);
          pb::GetPortResponse resp;
          call.method = Method::GetPort;
          call.status = stub->GetPort(&ctx, *req, &resp);
          call.request = std::move(req);
        } else {
          auto req = std::make_unique<pb::GetStatsRequest>();
          pb::GetStatsResponse resp;
          call.method = Method::GetStats;
          call.status = stub->GetStats(&ctx, *req, &resp);
          call.request = std::move(req);
        }
        calls[t].push_back(std::move(call));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  int index = 0;
  for (const std::vector<Call>& thread : calls) {
    for (const Call& call : thread) {
      std::set<StatusCode> allowed = {StatusCode::OK};
      if (call.method == Method::AddPort) {
        allowed = {StatusCode::OK, StatusCode::INVALID_ARGUMENT, StatusCode::ALREADY_EXISTS,
                   StatusCode::RESOURCE_EXHAUSTED};
      } else if (call.method == Method::GetPort) {
        allowed = {StatusCode::OK, StatusCode::NOT_FOUND};
      }
      checkStatus(index++, call.method, call.request.get(), call.status, allowed,
                  call.shortDeadline);
    }
  }
  std::cout << summary(index) << std::endl;
  // Calls whose deadline passed may still run on the server: checkState waits for them.
  checkState(index);
  checkFilesystem(index);
  for (const pb::Port& p : listed_.ports()) {
    pb::DeletePortRequest req;
    req.set_id(p.id());
    pb::DeletePortResponse resp;
    grpc::Status st = stub_->DeletePort(context(false).get(), req, &resp);
    EXPECT_TRUE(st.ok() && resp.existed()) << p.id() << ": " << st.error_message();
  }
  checkState(index);
  EXPECT_EQ(listed_.ports_size(), 0);
  std::set<std::string> left;
  for (int i = 0; i < 50; ++i) {
    left.clear();
    for (const std::string& s : socketsBelow(allowed_)) {
      if (s.find("/conc-") != std::string::npos) left.insert(s);
    }
    if (left.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(left.empty()) << left.size() << " sockets left, e.g. " << *left.begin();
  const std::vector<std::string> errors = sink_->errors();
  EXPECT_TRUE(errors.empty()) << errors.size()
                              << " error lines from the switch, first: " << errors.front();
}

// Values that look valid up to a NUL byte or that overflow: the dataplane must check the whole
// value, not what a C library function sees of it. Each is refused with INVALID_ARGUMENT and
// leaves no port behind.
TEST_F(ControlFuzzTest, ValuesAreCheckedWhole) {
  struct Case {
    std::string what;
    std::function<void(pb::Port&)> change;
  };
  const std::vector<Case> cases = {
      {"an IP with a NUL and junk after it",
       [](pb::Port& p) { p.add_ips(std::string("10.2.0.9\0junk", 13)); }},
      {"an IP/prefix with a NUL before the prefix",
       [](pb::Port& p) { p.add_ips(std::string("10.2.0.9\0x/24", 13)); }},
      {"an owner with a NUL and junk after it",
       [](pb::Port& p) {
         p.mutable_socket_permissions()->set_owner(std::string("root\0junk", 9));
       }},
      {"an owner group with a NUL and junk after it",
       [](pb::Port& p) {
         p.mutable_socket_permissions()->set_owner(std::string("0:root\0junk", 11));
       }},
      {"a uid beyond 32 bits (wraps to 0, root)",
       [](pb::Port& p) { p.mutable_socket_permissions()->set_owner("4294967296:4294967296"); }},
      {"a gid beyond 32 bits (wraps to 1)",
       [](pb::Port& p) { p.mutable_socket_permissions()->set_owner("0:4294967297"); }},
      {"the ids 4294967295, (uid_t)-1: chown leaves the owner as it is",
       [](pb::Port& p) { p.mutable_socket_permissions()->set_owner("4294967295:4294967295"); }},
  };
  int n = 0;
  for (const Case& c : cases) {
    pb::AddPortRequest req;
    pb::Port& p = *req.mutable_port();
    p.set_id("whole-" + std::to_string(n));
    p.set_network(kL2);
    p.set_socket_path((allowed_ / ("whole-" + std::to_string(n++) + ".sock")).string());
    p.set_vhost_mode(pb::VHOST_MODE_CLIENT);
    c.change(p);
    pb::AddPortResponse resp;
    grpc::Status st = stub_->AddPort(context(false).get(), req, &resp);
    EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT)
        << c.what << ": " << codeName(st.error_code()) << " " << st.error_message()
        << "\n  request: " << req.ShortDebugString()
        << "\n  answer: " << resp.port().ShortDebugString();
  }
  checkState(0);
  EXPECT_EQ(listed_.ports_size(), 0);
}

}  // namespace
}  // namespace enadpdk::vhostuser
