#include "cni/plugin.h"

#include <algorithm>
#include <filesystem>
#include <random>
#include <set>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "cni/errors.h"
#include "cni/records.h"
#include "cni/skel.h"
#include "cni/slot_files.h"
#include "common/atomic_file.h"
#include "common/host_root.h"
#include "common/json_text.h"
#include "common/logging.h"
#include "common/pci.h"
#include "common/slot_dir.h"
#include "common/strings.h"
#include "common/unix_socket.h"

namespace enadpdk::cni {
namespace {

namespace fs = std::filesystem;
namespace dp = dataplane::v1;
using common::strCat;
using common::toStd;

constexpr char kModeVhostUser[] = "vhostuser";
constexpr char kModePci[] = "pci";

// Undo steps of a command in progress, run in reverse unless the command commits. Undo failures
// are logged: the original error is what the caller must see. Steps run from the destructor,
// after the locals declared later are gone, so they capture what they need by value.
class Rollback {
 public:
  explicit Rollback(spdlog::logger& log) : log_(log) {}
  ~Rollback() {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) {
      if (absl::Status s = it->second(); !s.ok()) {
        log_.error("rollback step failed step=\"{}\" error=\"{}\"", it->first, toStd(s.message()));
      } else {
        log_.info("rolled back step=\"{}\"", it->first);
      }
    }
  }
  Rollback(const Rollback&) = delete;
  Rollback& operator=(const Rollback&) = delete;

  void push(std::string what, std::function<absl::Status()> undo) {
    steps_.emplace_back(std::move(what), std::move(undo));
  }
  void commit() { steps_.clear(); }

