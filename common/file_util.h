#pragma once

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace netadapt::common {

// The whole content of `path`. NotFound when it does not exist; other I/O problems are
// Unavailable (retryable: disks come back) with the path and errno text.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Replaces `path` with `content` so readers see the old file or the new one, never a mix:
// writes `path`.tmp, fsyncs it, renames it over `path` and fsyncs the directory.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view content);

}  // namespace netadapt::common
