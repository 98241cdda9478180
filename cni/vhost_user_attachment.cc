#include "cni/vhost_user_attachment.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <random>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "cni/errors.h"
#include "cni/text_util.h"
#include "common/atomic_file.h"
#include "common/logging.h"
#include "common/path_resolve.h"
#include "common/slot_dir.h"
#include "common/strings.h"
#include "common/unix_socket.h"
#include "common/vhost.h"

namespace enadpdk::cni {
namespace {

namespace fs = std::filesystem;
using common::strCat;
using common::toStd;
using dataplane_client::isTransient;
using dataplane_client::NetworkInfo;
using dataplane_client::PortInfo;
using dataplane_client::PortSpec;

// The CNI error for a failed dataplane call during ADD; `failure` says what failed ("the
// dataplane refused the port").
absl::Status dataplaneError(std::string_view failure, const absl::Status& s) {
  if (isTransient(s)) {
    return cniError(CniError::kTryAgainLater,
                    strCat("dataplane busy or unreachable: ", toStd(s.message())));
  }
  if (absl::IsInvalidArgument(s)) {
    return cniError(CniError::kInvalidConfig, strCat(failure, ": ", toStd(s.message())));
  }
  return cniError(
      CniError::kDataplaneRefused,
      strCat(failure, ": ", absl::StatusCodeToString(s.code()), ": ", toStd(s.message())));
}

// A locally administered unicast MAC derived from the port id, so that a repeated ADD asks the
// dataplane for the identical port (AddPort is idempotent only for identical requests).
std::string derivedMac(std::string_view portId) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : portId) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return fmt::format("02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", (h >> 32) & 0xff, (h >> 24) & 0xff,
                     (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff);
}

// The pod's namespace or name from CNI_ARGS (K8S_POD_NAMESPACE, K8S_POD_NAME; "" without), for
// the dataplane's per-port metric labels. The dataplane checks them (Kubernetes name rules).
std::string podArg(const Invocation& inv, const std::string& key) {
  auto it = inv.args.find(key);
  return it == inv.args.end() ? std::string() : it->second;
}

// A fresh identity for one incarnation of a port: 128 random bits as 32 hex digits.
std::string newPortUid() {
  std::random_device random;
  std::string uid;
  for (int i = 0; i < 4; ++i) uid += fmt::format("{:08x}", static_cast<uint32_t>(random()));
  return uid;
}

// "<containerID>/<ifname>" split and checked; nullopt for ids the CNI did not make.
std::optional<AttachmentKey> attachmentOfPortId(const std::string& id) {
  const size_t slash = id.rfind('/');
  if (slash == std::string::npos) return std::nullopt;
  AttachmentKey key{id.substr(0, slash), id.substr(slash + 1)};
  if (!validateContainerId(key.containerId).ok() || !validateIfName(key.ifname).ok()) {
    return std::nullopt;
  }
  return key;
}

}  // namespace

absl::StatusOr<std::string> VhostUserAttachment::resolveNetwork(const std::string& deviceId) const {
  std::string network = ctx_.conf.network;
  if (!deviceId.empty()) {
    std::optional<std::string> named = networkOfDeviceId(deviceId);
    if (!named) {
      return cniError(CniError::kInvalidConfig,
                      strCat("deviceID \"", common::clipped(deviceId),
                             "\" is not a dpdk.aws/ena attachment ID (<network>-<NN>, e.g. "
                             "eni1-07); pci mode takes dpdk.aws/ena-dedicated devices"));
    }
    if (network.empty()) {
      network = *named;
    } else if (network != *named) {
      return cniError(
          CniError::kInvalidConfig,
          strCat("network \"", network, "\" does not match deviceID \"", common::clipped(deviceId),
                 "\", an attachment of network \"", *named, "\""));
    }
  }
  if (network.empty()) {
    return cniError(CniError::kInvalidConfig,
                    "network: missing; name a dataplane network, or let Multus pass a "
                    "dpdk.aws/ena device ID (capability deviceID)");
  }
  return network;
}

