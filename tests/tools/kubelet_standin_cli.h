#pragma once

#include <ostream>

namespace enadpdk::testing {

// kubelet-standin's command line: `serve` runs the stand-in kubelet until SIGTERM or SIGINT; the
// other commands are clients of a running one's control socket and print its answer as JSON.
// Returns the exit status: 0 success, 1 failure (one line on `err`), 2 usage error.
int standinMain(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace enadpdk::testing
