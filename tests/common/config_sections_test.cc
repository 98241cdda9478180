// Whole configuration files read by several components' loaders: each loader reads only its
// section, and every error names the file.

#include "common/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "deviceplugin/plugin_config.h"
#include "ipam/node_config.h"
#include "nodeprep/nodeprep_config.h"
#include "tests/support/config_test_support.h"
#include "vhostuser/dataplane_config.h"

namespace enadpdk::testing {
namespace {

using vhostuser::DataplaneConfig;
using vhostuser::NetworkConfig;

// ---- files

TEST_F(ConfigFileTest, LoadsASection) {
  std::filesystem::path path =
      write(R"({"dataplane": {"networks": [{"name": "local"}]}, "nodeprep": {"hostExec": "x"}})");
  absl::StatusOr<DataplaneConfig> config = vhostuser::loadDataplaneConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->networks, std::vector<NetworkConfig>{{.name = "local"}});
  EXPECT_EQ(message(nodeprep::loadNodeprepConfig(path).status()),
            path.string() + R"(: nodeprep.hostExec: expected "direct" or "nsenter", got "x")");
}

TEST_F(ConfigFileTest, ParseErrorsArePrefixedWithThePath) {
  std::filesystem::path path = write(R"({"dataplane": {"networks": [
      {"name": "eni1", "uplink": {"device": "0000:00:06.0"}}, {"name": "local", "mode": "x"}]}})");
  absl::Status status = vhostuser::loadDataplaneConfig(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(message(status),
            path.string() + R"(: dataplane.networks[1].mode: expected "vpc" or "l2", got "x")");
  EXPECT_EQ(
      message(deviceplugin::loadDevicepluginConfig(write(R"({"devicepluggin": {}})")).status()),
      path.string() + ": devicepluggin: unknown section");
  EXPECT_EQ(message(ipam::loadIpamConfig(write(R"({"ipam": {"stateDir": "ipam"}})")).status()),
            path.string() + R"(: ipam.stateDir: expected an absolute path, got "ipam")");
}

TEST_F(ConfigFileTest, MissingFile) {
  std::filesystem::path path = dir_ / "missing.json";
  absl::Status status = vhostuser::loadDataplaneConfig(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(message(status), path.string() + ": cannot read: No such file or directory");
}

}  // namespace
}  // namespace enadpdk::testing
