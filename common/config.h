#pragma once

// The node's configuration file, /etc/ena-dpdk/config.json: one object with one section per
// component ("nodeprep", "dataplane", "deviceplugin", "ipam"). Each component owns its section's
// structs and parser next to its code (vhostuser/dataplane_config.h, deviceplugin/plugin_config.h,
// nodeprep/nodeprep_config.h, ipam/node_config.h) and parses only its own section
// (the device plugin also the dataplane's), strictly: unknown keys, wrong types and out-of-range
// values are errors that name their JSON path.
//
// Here: the file reader, the section dispatch every parser goes through, the string rules the
// sections share, and the values on which two or more components must agree.
//
// The structs are plain values whose fields default to the named constants below, so that tests
// build them with designated initializers and a missing key means the default. Every field has an
// initializer (at least `{}`) so that designated initializers that leave fields out do not trip
// GCC 12's -Wmissing-field-initializers.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/json_reader.h"
#include "common/pci.h"
#include "nlohmann/json.hpp"

namespace enadpdk::common {

// ---------------------------------------------------------------------------------------------
// Values two or more components must agree on.

// The dataplane's gRPC control socket (dataplane.controlSocket, the CNI's "dataplaneSocket").
inline constexpr char kDefaultControlSocket[] = "/run/ena-dpdk/dataplane.sock";
// Parent of the per-attachment slot directories (`<dir>/<deviceID>/vhost.sock`): the dataplane's
// allowed socket directory, the device plugin's ena.dir, the CNI's "slotDir".
inline constexpr char kDefaultVhostDir[] = "/var/run/ena-dpdk/vhost";
// Where a pod sees its slot directory (deviceplugin.ena.containerPath, the CNI's "podSlotDir").
inline constexpr char kDefaultVhostContainerPath[] = "/var/run/vhost-user";
// Largest slot group (deviceplugin.ena.slotGroup, the CNI's "slotGroup"): larger gids are
// negative as a signed 32-bit id, which some tools and runtimes use; (gid_t)-1 means "unchanged".
inline constexpr unsigned kMaxSlotGroup = 2147483647;
// Network names are short because they prefix device IDs (`eni1-07`).
inline constexpr std::size_t kMaxNetworkNameLength = 15;
// MTU of a network's ports and uplink (dataplane networks, the CNI's "mtu").
inline constexpr unsigned kMinMtu = 68;
inline constexpr unsigned kMaxMtu = 9001;

// ---------------------------------------------------------------------------------------------
// Loading.

// Reads and parses a JSON document whose top level is an object. Errors start with `path`:
// "<path>: cannot read: No such file or directory" (NotFound and other errno codes),
// "<path>: invalid JSON: parse error at line 3, column 1: ..." and
// "<path>: expected a JSON object at the top level" (InvalidArgument).
absl::StatusOr<nlohmann::json> readJsonFile(const std::filesystem::path& path);

// Parses `text`, read from `path`, as readJsonFile() does (the same errors, without the read
// ones): for a caller that needs the bytes too (the dataplane's reload hashes them).
absl::StatusOr<nlohmann::json> parseJsonDocument(const std::filesystem::path& path,
                                                 std::string_view text);

// The sections of the file, in the order the components run.
inline constexpr std::string_view kConfigSections[] = {"nodeprep", "dataplane", "deviceplugin",
                                                       "ipam"};

// Reads section `name` of a whole configuration document `root` with `parse`, which reads the
// section's keys into its config. The top level must be an object whose keys are section names
// ("foo: unknown section" otherwise); other sections are not validated. A missing section leaves
// the config untouched (its defaults). Errors are InvalidArgument and name the JSON path
// ("dataplane.networks[1].mode: expected \"vpc\" or \"l2\", got \"x\""), cut to a bounded
// length.
absl::Status readSection(const nlohmann::json& root, std::string_view name,
                         const std::function<void(JsonReader&)>& parse);

// readSection() into a default-constructed Config: what each component's parseXConfig() does.
template <typename Config>
absl::StatusOr<Config> parseSection(const nlohmann::json& root, std::string_view name,
                                    void (*parse)(JsonReader&, Config&)) {
  Config config;
  absl::Status status = readSection(root, name, [&](JsonReader& r) { parse(r, config); });
  if (!status.ok()) return status;
  return config;
}

// `status` with its message prefixed by "<path>: ".
absl::Status withPathPrefix(const std::filesystem::path& path, const absl::Status& status);

// readJsonFile() then `parse`; parse errors are prefixed with the file path
// ("/etc/ena-dpdk/config.json: dataplane.networks[1].mode: ...").
template <typename Config>
absl::StatusOr<Config> loadSection(const std::filesystem::path& path,
                                   absl::StatusOr<Config> (*parse)(const nlohmann::json&)) {
  absl::StatusOr<nlohmann::json> root = readJsonFile(path);
  if (!root.ok()) return root.status();
  absl::StatusOr<Config> config = parse(*root);
  if (!config.ok()) return withPathPrefix(path, config.status());
  return config;
}

// ---------------------------------------------------------------------------------------------
// Validation helpers shared with the components.

// True for a network name: 1..kMaxNetworkNameLength characters of [a-z0-9-].
bool isNetworkName(std::string_view text);
// True for an IPv4 or IPv6 address without prefix length ("10.0.0.5", "fd00::1").
bool isIpAddress(std::string_view text);
// True for an address with a prefix length valid for its family ("10.0.0.0/24", "fd00::/64").
bool isCidr(std::string_view text);
// True for a MAC address of six colon-separated hex pairs, in either case ("02:00:5e:00:53:01").
bool isMacAddress(std::string_view text);
// True for a unicast MAC address (isMacAddress() with the multicast bit clear).
bool isUnicastMacAddress(std::string_view text);
// True for a path starting with '/'.
bool isAbsolutePath(std::string_view text);
// True for a PCI address in the domain:bus:device.function form sysfs uses, lowercase, with a
// 4-digit domain ("0000:00:06.0").
bool isPciAddressSyntax(std::string_view text);
// True for "host:port" with an IPv4 address, a bracketed IPv6 or IPv4 address or a host name;
// port 0 asks the kernel for a free port (tests).
bool isHostPort(std::string_view text);
// `text` cut at every `separator` ("a,,b" -> "a", "", "b"); one empty part for an empty text.
std::vector<std::string_view> splitText(std::string_view text, char separator);

// The rules the sections' parsers read strings with (JsonReader::read()).
inline constexpr StringRule kAbsolutePath{isAbsolutePath, "an absolute path"};
inline constexpr StringRule kPciAddress{isPciAddressSyntax, "a PCI address like 0000:00:06.0"};
inline constexpr StringRule kNetworkName{isNetworkName,
                                         "a name of 1 to 15 characters from [a-z0-9-]"};
inline constexpr StringRule kMacAddress{isUnicastMacAddress,
                                        "a unicast MAC address like 02:00:00:00:00:01"};
inline constexpr StringRule kHostPort{isHostPort, "host:port like 127.0.0.1:9640"};
inline constexpr StringRule kDpdkDriver{isDpdkDriver,
                                        "\"vfio-pci\", \"igb_uio\" or \"uio_pci_generic\""};

}  // namespace enadpdk::common
