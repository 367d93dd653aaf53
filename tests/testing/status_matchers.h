#pragma once

#include <gmock/gmock.h>

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Status matchers in the spirit of Envoy's test/test_common/status_utility.h (Abseil 20220623
// ships none).
namespace netadapt::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  if (!status.ok()) *result_listener << "status is " << status;
  return status.ok();
}

// StatusIs(code) or StatusIs(code, message_matcher).
MATCHER_P(StatusIs, code, "") {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher, "") {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

}  // namespace netadapt::testing

#define NETADAPT_ASSERT_OK_AND_ASSIGN(lhs, expr)                         \
  NETADAPT_ASSERT_OK_AND_ASSIGN_IMPL_(NETADAPT_TEST_CONCAT_(sor_, __LINE__), lhs, expr)
#define NETADAPT_TEST_CONCAT_INNER_(a, b) a##b
#define NETADAPT_TEST_CONCAT_(a, b) NETADAPT_TEST_CONCAT_INNER_(a, b)
#define NETADAPT_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                       \
  ASSERT_TRUE(statusor.ok()) << statusor.status();              \
  lhs = std::move(statusor).value()
