#include "vhostuser/port_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "common/atomic_file.h"
#include "tests/support/fake_host.h"
#include "vhostuser/state_store.h"

namespace enadpdk::vhostuser {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

// 2026-12-05T10:11:12Z.
const std::chrono::system_clock::time_point kNow =
    std::chrono::system_clock::from_time_t(1796465472);

std::string entry(std::string_view id) {
  return std::string(R"({"id": ")") + std::string(id) +
         R"(", "network": "vpc", "socketPath": "/var/run/ena-dpdk/vhost/)" + std::string(id) +
         R"(.sock", "vhostMode": "server", "mac": "02:00:00:00:00:01", "ips": ["10.0.1.5/32"],
            "queues": 2, "mtu": 9001})";
}

// A state file with good ports "a" and "c" around `middle`.
std::string stateWith(std::string_view middle) {
  return R"({"version": 1, "ports": [)" + entry("a") + ", " + std::string(middle) + ", " +
         entry("c") + "]}";
}

std::vector<std::string> idsOf(const std::vector<PortSpec>& ports) {
  std::vector<std::string> ids;
  for (const PortSpec& p : ports) ids.push_back(p.id);
  return ids;
}

TEST(ParseStateTest, ReadsEveryField) {
  LoadedState s = parseState(stateWith(entry("b")));
  EXPECT_THAT(s.problems, IsEmpty());
  ASSERT_THAT(idsOf(s.ports), ElementsAre("a", "b", "c"));
  EXPECT_EQ(s.ports[1], (PortSpec{.id = "b",
                                  .network = "vpc",
                                  .socket_path = "/var/run/ena-dpdk/vhost/b.sock",
                                  .vhost_mode = VhostMode::Server,
                                  .mac = "02:00:00:00:00:01",
                                  .ips = {"10.0.1.5/32"},
                                  .queues = 2,
                                  .mtu = 9001}));
}

TEST(ParseStateTest, RoundTripsWhatSaveWrites) {
  const PortSpec client{.id = "x",
                        .network = "l2",
                        .socket_path = "/var/run/ena-dpdk/vhost/x.sock",
                        .vhost_mode = VhostMode::Client,
                        .queues = 1,
                        .mtu = 1500,
                        .owner = "0:0",
                        .perm = "0660",
                        .uid = "9f1c0ffee0d15ea5e0ddba11ab1ec0de"};
  const std::string text =
      nlohmann::json{{"version", 1}, {"ports", {portSpecToJson(client)}}}.dump();
  LoadedState s = parseState(text);
  EXPECT_THAT(s.problems, IsEmpty());
  EXPECT_THAT(s.ports, ElementsAre(client));
}

