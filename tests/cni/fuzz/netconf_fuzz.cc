// libFuzzer target: ena-dpdk-cni's parsing of its two inputs, the network configuration (stdin)
// and the CNI_* environment, and the slot resolution that turns them into paths.
//
// Input: "<environment>\0<config>": environment lines "KEY=VALUE" separated by '\n', then a NUL,
// then the JSON configuration (the whole input is the configuration when there is no NUL).
// Besides crashes and sanitizer reports it checks the parsers' contracts: errors carry only the
// codes documented for them, and whatever parses renders again and fits a Unix socket path.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "cni/errors.h"
#include "cni/netconf.h"
#include "cni/result.h"
#include "cni/slot_files.h"
#include "common/unix_socket.h"

namespace {

using enadpdk::cni::CniError;

void require(bool condition) {
  if (!condition) __builtin_trap();
}

std::map<std::string, std::string> parseEnv(std::string_view text) {
  std::map<std::string, std::string> env;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    if (const size_t eq = line.find('='); eq != std::string_view::npos) {
      env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    }
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return env;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view envText = nul == std::string_view::npos ? "" : input.substr(0, nul);
  const std::string_view config = nul == std::string_view::npos ? input : input.substr(nul + 1);

  absl::StatusOr<enadpdk::cni::NetConf> conf = enadpdk::cni::parseNetConf(config);
  if (!conf.ok()) {
    const CniError code = enadpdk::cni::cniCodeOf(conf.status());
    require(code == CniError::kDecodeFailure || code == CniError::kInvalidConfig ||
            code == CniError::kIncompatibleVersion);
  } else {
    require(enadpdk::cni::isSupportedVersion(conf->cniVersion));
    if (conf->prevResult) {
      require(enadpdk::cni::renderResult(*conf->prevResult, conf->cniVersion).ok());
    }
    require(conf->vhost.queues >= 1 && conf->vhost.queues <= enadpdk::cni::kMaxVhostQueues);
  }

  absl::StatusOr<enadpdk::cni::Invocation> inv =
      enadpdk::cni::parseInvocation(parseEnv(envText), conf.ok() && !conf->ipamType.empty());
  if (!inv.ok()) {
    require(enadpdk::cni::cniCodeOf(inv.status()) == CniError::kInvalidEnvironment);
  } else if (conf.ok() && !inv->containerId.empty() && !inv->ifname.empty()) {
    std::string deviceId = conf->effectiveDeviceId();
    if (!enadpdk::cni::networkOfDeviceId(deviceId)) deviceId.clear();
    absl::StatusOr<enadpdk::cni::Slot> slot = enadpdk::cni::resolveSlot(*conf, *inv, deviceId);
    if (slot.ok()) {
      require(slot->socketPath.size() <= enadpdk::common::kMaxSocketPathLength);
      require(slot->podSocketPath.size() <= enadpdk::common::kMaxSocketPathLength);
      // Container IDs and ifnames are validated, so the slot stays inside slotDir.
      const std::string prefix = std::filesystem::path(conf->slotDir).lexically_normal().string();
      require(slot->socketPath.compare(0, prefix.size(), prefix) == 0);
    } else {
      require(enadpdk::cni::cniCodeOf(slot.status()) == CniError::kInvalidConfig);
    }
  }
  return 0;
}
