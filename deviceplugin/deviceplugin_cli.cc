#include "deviceplugin/deviceplugin_cli.h"

#include "common/config.h"
#include "common/flags.h"
#include "common/strings.h"

namespace enadpdk::deviceplugin {

int devicepluginMain(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  common::FlagParser flags(
      "ena-dpdk-deviceplugin", "[--config PATH] [--root DIR] [--log-level LEVEL]",
      "Kubelet device plugin (v1beta1) for dpdk.aws/ena, dpdk.aws/ena-dedicated and\n"
      "dpdk.aws/hugepages-1Gi. Reads the \"deviceplugin\" and \"dataplane\" config sections.");
  flags.addCommonFlags();
  if (auto rc = flags.handleStandard(flags.parse(argc, argv), out, err)) return *rc;
  if (!flags.positional().empty()) {
    return common::reportFatal(
        err, flags.program(), common::strCat("unexpected argument \"", flags.positional()[0], "\""),
        2);
  }
  absl::StatusOr<common::DevicepluginConfig> config =
      common::loadDevicepluginConfig(flags.value("config"));
  if (!config.ok()) {
    return common::reportFatal(err, flags.program(), common::toStd(config.status().message()));
  }
  // TODO(issue 6): discovery, gRPC servers, registration.
  return common::reportFatal(
      err, flags.program(),
      "config is valid, but serving the kubelet is not supported yet (issue 6)");
}

}  // namespace enadpdk::deviceplugin
