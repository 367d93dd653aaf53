#include "cli/errors.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace netadapt::cli {

int ExitCodeForStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      // A command that "failed" with OK is a bug of ours; do not report success.
      return kExitServerError;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange:
      return kExitUsage;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnreachable;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kExitAuth;
    default:
      return kExitServerError;
  }
}

absl::Status LocalFileError(absl::string_view what, const absl::Status& status) {
  const absl::StatusCode code = status.code() == absl::StatusCode::kNotFound
                                    ? absl::StatusCode::kNotFound
                                    : absl::StatusCode::kInvalidArgument;
  return absl::Status(code, absl::StrCat(what, ": ", status.message()));
}

std::string CodeName(absl::StatusCode code) {
  // StatusCodeToString spells the codes as gRPC does; it returns "" for unknown values.
  std::string name = absl::StatusCodeToString(code);
  return name.empty() ? absl::StrCat("CODE_", static_cast<int>(code)) : name;
}

std::string FormatError(const absl::Status& status, absl::string_view master) {
  const std::string code = CodeName(status.code());
  if (status.code() == absl::StatusCode::kUnavailable ||
      status.code() == absl::StatusCode::kDeadlineExceeded) {
    const char* what = status.code() == absl::StatusCode::kUnavailable
                           ? "cannot reach the master at "
                           : "no answer in time from the master at ";
    std::string line = absl::StrCat("error: ", what, master);
    if (!status.message().empty()) absl::StrAppend(&line, ": ", status.message());
    absl::StrAppend(&line, " (", code, ")\n",
                    "hint: is netadapt-master running there? Point the CLI elsewhere with "
                    "--master=HOST:PORT or $NETADAPT_MASTER.");
    return line;
  }
  if (status.code() == absl::StatusCode::kUnauthenticated ||
      status.code() == absl::StatusCode::kPermissionDenied) {
    return absl::StrCat("error: the master at ", master, " refused the credentials: ",
                        status.message(), " (", code, ")\n",
                        "hint: pass the cluster token with --token-file=FILE, "
                        "$NETADAPT_TOKEN_FILE or $NETADAPT_TOKEN (docs/SECURITY.md).");
  }
  if (status.message().empty()) return absl::StrCat("error: ", code);
  return absl::StrCat("error: ", status.message(), " (", code, ")");
}

}  // namespace netadapt::cli