// The uid is the caller's token for one incarnation of a port: a bounded, plain value.
TEST(PortUidTest, AcceptsPlainTokensOnly) {
  EXPECT_TRUE(checkPortUid("").ok());
  EXPECT_TRUE(checkPortUid("9f1c0ffee0d15ea5e0ddba11ab1ec0de").ok());
  EXPECT_TRUE(checkPortUid("a-B-3").ok());
  EXPECT_TRUE(checkPortUid(std::string(kMaxPortUidLength, 'a')).ok());
  for (const std::string& bad : {std::string(kMaxPortUidLength + 1, 'a'), std::string("a b"),
                                 std::string("a/b"), std::string("\xff"), std::string("a\nb")}) {
    absl::Status s = checkPortUid(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << bad;
    EXPECT_THAT(std::string(s.message()), StartsWith("uid: "));
  }
  LoadedState s = parseState(stateWith(R"({"id": "b", "network": "vpc", "socketPath": "/x.sock",
                                          "vhostMode": "server", "uid": "no/slash"})"));
  EXPECT_THAT(s.ports, SizeIs(2));
  EXPECT_THAT(s.problems, ElementsAre(HasSubstr("uid: ")));
}

// The pod a port belongs to labels its metrics and appears in logs: only names Kubernetes itself
// accepts get in, and the message never quotes what was refused.
TEST(PodRefTest, AcceptsKubernetesNamesOnly) {
  EXPECT_TRUE(checkPodRef("", "").ok());
  EXPECT_TRUE(checkPodRef("default", "web-0").ok());
  EXPECT_TRUE(checkPodRef("kube-system", "coredns-5d78c9869d-x2x4z").ok());
  EXPECT_TRUE(checkPodRef("a", "a.b-c.d0").ok());
  EXPECT_TRUE(checkPodRef(std::string(kMaxPodNamespaceLength, 'n'), "").ok());
  EXPECT_TRUE(checkPodRef("", std::string(63, 'p') + "." + std::string(63, 'p') + "." +
                                  std::string(63, 'p') + "." + std::string(61, 'p'))
                  .ok());  // 253 bytes
  struct Case {
    std::string pod_namespace;
    std::string pod_name;
    std::string field;
  };
  for (const Case& c : std::vector<Case>{
           {std::string(kMaxPodNamespaceLength + 1, 'n'), "", "pod_namespace"},
           {"Default", "", "pod_namespace"},
           {"-ns", "", "pod_namespace"},
           {"ns-", "", "pod_namespace"},
           {"a.b", "", "pod_namespace"},  // a label, not a subdomain
           {"ns\n", "", "pod_namespace"},
           {"", std::string(kMaxPodNameLength + 1, 'p'), "pod_name"},
           {"", std::string(64, 'p'), "pod_name"},  // a label longer than 63
           {"", "web\"} 1\nfake_metric{a=\"", "pod_name"},
           {"", "web\\0", "pod_name"},
           {"", "web\n0", "pod_name"},
           {"", "web\r0", "pod_name"},
           {"", std::string("web\0x", 5), "pod_name"},
           {"", "web\x1b[31m", "pod_name"},
           {"", "Web-0", "pod_name"},
           {"", "web..0", "pod_name"},
           {"", ".web", "pod_name"},
           {"", "web.", "pod_name"},
           {"", "web_0", "pod_name"},
           {"",
            "w\xc3\xa9"
            "b",
            "pod_name"},
       }) {
    absl::Status s = checkPodRef(c.pod_namespace, c.pod_name);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << c.pod_namespace << "/" << c.pod_name;
    EXPECT_THAT(std::string(s.message()), StartsWith(c.field + ": "));
    if (!c.pod_name.empty()) {
      EXPECT_THAT(std::string(s.message()), Not(HasSubstr(c.pod_name)));
    }
  }
}

TEST(PodRefTest, ValidatePortSpecRefusesABadPodName) {
  DataplaneConfig config;
  config.networks = {NetworkConfig{.name = "local"}};
  config.allowedSocketDirs = {"/var/run/ena-dpdk/vhost"};
  PortSpec spec{.id = "c0ffee/net1",
                .network = "local",
                .socket_path = "/var/run/ena-dpdk/vhost/local-00/vhost.sock",
                .pod_namespace = "shop",
                .pod_name = "web-0"};
  ASSERT_TRUE(validatePortSpec(spec, config).ok());
  EXPECT_EQ(spec.pod_namespace, "shop");
  EXPECT_EQ(spec.pod_name, "web-0");
  spec.pod_name = "web\"} 1\n";
  absl::Status s = validatePortSpec(spec, config);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()), StartsWith("pod_name: "));
  spec.pod_name = "web-0";
  spec.pod_namespace = "Shop";
  EXPECT_THAT(std::string(validatePortSpec(spec, config).message()), StartsWith("pod_namespace: "));
}

// State files written before ports knew their pod read as ports of an unknown pod; a port with
// its pod round-trips; a pod name the API would refuse costs that entry only.
TEST(ParseStateTest, PodFieldsAreOptionalAndRoundTrip) {
  LoadedState old = parseState(stateWith(entry("b")));
  ASSERT_THAT(old.problems, IsEmpty());
  ASSERT_THAT(old.ports, SizeIs(3));
  EXPECT_EQ(old.ports[1].pod_namespace, "");
  EXPECT_EQ(old.ports[1].pod_name, "");
  EXPECT_FALSE(portSpecToJson(old.ports[1]).contains("podNamespace"));
  EXPECT_FALSE(portSpecToJson(old.ports[1]).contains("podName"));

  PortSpec with_pod = old.ports[1];
  with_pod.pod_namespace = "shop";
  with_pod.pod_name = "web-0";
  const nlohmann::json j = portSpecToJson(with_pod);
  EXPECT_EQ(j.at("podNamespace"), "shop");
  EXPECT_EQ(j.at("podName"), "web-0");
  LoadedState s = parseState(nlohmann::json{{"version", 1}, {"ports", {j}}}.dump());
  EXPECT_THAT(s.problems, IsEmpty());
  EXPECT_THAT(s.ports, ElementsAre(with_pod));

  LoadedState bad = parseState(stateWith(R"({"id": "b", "network": "vpc", "socketPath": "/x.sock",
                                            "vhostMode": "server", "podName": "a\nb"})"));
  EXPECT_THAT(idsOf(bad.ports), ElementsAre("a", "c"));
  EXPECT_THAT(bad.problems, ElementsAre(HasSubstr("pod_name: ")));
  LoadedState wrong_type = parseState(stateWith(R"({"id": "b", "network": "vpc",
      "socketPath": "/x.sock", "vhostMode": "server", "podNamespace": 7})"));
  EXPECT_THAT(wrong_type.problems, ElementsAre(HasSubstr("podNamespace: expected a string")));
}

