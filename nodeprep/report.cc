#include "nodeprep/report.h"

#include <algorithm>

#include "nlohmann/json.hpp"

namespace enadpdk::nodeprep {

std::string_view statusName(ActionStatus status) {
  switch (status) {
    case ActionStatus::Ok:
      return "ok";
    case ActionStatus::Planned:
      return "planned";
    case ActionStatus::Changed:
      return "changed";
    case ActionStatus::Warning:
      return "warning";
    case ActionStatus::Failed:
      return "failed";
    case ActionStatus::Refused:
      return "refused";
  }
  return "failed";
}

void Report::add(std::string_view step, std::string_view target, std::string_view change,
                 ActionStatus status) {
  actions.push_back({.step = std::string(step),
                     .target = std::string(target),
                     .change = std::string(change),
                     .status = status});
}

void Report::fail(std::string_view step, std::string_view target, std::string_view reason,
                  ActionStatus status) {
  if (error.empty()) error = reason;
  add(step, target, reason, status);
}

bool Report::changedAnything() const {
  return std::any_of(actions.begin(), actions.end(), [](const Action& a) {
    return a.status == ActionStatus::Changed || a.status == ActionStatus::Planned;
  });
}

std::string reportJson(const Report& report) {
  nlohmann::ordered_json actions = nlohmann::ordered_json::array();
  for (const Action& a : report.actions) {
    actions.push_back({{"step", a.step},
                       {"target", a.target},
                       {"change", a.change},
                       {"status", std::string(statusName(a.status))}});
  }
  nlohmann::ordered_json doc = {{"actions", std::move(actions)},
                                {"rebootRequired", report.rebootRequired},
                                {"kubeletRestartRequired", report.kubeletRestartRequired},
                                {"ready", report.ready}};
  if (report.vfio) {
    doc["vfio"] = {{"mode", report.vfio->mode}, {"reason", report.vfio->reason}};
  }
  // Replace rather than throw on invalid UTF-8 (a target may come from a file on the host).
  return doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

int exitStatus(const Report& report) {
  if (report.failed()) return 1;
  if (report.rebootRequired) return 3;
  return 0;
}

}  // namespace enadpdk::nodeprep
