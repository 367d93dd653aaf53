#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Propagates a non-OK absl::Status to the caller (shaped like Ray's RAY_RETURN_NOT_OK).
#define NETADAPT_RETURN_IF_ERROR(expr)               \
  do {                                               \
    ::absl::Status netadapt_status_ = (expr);        \
    if (!netadapt_status_.ok()) return netadapt_status_; \
  } while (0)

#define NETADAPT_STATUS_CONCAT_INNER_(a, b) a##b
#define NETADAPT_STATUS_CONCAT_(a, b) NETADAPT_STATUS_CONCAT_INNER_(a, b)

// `NETADAPT_ASSIGN_OR_RETURN(auto x, MakeX());` assigns the value of an
// absl::StatusOr or returns its error status from the enclosing function.
#define NETADAPT_ASSIGN_OR_RETURN(lhs, expr)                                   \
  NETADAPT_ASSIGN_OR_RETURN_IMPL_(                                            \
      NETADAPT_STATUS_CONCAT_(netadapt_statusor_, __LINE__), lhs, expr)

#define NETADAPT_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = *std::move(statusor)

// Aborts with a message when an invariant of our own code is broken. Not for bad
// input, I/O or configuration problems: those return a Status.
#define NETADAPT_CHECK(cond)                                              \
  do {                                                                    \
    if (!(cond)) ::netadapt::common::internal::CheckFailed(#cond, __FILE__, __LINE__); \
  } while (0)

namespace netadapt::common::internal {
[[noreturn]] void CheckFailed(const char* condition, const char* file, int line);
}  // namespace netadapt::common::internal