// One malformed entry costs that entry only; the problem names the entry and the key.
TEST(ParseStateTest, SkipsEachKindOfBadEntryAndKeepsTheOthers) {
  struct Case {
    std::string description;
    std::string middle;
    std::string problem;
  };
  const std::vector<Case> cases = {
      {"queues as text", R"({"id": "b", "network": "vpc", "socketPath": "/s", "vhostMode": "server",
          "queues": "two"})",
       "ports[1]: queues: expected an integer 0..4294967295, got string"},
      {"numeric id", R"({"id": 7, "network": "vpc", "socketPath": "/s", "vhostMode": "server"})",
       "ports[1]: id: expected a string, got number"},
      {"not an object", "42", "ports[1]: expected an object, got number"},
      {"an array", R"(["b"])", "ports[1]: expected an object, got array"},
      {"null", "null", "ports[1]: expected an object, got null"},
      {"unknown vhostMode", R"({"id": "b", "network": "vpc", "socketPath": "/s",
          "vhostMode": "both"})",
       R"(ports[1]: vhostMode: expected "server" or "client")"},
      {"missing socketPath", R"({"id": "b", "network": "vpc", "vhostMode": "server"})",
       "ports[1]: socketPath: missing"},
      {"negative queues", R"({"id": "b", "network": "vpc", "socketPath": "/s",
          "vhostMode": "server", "queues": -1})",
       "ports[1]: queues: expected an integer 0..4294967295, got another number"},
      {"fractional mtu", R"({"id": "b", "network": "vpc", "socketPath": "/s",
          "vhostMode": "server", "mtu": 1500.5})",
       "ports[1]: mtu: expected an integer 0..4294967295, got another number"},
      {"mtu beyond 32 bits", R"({"id": "b", "network": "vpc", "socketPath": "/s",
          "vhostMode": "server", "mtu": 4294967297})",
       "ports[1]: mtu: expected an integer 0..4294967295, got another number"},
      {"ips not an array", R"({"id": "b", "network": "vpc", "socketPath": "/s",
          "vhostMode": "server", "ips": "10.0.1.5"})",
       "ports[1]: ips: expected an array, got string"},
      {"an ip not a string", R"({"id": "b", "network": "vpc", "socketPath": "/s",
          "vhostMode": "server", "ips": ["10.0.1.5", 3]})",
       "ports[1]: ips[1]: expected a string, got number"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    LoadedState s = parseState(stateWith(c.middle));
    EXPECT_THAT(idsOf(s.ports), ElementsAre("a", "c"));
    EXPECT_THAT(s.problems, ElementsAre(c.problem));
  }
}

TEST(ParseStateTest, TextThatIsNoStateFileGivesOneProblemAndNoPorts) {
  const std::vector<std::string> texts = {
      "",
      "{not json",
      "[]",
      R"({"ports": {}})",
      R"({"version": 1})",
      std::string("{\"ports\": [{\"id\": \"\xff\"}]}"),  // invalid UTF-8 is not JSON
  };
  for (const std::string& text : texts) {
    SCOPED_TRACE(text);
    LoadedState s = parseState(text);
    EXPECT_THAT(s.ports, IsEmpty());
    ASSERT_THAT(s.problems, SizeIs(1));
    EXPECT_THAT(s.problems[0], StartsWith("not a dataplane state file: "));
    EXPECT_THAT(s.problems[0], ::testing::Not(HasSubstr("\xff")));
  }
}

TEST(CorruptCopyPathTest, AppendsTheUtcTime) {
  EXPECT_EQ(corruptCopyPath("/var/lib/ena-dpdk/dataplane-state.json", kNow),
            "/var/lib/ena-dpdk/dataplane-state.json.corrupt-20261205T101112Z");
}

