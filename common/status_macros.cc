#include "common/status_macros.h"

#include <cstdio>
#include <cstdlib>

namespace netadapt::common::internal {

void CheckFailed(const char* condition, const char* file, int line) {
  // stderr, not spdlog: this must work before logging is set up and while it is broken.
  std::fprintf(stderr, "netadapt: check failed at %s:%d: %s\n", file, line, condition);
  std::abort();
}

}  // namespace netadapt::common::internal
