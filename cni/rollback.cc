#include "cni/rollback.h"

#include "common/logging.h"
#include "common/strings.h"

namespace enadpdk::cni {

Rollback::~Rollback() {
  for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) {
    if (absl::Status s = it->second(); !s.ok()) {
      log_.error("rollback step failed step={} error={}", common::logValue(it->first),
                 common::logValue(common::toStd(s.message())));
    } else {
      log_.info("rolled back step={}", common::logValue(it->first));
    }
  }
}

}  // namespace enadpdk::cni