unsigned VhostUserAttachment::finishPendingDeletes(
    const std::function<bool(const PendingPortDelete&)>& wanted) {
  const NetConf& conf = ctx_.conf;
  std::vector<std::string> problems;
  absl::StatusOr<std::vector<PendingPortDelete>> pending =
      listPendingPortDeletes(conf.stateDir, &problems);
  for (const std::string& p : problems)
    ctx_.log.warn("unreadable pending delete problem={}", common::logValue(p));
  if (!pending.ok()) {
    ctx_.log.warn("cannot list pending deletes error={}",
                  common::logValue(toStd(pending.status().message())));
    return 0;
  }
  unsigned finished = 0;
  for (const PendingPortDelete& record : *pending) {
    if (record.dataplaneSocket != conf.dataplaneSocket || !wanted(record)) continue;
    absl::StatusOr<bool> deleted = ctx_.dataplane->deletePort(record.portId, record.uid);
    if (!deleted.ok()) {
      ctx_.log.warn("pending delete still pending id={} error={}", record.portId,
                    common::logValue(toStd(deleted.status().message())));
      if (isTransient(deleted.status())) return finished;
      continue;
    }
    if (absl::Status s = clearPendingPortDelete(conf.stateDir, record.portId, record.uid);
        !s.ok()) {
      ctx_.log.warn("cannot clear pending delete id={} error={}", record.portId,
                    common::logValue(toStd(s.message())));
      continue;
    }
    ++finished;
    ctx_.log.info("finished pending delete id={} uid={} existed={} recorded_at={}", record.portId,
                  record.uid, *deleted, record.recordedAt);
  }
  return finished;
}

void VhostUserAttachment::settlePortInDoubt(const std::string& id, const std::string& uid,
                                            const std::string& network, const absl::Status& error) {
  // Only a call that may have reached the dataplane can have left a port behind.
  if (!absl::IsDeadlineExceeded(error) && !absl::IsCancelled(error) &&
      !absl::IsUnavailable(error) && !absl::IsUnknown(error)) {
    return;
  }
  const NetConf& conf = ctx_.conf;
  if (absl::Status s =
          recordPendingPortDelete(conf.stateDir, {.portId = id,
                                                  .containerId = ctx_.inv.containerId,
                                                  .ifname = ctx_.inv.ifname,
                                                  .network = network,
                                                  .dataplaneSocket = conf.dataplaneSocket,
                                                  .uid = uid});
      !s.ok()) {
    ctx_.log.error("port in doubt not recorded id={} uid={} error={}", id, uid,
                   common::logValue(toStd(s.message())));
  }
  absl::StatusOr<bool> deleted = ctx_.dataplane->deletePort(id, uid);
  if (deleted.ok() && *deleted) {
    if (absl::Status s = clearPendingPortDelete(conf.stateDir, id, uid); !s.ok()) {
      ctx_.log.warn("cannot clear pending delete id={} error={}", id,
                    common::logValue(toStd(s.message())));
    }
    ctx_.log.info("port in doubt deleted id={} uid={}", id, uid);
    return;
  }
  // Not there (yet): an answer already on its way when the deadline passed can still create it.
  // The record stays; the dataplane's sweep or the next ADD, DEL or GC finishes it.
  ctx_.log.info("port in doubt recorded id={} uid={} found={}", id, uid,
                common::logValue(deleted.ok() ? "no" : toStd(deleted.status().message())));
}

