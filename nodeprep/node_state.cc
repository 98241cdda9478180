#include "nodeprep/node_state.h"

#include <filesystem>
#include <system_error>

#include "common/atomic_file.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace enadpdk::nodeprep {

using common::strCat;

namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// Reads a string member of `object` into `out` when present; the error says which key.
absl::Status readString(const Json& object, std::string_view key, std::string_view where,
                        std::string& out) {
  auto it = object.find(key);
  if (it == object.end()) return absl::OkStatus();
  if (!it->is_string()) return absl::InvalidArgumentError(strCat(where, key, " is not a string"));
  out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status readStringList(const Json& doc, std::string_view key, std::vector<std::string>& out) {
  auto it = doc.find(key);
  if (it == doc.end()) return absl::OkStatus();
  if (!it->is_array()) return absl::InvalidArgumentError(strCat(key, " is not an array"));
  for (const Json& item : *it) {
    if (!item.is_string()) {
      return absl::InvalidArgumentError(strCat(key, " holds something other than a string"));
    }
    out.push_back(item.get<std::string>());
  }
  return absl::OkStatus();
}

absl::Status readUnsigned(const Json& object, std::string_view key, std::string_view where,
                          uint64_t& out) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_number_unsigned()) {
    return absl::InvalidArgumentError(strCat(where, key, " is not a count"));
  }
  out = it->get<uint64_t>();
  return absl::OkStatus();
}

// The keys that record what nodeprep changed, for --undo.
absl::Status readUndoRecords(const Json& doc, NodeState& state) {
  if (auto it = doc.find("hugepagesRaised"); it != doc.end()) {
    if (!it->is_object()) return absl::InvalidArgumentError("hugepagesRaised is not an object");
    for (const auto& [file, raise] : it->items()) {
      const std::string where = strCat("hugepagesRaised.", file, ".");
      if (!raise.is_object()) return absl::InvalidArgumentError(strCat(where, " is not an object"));
      HugepageRaise& r = state.hugepages_raised[file];
      if (absl::Status s = readUnsigned(raise, "before", where, r.before); !s.ok()) return s;
      if (absl::Status s = readUnsigned(raise, "raisedTo", where, r.raised_to); !s.ok()) return s;
    }
  }
  if (auto it = doc.find("mountsMade"); it != doc.end()) {
    if (!it->is_object()) return absl::InvalidArgumentError("mountsMade is not an object");
    for (const auto& [path, mount] : it->items()) {
      if (!mount.is_object()) {
        return absl::InvalidArgumentError(strCat("mountsMade.", path, " is not an object"));
      }
      absl::Status s =
          readStringList(mount, "createdDirectories", state.mounts_made[path].created_directories);
      if (!s.ok()) return absl::InvalidArgumentError(strCat("mountsMade.", path, ".", s.message()));
    }
  }
  if (auto it = doc.find("kernelArgsAdded"); it != doc.end()) {
    if (!it->is_array()) return absl::InvalidArgumentError("kernelArgsAdded is not an array");
    for (const Json& item : *it) {
      if (!item.is_object()) {
        return absl::InvalidArgumentError("kernelArgsAdded holds something other than an object");
      }
      KernelArgsEdit edit;
      const std::string_view where = "kernelArgsAdded[].";
      for (auto [key, field] : {std::pair<std::string_view, std::string*>{"via", &edit.via},
                                {"added", &edit.added},
                                {"replaced", &edit.replaced},
                                {"grubBefore", &edit.grub_before},
                                {"grubAfter", &edit.grub_after},
                                {"grubCfg", &edit.grub_cfg}}) {
        if (absl::Status s = readString(item, key, where, *field); !s.ok()) return s;
      }
      if (edit.via.empty() || edit.added.empty()) {
        return absl::InvalidArgumentError("kernelArgsAdded[] lacks via or added");
      }
      state.kernel_args_added.push_back(std::move(edit));
    }
  }
  if (auto it = doc.find("boundDevices"); it != doc.end()) {
    if (!it->is_object()) return absl::InvalidArgumentError("boundDevices is not an object");
    for (const auto& [address, device] : it->items()) {
      const std::string where = strCat("boundDevices.", address, ".");
      if (!device.is_object()) {
        return absl::InvalidArgumentError(strCat("boundDevices.", address, " is not an object"));
      }
      BoundDevice& d = state.bound_devices[address];
      for (auto [key, field] : {std::pair<std::string_view, std::string*>{"driver", &d.driver},
                                {"driverOverride", &d.driver_override},
                                {"boundTo", &d.bound_to}}) {
        if (absl::Status s = readString(device, key, where, *field); !s.ok()) return s;
      }
    }
  }
  if (absl::Status s = readStringList(doc, "modulesLoaded", state.modules_loaded); !s.ok()) {
    return s;
  }
  if (auto it = doc.find("noiommuBefore"); it != doc.end()) {
    if (!it->is_string()) return absl::InvalidArgumentError("noiommuBefore is not a string");
    state.noiommu_before = it->get<std::string>();
  }
  return readStringList(doc, "stateDirectories", state.state_directories);
}

