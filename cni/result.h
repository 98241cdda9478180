#pragma once

// The CNI result model shared by ena-dpdk-cni and ena-dpdk-ipam: one version-independent struct,
// read from and written in every result shape the plugins speak (SPEC.md "Success"; libcni's
// pkg/types/040 for 0.3.0, 0.3.1, 0.4.0 and pkg/types/100 for 1.0.0, 1.1.0):
//
//   0.3.0, 0.3.1, 0.4.0  ips[] carry "version": "4" | "6"
//   1.0.0                ips[] have no "version"
//   1.1.0                as 1.0.0; interfaces[] may carry "mtu", "socketPath", "pciID", and
//                        routes[] "mtu", "advmss", "priority", "table", "scope"
//
// Also the small runtime-parameter helpers both plugins need: version comparison, CNI_ARGS
// parsing, and the container ID / interface name checks.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace enadpdk::cni {

// ---------------------------------------------------------------------------------------------
// Versions.

// True for one of the versions in kSupportedVersions (skel.h).
bool isSupportedVersion(std::string_view version);

// Compares two "X.Y.Z" version strings numerically: negative, zero or positive like strcmp.
// InvalidArgument ("invalid CNI version \"1.x\"") when either is not three dot-separated numbers.
absl::StatusOr<int> compareVersions(std::string_view a, std::string_view b);

// True when `version` is a valid "X.Y.Z" that is at least `minimum` ("1.1.0"); false for a
// malformed `version`.
bool versionAtLeast(std::string_view version, std::string_view minimum);

// ---------------------------------------------------------------------------------------------
// The result.

// An interface the plugin created or configured (result "interfaces[]").
struct Interface {
  // Interface name (CNI_IFNAME for the one the plugin made). Required.
  std::string name{};
  // MAC address; empty: none.
  std::string mac{};
  // Path of the network namespace the interface is in (CNI_NETNS); empty for a host interface.
  std::string sandbox{};
  // MTU; written only in 1.1.0 results.
  std::optional<unsigned> mtu{};
  // vhost-user socket path; empty: none; written only in 1.1.0 results.
  std::string socketPath{};
  // PCI address of the device; empty: none; written only in 1.1.0 results.
  std::string pciID{};

  // Field-wise comparison.
  bool operator==(const Interface&) const = default;
};

// An address assigned to an interface (result "ips[]").
struct IpConfig {
  // Address with prefix length, host bits kept ("10.0.1.23/24", "2001:db8::5/64"). Required.
  std::string address{};
  // Gateway address; empty: none.
  std::string gateway{};
  // Index into Result::interfaces of the interface the address belongs to; none for IPAM results.
  std::optional<unsigned> interfaceIndex{};

  // 4 or 6, from the address (0 when the address is not a valid CIDR).
  int family() const;

  // Field-wise comparison.
  bool operator==(const IpConfig&) const = default;
};

// A route (result "routes[]").
struct Route {
  // Destination CIDR ("0.0.0.0/0"). Required.
  std::string dst{};
  // Next hop; empty: the default gateway of the interface.
  std::string gw{};
  // Route attributes written only in 1.1.0 results.
  std::optional<unsigned> mtu{};
  std::optional<unsigned> advmss{};
  std::optional<unsigned> priority{};
  std::optional<unsigned> table{};
  std::optional<unsigned> scope{};

  // Field-wise comparison.
  bool operator==(const Route&) const = default;
};

// Resolver settings (result "dns").
struct Dns {
  // Name server addresses.
  std::vector<std::string> nameservers{};
  // Local domain.
  std::string domain{};
  // Search domains.
  std::vector<std::string> search{};
  // Resolver options.
  std::vector<std::string> options{};

  // True when no field is set (the result then omits "dns").
  bool empty() const;
  // Field-wise comparison.
  bool operator==(const Dns&) const = default;
};

// A CNI result, independent of its shape.
struct Result {
  // The version the result was read in (parseResult) or is meant for.
  std::string cniVersion{};
  // Interfaces; IPAM results have none.
  std::vector<Interface> interfaces{};
  // Addresses.
  std::vector<IpConfig> ips{};
  // Routes.
  std::vector<Route> routes{};
  // Resolver settings.
  Dns dns{};

  // Field-wise comparison.
  bool operator==(const Result&) const = default;
};

// Reads a result of any supported version. The version is the document's "cniVersion", or
// `defaultVersion` when it has none (libcni parses a prevResult in the network config's
// version). Every field of every shape is read whatever the version ("socketPath" from a 1.0.0
// document too); "ips[].version" is checked ("4" or "6", matching the address) only in the
// shapes that carry it. Unknown keys are ignored, as the spec says. Errors are InvalidArgument
// naming the JSON path under `path` ("prevResult.ips[0].address: expected an address with a
// prefix length like \"10.0.0.5/24\", got \"10.0.0.5\""), "<path>.cniVersion: unsupported CNI
// version \"0.2.0\" (supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)" or
// "<path>.cniVersion: missing required key".
absl::StatusOr<Result> parseResult(const nlohmann::json& json, std::string_view path = "",
                                   std::string_view defaultVersion = "");
// parseResult() of JSON text; text that is not JSON gives "<path>: invalid JSON: <why>".
absl::StatusOr<Result> parseResult(std::string_view text, std::string_view path = "",
                                   std::string_view defaultVersion = "");

// Writes `result` in the shape of `version` (which sets "cniVersion"; result.cniVersion is not
// used). Fields the shape lacks are dropped; empty lists, empty strings and an empty "dns" are
// omitted, as libcni does. InvalidArgument for an unsupported version.
absl::StatusOr<nlohmann::json> renderResult(const Result& result, std::string_view version);

// ---------------------------------------------------------------------------------------------
// Runtime parameters.

// The longest Linux interface name (IFNAMSIZ - 1).
inline constexpr std::size_t kMaxIfNameLength = 15;

// Parses CNI_ARGS ("K=V;K=V"; empty gives no pairs). Each pair needs a non-empty key, exactly one
// '=' and a key not seen before; otherwise InvalidArgument:
// "CNI_ARGS: invalid pair \"abc\" (expected KEY=VALUE)" or "CNI_ARGS: duplicate key \"K\"".
absl::StatusOr<std::map<std::string, std::string>> parseCniArgs(std::string_view args);

// Checks CNI_CONTAINERID: libcni's rule [a-zA-Z0-9][a-zA-Z0-9_.-]* (so no '/'), and no "..".
// InvalidArgument "CNI_CONTAINERID: ..." otherwise. Safe to use as a file name afterwards.
absl::Status validateContainerId(std::string_view id);

// Checks CNI_IFNAME (libcni's rule): 1..kMaxIfNameLength bytes, no '/', ':' or whitespace, not
// "." or "..". InvalidArgument "CNI_IFNAME: ..." otherwise. Safe to use as a file name afterwards.
absl::Status validateIfName(std::string_view name);

}  // namespace enadpdk::cni