 private:
  spdlog::logger& log_;
  std::vector<std::pair<std::string, std::function<absl::Status()>>> steps_;
};

// The CNI error for a failed dataplane call during ADD.
absl::Status dataplaneError(const absl::Status& s) {
  if (isTransient(s)) {
    return cniError(CniError::kTryAgainLater,
                    strCat("dataplane busy or unreachable: ", toStd(s.message())));
  }
  if (absl::IsInvalidArgument(s)) {
    return cniError(CniError::kInvalidConfig,
                    strCat("the dataplane refused the port: ", toStd(s.message())));
  }
  return cniError(kErrDataplaneRefused,
                  strCat("the dataplane refused the port: ", absl::StatusCodeToString(s.code()),
                         ": ", toStd(s.message())));
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

// A fresh identity for one incarnation of a port: 128 random bits as 32 hex digits.
std::string newPortUid() {
  std::random_device random;
  std::string uid;
  for (int i = 0; i < 4; ++i) uid += fmt::format("{:08x}", static_cast<uint32_t>(random()));
  return uid;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
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

bool isWithin(const fs::path& path, const fs::path& dir) {
  const fs::path rel = path.lexically_normal().lexically_relative(dir.lexically_normal());
  return !rel.empty() && *rel.begin() != ".." && rel != ".";
}

std::string joined(const std::vector<std::string>& items) {
  return fmt::format("{}", fmt::join(items, ", "));
}

// Writes the NPWG device-info file `path` (when the runtime asked for one) and registers its
// removal with `rollback`.
absl::Status writeDeviceInfoFile(const std::string& path, std::string_view content,
                                 Rollback& rollback) {
  if (path.empty()) return absl::OkStatus();
  if (absl::Status s = writeDeviceInfo(path, content); !s.ok()) {
    return withPrefix(s, "cannot write the device-info file: ");
  }
  rollback.push("remove the device-info file", [path] { return removeFileIfExists(path); });
  return absl::OkStatus();
}

}  // namespace

std::unique_ptr<Dataplane> grpcDataplaneFor(const NetConf& conf,
                                            std::shared_ptr<spdlog::logger> logger) {
  return makeGrpcDataplane(conf.dataplaneSocket, std::chrono::milliseconds(conf.dataplaneTimeoutMs),
                           std::move(logger));
}

CniPlugin::CniPlugin(NetConf conf, Invocation invocation, std::unique_ptr<Dataplane> dataplane,
                     DelegateRunner ipam, std::shared_ptr<spdlog::logger> logger)
    : conf_(std::move(conf)),
      inv_(std::move(invocation)),
      dataplane_(std::move(dataplane)),
      ipam_(std::move(ipam)),
      log_(std::move(logger)),
      store_(conf_.stateDir) {}

absl::StatusOr<std::string> CniPlugin::resolveNetwork(const std::string& deviceId) const {
  std::string network = conf_.network;
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

nlohmann::json CniPlugin::ipamConfig(const std::string& network) const {
  nlohmann::json config = conf_.raw;
  if (!network.empty() && config.contains("ipam") && config["ipam"].is_object() &&
      !config["ipam"].contains("network")) {
    config["ipam"]["network"] = network;
  }
  return config;
}

std::vector<std::string> CniPlugin::ipamNetworks(const std::set<std::string>& candidates) const {
  const bool named = conf_.raw.contains("ipam") && conf_.raw["ipam"].contains("network");
  if (named || !conf_.network.empty()) return {conf_.network};
  if (candidates.empty()) {
    log_->info("no dataplane network to ask the IPAM plugin about");
  }
  return {candidates.begin(), candidates.end()};
}

AttachmentRecord CniPlugin::newRecord() const {
  return AttachmentRecord{
      .containerId = inv_.containerId,
      .ifname = inv_.ifname,
      .cniNetwork = conf_.name,
      .mode = conf_.mode == AttachMode::Pci ? kModePci : kModeVhostUser,
      .deviceId = conf_.effectiveDeviceId(),
      .dataplaneSocket = conf_.mode == AttachMode::Pci ? "" : conf_.dataplaneSocket,
      .deviceInfoFile = conf_.runtime.deviceInfoFile};
}

unsigned CniPlugin::finishPendingDeletes(
    const std::function<bool(const common::PendingPortDelete&)>& wanted) {
  std::vector<std::string> problems;
  absl::StatusOr<std::vector<common::PendingPortDelete>> pending =
      common::listPendingPortDeletes(conf_.stateDir, &problems);
  for (const std::string& p : problems) log_->warn("unreadable pending delete problem=\"{}\"", p);
  if (!pending.ok()) {
    log_->warn("cannot list pending deletes error=\"{}\"", toStd(pending.status().message()));
    return 0;
  }
  unsigned finished = 0;
  for (const common::PendingPortDelete& record : *pending) {
    if (record.dataplaneSocket != conf_.dataplaneSocket || !wanted(record)) continue;
    absl::StatusOr<bool> deleted = dataplane_->deletePort(record.portId, record.uid);
    if (!deleted.ok()) {
      log_->warn("pending delete still pending id={} error=\"{}\"", record.portId,
                 toStd(deleted.status().message()));
      if (isTransient(deleted.status())) return finished;
      continue;
    }
    if (absl::Status s = common::clearPendingPortDelete(conf_.stateDir, record.portId, record.uid);
        !s.ok()) {
      log_->warn("cannot clear pending delete id={} error=\"{}\"", record.portId,
                 toStd(s.message()));
      continue;
    }
    ++finished;
    log_->info("finished pending delete id={} uid={} existed={} recorded_at={}", record.portId,
               record.uid, *deleted, record.recordedAt);
  }
  return finished;
}

void CniPlugin::settlePortInDoubt(const std::string& id, const std::string& uid,
                                  const std::string& network, const absl::Status& error) {
  // Only a call that may have reached the dataplane can have left a port behind.
  if (!absl::IsDeadlineExceeded(error) && !absl::IsCancelled(error) &&
      !absl::IsUnavailable(error) && !absl::IsUnknown(error)) {
    return;
  }
  if (absl::Status s =
          common::recordPendingPortDelete(conf_.stateDir, {.portId = id,
                                                           .containerId = inv_.containerId,
                                                           .ifname = inv_.ifname,
                                                           .network = network,
                                                           .dataplaneSocket = conf_.dataplaneSocket,
                                                           .uid = uid});
      !s.ok()) {
    log_->error("port in doubt not recorded id={} uid={} error=\"{}\"", id, uid,
                toStd(s.message()));
  }
  absl::StatusOr<bool> deleted = dataplane_->deletePort(id, uid);
  if (deleted.ok() && *deleted) {
    if (absl::Status s = common::clearPendingPortDelete(conf_.stateDir, id, uid); !s.ok()) {
      log_->warn("cannot clear pending delete id={} error=\"{}\"", id, toStd(s.message()));
    }
    log_->info("port in doubt deleted id={} uid={}", id, uid);
    return;
  }
  // Not there (yet): an answer already on its way when the deadline passed can still create it.
  // The record stays; the dataplane's sweep or the next ADD, DEL or GC finishes it.
  log_->info("port in doubt recorded id={} uid={} found={}", id, uid,
             deleted.ok() ? "no" : toStd(deleted.status().message()));
}

absl::StatusOr<nlohmann::json> CniPlugin::add() {
  log_->info("ADD container={} ifname={} netns={} network_name={} mode={} device={}",
             inv_.containerId, inv_.ifname, inv_.netns, conf_.name,
             conf_.mode == AttachMode::Pci ? kModePci : kModeVhostUser, conf_.effectiveDeviceId());
  if (conf_.prevResult) {
    for (const Interface& i : conf_.prevResult->interfaces) {
      if (i.name == inv_.ifname && i.sandbox == inv_.netns) {
        return cniError(CniError::kInvalidConfig,
                        strCat("prevResult already has interface ", inv_.ifname, " in ", inv_.netns,
                               "; an earlier plugin in the chain made it"));
      }
    }
  }
  return conf_.mode == AttachMode::Pci ? addPci() : addVhostUser();
}

absl::StatusOr<nlohmann::json> CniPlugin::addVhostUser() {
  const std::string deviceId = conf_.effectiveDeviceId();
  absl::StatusOr<std::string> network = resolveNetwork(deviceId);
  if (!network.ok()) return network.status();
  absl::StatusOr<Slot> slot = resolveSlot(conf_, inv_, deviceId);
  if (!slot.ok()) return slot.status();
  std::error_code ec;
  if (!slot->ownsDir && !fs::is_directory(slot->hostDir, ec)) {
    return cniError(CniError::kInvalidConfig,
                    strCat("slot directory ", slot->hostDir.string(),
                           " does not exist: the device plugin creates one per dpdk.aws/ena "
                           "device; is deviceID \"",
                           deviceId, "\" a device of this node, and slotDir its directory?"));
  }

  // An earlier incarnation of this very port (an ADD that timed out, then retried) goes first.
  // Other records are finished only when a port of theirs is in our way (below), and by the
  // dataplane's own sweep: a burst of ADDs must not multiply control calls.
  const std::string portId = inv_.portId();
  finishPendingDeletes([&](const common::PendingPortDelete& r) { return r.portId == portId; });

  absl::StatusOr<std::vector<dp::Network>> networks = dataplane_->listNetworks();
  if (!networks.ok()) return dataplaneError(networks.status());
  auto net = std::find_if(networks->begin(), networks->end(),
                          [&](const dp::Network& n) { return n.name() == *network; });
  if (net == networks->end()) {
    std::vector<std::string> names;
    for (const dp::Network& n : *networks) names.push_back(n.name());
    return cniError(
        CniError::kInvalidConfig,
        strCat("network \"", *network, "\" is not a network of the dataplane at ",
               conf_.dataplaneSocket, " (it has: ", names.empty() ? "none" : joined(names), ")"));
  }

  Rollback rollback(*log_);
  AttachmentRecord record = newRecord();
  // A repeated ADD of a committed attachment asks for the same port incarnation (idempotent);
  // any other ADD makes a new one, which no older pending delete can touch.
  if (absl::StatusOr<std::optional<AttachmentRecord>> previous = store_.load(record.portId());
      previous.ok() && previous->has_value() && !(*previous)->portUid.empty()) {
    record.portUid = (*previous)->portUid;
  } else {
    record.portUid = newPortUid();
  }
  record.network = *network;
  record.slotDir = slot->hostDir.string();
  record.ownsSlotDir = slot->ownsDir;
  record.socketPath = slot->socketPath;
  if (absl::Status s = store_.save(record); !s.ok()) {
    return withPrefix(s, "cannot record the attachment: ");
  }
  rollback.push("remove attachment record",
                [this, id = record.portId()] { return store_.remove(id); });

  if (slot->ownsDir) {
    if (absl::Status s = common::makeDirectories(slot->hostDir.parent_path(), 0770); !s.ok()) {
      return s;
    }
    if (absl::Status s = common::ensureSlotDirectory(slot->hostDir, conf_.slotGroup); !s.ok()) {
      return s;
    }
    rollback.push("remove the attachment directory", [dir = slot->hostDir] {
      std::error_code rm;
      fs::remove_all(dir, rm);
      return rm ? absl::InternalError(strCat("remove ", dir.string(), ": ", rm.message()))
                : absl::OkStatus();
    });
  }

  Result ipamResult;
  const nlohmann::json ipamConf = ipamConfig(*network);
  if (!conf_.ipamType.empty()) {
    absl::StatusOr<Result> r = ipam_.add(conf_.ipamType, ipamConf);
    if (!r.ok()) return r.status();
    ipamResult = *std::move(r);
    rollback.push("release the IPAM lease",
                  [this, ipamConf] { return ipam_.run("DEL", conf_.ipamType, ipamConf); });
  }

  dp::Port request;
  request.set_id(portId);
  request.set_uid(record.portUid);
  request.set_network(*network);
  request.set_socket_path(slot->socketPath);
  request.set_vhost_mode(conf_.vhost.mode == VhostMode::Client ? dp::VHOST_MODE_CLIENT
                                                               : dp::VHOST_MODE_SERVER);
  std::string mac = lower(conf_.effectiveMac());
  // vpc ports carry the ENI's MAC, which the dataplane fills in; elsewhere the pod needs one.
  if (mac.empty() && net->mode() != dp::NETWORK_MODE_VPC) mac = derivedMac(inv_.portId());
  request.set_mac(mac);
  for (const IpConfig& ip : ipamResult.ips) request.add_ips(ip.address);
  request.set_queues(conf_.vhost.queues);
  request.set_mtu(conf_.mtu);
  if (conf_.vhost.mode == VhostMode::Client &&
      (!conf_.vhost.owner.empty() || !conf_.vhost.perm.empty())) {
    request.mutable_socket_permissions()->set_owner(conf_.vhost.owner);
    request.mutable_socket_permissions()->set_mode(conf_.vhost.perm);
  }
  absl::StatusOr<dp::Port> port = dataplane_->addPort(request);
  if (absl::IsAlreadyExists(port.status()) &&
      finishPendingDeletes([](const common::PendingPortDelete&) { return true; }) > 0) {
    // The address or socket may have belonged to a port whose delete was pending (a DEL while
    // the dataplane was down, or another ADD's port in doubt): those are gone now.
    port = dataplane_->addPort(request);
  }
  if (!port.ok()) {
    settlePortInDoubt(request.id(), request.uid(), *network, port.status());
    return dataplaneError(port.status());
  }
  rollback.push("delete the dataplane port",
                [this, id = request.id(), uid = request.uid(), network = *network] {
                  absl::StatusOr<bool> deleted = dataplane_->deletePort(id, uid);
                  if (deleted.ok()) return absl::OkStatus();
                  // The port must not outlive a failed ADD: whoever reaches the dataplane next
                  // deletes it.
                  return common::recordPendingPortDelete(conf_.stateDir,
                                                         {.portId = id,
                                                          .containerId = inv_.containerId,
                                                          .ifname = inv_.ifname,
                                                          .network = network,
                                                          .dataplaneSocket = conf_.dataplaneSocket,
                                                          .uid = uid});
                });

  PodAttachmentInfo info{.containerId = inv_.containerId,
                         .ifname = inv_.ifname,
                         .cniNetwork = conf_.name,
                         .deviceId = deviceId,
                         .network = *network,
                         .socketPath = slot->podSocketPath,
                         .vhostMode = conf_.vhost.mode == VhostMode::Client ? "client" : "server",
                         .mac = port->mac(),
                         .mtu = port->mtu(),
                         .queues = port->queues()};
  for (const IpConfig& ip : ipamResult.ips) {
    info.ips.push_back(ip.address);
    // The first IPv4 gateway, else the first one: most DPDK apps route IPv4 only.
    const bool better =
        info.gateway.empty() || (ip.family() == 4 && info.gateway.find(':') != std::string::npos);
    if (!ip.gateway.empty() && better) info.gateway = ip.gateway;
  }
  if (absl::Status s = writePodAttachmentInfo(slot->hostDir, info); !s.ok()) {
    return withPrefix(s, "cannot write ena-dpdk.json: ");
  }
  rollback.push("remove ena-dpdk.json",
                [dir = slot->hostDir] { return removeFileIfExists(dir / kAttachmentFileName); });

  if (absl::Status s =
          writeDeviceInfoFile(conf_.runtime.deviceInfoFile,
                              vhostUserDeviceInfo(conf_.vhost.mode, slot->podSocketPath), rollback);
      !s.ok()) {
    return s;
  }

  Result result = conf_.prevResult ? *conf_.prevResult : Result{};
  const unsigned index = static_cast<unsigned>(result.interfaces.size());
  result.interfaces.push_back(Interface{.name = inv_.ifname,
                                        .mac = port->mac(),
                                        .sandbox = inv_.netns,
                                        .mtu = port->mtu(),
                                        .socketPath = slot->socketPath});
  for (IpConfig ip : ipamResult.ips) {
    ip.interfaceIndex = index;
    result.ips.push_back(std::move(ip));
  }
  result.routes.insert(result.routes.end(), ipamResult.routes.begin(), ipamResult.routes.end());
  if (result.dns.empty()) result.dns = ipamResult.dns;
  absl::StatusOr<nlohmann::json> rendered = renderResult(result, conf_.cniVersion);
  if (!rendered.ok()) return rendered.status();
  rollback.commit();
  log_->info("ADD done id={} network={} socket={} mac={} ips=[{}] mtu={} queues={}", request.id(),
             *network, slot->socketPath, port->mac(), joined(info.ips), port->mtu(),
             port->queues());
  return rendered;
}

absl::StatusOr<std::string> CniPlugin::checkDedicatedDevice() const {
  const std::string& deviceId = conf_.effectiveDeviceId();
  if (deviceId.empty()) {
    return cniError(CniError::kInvalidConfig,
                    "pci mode needs a device ID: the PCI address of a dpdk.aws/ena-dedicated "
                    "device, passed by Multus (capability deviceID) or as \"deviceID\"");
  }
  absl::StatusOr<std::string> address = common::normalizePciAddress(deviceId);
  if (!address.ok()) {
    return cniError(CniError::kInvalidConfig,
                    strCat("deviceID: ", toStd(address.status().message())));
  }
  absl::StatusOr<common::PciDevice> device =
      common::readPciDevice(common::HostRoot(conf_.hostRoot), *address);
  if (!device.ok()) {
    if (absl::IsNotFound(device.status())) {
      return cniError(kErrDeviceNotUsable,
                      strCat("PCI device ", *address, " does not exist on this node"));
    }
    return cniError(CniError::kIoFailure, strCat("cannot read PCI device ", *address, ": ",
                                                 toStd(device.status().message())));
  }
  if (!device->isDpdkBound()) {
    return cniError(kErrDeviceNotUsable,
                    strCat("PCI device ", *address, " is bound to ",
                           device->driver.empty() ? "no driver" : "\"" + device->driver + "\"",
                           ", not to vfio-pci, igb_uio or uio_pci_generic"));
  }
  return *address;
}

absl::StatusOr<nlohmann::json> CniPlugin::addPci() {
  absl::StatusOr<std::string> address = checkDedicatedDevice();
  if (!address.ok()) return address.status();

  Rollback rollback(*log_);
  const AttachmentRecord record = newRecord();
  if (absl::Status s = store_.save(record); !s.ok()) {
    return withPrefix(s, "cannot record the attachment: ");
  }
  rollback.push("remove attachment record",
                [this, id = record.portId()] { return store_.remove(id); });

  Result ipamResult;
  const nlohmann::json ipamConf = ipamConfig(conf_.network);
  if (!conf_.ipamType.empty()) {
    absl::StatusOr<Result> r = ipam_.add(conf_.ipamType, ipamConf);
    if (!r.ok()) return r.status();
    ipamResult = *std::move(r);
    rollback.push("release the IPAM lease",
                  [this, ipamConf] { return ipam_.run("DEL", conf_.ipamType, ipamConf); });
  }
  if (absl::Status s =
          writeDeviceInfoFile(conf_.runtime.deviceInfoFile, pciDeviceInfo(*address), rollback);
      !s.ok()) {
    return s;
  }

  Result result = conf_.prevResult ? *conf_.prevResult : Result{};
  const unsigned index = static_cast<unsigned>(result.interfaces.size());
  Interface iface{.name = inv_.ifname, .sandbox = inv_.netns, .pciID = *address};
  if (conf_.mtu != 0) iface.mtu = conf_.mtu;
  result.interfaces.push_back(std::move(iface));
  for (IpConfig ip : ipamResult.ips) {
    ip.interfaceIndex = index;
    result.ips.push_back(std::move(ip));
  }
  result.routes.insert(result.routes.end(), ipamResult.routes.begin(), ipamResult.routes.end());
  if (result.dns.empty()) result.dns = ipamResult.dns;
  absl::StatusOr<nlohmann::json> rendered = renderResult(result, conf_.cniVersion);
  if (!rendered.ok()) return rendered.status();
  rollback.commit();
  log_->info("ADD done id={} pci={}", inv_.portId(), *address);
  return rendered;
}

absl::Status CniPlugin::teardownVhostUser(const AttachmentRecord& record) {
  const std::string id = record.portId();
  absl::StatusOr<bool> deleted = dataplane_->deletePort(id);
  if (deleted.ok()) {
    log_->info("port deleted id={} existed={}", id, *deleted);
    if (absl::Status s = common::clearPendingPortDelete(conf_.stateDir, id); !s.ok()) {
      log_->warn("cannot clear pending delete id={} error=\"{}\"", id, toStd(s.message()));
    }
  } else {
    log_->warn("cannot delete port now, recording it id={} error=\"{}\"", id,
               toStd(deleted.status().message()));
    if (absl::Status s = common::recordPendingPortDelete(
            conf_.stateDir, {.portId = id,
                             .containerId = record.containerId,
                             .ifname = record.ifname,
                             .network = record.network,
                             .dataplaneSocket = conf_.dataplaneSocket});
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
    log_->warn("socket left in place path={} reason=\"{}\"", (dir / kSocketFileName).string(),
               toStd(s.message()));
  }
  return removeFileIfExists(dir / kAttachmentFileName);
}

absl::Status CniPlugin::del() {
  log_->info("DEL container={} ifname={} network_name={}", inv_.containerId, inv_.ifname,
             conf_.name);
  const std::string id = inv_.portId();
  absl::StatusOr<std::optional<AttachmentRecord>> stored = store_.load(id);
  if (!stored.ok()) {
    log_->warn("unreadable attachment record id={} error=\"{}\"", id,
               toStd(stored.status().message()));
  }
  AttachmentRecord record;
  if (stored.ok() && stored->has_value()) {
    record = **stored;
  } else {
    // No record (ADD never ran here, or a DEL already finished): rebuild what ADD would have
    // made from the configuration, so a DEL after a lost record still cleans up.
    record = newRecord();
    if (conf_.mode == AttachMode::VhostUser) {
      const std::string deviceId = conf_.effectiveDeviceId();
      absl::StatusOr<std::string> network = resolveNetwork(deviceId);
      record.network = network.ok() ? *network : conf_.network;
      if (!deviceId.empty() && !networkOfDeviceId(deviceId)) {
        record.slotDir.clear();  // not a slot name: nothing of ours can be there
      } else if (absl::StatusOr<Slot> slot = resolveSlot(conf_, inv_, deviceId); slot.ok()) {
        record.slotDir = slot->hostDir.string();
        record.ownsSlotDir = slot->ownsDir;
        record.socketPath = slot->socketPath;
      }
    }
  }
  if (record.mode == kModeVhostUser) {
    if (absl::Status s = teardownVhostUser(record); !s.ok()) return s;
  }
  for (const std::string& file : {conf_.runtime.deviceInfoFile, record.deviceInfoFile}) {
    if (file.empty()) continue;
    if (absl::Status s = removeFileIfExists(file); !s.ok()) return s;
  }
  if (!conf_.ipamType.empty()) {
    if (absl::Status s = ipam_.run("DEL", conf_.ipamType, ipamConfig(record.network)); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = store_.remove(id); !s.ok()) return s;
  log_->info("DEL done id={}", id);
  return absl::OkStatus();
}

absl::Status CniPlugin::check() {
  log_->info("CHECK container={} ifname={}", inv_.containerId, inv_.ifname);
  if (!versionAtLeast(conf_.cniVersion, "0.4.0")) {
    return cniError(CniError::kIncompatibleVersion,
                    strCat("CHECK needs cniVersion 0.4.0 or later, not ", conf_.cniVersion));
  }
  if (!conf_.prevResult) {
    return cniError(CniError::kInvalidConfig, "CHECK needs prevResult");
  }
  const Result& prev = *conf_.prevResult;
  auto iface = std::find_if(prev.interfaces.begin(), prev.interfaces.end(),
                            [&](const Interface& i) { return i.name == inv_.ifname; });
  if (iface == prev.interfaces.end()) {
    return cniError(kErrCheckFailed, strCat("prevResult has no interface named ", inv_.ifname));
  }
  if (iface->sandbox != inv_.netns) {
    return cniError(kErrCheckFailed, strCat("interface ", inv_.ifname, " is in sandbox \"",
                                            iface->sandbox, "\", not ", inv_.netns));
  }
  const unsigned index = static_cast<unsigned>(iface - prev.interfaces.begin());
  std::set<std::string> expectedIps;
  for (const IpConfig& ip : prev.ips) {
    if (!ip.interfaceIndex || *ip.interfaceIndex == index) expectedIps.insert(lower(ip.address));
  }

  if (conf_.mode == AttachMode::Pci) {
    absl::StatusOr<std::string> address = checkDedicatedDevice();
    if (!address.ok()) return address.status();
    if (!iface->pciID.empty() && iface->pciID != *address) {
      return cniError(kErrCheckFailed, strCat("prevResult names PCI device ", iface->pciID,
                                              ", the attachment has ", *address));
    }
  } else {
    absl::StatusOr<std::optional<AttachmentRecord>> stored = store_.load(inv_.portId());
    std::string expectedSocket;
    if (stored.ok() && stored->has_value()) {
      expectedSocket = (*stored)->socketPath;
    } else {
      const std::string deviceId = conf_.effectiveDeviceId();
      if (absl::StatusOr<std::string> n = resolveNetwork(deviceId); !n.ok()) return n.status();
      absl::StatusOr<Slot> slot = resolveSlot(conf_, inv_, deviceId);
      if (!slot.ok()) return slot.status();
      expectedSocket = slot->socketPath;
    }
    absl::StatusOr<dp::Port> port = dataplane_->getPort(inv_.portId());
    if (!port.ok()) {
      if (absl::IsNotFound(port.status())) {
        return cniError(kErrCheckFailed, strCat("the dataplane has no port ", inv_.portId()));
      }
      return isTransient(port.status())
                 ? cniError(CniError::kTryAgainLater, toStd(port.status().message()))
                 : port.status();
    }
    if (port->socket_path() != expectedSocket) {
      return cniError(kErrCheckFailed, strCat("port ", inv_.portId(), " uses socket ",
                                              port->socket_path(), ", expected ", expectedSocket));
    }
    if (!iface->socketPath.empty() && iface->socketPath != port->socket_path()) {
      return cniError(kErrCheckFailed, strCat("prevResult names socket ", iface->socketPath,
                                              ", the port uses ", port->socket_path()));
    }
    if (!iface->mac.empty() && lower(iface->mac) != lower(port->mac())) {
      return cniError(kErrCheckFailed, strCat("port ", inv_.portId(), " has MAC ", port->mac(),
                                              ", prevResult says ", iface->mac));
    }
    std::set<std::string> portIps;
    for (const std::string& ip : port->ips()) portIps.insert(lower(ip));
    if (portIps != expectedIps) {
      return cniError(kErrCheckFailed,
                      strCat("port ", inv_.portId(), " has addresses [",
                             joined({portIps.begin(), portIps.end()}), "], prevResult says [",
                             joined({expectedIps.begin(), expectedIps.end()}), "]"));
    }
    const fs::path dir = fs::path(port->socket_path()).parent_path();
    if (!podAttachmentInfoIsFor(dir, inv_.containerId, inv_.ifname)) {
      return cniError(kErrCheckFailed, strCat((dir / kAttachmentFileName).string(),
                                              " is missing or names another attachment"));
    }
  }
  if (!conf_.ipamType.empty()) {
    std::string network = conf_.network;
    if (conf_.mode == AttachMode::VhostUser) {
      if (absl::StatusOr<std::string> n = resolveNetwork(conf_.effectiveDeviceId()); n.ok()) {
        network = *n;
      }
    }
    if (absl::Status s = ipam_.run("CHECK", conf_.ipamType, ipamConfig(network)); !s.ok()) {
      return s;
    }
  }
  log_->info("CHECK ok id={}", inv_.portId());
  return absl::OkStatus();
}

absl::Status CniPlugin::gc() {
  if (!versionAtLeast(conf_.cniVersion, "1.1.0")) {
    return cniError(CniError::kIncompatibleVersion,
                    strCat("GC needs cniVersion 1.1.0 or later, not ", conf_.cniVersion));
  }
  if (!conf_.validAttachments) {
    return cniError(CniError::kInvalidConfig,
                    "GC needs the valid attachments (cni.dev/valid-attachments or "
                    "cni.dev/attachments)");
  }
  const std::set<AttachmentKey> valid(conf_.validAttachments->begin(),
                                      conf_.validAttachments->end());
  auto isValid = [&](const std::string& cid, const std::string& ifname) {
    return valid.count(AttachmentKey{cid, ifname}) > 0;
  };
  log_->info("GC network_name={} valid={}", conf_.name, valid.size());

  std::vector<std::string> problems;
  absl::StatusOr<std::vector<AttachmentRecord>> records = store_.list(&problems);
  for (const std::string& p : problems)
    log_->warn("unreadable attachment record problem=\"{}\"", p);
  if (!records.ok()) return records.status();
  std::set<std::string> recordedElsewhere;
  // The dataplane networks this CNI network has used: where the IPAM plugin has leases of ours.
  std::set<std::string> usedNetworks;
  unsigned removed = 0;
  for (const AttachmentRecord& record : *records) {
    if (record.cniNetwork != conf_.name) {
      recordedElsewhere.insert(record.portId());
      continue;
    }
    if (!record.network.empty()) usedNetworks.insert(record.network);
    if (isValid(record.containerId, record.ifname)) continue;
    if (record.mode == kModeVhostUser) {
      if (absl::Status s = teardownVhostUser(record); !s.ok()) return s;
    }
    if (!record.deviceInfoFile.empty()) {
      if (absl::Status s = removeFileIfExists(record.deviceInfoFile); !s.ok()) return s;
    }
    if (absl::Status s = store_.remove(record.portId()); !s.ok()) return s;
    log_->info("GC removed attachment id={}", record.portId());
    ++removed;
  }

  if (conf_.mode == AttachMode::VhostUser) {
    // Ports the CNI made without a record left (a crash between steps): CNI-shaped ids, sockets
    // in our slot directory, not claimed by another CNI network's record.
    absl::StatusOr<std::vector<dp::Port>> ports = dataplane_->listPorts(conf_.network);
    if (!ports.ok()) {
      log_->warn("GC cannot list dataplane ports error=\"{}\"", toStd(ports.status().message()));
    } else {
      for (const dp::Port& port : *ports) {
        std::optional<AttachmentKey> key = attachmentOfPortId(port.id());
        if (!key || isValid(key->containerId, key->ifname) ||
            recordedElsewhere.count(port.id()) > 0 ||
            !isWithin(port.socket_path(), conf_.slotDir)) {
          continue;
        }
        AttachmentRecord orphan{.containerId = key->containerId,
                                .ifname = key->ifname,
                                .cniNetwork = conf_.name,
                                .mode = kModeVhostUser,
                                .network = port.network(),
                                .slotDir = fs::path(port.socket_path()).parent_path().string()};
        orphan.ownsSlotDir = fs::path(orphan.slotDir).filename() ==
                             perAttachmentDirName(key->containerId, key->ifname);
        if (absl::Status s = teardownVhostUser(orphan); !s.ok()) return s;
        usedNetworks.insert(port.network());
        log_->info("GC removed port without record id={}", port.id());
        ++removed;
      }
    }
    finishPendingDeletes(
        [&](const common::PendingPortDelete& r) { return !isValid(r.containerId, r.ifname); });
  }
  if (!conf_.ipamType.empty()) {
    for (const std::string& network : ipamNetworks(usedNetworks)) {
      if (absl::Status s = ipam_.run("GC", conf_.ipamType, ipamConfig(network)); !s.ok()) {
        return s;
      }
    }
  }
  log_->info("GC done removed={}", removed);
  return absl::OkStatus();
}

absl::Status CniPlugin::status() {
  if (!versionAtLeast(conf_.cniVersion, "1.1.0")) {
    return cniError(CniError::kIncompatibleVersion,
                    strCat("STATUS needs cniVersion 1.1.0 or later, not ", conf_.cniVersion));
  }
  std::set<std::string> networks;
  if (conf_.mode == AttachMode::VhostUser) {
    absl::Status s = dataplane_->health();
    absl::StatusOr<std::vector<dp::Network>> listed =
        s.ok() ? dataplane_->listNetworks() : absl::StatusOr<std::vector<dp::Network>>(s);
    if (!listed.ok()) {
      return cniError(CniError::kPluginNotAvailable,
                      strCat("the dataplane is not available: ", toStd(listed.status().message())));
    }
    for (const dp::Network& n : *listed) networks.insert(n.name());
  }
  if (!conf_.ipamType.empty() && !inv_.path.empty()) {
    for (const std::string& network : ipamNetworks(networks)) {
      if (absl::Status s = ipam_.run("STATUS", conf_.ipamType, ipamConfig(network)); !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

int runCommand(const std::string& stdinConfig, const PluginEnvironment& environment,
               std::ostream& out) {
  absl::StatusOr<NetConf> conf = parseNetConf(stdinConfig);
  std::string version;
  if (!conf.ok()) {
    // Answer in the version the caller spoke when it is one we know.
    nlohmann::json j = nlohmann::json::parse(stdinConfig, nullptr, false);
    if (j.is_object() && j.contains("cniVersion") && j["cniVersion"].is_string() &&
        isSupportedVersion(j["cniVersion"].get<std::string>())) {
      version = j["cniVersion"].get<std::string>();
    }
    return writeError(out, version, cniCodeOf(conf.status()), std::string(conf.status().message()));
  }
  version = conf->cniVersion;

  // The node's path policy (cni/path_policy.h): every host path of the configuration must lie
  // under roots the node allows. It is checked before anything is opened (the log file is opened
  // only when the policy allows it); a refusal is code 7, after the environment's errors (code 4),
  // and nothing is done.
  absl::StatusOr<PathPolicy> policy = PathPolicy::load(environment.env);
  const absl::Status allowed = policy.ok() ? policy->check(policedPaths(*conf)) : policy.status();

  // The log file is a convenience: a plugin that cannot open it still does its job, on stderr.
  spdlog::level::level_enum level = *common::parseLogLevel(conf->logLevel);
  absl::StatusOr<std::shared_ptr<spdlog::logger>> logger =
      common::makeLogger("cni", level, allowed.ok() ? conf->logFile : std::string());
  if (!logger.ok()) {
    const std::string why(logger.status().message());
    logger = common::makeLogger("cni", level);
    if (!logger.ok()) {
      return writeError(out, version, CniError::kIoFailure, std::string(logger.status().message()));
    }
    (*logger)->warn("cannot open log file error=\"{}\"", why);
  }
  std::shared_ptr<spdlog::logger> log = *logger;
  log->flush_on(spdlog::level::trace);

  absl::StatusOr<Invocation> inv = parseInvocation(environment.env, !conf->ipamType.empty());
  if (!inv.ok()) {
    log->error("invalid environment error=\"{}\"", toStd(inv.status().message()));
    return writeError(out, version, cniCodeOf(inv.status()), std::string(inv.status().message()));
  }
  if (!allowed.ok()) {
    log->error("refused by the node path policy error=\"{}\"", toStd(allowed.message()));
    return writeError(out, version, CniError::kInvalidConfig, std::string(allowed.message()));
  }
  const std::string command = inv->command;
  std::unique_ptr<Dataplane> dataplane;
  if (conf->mode == AttachMode::VhostUser) dataplane = environment.dataplane(*conf, log);
  DelegateRunner ipam(inv->path, environment.env, environment.delegateTimeout, log);
  CniPlugin plugin(*std::move(conf), *std::move(inv), std::move(dataplane), std::move(ipam), log);

  absl::Status status;
  if (command == "ADD") {
    absl::StatusOr<nlohmann::json> result = plugin.add();
    if (result.ok()) {
      out << common::dumpJson(*result) << "\n";
      out.flush();
      return 0;
    }
    status = result.status();
  } else if (command == "DEL") {
    status = plugin.del();
  } else if (command == "CHECK") {
    status = plugin.check();
  } else if (command == "GC") {
    status = plugin.gc();
  } else if (command == "STATUS") {
    status = plugin.status();
  } else {
    status =
        cniError(CniError::kInvalidEnvironment, strCat("unknown CNI_COMMAND \"", command, "\""));
  }
  if (status.ok()) return 0;
  const CniError code = cniCodeOf(status);
  log->error("{} failed code={} error=\"{}\"", command, static_cast<int>(code),
             toStd(status.message()));
  return writeError(out, version, code, std::string(status.message()));
}

}  // namespace enadpdk::cni
