#include "ipam/curl_api.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

#include "common/strings.h"

namespace enadpdk::ipam {
namespace {

using common::strCat;

template <typename F>
bool resolve(void* handle, const char* name, F& out, std::string& missing) {
  out = reinterpret_cast<F>(dlsym(handle, name));
  if (out == nullptr && missing.empty()) missing = name;
  return out != nullptr;
}

absl::StatusOr<const CurlApi*> load() {
  // Never unloaded: libcurl keeps global state (curl_global_init) for the process's lifetime.
  void* handle = dlopen(kCurlLibrary, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return absl::UnavailableError(
        strCat("cannot load ", kCurlLibrary, ": ", why != nullptr ? why : "unknown error"));
  }
  static CurlApi api{};
  std::string missing;
  resolve(handle, "curl_easy_init", api.easy_init, missing);
  resolve(handle, "curl_easy_cleanup", api.easy_cleanup, missing);
  resolve(handle, "curl_easy_setopt", api.easy_setopt, missing);
  resolve(handle, "curl_easy_perform", api.easy_perform, missing);
  resolve(handle, "curl_easy_getinfo", api.easy_getinfo, missing);
  resolve(handle, "curl_easy_strerror", api.easy_strerror, missing);
  resolve(handle, "curl_slist_append", api.slist_append, missing);
  resolve(handle, "curl_slist_free_all", api.slist_free_all, missing);
  CURLcode (*global_init)(long) = nullptr;
  resolve(handle, "curl_global_init", global_init, missing);
  if (!missing.empty()) {
    return absl::UnavailableError(strCat(kCurlLibrary, " lacks ", missing));
  }
  if (CURLcode code = global_init(CURL_GLOBAL_DEFAULT); code != CURLE_OK) {
    return absl::UnavailableError(strCat("curl_global_init failed: ", api.easy_strerror(code)));
  }
  return &api;
}

}  // namespace

absl::StatusOr<const CurlApi*> curlApi() {
  static std::once_flag once;
  static absl::StatusOr<const CurlApi*> api = absl::UnknownError("not loaded");
  std::call_once(once, [] { api = load(); });
  return api;
}

}  // namespace enadpdk::ipam