absl::Status VhostUserAttachment::prepare() {
  const NetConf& conf = ctx_.conf;
  deviceId_ = conf.effectiveDeviceId();
  absl::StatusOr<std::string> network = resolveNetwork(deviceId_);
  if (!network.ok()) return network.status();
  network_ = *network;
  absl::StatusOr<Slot> slot = resolveSlot(conf, ctx_.inv, deviceId_);
  if (!slot.ok()) return slot.status();
  slot_ = *std::move(slot);
  std::error_code ec;
  if (!slot_->ownsDir && !fs::is_directory(slot_->hostDir, ec)) {
    return cniError(CniError::kInvalidConfig,
                    strCat("slot directory ", slot_->hostDir.string(),
                           " does not exist: the device plugin creates one per dpdk.aws/ena "
                           "device; is deviceID \"",
                           deviceId_, "\" a device of this node, and slotDir its directory?"));
  }

  // An earlier incarnation of this very port (an ADD that timed out, then retried) goes first.
  // Other records are finished only when a port of theirs is in our way (plug()), and by the
  // dataplane's own sweep: a burst of ADDs must not multiply control calls.
  const std::string portId = ctx_.inv.portId();
  finishPendingDeletes([&](const PendingPortDelete& r) { return r.portId == portId; });

  // A network mode the client cannot read fails the listing (dataplane_client/convert.h): ADD
  // stops here, before anything is created, rather than guess how the network forwards.
  absl::StatusOr<std::vector<NetworkInfo>> networks = ctx_.dataplane->listNetworks();
  if (!networks.ok()) {
    return dataplaneError("cannot read the dataplane's networks", networks.status());
  }
  auto net = std::find_if(networks->begin(), networks->end(),
                          [&](const NetworkInfo& n) { return n.name == network_; });
  if (net == networks->end()) {
    std::vector<std::string> names;
    for (const NetworkInfo& n : *networks) names.push_back(n.name);
    return cniError(
        CniError::kInvalidConfig,
        strCat("network \"", network_, "\" is not a network of the dataplane at ",
               conf.dataplaneSocket, " (it has: ", names.empty() ? "none" : joined(names), ")"));
  }
  networkMode_ = net->mode;
  return absl::OkStatus();
}

void VhostUserAttachment::describe(AttachmentRecord& record) const {
  // A repeated ADD of a committed attachment asks for the same port incarnation (idempotent);
  // any other ADD makes a new one, which no older pending delete can touch.
  if (absl::StatusOr<std::optional<AttachmentRecord>> previous = ctx_.store.load(record.portId());
      previous.ok() && previous->has_value() && !(*previous)->portUid.empty()) {
    record.portUid = (*previous)->portUid;
  } else {
    record.portUid = newPortUid();
  }
  record.network = network_;
  record.slotDir = slot_->hostDir.string();
  record.ownsSlotDir = slot_->ownsDir;
  record.socketPath = slot_->socketPath;
}

absl::Status VhostUserAttachment::createBeforeIpam(const AttachmentRecord&, Rollback& rollback) {
  if (!slot_->ownsDir) return absl::OkStatus();
  if (absl::Status s = common::makeDirectories(slot_->hostDir.parent_path(), 0770); !s.ok()) {
    return s;
  }
  if (absl::Status s = common::ensureSlotDirectory(slot_->hostDir, ctx_.conf.slotGroup); !s.ok()) {
    return s;
  }
  rollback.push("remove the attachment directory", [dir = slot_->hostDir] {
    std::error_code rm;
    fs::remove_all(dir, rm);
    return rm ? absl::InternalError(strCat("remove ", dir.string(), ": ", rm.message()))
              : absl::OkStatus();
  });
  return absl::OkStatus();
}

