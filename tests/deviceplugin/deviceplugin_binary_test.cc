// The ena-dpdk-deviceplugin binary as the DaemonSet runs it: against a fake host and a fake
// kubelet, driven by signals.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

#include "common/atomic_file.h"
#include "deviceplugin/plugin_config.h"
#include "tests/deviceplugin/test_env.h"

extern char** environ;

namespace enadpdk::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

bool eventually(const std::function<bool()>& condition,
                milliseconds timeout = milliseconds(10000)) {
  const auto deadline = steady_clock::now() + timeout;
  while (!condition()) {
    if (steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));  // polling interval, not synchronisation
  }
  return true;
}

// A running ena-dpdk-deviceplugin whose stderr goes to a file.
class PluginProcess {
 public:
  PluginProcess(const fs::path& root, const fs::path& config, const fs::path& log) : log_(log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    const std::string rootArg = root.string();
    const std::string configArg = config.string();
    const char* argv[] = {ENA_DPDK_DEVICEPLUGIN_BINARY,
                          "--root",
                          rootArg.c_str(),
                          "--config",
                          configArg.c_str(),
                          "--log-level",
                          "info",
                          nullptr};
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, const_cast<char* const*>(argv), environ) !=
        0) {
      ADD_FAILURE() << "cannot start " << argv[0];
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~PluginProcess() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  void signal(int number) { ::kill(pid_, number); }

  // The exit status once the process ended within `timeout`.
  std::optional<int> waitForExit(milliseconds timeout) {
    eventually(
        [&] {
          int status = 0;
          if (::waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
          return status_.has_value();
        },
        timeout);
    if (!status_ || !WIFEXITED(*status_)) return std::nullopt;
    return WEXITSTATUS(*status_);
  }

  std::string log() const {
    absl::StatusOr<std::string> text = common::readFile(log_);
    return text.ok() ? *text : "";
  }

 private:
  fs::path log_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

TEST(DevicepluginBinaryTest, ServesReloadsOnSighupAndStopsCleanlyOnSigterm) {
  PluginTestEnv env;
  const fs::path log = env.host().path("/plugin.log");
  PluginProcess plugin(env.host().root(), env.configPath(), log);
  ASSERT_TRUE(env.kubelet().waitForRegistrations(4, milliseconds(10000))) << plugin.log();
  auto client = env.watch("ena-dedicated");
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->waitForUpdate(0).ok());

  plugin.signal(SIGHUP);
  ASSERT_TRUE(eventually([&] {
    return plugin.log().find("config reloaded, nothing changed") != std::string::npos;
  })) << plugin.log();
  EXPECT_THAT(plugin.log(), HasSubstr("SIGHUP received"));

  plugin.signal(SIGTERM);
  std::optional<int> status = plugin.waitForExit(milliseconds(10000));
  ASSERT_TRUE(status.has_value()) << plugin.log();
  EXPECT_EQ(*status, 0) << plugin.log();
  for (const char* resource : {"ena", "ena-dedicated", "ena-uplink", "hugepages-1Gi"}) {
    EXPECT_FALSE(fs::exists(env.deviceDir() / deviceplugin::socketFileName(resource))) << resource;
  }
  EXPECT_TRUE(eventually([&] { return (*client)->streamEnded(); }));
}

TEST(DevicepluginBinaryTest, ASecondInstanceRefusesToStealTheSockets) {
  PluginTestEnv env;
  PluginProcess first(env.host().root(), env.configPath(), env.host().path("/first.log"));
  ASSERT_TRUE(env.kubelet().waitForRegistrations(4, milliseconds(10000))) << first.log();
  // Another metrics port so that the socket check is what fails.
  nlohmann::json config = standardConfig();
  const fs::path secondConfig = env.host().path("/etc/ena-dpdk/second.json");
  ASSERT_TRUE(common::writeFileAtomic(secondConfig, config.dump(), 0644).ok());
  PluginProcess second(env.host().root(), secondConfig, env.host().path("/second.log"));
  std::optional<int> status = second.waitForExit(milliseconds(10000));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 1);
  EXPECT_THAT(second.log(), HasSubstr("ena-dpdk-deviceplugin: "));
  EXPECT_TRUE(env.watch("ena").ok());
  first.signal(SIGTERM);
  EXPECT_EQ(first.waitForExit(milliseconds(10000)), 0);
}

}  // namespace
}  // namespace enadpdk::testing
