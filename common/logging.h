#pragma once

#include <spdlog/fwd.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace netadapt::common {

// Sets up logging for a process (STYLE.md section 9). Only `main` calls it, once, before any
// thread logs: every logger writes to stderr with the pattern
//   2024-05-01T12:00:00.123 [profiler] [info] [t:1234] message
// `component` names the default logger ("master", "worker", "profiler", ...); `level` is one
// of trace, debug, info, warn, error, critical, off. InvalidArgument for an unknown level
// (logging is still set up, at info).
absl::Status InitLogging(absl::string_view component, absl::string_view level = "info");

// The named logger ("rpc", "profiler", ...), created on first use with the process's sinks
// and level. Thread-safe. Works without InitLogging (stderr, info), e.g. in tests.
std::shared_ptr<spdlog::logger> Logger(absl::string_view name);

}  // namespace netadapt::common