absl::StatusOr<Interface> VhostUserAttachment::plug(const AttachmentRecord& record,
                                                    const Result& ipam, Rollback& rollback) {
  const NetConf& conf = ctx_.conf;
  const Invocation& inv = ctx_.inv;
  PortSpec request{.id = inv.portId(),
                   .network = network_,
                   .socket_path = slot_->socketPath,
                   .vhost_mode = conf.vhost.mode,
                   .mac = lower(conf.effectiveMac()),
                   .queues = conf.vhost.queues,
                   .mtu = conf.mtu,
                   .uid = record.portUid,
                   .pod_namespace = podArg(inv, "K8S_POD_NAMESPACE"),
                   .pod_name = podArg(inv, "K8S_POD_NAME")};
  if (request.mac.empty()) {
    switch (networkMode_) {
      case common::NetworkMode::Vpc:
        break;  // vpc ports carry the ENI's MAC, which the dataplane fills in
      case common::NetworkMode::L2:
        request.mac = derivedMac(inv.portId());  // the pod needs a MAC of its own
        break;
    }
  }
  for (const IpConfig& ip : ipam.ips) request.ips.push_back(ip.address);
  // Socket permissions apply to client mode only (the dataplane creates the socket).
  if (conf.vhost.mode == VhostMode::Client) {
    request.owner = conf.vhost.owner;
    request.perm = conf.vhost.perm;
  }
  absl::StatusOr<PortInfo> port = ctx_.dataplane->addPort(request);
  if (absl::IsAlreadyExists(port.status()) &&
      finishPendingDeletes([](const PendingPortDelete&) { return true; }) > 0) {
    // The address or socket may have belonged to a port whose delete was pending (a DEL while
    // the dataplane was down, or another ADD's port in doubt): those are gone now.
    port = ctx_.dataplane->addPort(request);
  }
  if (!port.ok()) {
    settlePortInDoubt(request.id, request.uid, network_, port.status());
    return dataplaneError("the dataplane refused the port", port.status());
  }
  rollback.push("delete the dataplane port",
                [dataplane = ctx_.dataplane, stateDir = conf.stateDir,
                 socket = conf.dataplaneSocket, containerId = inv.containerId, ifname = inv.ifname,
                 id = request.id, uid = request.uid, network = network_] {
                  absl::StatusOr<bool> deleted = dataplane->deletePort(id, uid);
                  if (deleted.ok()) return absl::OkStatus();
                  // The port must not outlive a failed ADD: whoever reaches the dataplane next
                  // deletes it.
                  return recordPendingPortDelete(stateDir, {.portId = id,
                                                            .containerId = containerId,
                                                            .ifname = ifname,
                                                            .network = network,
                                                            .dataplaneSocket = socket,
                                                            .uid = uid});
                });

  PodAttachmentInfo info{.containerId = inv.containerId,
                         .ifname = inv.ifname,
                         .cniNetwork = conf.name,
                         .deviceId = deviceId_,
                         .network = network_,
                         .socketPath = slot_->podSocketPath,
                         .vhostMode = std::string(common::vhostModeName(conf.vhost.mode)),
                         .mac = port->spec.mac,
                         .mtu = port->spec.mtu,
                         .queues = port->spec.queues};
  for (const IpConfig& ip : ipam.ips) {
    info.ips.push_back(ip.address);
    // The first IPv4 gateway, else the first one: most DPDK apps route IPv4 only.
    const bool better =
        info.gateway.empty() || (ip.family() == 4 && info.gateway.find(':') != std::string::npos);
    if (!ip.gateway.empty() && better) info.gateway = ip.gateway;
  }
  switch (networkMode_) {
    case common::NetworkMode::Vpc:
      // Pods share the ENI's MAC: the link-local address comes from the first IPv6 address.
      for (const IpConfig& ip : ipam.ips) {
        if (ip.family() == 6 && info.linkLocal.empty()) info.linkLocal = podLinkLocal(ip.address);
      }
      break;
    case common::NetworkMode::L2:
      break;  // the pod's own MAC gives it a link-local address of its own (EUI-64)
  }
  if (absl::Status s = writePodAttachmentInfo(slot_->hostDir, info); !s.ok()) {
    return withPrefix(s, "cannot write ena-dpdk.json: ");
  }
  rollback.push("remove ena-dpdk.json",
                [dir = slot_->hostDir] { return removeFileIfExists(dir / kAttachmentFileName); });

  summary_ = fmt::format("network={} socket={} mac={} ips=[{}] mtu={} queues={}", network_,
                         slot_->socketPath, port->spec.mac, joined(info.ips), port->spec.mtu,
                         port->spec.queues);
  return Interface{.name = inv.ifname,
                   .mac = port->spec.mac,
                   .sandbox = inv.netns,
                   .mtu = port->spec.mtu,
                   .socketPath = slot_->socketPath};
}

std::string VhostUserAttachment::deviceInfo() const {
  return vhostUserDeviceInfo(ctx_.conf.vhost.mode, slot_->podSocketPath);
}

