// deploy_config_check FILE...: loads each configuration file the way the components do (every
// section with its component's parser: vhostuser/dataplane_config.h, nodeprep/nodeprep_config.h,
// common/config.h for "ipam", the device plugin's sections with its own rules
// across them) and prints one line per file: "ok: FILE" or "FAIL: FILE: <error>". Exits 1 when a
// file fails. The deploy tests run it on the config.json of every rendered chart, so that the
// chart's values.schema.json and the binaries' parsers cannot drift apart unnoticed.

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/config.h"
#include "common/strings.h"
#include "deviceplugin/plugin_config.h"
#include "ipam/node_config.h"
#include "nodeprep/nodeprep_config.h"
#include "vhostuser/dataplane_config.h"

namespace enadpdk::deploy {
namespace {

// The first error of loading `path` with each component's loader; OK when all accept it.
absl::Status checkFile(const std::string& path) {
  const std::vector<absl::Status> results = {
      nodeprep::loadNodeprepConfig(path).status(),
      vhostuser::loadDataplaneConfig(path).status(),
      deviceplugin::loadPluginConfig(path).status(),
      ipam::loadIpamConfig(path).status(),
  };
  for (const absl::Status& status : results) {
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace enadpdk::deploy

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: deploy_config_check FILE...\n");
    return 2;
  }
  int failed = 0;
  for (int i = 1; i < argc; ++i) {
    const absl::Status status = enadpdk::deploy::checkFile(argv[i]);
    if (status.ok()) {
      std::printf("ok: %s\n", argv[i]);
    } else {
      std::printf("FAIL: %s: %s\n", argv[i],
                  std::string(enadpdk::common::toStd(status.message())).c_str());
      ++failed;
    }
  }
  return failed == 0 ? 0 : 1;
}
