#include "cni/skel.h"

#include <cstdlib>
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

int runPluginUnguarded(const PluginInfo& info, int argc, const char* const* argv,
                       const std::map<std::string, CommandHandler>& handlers, std::istream& in,
                       std::ostream& out, std::ostream& err, std::string& version) {
  common::FlagParser flags(info.program, "(run by a CNI runtime: config on stdin, CNI_* variables)",
                           info.about);
  flags.addSwitch("version", "print the version and exit")
      .addSwitch("help", "print this help and exit", 'h');
  if (auto rc = flags.handleStandard(flags.parse(argc, argv), out, err)) return *rc;
  if (!flags.positional().empty()) {
    return common::reportFatal(
        err, info.program, common::strCat("unexpected argument \"", flags.positional()[0], "\""),
        2);
  }

  const char* command_env = std::getenv("CNI_COMMAND");
  const std::string command = command_env ? command_env : "";
  std::string config(std::istreambuf_iterator<char>(in), {});
  nlohmann::json parsed;
  if (!config.empty() || command == "VERSION") {
    parsed = nlohmann::json::parse(config, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      return writeError(out, "", CniError::kDecodeFailure,
                        "cannot decode the network configuration on stdin: not a JSON object");
    }
    if (auto it = parsed.find("cniVersion"); it != parsed.end() && it->is_string()) {
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
    return writeError(
        out, version, CniError::kNotSupportedYet,
        common::strCat(info.program, ": ", command, " is not supported yet (issue 5)"));
  }
  return handler->second(config, out, err);
}

}  // namespace

int runPlugin(const PluginInfo& info, int argc, const char* const* argv,
              const std::map<std::string, CommandHandler>& handlers, std::istream& in,
              std::ostream& out, std::ostream& err) {
  // The edge of both plugins: nothing may escape as an exception (an abort leaves the runtime
  // without the error JSON it reads from stdout).
  std::string version;
  std::string what = "unknown exception";
  try {
    return runPluginUnguarded(info, argc, argv, handlers, in, out, err, version);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  try {
    err << info.program << ": internal error: " << common::clipped(what) << "\n";
    return writeError(out, version, CniError::kInternalError,
                      common::strCat(info.program, ": internal error: ", common::clipped(what)));
  } catch (...) {
    return 1;
  }
}

}  // namespace enadpdk::cni
