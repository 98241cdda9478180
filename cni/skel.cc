#include "cni/skel.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iterator>

#include <nlohmann/json.hpp>

#include "common/flags.h"
#include "common/json_text.h"
#include "common/strings.h"

namespace enadpdk::cni {

int writeError(std::ostream& out, const std::string& cni_version, CniError code,
               const std::string& msg, const std::string& details) {
  nlohmann::json j = {{"cniVersion", cni_version.empty() ? kSupportedVersions.back() : cni_version},
                      {"code", static_cast<int>(code)},
                      {"msg", msg}};
  if (!details.empty()) j["details"] = details;
  out << common::dumpJson(j) << "\n";
  out.flush();
  return 1;
}

namespace {

// Decodes stdin, answers VERSION and unknown commands, and calls the command's handler. Sets
// `version` to the cniVersion of stdin as soon as it is known (for the error JSON of the catch).
int dispatchUnguarded(const std::string& program, const std::string& command,
                      std::string_view stdinText,
                      const std::map<std::string, CommandHandler>& handlers, std::ostream& out,
                      std::ostream& err, std::string& version) {
  CniRequest request{.command = command};
  if (!stdinText.empty() || command == "VERSION") {
    request.config = nlohmann::json::parse(stdinText, nullptr, /*allow_exceptions=*/false);
    if (request.config.is_discarded() || !request.config.is_object()) {
      return writeError(out, "", CniError::kDecodeFailure,
                        "cannot decode the network configuration on stdin: not a JSON object");
    }
    if (auto it = request.config.find("cniVersion");
        it != request.config.end() && it->is_string()) {
      version = it->get<std::string>();
    }
  }
  if (command.empty()) {
    return writeError(out, version, CniError::kInvalidEnvironment, "CNI_COMMAND is not set");
  }
  if (command == "VERSION") {
    out << common::dumpJson({{"cniVersion", version.empty() ? kSupportedVersions.back() : version},
                             {"supportedVersions", kSupportedVersions}})
        << "\n";
    return 0;
  }
  static const std::vector<std::string> kCommands = {"ADD", "DEL", "CHECK", "GC", "STATUS"};
  if (std::find(kCommands.begin(), kCommands.end(), command) == kCommands.end()) {
    return writeError(out, version, CniError::kInvalidEnvironment,
                      common::strCat("unknown CNI_COMMAND \"", common::clipped(command), "\""));
  }
  auto handler = handlers.find(command);
  if (handler == handlers.end()) {
    return writeError(out, version, CniError::kNotSupportedYet,
                      common::strCat(program, ": ", command, " is not supported yet (issue 5)"));
  }
  return handler->second(request, out, err);
}

// Runs `body` with the catch at the edge of both plugins: nothing may escape as an exception (an
// abort leaves the runtime without the error JSON it reads from stdout).
int guarded(const std::string& program, std::ostream& out, std::ostream& err,
            const std::function<int(std::string& version)>& body) {
  std::string version;
  std::string what = "unknown exception";
  try {
    return body(version);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  try {
    err << program << ": internal error: " << common::clipped(what) << "\n";
    return writeError(out, version, CniError::kInternalError,
                      common::strCat(program, ": internal error: ", common::clipped(what)));
  } catch (...) {
    return 1;
  }
}

}  // namespace

int dispatchCommand(const std::string& program, const std::string& command,
                    std::string_view stdinText,
                    const std::map<std::string, CommandHandler>& handlers, std::ostream& out,
                    std::ostream& err) {
  return guarded(program, out, err, [&](std::string& version) {
    return dispatchUnguarded(program, command, stdinText, handlers, out, err, version);
  });
}

int runPlugin(const PluginInfo& info, int argc, const char* const* argv,
              const std::map<std::string, CommandHandler>& handlers, std::istream& in,
              std::ostream& out, std::ostream& err) {
  return guarded(info.program, out, err, [&](std::string& version) {
    common::FlagParser flags(
        info.program, "(run by a CNI runtime: config on stdin, CNI_* variables)", info.about);
    flags.addSwitch("version", "print the version and exit")
        .addSwitch("help", "print this help and exit", 'h');
    if (auto rc = flags.handleStandard(flags.parse(argc, argv), out, err)) return *rc;
    if (!flags.positional().empty()) {
      return common::reportFatal(
          err, info.program, common::strCat("unexpected argument \"", flags.positional()[0], "\""),
          2);
    }
    const char* commandEnv = std::getenv("CNI_COMMAND");
    const std::string command = commandEnv ? commandEnv : "";
    const std::string config(std::istreambuf_iterator<char>(in), {});
    return dispatchUnguarded(info.program, command, config, handlers, out, err, version);
  });
}

}  // namespace enadpdk::cni