void VhostUserAttachment::rebuild(AttachmentRecord& record) const {
  const std::string deviceId = ctx_.conf.effectiveDeviceId();
  absl::StatusOr<std::string> network = resolveNetwork(deviceId);
  record.network = network.ok() ? *network : ctx_.conf.network;
  if (!deviceId.empty() && !networkOfDeviceId(deviceId)) {
    record.slotDir.clear();  // not a slot name: nothing of ours can be there
  } else if (absl::StatusOr<Slot> slot = resolveSlot(ctx_.conf, ctx_.inv, deviceId); slot.ok()) {
    record.slotDir = slot->hostDir.string();
    record.ownsSlotDir = slot->ownsDir;
    record.socketPath = slot->socketPath;
  }
}

absl::Status VhostUserAttachment::teardown(const AttachmentRecord& record) {
  const NetConf& conf = ctx_.conf;
  const std::string id = record.portId();
  absl::StatusOr<bool> deleted = ctx_.dataplane->deletePort(id);
  if (deleted.ok()) {
    ctx_.log.info("port deleted id={} existed={}", id, *deleted);
    if (absl::Status s = clearPendingPortDelete(conf.stateDir, id); !s.ok()) {
      ctx_.log.warn("cannot clear pending delete id={} error={}", id,
                    common::logValue(toStd(s.message())));
    }
  } else {
    ctx_.log.warn("cannot delete port now, recording it id={} error={}", id,
                  common::logValue(toStd(deleted.status().message())));
    if (absl::Status s =
            recordPendingPortDelete(conf.stateDir, {.portId = id,
                                                    .containerId = record.containerId,
                                                    .ifname = record.ifname,
                                                    .network = record.network,
                                                    .dataplaneSocket = conf.dataplaneSocket});
        !s.ok()) {
      return cniError(CniError::kIoFailure,
                      strCat("cannot delete port ", id, " (", toStd(deleted.status().message()),
                             ") nor record it for later: ", toStd(s.message())));
    }
  }
  if (record.slotDir.empty()) return absl::OkStatus();
  const fs::path dir = record.slotDir;
  if (record.ownsSlotDir) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) {
      return cniError(CniError::kIoFailure,
                      strCat("cannot remove ", dir.string(), ": ", ec.message()));
    }
    return absl::OkStatus();
  }
  // A device plugin slot outlives attachments and may already serve a newer pod: only files
  // that say they are this attachment's are removed.
  if (!podAttachmentInfoIsFor(dir, record.containerId, record.ifname)) return absl::OkStatus();
  if (absl::Status s = common::removeStaleSocket(dir / kSocketFileName); !s.ok()) {
    ctx_.log.warn("socket left in place path={} reason={}", (dir / kSocketFileName).string(),
                  common::logValue(toStd(s.message())));
  }
  return removeFileIfExists(dir / kAttachmentFileName);
}

absl::Status VhostUserAttachment::check(const Interface& iface,
                                        const std::set<std::string>& expectedIps) {
  const NetConf& conf = ctx_.conf;
  const Invocation& inv = ctx_.inv;
  absl::StatusOr<std::optional<AttachmentRecord>> stored = ctx_.store.load(inv.portId());
  std::string expectedSocket;
  if (stored.ok() && stored->has_value()) {
    expectedSocket = (*stored)->socketPath;
  } else {
    const std::string deviceId = conf.effectiveDeviceId();
    if (absl::StatusOr<std::string> n = resolveNetwork(deviceId); !n.ok()) return n.status();
    absl::StatusOr<Slot> slot = resolveSlot(conf, inv, deviceId);
    if (!slot.ok()) return slot.status();
    expectedSocket = slot->socketPath;
  }
  absl::StatusOr<PortInfo> port = ctx_.dataplane->getPort(inv.portId());
  if (!port.ok()) {
    if (absl::IsNotFound(port.status())) {
      return cniError(CniError::kCheckFailed, strCat("the dataplane has no port ", inv.portId()));
    }
    return isTransient(port.status())
               ? cniError(CniError::kTryAgainLater, toStd(port.status().message()))
               : port.status();
  }
  if (port->spec.socket_path != expectedSocket) {
    return cniError(CniError::kCheckFailed,
                    strCat("port ", inv.portId(), " uses socket ", port->spec.socket_path,
                           ", expected ", expectedSocket));
  }
  if (!iface.socketPath.empty() && iface.socketPath != port->spec.socket_path) {
    return cniError(CniError::kCheckFailed, strCat("prevResult names socket ", iface.socketPath,
                                                   ", the port uses ", port->spec.socket_path));
  }
  if (!iface.mac.empty() && lower(iface.mac) != lower(port->spec.mac)) {
    return cniError(CniError::kCheckFailed,
                    strCat("port ", inv.portId(), " has MAC ", port->spec.mac, ", prevResult says ",
                           iface.mac));
  }
  std::set<std::string> portIps;
  for (const std::string& ip : port->spec.ips) portIps.insert(lower(ip));
  if (portIps != expectedIps) {
    return cniError(
        CniError::kCheckFailed,
        strCat("port ", inv.portId(), " has addresses [", joined({portIps.begin(), portIps.end()}),
               "], prevResult says [", joined({expectedIps.begin(), expectedIps.end()}), "]"));
  }
  const fs::path dir = fs::path(port->spec.socket_path).parent_path();
  if (!podAttachmentInfoIsFor(dir, inv.containerId, inv.ifname)) {
    return cniError(CniError::kCheckFailed, strCat((dir / kAttachmentFileName).string(),
                                                   " is missing or names another attachment"));
  }
  return absl::OkStatus();
}

