#pragma once
// Fault injection for the fault tests: named points in the code where a test can make the
// process die or freeze at an exact moment (mid-upload, say), which no signal sent from
// outside can time. Off unless the environment sets NETADAPT_FAILPOINTS, e.g.
//   NETADAPT_FAILPOINTS="artifact.send.after_chunk=kill@3"
// makes the process SIGKILL itself the 3rd time it passes that point. Actions: kill
// (SIGKILL), stop (SIGSTOP). Several points are separated by commas. Unset, a point costs one
// relaxed atomic load.

#include "absl/strings/string_view.h"

namespace netadapt::common {

void Failpoint(absl::string_view name);

}  // namespace netadapt::common
