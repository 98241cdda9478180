#pragma once

#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "cni/errors.h"
#include "nlohmann/json.hpp"

namespace enadpdk::cni {

// The spec versions every ena-dpdk CNI binary speaks.
inline const std::vector<std::string> kSupportedVersions = {"0.3.0", "0.3.1", "0.4.0", "1.0.0",
                                                            "1.1.0"};

// Prints the spec's error JSON ({"cniVersion","code","msg","details"}) on `out` (libcni reads
// stdout) and returns the exit status 1. Invalid UTF-8 in `msg` or `details` is replaced with
// U+FFFD (common::dumpJson), so the output is always well-formed JSON.
int writeError(std::ostream& out, const std::string& cni_version, CniError code,
               const std::string& msg, const std::string& details = "");

// One CNI invocation as the skeleton hands it to a command handler: stdin is parsed once, here.
struct CniRequest {
  // CNI_COMMAND: ADD, DEL, CHECK, GC or STATUS.
  std::string command{};
  // The network configuration from stdin: a JSON object, or null when stdin was empty.
  nlohmann::json config{};
};

// The plugin-side skeleton shared by ena-dpdk-cni and ena-dpdk-ipam: answers --help/--version
// for humans, reads CNI_COMMAND and stdin, answers VERSION, and hands other commands to
// `handlers` (keyed by command name). A command without a handler is reported as not supported.
// An exception that escapes a handler is caught here and answered as error kInternalError.
struct PluginInfo {
  std::string program;  // binary name
  std::string about;    // one paragraph for --help
};
using CommandHandler =
    std::function<int(const CniRequest& request, std::ostream& out, std::ostream& err)>;
int runPlugin(const PluginInfo& info, int argc, const char* const* argv,
              const std::map<std::string, CommandHandler>& handlers, std::istream& in,
              std::ostream& out, std::ostream& err);

// The dispatch runPlugin() does once it has CNI_COMMAND (`command`, empty when unset) and stdin
// (`stdinText`): decodes stdin, answers VERSION, refuses unknown commands and calls the handler,
// with the same catch at the edge. For tests that run a plugin in-process with an environment of
// their own; `program` names the plugin in messages.
int dispatchCommand(const std::string& program, const std::string& command,
                    std::string_view stdinText,
                    const std::map<std::string, CommandHandler>& handlers, std::ostream& out,
                    std::ostream& err);

}  // namespace enadpdk::cni
