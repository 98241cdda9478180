#include "nodeprep/node_state.h"

#include "common/atomic_file.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace enadpdk::nodeprep {

using common::strCat;

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
  return state;
}

absl::Status saveNodeState(const common::HostRoot& root, const std::string& file,
                           const NodeState& state) {
  nlohmann::ordered_json doc = nlohmann::ordered_json::object();
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
  const std::filesystem::path path = root.path(file);
  if (absl::Status made = common::makeDirectories(path.parent_path(), 0755); !made.ok()) {
    return made;
  }
  return common::writeFileAtomic(path, doc.dump(2) + "\n", 0600);
}

}  // namespace enadpdk::nodeprep