void writeUndoRecords(const NodeState& state, OrderedJson& doc) {
  if (!state.hugepages_raised.empty()) {
    OrderedJson& raised = doc["hugepagesRaised"] = OrderedJson::object();
    for (const auto& [file, r] : state.hugepages_raised) {
      raised[file] = {{"before", r.before}, {"raisedTo", r.raised_to}};
    }
  }
  if (!state.mounts_made.empty()) {
    OrderedJson& mounts = doc["mountsMade"] = OrderedJson::object();
    for (const auto& [path, m] : state.mounts_made) {
      mounts[path] = {{"createdDirectories", m.created_directories}};
    }
  }
  if (!state.kernel_args_added.empty()) {
    OrderedJson& edits = doc["kernelArgsAdded"] = OrderedJson::array();
    for (const KernelArgsEdit& e : state.kernel_args_added) {
      OrderedJson edit = {{"via", e.via}, {"added", e.added}, {"replaced", e.replaced}};
      if (!e.grub_cfg.empty()) {
        edit["grubBefore"] = e.grub_before;
        edit["grubAfter"] = e.grub_after;
        edit["grubCfg"] = e.grub_cfg;
      }
      edits.push_back(std::move(edit));
    }
  }
  if (!state.bound_devices.empty()) {
    OrderedJson& bound = doc["boundDevices"] = OrderedJson::object();
    for (const auto& [address, d] : state.bound_devices) {
      bound[address] = {
          {"driver", d.driver}, {"driverOverride", d.driver_override}, {"boundTo", d.bound_to}};
    }
  }
  if (!state.modules_loaded.empty()) doc["modulesLoaded"] = state.modules_loaded;
  if (state.noiommu_before) doc["noiommuBefore"] = *state.noiommu_before;
  if (!state.state_directories.empty()) doc["stateDirectories"] = state.state_directories;
}

}  // namespace

bool NodeState::recordsChanges() const {
  return !hugepages_raised.empty() || !mounts_made.empty() || !kernel_args_added.empty() ||
         !bound_devices.empty() || !modules_loaded.empty() || noiommu_before.has_value();
}

absl::StatusOr<NodeState> loadNodeState(const common::HostRoot& root, const std::string& file) {
  absl::StatusOr<std::string> text = common::readFile(root.path(file));
  if (absl::IsNotFound(text.status())) return NodeState{};
  if (!text.ok()) return text.status();
  const nlohmann::json doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        strCat(file, ": not a nodeprep state file (", why, "); remove it to start afresh"));
  };
  if (!doc.is_object()) return invalid("expected a JSON object");
  NodeState state;
  if (auto it = doc.find("version"); it != doc.end()) {
    if (!it->is_number_integer()) return invalid("version is not a number");
    state.version = it->get<int>();
  }
  if (auto it = doc.find("bootId"); it != doc.end()) {
    if (!it->is_string()) return invalid("bootId is not a string");
    state.boot_id = it->get<std::string>();
  }
  if (auto it = doc.find("hugepagesRaisedAt"); it != doc.end()) {
    if (!it->is_number()) return invalid("hugepagesRaisedAt is not a number");
    state.hugepages_raised_at = it->get<double>();
  }
  if (auto it = doc.find("interfaces"); it != doc.end()) {
    if (!it->is_object()) return invalid("interfaces is not an object");
    for (const auto& [name, address] : it->items()) {
      if (!address.is_string()) return invalid(strCat("interfaces.", name, " is not a string"));
      state.interfaces[name] = address.get<std::string>();
    }
  }
  if (auto it = doc.find("macs"); it != doc.end()) {
    if (!it->is_object()) return invalid("macs is not an object");
    for (const auto& [mac, address] : it->items()) {
      if (!address.is_string()) return invalid(strCat("macs.", mac, " is not a string"));
      state.macs[mac] = address.get<std::string>();
    }
  }
  if (absl::Status records = readUndoRecords(doc, state); !records.ok()) {
    return invalid(common::toStd(records.message()));
  }
  return state;
}

absl::Status saveNodeState(const common::HostRoot& root, const std::string& file,
                           const NodeState& state) {
  nlohmann::ordered_json doc = nlohmann::ordered_json::object();
  doc["version"] = kNodeStateVersion;
  if (!state.boot_id.empty()) doc["bootId"] = state.boot_id;
  if (state.hugepages_raised_at) doc["hugepagesRaisedAt"] = *state.hugepages_raised_at;
  doc["interfaces"] = nlohmann::ordered_json::object();
  for (const auto& [name, address] : state.interfaces) doc["interfaces"][name] = address;
  // Only when there is something, so that state files of nodes that never needed it stay as
  // they were.
  if (!state.macs.empty()) {
    doc["macs"] = nlohmann::ordered_json::object();
    for (const auto& [mac, address] : state.macs) doc["macs"][mac] = address;
  }
  writeUndoRecords(state, doc);
  const std::filesystem::path path = root.path(file);
  if (absl::Status made = common::makeDirectories(path.parent_path(), 0755); !made.ok()) {
    return made;
  }
  return common::writeFileAtomic(path, doc.dump(2) + "\n", 0600);
}

std::vector<std::string> missingDirectories(const common::HostRoot& root, const std::string& dir) {
  std::vector<std::string> missing;
  std::filesystem::path host_dir = std::filesystem::path(dir).lexically_normal();
  while (!host_dir.empty() && host_dir != host_dir.root_path()) {
    std::error_code ec;
    if (std::filesystem::exists(
            std::filesystem::symlink_status(root.path(host_dir.string()), ec))) {
      break;
    }
    missing.insert(missing.begin(), host_dir.string());
    host_dir = host_dir.parent_path();
  }
  return missing;
}

}  // namespace enadpdk::nodeprep