std::string VhostUserAttachment::checkNetwork() const {
  absl::StatusOr<std::string> n = resolveNetwork(ctx_.conf.effectiveDeviceId());
  return n.ok() ? *n : ctx_.conf.network;
}

absl::StatusOr<unsigned> VhostUserAttachment::collectGarbage(
    const std::function<bool(const std::string&, const std::string&)>& isValid,
    const std::set<std::string>& recordedElsewhere, std::set<std::string>& usedNetworks) {
  const NetConf& conf = ctx_.conf;
  unsigned removed = 0;
  // Ports the CNI made without a record left (a crash between steps): CNI-shaped ids, sockets
  // in our slot directory, not claimed by another CNI network's record.
  absl::StatusOr<std::vector<PortInfo>> ports = ctx_.dataplane->listPorts(conf.network);
  if (!ports.ok()) {
    ctx_.log.warn("GC cannot list dataplane ports error={}",
                  common::logValue(toStd(ports.status().message())));
  } else {
    for (const PortInfo& listed : *ports) {
      const PortSpec& port = listed.spec;
      std::optional<AttachmentKey> key = attachmentOfPortId(port.id);
      if (!key || isValid(key->containerId, key->ifname) || recordedElsewhere.count(port.id) > 0 ||
          !common::isWithin(port.socket_path, conf.slotDir)) {
        continue;
      }
      AttachmentRecord orphan{.containerId = key->containerId,
                              .ifname = key->ifname,
                              .cniNetwork = conf.name,
                              .mode = kModeVhostUser,
                              .network = port.network,
                              .slotDir = fs::path(port.socket_path).parent_path().string()};
      orphan.ownsSlotDir = fs::path(orphan.slotDir).filename() ==
                           perAttachmentDirName(key->containerId, key->ifname);
      if (absl::Status s = teardown(orphan); !s.ok()) return s;
      usedNetworks.insert(port.network);
      ctx_.log.info("GC removed port without record id={}", port.id);
      ++removed;
    }
  }
  finishPendingDeletes(
      [&](const PendingPortDelete& r) { return !isValid(r.containerId, r.ifname); });
  return removed;
}

absl::Status VhostUserAttachment::status(std::set<std::string>& networks) {
  absl::Status s = ctx_.dataplane->health();
  absl::StatusOr<std::vector<NetworkInfo>> listed =
      s.ok() ? ctx_.dataplane->listNetworks() : absl::StatusOr<std::vector<NetworkInfo>>(s);
  if (!listed.ok()) {
    return cniError(CniError::kPluginNotAvailable,
                    strCat("the dataplane is not available: ", toStd(listed.status().message())));
  }
  for (const NetworkInfo& n : *listed) networks.insert(n.name);
  return absl::OkStatus();
}

}  // namespace enadpdk::cni
