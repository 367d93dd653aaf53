// TaskDispatcher on a FakeClock: retries, backoff and stragglers without sleeping.
#include "master/task_dispatcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::master {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

v1::TaskResult Accuracy(double accuracy) {
  v1::TaskResult result;
  result.set_accuracy(accuracy);
  return result;
}

class TaskDispatcherTest : public ::testing::Test {
 protected:
  TaskDispatcherTest() {
    pool_.Register("host:1", {"cpu"}, "i1");
    pool_.Register("host:2", {"cpu"}, "i2");
  }

  TaskDispatchOptions Options() {
    TaskDispatchOptions options;
    options.clock = &clock_;
    return options;
  }

  common::FakeClock clock_;
  WorkerPool pool_{absl::Hours(1), &clock_};
  Cancellation cancellation_;
};

// The backoff between infrastructure retries passes on the clock: the test moves it on
// instead of sleeping (each backoff is up to 5 s; the whole test takes milliseconds).
TEST_F(TaskDispatcherTest, InfrastructureFailuresAreRetriedAfterABackoffOnTheClock) {
  TaskDispatchOptions options = Options();
  options.infrastructure_backoff = absl::Seconds(4);
  TaskDispatcher dispatcher("jobs/1", pool_, cancellation_, options);
  std::atomic<int> calls{0};
  std::atomic<bool> done{false};
  absl::StatusOr<v1::TaskResult> result;
  const absl::Time real_start = absl::Now();
  std::thread run([&] {
    result = dispatcher.Run("fine-tune", "block 0",
                            [&](const TaskAttempt&) -> absl::StatusOr<v1::TaskResult> {
                              if (++calls <= 3) return absl::DeadlineExceededError("stalled");
                              return Accuracy(0.5);
                            });
    done = true;
  });
  absl::Duration advanced;
  while (!done) {
    clock_.Advance(absl::Seconds(1));
    advanced += absl::Seconds(1);
    absl::SleepFor(absl::Milliseconds(1));
  }
  run.join();
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->accuracy(), 0.5);
  EXPECT_EQ(calls, 4);  // three infrastructure failures do not use up max_task_attempts (3)
  EXPECT_LT(absl::Now() - real_start, absl::Seconds(10));
  EXPECT_LT(advanced, absl::Minutes(10));
}

TEST_F(TaskDispatcherTest, OwnFailuresUseUpTheAttemptsAndDeterministicOnesFailAtOnce) {
  TaskDispatcher dispatcher("jobs/1", pool_, cancellation_, Options());
  int calls = 0;
  EXPECT_THAT(dispatcher.Run("evaluate", "block 1",
                             [&](const TaskAttempt&) -> absl::StatusOr<v1::TaskResult> {
                               ++calls;
                               return absl::InternalError("out of memory");
                             }),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("block 1 failed 3 times")));
  EXPECT_EQ(calls, 3);
  calls = 0;
  EXPECT_THAT(dispatcher.Run("evaluate", "block 2",
                             [&](const TaskAttempt&) -> absl::StatusOr<v1::TaskResult> {
                               ++calls;
                               return absl::InvalidArgumentError("dataset: no such folder");
                             }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(calls, 1);
}

// A task running past straggler_min_duration on the clock (the median of its kind being
// shorter) gets a backup on the idle worker; the backup's result wins and the first attempt is
// cancelled.
TEST_F(TaskDispatcherTest, AStragglerGetsABackupWhenTheClockPassesTheThreshold) {
  TaskDispatchOptions options = Options();
  options.straggler_min_duration = absl::Minutes(5);
  TaskDispatcher dispatcher("jobs/1", pool_, cancellation_, options);
  for (int i = 0; i < 3; ++i) {  // three quick ones make a median
    ASSERT_THAT(dispatcher.Run("fine-tune", "quick",
                               [](const TaskAttempt&) -> absl::StatusOr<v1::TaskResult> {
                                 return Accuracy(0.1);
                               }),
                IsOk());
  }
  absl::Notification first_started;
  std::atomic<bool> first_cancelled{false};
  absl::StatusOr<v1::TaskResult> result;
  std::thread run([&] {
    result = dispatcher.Run("fine-tune", "slow", [&](const TaskAttempt& attempt)
                                                     -> absl::StatusOr<v1::TaskResult> {
      if (attempt.number == 1) {
        first_started.Notify();
        while (!attempt.cancellation.cancelled()) absl::SleepFor(absl::Milliseconds(1));
        first_cancelled = true;
        return absl::CancelledError("lost the race");
      }
      return Accuracy(0.9);
    });
  });
  first_started.WaitForNotification();
  // Nothing happens before the threshold; then the backup runs.
  clock_.Advance(absl::Minutes(4));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(first_cancelled);
  clock_.Advance(absl::Minutes(2));
  run.join();
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->accuracy(), 0.9);
  EXPECT_TRUE(first_cancelled);
}

// The job's cancellation reaches the attempt, and its failure is not retried.
TEST_F(TaskDispatcherTest, ACancelledJobsTaskIsNotRetried) {
  TaskDispatcher dispatcher("jobs/1", pool_, cancellation_, Options());
  cancellation_.Cancel();
  int calls = 0;
  EXPECT_THAT(dispatcher.Run("evaluate", "block 0",
                             [&](const TaskAttempt& attempt) -> absl::StatusOr<v1::TaskResult> {
                               ++calls;
                               if (attempt.cancellation.cancelled()) {
                                 return absl::UnavailableError("the RPC was cancelled");
                               }
                               return Accuracy(1);
                             }),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace netadapt::master