class LoadStateTest : public ::testing::Test {
 protected:
  // The files in the state directory, by name.
  std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }
  void write(std::string_view text) { ASSERT_TRUE(common::writeFileAtomic(path_, text).ok()); }
  static mode_t modeOf(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  }

  testing::FakeHost host_;
  const fs::path dir_ = [this] {
    fs::create_directories(host_.root() / "state");
    return host_.root() / "state";
  }();
  const std::string path_ = (dir_ / "dataplane-state.json").string();
  const std::string copy_ = corruptCopyPath(path_, kNow);
};

TEST_F(LoadStateTest, AbsentFileIsAnEmptyTable) {
  absl::StatusOr<LoadedState> s = loadState(path_, kNow);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->ports, IsEmpty());
  EXPECT_THAT(s->problems, IsEmpty());
  EXPECT_THAT(files(), IsEmpty());
}

TEST_F(LoadStateTest, GoodFileIsNotCopied) {
  write(stateWith(entry("b")));
  absl::StatusOr<LoadedState> s = loadState(path_, kNow);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(idsOf(s->ports), ElementsAre("a", "b", "c"));
  EXPECT_EQ(s->kept_copy, "");
  EXPECT_THAT(files(), ElementsAre("dataplane-state.json"));
}

TEST_F(LoadStateTest, BadEntryKeepsTheGoodOnesAndACopy) {
  const std::string text = stateWith(R"({"id": "b", "queues": "two"})");
  write(text);
  absl::StatusOr<LoadedState> s = loadState(path_, kNow);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(idsOf(s->ports), ElementsAre("a", "c"));
  EXPECT_THAT(s->problems, SizeIs(1));
  EXPECT_EQ(s->kept_copy, copy_);
  EXPECT_TRUE(s->keep_status.ok());
  EXPECT_EQ(*common::readFile(copy_), text);
  EXPECT_EQ(modeOf(copy_), 0600u);
  EXPECT_EQ(*common::readFile(path_), text);  // loading changes nothing
}

TEST_F(LoadStateTest, CorruptFileIsKeptByteForByte) {
  constexpr char kCorrupt[] = "{\"version\": 1, \"ports\": [\x00\xff garbage";
  const std::string text(kCorrupt, sizeof(kCorrupt) - 1);
  write(text);
  absl::StatusOr<LoadedState> s = loadState(path_, kNow);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->ports, IsEmpty());
  EXPECT_THAT(s->problems, SizeIs(1));
  EXPECT_EQ(s->kept_copy, copy_);
  EXPECT_EQ(*common::readFile(copy_), text);
  EXPECT_EQ(modeOf(copy_), 0600u);
  EXPECT_THAT(files(),
              ElementsAre("dataplane-state.json", "dataplane-state.json.corrupt-20261205T101112Z"));
}

TEST_F(LoadStateTest, SecondCopyInTheSameSecondGetsItsOwnName) {
  write("garbage one");
  ASSERT_TRUE(loadState(path_, kNow).ok());
  write("garbage two");
  absl::StatusOr<LoadedState> s = loadState(path_, kNow);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->kept_copy, copy_ + "-1");
  EXPECT_EQ(*common::readFile(copy_), "garbage one");
  EXPECT_EQ(*common::readFile(copy_ + "-1"), "garbage two");
}

TEST_F(LoadStateTest, KeepStateCopyWritesTheBytesItIsGiven) {
  write(stateWith(entry("b")));
  absl::StatusOr<LoadedState> s = loadState(path_, kNow);
  ASSERT_TRUE(s.ok()) << s.status();
  write("rewritten by the first restored port");
  absl::StatusOr<std::string> copy = keepStateCopy(path_, s->text, kNow);
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ(*copy, copy_);
  EXPECT_EQ(*common::readFile(copy_), stateWith(entry("b")));
}

TEST_F(LoadStateTest, UnreadableFileIsMovedAside) {
  fs::create_directory(path_);  // read() of a directory fails with EISDIR
  absl::StatusOr<LoadedState> s = loadState(path_, kNow);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->ports, IsEmpty());
  EXPECT_THAT(s->problems, SizeIs(1));
  EXPECT_EQ(s->kept_copy, copy_);
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_TRUE(fs::is_directory(copy_));
}

}  // namespace
}  // namespace enadpdk::vhostuser
