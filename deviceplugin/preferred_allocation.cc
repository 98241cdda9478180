#include "deviceplugin/preferred_allocation.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>

namespace enadpdk::deviceplugin {
namespace {

// Devices without a NUMA node form one pseudo-node.
constexpr int kNoNode = -1;

using BucketKey = std::pair<int, std::string>;  // (NUMA node, group)

}  // namespace

std::vector<std::string> choosePreferred(const std::vector<Candidate>& available,
                                         const std::vector<std::string>& mustInclude,
                                         std::size_t size) {
  std::map<std::string, const Candidate*> byId;
  for (const Candidate& candidate : available) byId.emplace(candidate.id, &candidate);

  std::vector<std::string> chosen;
  std::set<int> usedNodes;
  std::set<std::string> usedGroups;
  auto take = [&](const std::string& id) {
    chosen.push_back(id);
    if (auto it = byId.find(id); it != byId.end()) {
      usedNodes.insert(it->second->numaNode.value_or(kNoNode));
      usedGroups.insert(it->second->group);
    }
  };
  for (const std::string& id : mustInclude) {
    if (std::find(chosen.begin(), chosen.end(), id) == chosen.end()) take(id);
  }

  std::map<BucketKey, std::vector<std::string>> buckets;
  for (const auto& [id, candidate] : byId) {
    if (std::find(chosen.begin(), chosen.end(), id) != chosen.end()) continue;
    buckets[{candidate->numaNode.value_or(kNoNode), candidate->group}].push_back(id);
  }

  while (chosen.size() < size && !buckets.empty()) {
    const std::size_t need = size - chosen.size();
    std::map<int, std::size_t> nodeTotal;
    for (const auto& [key, ids] : buckets) nodeTotal[key.first] += ids.size();

    // Lexicographic preference: stay on nodes already used, then on a node that can take the
    // whole remainder, then in a group already used, then in a group that can take it all;
    // best fit among those that fit, largest first among those that do not.
    auto rank = [&](const BucketKey& key, std::size_t count) {
      const std::size_t total = nodeTotal[key.first];
      const bool nodeFits = total >= need;
      const bool bucketFits = count >= need;
      return std::make_tuple(!usedNodes.contains(key.first), !nodeFits,
                             !usedGroups.contains(key.second), !bucketFits,
                             bucketFits ? static_cast<long>(count) : -static_cast<long>(count),
                             nodeFits ? static_cast<long>(total) : -static_cast<long>(total), key);
    };
    auto best = buckets.begin();
    for (auto it = std::next(buckets.begin()); it != buckets.end(); ++it) {
      if (rank(it->first, it->second.size()) < rank(best->first, best->second.size())) best = it;
    }
    std::vector<std::string>& ids = best->second;
    const std::size_t count = std::min(need, ids.size());
    for (std::size_t i = 0; i < count; ++i) take(ids[i]);
    ids.erase(ids.begin(), ids.begin() + static_cast<long>(count));
    if (ids.empty()) buckets.erase(best);
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

}  // namespace enadpdk::deviceplugin
