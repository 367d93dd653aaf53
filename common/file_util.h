#pragma once

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace netadapt::common {

// The whole content of `path`. NotFound when it does not exist; other I/O problems are
// Unavailable (retryable: disks come back) with the path and errno text.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// The Status of an I/O call on `path` that failed with errno `error`, the message
// "<what> <path>: <reason>": NotFound for ENOENT; FailedPrecondition for EACCES, EPERM, EISDIR,
// EROFS (the operator must act); ResourceExhausted for ENOSPC and EDQUOT, the reason then saying
// "no space left on device"; Unavailable (retryable) otherwise.
absl::Status ErrnoStatus(absl::string_view what, const std::string& path, int error);

// Replaces `path` with `content` so readers see the old file or the new one, never a mix:
// writes `path`.tmp, fsyncs it, renames it over `path` and fsyncs the directory. On failure
// `path` is untouched and the temporary file removed; errors as ErrnoStatus (ResourceExhausted
// on a full disk).
absl::Status WriteFileAtomically(const std::string& path, absl::string_view content);

}  // namespace netadapt::common
