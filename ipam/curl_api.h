#pragma once

// libcurl, loaded when it is first needed rather than at process start.
//
// ena-dpdk-ipam runs once per CNI command, and only a cache miss of the instance metadata needs
// HTTP. Debian's libcurl brings about thirty libraries (GnuTLS, Kerberos, LDAP, RTMP, SSH) whose
// constructors run at every start of a program linked with it: about 10 ms, more than the
// plugin's own work. So the IPAM does not link libcurl: curlApi() dlopen()s libcurl.so.4 the
// first time the metadata service is asked, resolves the few functions the client calls, and
// runs curl_global_init() once. The packaging scripts know the library is loaded this way
// (deploy/elf-libs.sh).

#include <curl/curl.h>

#include "absl/status/statusor.h"

namespace enadpdk::ipam {

// The soname loaded.
inline constexpr char kCurlLibrary[] = "libcurl.so.4";

// The libcurl functions the metadata client uses, with their own signatures.
struct CurlApi {
  CURL* (*easy_init)(void);
  void (*easy_cleanup)(CURL*);
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
};

// libcurl, loaded and initialised on the first call (thread-safe); the same answer afterwards.
// Unavailable, naming the library and the loader's reason, when it cannot be loaded or lacks a
// function.
absl::StatusOr<const CurlApi*> curlApi();

}  // namespace enadpdk::ipam
