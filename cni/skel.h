#pragma once

#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "cni/errors.h"

namespace enadpdk::cni {

// The spec versions every ena-dpdk CNI binary speaks.
inline const std::vector<std::string> kSupportedVersions = {"0.3.0", "0.3.1", "0.4.0", "1.0.0",
                                                            "1.1.0"};

// Prints the spec's error JSON ({"cniVersion","code","msg","details"}) on `out` (libcni reads
// stdout) and returns the exit status 1. Invalid UTF-8 in `msg` or `details` is replaced with
// U+FFFD (common::dumpJson), so the output is always well-formed JSON.
int writeError(std::ostream& out, const std::string& cni_version, CniError code,
               const std::string& msg, const std::string& details = "");

// The plugin-side skeleton shared by ena-dpdk-cni and ena-dpdk-ipam: answers --help/--version
// for humans, reads CNI_COMMAND and stdin, answers VERSION, and hands other commands to
// `handlers` (keyed by command name). A command without a handler is reported as not supported.
// An exception that escapes a handler is caught here and answered as error kInternalError.
struct PluginInfo {
  std::string program;  // binary name
  std::string about;    // one paragraph for --help
};
using CommandHandler =
    std::function<int(const std::string& stdin_config, std::ostream& out, std::ostream& err)>;
int runPlugin(const PluginInfo& info, int argc, const char* const* argv,
              const std::map<std::string, CommandHandler>& handlers, std::istream& in,
              std::ostream& out, std::ostream& err);

}  // namespace enadpdk::cni
