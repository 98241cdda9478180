#include "cni/slot_files.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "cni/errors.h"
#include "common/atomic_file.h"
#include "common/fnv1a.h"
#include "common/json_text.h"
#include "common/strings.h"
#include "common/unix_socket.h"
#include "nlohmann/json.hpp"

namespace enadpdk::cni {
namespace {

using common::strCat;

}  // namespace

std::string perAttachmentDirName(std::string_view containerId, std::string_view ifname) {
  return fmt::format("cni_{}_{}_{:08x}", containerId.substr(0, 12), ifname,
                     common::fnv1a32(strCat(containerId, "/", ifname)));
}

absl::StatusOr<Slot> resolveSlot(const NetConf& conf, const Invocation& inv,
                                 const std::string& deviceId) {
  Slot slot;
  slot.deviceId = deviceId;
  const std::filesystem::path slotDir(conf.slotDir);
  if (deviceId.empty()) {
    slot.hostDir = slotDir / perAttachmentDirName(inv.containerId, inv.ifname);
    slot.ownsDir = true;
  } else {
    slot.hostDir = slotDir / deviceId;
  }
  slot.socketPath = (slot.hostDir / kSocketFileName).lexically_normal().string();
  slot.podSocketPath = deviceId.empty()
                           ? slot.socketPath
                           : (std::filesystem::path(conf.podSlotDir) / deviceId / kSocketFileName)
                                 .lexically_normal()
                                 .string();
  for (const auto& [path, what] :
       {std::pair{slot.socketPath, "slotDir"}, std::pair{slot.podSocketPath, "podSlotDir"}}) {
    if (path.size() > common::kMaxSocketPathLength) {
      return cniError(CniError::kInvalidConfig,
                      strCat(what, ": the socket path ", path, " is ", path.size(),
                             " bytes, longer than the ", common::kMaxSocketPathLength,
                             " a Unix socket path can have; use a shorter directory"));
    }
  }
  return slot;
}

std::string renderPodAttachmentInfo(const PodAttachmentInfo& info) {
  nlohmann::json j = {{"containerID", info.containerId},
                      {"ifname", info.ifname},
                      {"cniNetwork", info.cniNetwork},
                      {"network", info.network},
                      {"socketPath", info.socketPath},
                      {"vhostMode", info.vhostMode},
                      {"mac", info.mac},
                      {"ips", info.ips},
                      {"mtu", info.mtu},
                      {"queues", info.queues}};
  if (!info.deviceId.empty()) j["deviceID"] = info.deviceId;
  if (!info.gateway.empty()) j["gateway"] = info.gateway;
  if (!info.linkLocal.empty()) j["linkLocal"] = info.linkLocal;
  return common::dumpJson(j, 2) + "\n";
}

std::string podLinkLocal(std::string_view cidr) {
  const std::string address(cidr.substr(0, cidr.find('/')));
  in6_addr in{};
  if (::inet_pton(AF_INET6, address.c_str(), &in) != 1) return {};
  in6_addr ll{};
  ll.s6_addr[0] = 0xfe;
  ll.s6_addr[1] = 0x80;
  std::memcpy(ll.s6_addr + 8, in.s6_addr + 8, 8);
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET6, &ll, text, sizeof text);
  return common::strCat(text, "/64");
}

absl::Status writePodAttachmentInfo(const std::filesystem::path& dir,
                                    const PodAttachmentInfo& info) {
  return replaceFile(dir / kAttachmentFileName, renderPodAttachmentInfo(info), 0644);
}

bool podAttachmentInfoIsFor(const std::filesystem::path& dir, std::string_view containerId,
                            std::string_view ifname) {
  absl::StatusOr<std::string> text = common::readFile(dir / kAttachmentFileName);
  if (!text.ok()) return false;
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  auto field = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  return field("containerID") == containerId && field("ifname") == ifname;
}

std::string vhostUserDeviceInfo(VhostMode mode, std::string_view path) {
  return common::dumpJson(nlohmann::json{
      {"type", "vhost-user"},
      {"version", "1.1.0"},
      {"vhost-user",
       {{"mode", mode == VhostMode::Server ? "server" : "client"}, {"path", std::string(path)}}}});
}

absl::Status writeDeviceInfo(const std::filesystem::path& path, std::string_view content) {
  if (absl::Status s = common::makeDirectories(path.parent_path(), 0700); !s.ok()) return s;
  return replaceFile(path, content, 0644);
}

absl::Status replaceFile(const std::filesystem::path& path, std::string_view content, mode_t mode) {
  return common::replaceFileAtomic(path, content, mode);
}

absl::Status removeFileIfExists(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(strCat("cannot remove ", path.string(), ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace enadpdk::cni
