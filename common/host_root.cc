#include "common/host_root.h"

#include <string>

namespace enadpdk::common {

HostRoot::HostRoot(std::filesystem::path root)
    : root_(root.empty() ? std::filesystem::path("/") : root.lexically_normal()) {
  // lexically_normal keeps a trailing separator ("/tmp/x/" -> "/tmp/x/"); drop it so that
  // path() and hostPath() compose cleanly.
  std::string s = root_.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  root_ = s;
}

std::filesystem::path HostRoot::path(std::string_view host_path) const {
  std::string_view rel = host_path;
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  if (rel.empty()) return root_;
  return root_ / std::filesystem::path(rel);
}

std::filesystem::path HostRoot::hostPath(const std::filesystem::path& path_under_root) const {
  if (isRealHost()) return path_under_root;
  std::string p = path_under_root.string();
  const std::string r = root_.string();
  if (p == r) return "/";
  if (p.size() > r.size() && p.compare(0, r.size(), r) == 0 && p[r.size()] == '/') {
    return std::filesystem::path(p.substr(r.size()));
  }
  return path_under_root;
}

}  // namespace enadpdk::common
