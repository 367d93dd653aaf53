#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace netadapt::cli {

// The exit codes of the `netadapt` command (also listed in `netadapt --help`).
inline constexpr int kExitOk = 0;
// Bad flags or input, rejected locally or by the master (INVALID_ARGUMENT, NOT_FOUND,
// FAILED_PRECONDITION, ALREADY_EXISTS, OUT_OF_RANGE).
inline constexpr int kExitUsage = 1;
// The master could not be reached or did not answer in time (UNAVAILABLE,
// DEADLINE_EXCEEDED).
inline constexpr int kExitUnreachable = 2;
// `watch` (and `--wait`): the job ended FAILED or CANCELLED.
inline constexpr int kExitJobFailed = 3;
// Any other error reported by the master (INTERNAL, UNIMPLEMENTED, DATA_LOSS, ...).
inline constexpr int kExitServerError = 4;
// The master refused our credentials (UNAUTHENTICATED, PERMISSION_DENIED): a missing or wrong
// token (--token-file, $NETADAPT_TOKEN_FILE, $NETADAPT_TOKEN) or TLS settings.
inline constexpr int kExitAuth = 5;

// The exit code for a failed command's status (never kExitOk or kExitJobFailed).
int ExitCodeForStatus(const absl::Status& status);

// One readable line (no trailing newline) for `status`, e.g.
//   "error: jobs/7 not found (NOT_FOUND)"
//   "error: cannot reach the master at 127.0.0.1:50051: <detail> (UNAVAILABLE)"
// followed, for an unreachable master, by a hint line on how to point the CLI elsewhere.
std::string FormatError(const absl::Status& status, absl::string_view master);

// A local file problem (reading an input, writing -o) as a usage error naming `what`: the
// file_util codes (NotFound, Unavailable for other I/O errors) must not read as an unreachable
// master. NotFound stays NotFound; everything else becomes InvalidArgument (both exit 1).
absl::Status LocalFileError(absl::string_view what, const absl::Status& status);

// "NOT_FOUND", "UNAVAILABLE", ... (gRPC's spelling of the canonical codes).
std::string CodeName(absl::StatusCode code);

}  // namespace netadapt::cli
