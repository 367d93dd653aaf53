// ProfilerWait: lookups wait for a profiler agent that is down or hung (a fake measurer that
// fails as told), with jittered backoff, an observer, a shared outage and a limit.
#include "master/profiler_wait.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::master {
namespace {

using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Answers with `failures` errors first, then 1.5 ms per shape. Thread-safe.
class FakeMeasurer {
 public:
  FakeMeasurer(int failures, absl::Status error) : failures_(failures), error_(error) {}

  absl::StatusOr<std::vector<double>> Measure(size_t shapes) {
    absl::MutexLock lock(&mu_);
    ++calls_;
    if (down_ || failures_ > 0) {
      --failures_;
      return error_;
    }
    return std::vector<double>(shapes, 1.5);
  }
  void SetDown(bool down) {
    absl::MutexLock lock(&mu_);
    down_ = down;
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  absl::Mutex mu_;
  int failures_ ABSL_GUARDED_BY(mu_);
  const absl::Status error_;
  bool down_ ABSL_GUARDED_BY(mu_) = false;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

class RecordingObserver final : public ProfilerWaitObserver {
 public:
  void OnWaiting(const ProfilerOutage& outage) override {
    absl::MutexLock lock(&mu_);
    waiting.push_back(outage);
    if (!first_wait.HasBeenNotified()) first_wait.Notify();
  }
  void OnAnswered(const ProfilerOutage& outage, absl::Duration waited) override {
    absl::MutexLock lock(&mu_);
    answered.push_back(outage);
    this->waited = waited;
  }
  void OnGaveUp(const absl::Status& reason) override {
    absl::MutexLock lock(&mu_);
    gave_up.push_back(reason);
  }

  absl::Mutex mu_;
  std::vector<ProfilerOutage> waiting;
  std::vector<ProfilerOutage> answered;
  std::vector<absl::Status> gave_up;
  absl::Duration waited;
  absl::Notification first_wait;
};

ProfilerWaitOptions Fast() {
  ProfilerWaitOptions options;
  options.agent = "127.0.0.1:50061";
  options.initial_backoff = absl::Milliseconds(1);
  options.max_backoff = absl::Milliseconds(5);
  options.wait_limit = absl::Seconds(30);
  options.seed = 7;
  return options;
}

// Single-threaded tests step through the backoffs on a fake clock that auto-advances: each
// wait jumps the time to its end instead of sleeping.
ProfilerWaitOptions Fast(common::Clock* clock) {
  ProfilerWaitOptions options = Fast();
  options.clock = clock;
  return options;
}

TEST(ProfilerWaitTest, RetriesUntilTheAgentAnswers) {
  FakeMeasurer measurer(3, absl::UnavailableError("failed to connect to all addresses"));
  common::FakeClock clock;
  clock.SetAutoAdvance(true);
  ProfilerWait wait(Fast(&clock));
  RecordingObserver observer;
  const absl::Time start = clock.Now();
  absl::StatusOr<std::vector<double>> latencies =
      wait.Run([&] { return measurer.Measure(2); }, nullptr, &observer);
  ASSERT_TRUE(latencies.ok()) << latencies.status();
  EXPECT_EQ(*latencies, std::vector<double>({1.5, 1.5}));
  EXPECT_EQ(measurer.calls(), 4);
  // Told of the first failure and of every failed retry, with the same start and the error.
  ASSERT_EQ(observer.waiting.size(), 3u);
  for (size_t i = 0; i < observer.waiting.size(); ++i) {
    EXPECT_EQ(observer.waiting[i].failures, static_cast<int64_t>(i + 1));
    EXPECT_EQ(observer.waiting[i].since, observer.waiting[0].since);
    EXPECT_THAT(observer.waiting[i].last_error, StatusIs(absl::StatusCode::kUnavailable));
  }
  EXPECT_GE(observer.waiting[0].since, start);
  ASSERT_EQ(observer.answered.size(), 1u);
  EXPECT_EQ(observer.answered[0].failures, 3);
  EXPECT_GE(observer.waited, absl::ZeroDuration());
  EXPECT_TRUE(observer.gave_up.empty());
}

TEST(ProfilerWaitTest, DeadlineExceededIsRetriedToo) {
  FakeMeasurer measurer(1, absl::DeadlineExceededError("Deadline Exceeded"));
  common::FakeClock clock;
  clock.SetAutoAdvance(true);
  ProfilerWait wait(Fast(&clock));
  EXPECT_TRUE(wait.Run([&] { return measurer.Measure(1); }, nullptr, nullptr).ok());
  EXPECT_EQ(measurer.calls(), 2);
}

TEST(ProfilerWaitTest, OtherErrorsPassThroughWithoutRetry) {
  FakeMeasurer measurer(1, absl::InvalidArgumentError("shapes[0]: groups must divide"));
  ProfilerWait wait(Fast());
  RecordingObserver observer;
  EXPECT_THAT(wait.Run([&] { return measurer.Measure(1); }, nullptr, &observer).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("groups must divide")));
  EXPECT_EQ(measurer.calls(), 1);
  EXPECT_TRUE(observer.waiting.empty());
  EXPECT_TRUE(observer.answered.empty());
}

TEST(ProfilerWaitTest, GivesUpPastTheLimitNamingTheAgent) {
  FakeMeasurer measurer(1 << 30, absl::UnavailableError("Connection refused"));
  common::FakeClock clock;
  clock.SetAutoAdvance(true);
  ProfilerWaitOptions options = Fast(&clock);
  options.wait_limit = absl::Milliseconds(100);
  ProfilerWait wait(options);
  RecordingObserver observer;
  const absl::Time start = clock.Now();
  const absl::Status status =
      wait.Run([&] { return measurer.Measure(1); }, nullptr, &observer).status();
  const absl::Duration took = clock.Now() - start;
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition,
                               HasSubstr("the profiler agent at 127.0.0.1:50061 has been "
                                         "unreachable for")));
  EXPECT_THAT(status.message(), HasSubstr("Connection refused"));
  EXPECT_GE(took, absl::Milliseconds(100));
  EXPECT_LT(took, absl::Seconds(5));
  EXPECT_GT(measurer.calls(), 2);
  ASSERT_EQ(observer.gave_up.size(), 1u);
  EXPECT_EQ(observer.gave_up[0], status);
  EXPECT_TRUE(observer.answered.empty());
}

TEST(ProfilerWaitTest, ACancelledJobStopsWaiting) {
  FakeMeasurer measurer(1 << 30, absl::UnavailableError("Connection refused"));
  ProfilerWaitOptions options = Fast();
  options.initial_backoff = options.max_backoff = absl::Hours(1);
  options.wait_limit = absl::InfiniteDuration();
  ProfilerWait wait(options);
  for (bool abort : {false, true}) {
    Cancellation cancellation;
    RecordingObserver observer;
    absl::Status status;
    std::thread caller([&] {
      status = wait.Run([&] { return measurer.Measure(1); }, &cancellation, &observer).status();
    });
    ASSERT_TRUE(observer.first_wait.WaitForNotificationWithTimeout(absl::Seconds(10)));
    if (abort) {
      cancellation.Abort(absl::FailedPreconditionError("gave up"));
    } else {
      cancellation.Cancel();
    }
    caller.join();  // at once, not after the hour
    EXPECT_THAT(status, StatusIs(abort ? absl::StatusCode::kFailedPrecondition
                                       : absl::StatusCode::kCancelled));
  }
}

// Two callers share one outage (its start); when one gets an answer the other retries at once
// instead of sleeping out its backoff (an hour here).
TEST(ProfilerWaitTest, CallersShareTheOutageAndAnAnswerWakesThemAll) {
  FakeMeasurer measurer(0, absl::UnavailableError("Connection refused"));
  measurer.SetDown(true);
  ProfilerWaitOptions options = Fast();
  options.initial_backoff = options.max_backoff = absl::Hours(1);
  options.wait_limit = absl::InfiniteDuration();
  ProfilerWait wait(options);
  RecordingObserver first_observer, second_observer;
  absl::Status first_status, second_status;
  const absl::Time start = absl::Now();
  std::thread first([&] {
    first_status = wait.Run([&] { return measurer.Measure(1); }, nullptr, &first_observer).status();
  });
  ASSERT_TRUE(first_observer.first_wait.WaitForNotificationWithTimeout(absl::Seconds(10)));
  std::thread second([&] {
    second_status =
        wait.Run([&] { return measurer.Measure(1); }, nullptr, &second_observer).status();
  });
  ASSERT_TRUE(second_observer.first_wait.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(second_observer.waiting[0].since, first_observer.waiting[0].since);
  EXPECT_EQ(second_observer.waiting[0].failures, 2);
  // The agent is back; a third lookup gets the answer and wakes the two waiting ones.
  measurer.SetDown(false);
  EXPECT_TRUE(wait.Run([&] { return measurer.Measure(1); }, nullptr, nullptr).ok());
  first.join();
  second.join();
  EXPECT_TRUE(first_status.ok()) << first_status;
  EXPECT_TRUE(second_status.ok()) << second_status;
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  EXPECT_EQ(first_observer.answered.size(), 1u);
  EXPECT_EQ(second_observer.answered.size(), 1u);
}

TEST(ProfilerWaitTest, JitterIsFullAndBounded) {
  ProfilerWaitOptions options;
  options.initial_backoff = absl::Milliseconds(200);
  options.max_backoff = absl::Seconds(10);
  options.seed = 3;
  ProfilerWait wait(options);
  for (int retry = 0; retry < 12; ++retry) {
    const absl::Duration cap =
        std::min(absl::Seconds(10), absl::Milliseconds(200) * (int64_t{1} << retry));
    absl::Duration low = absl::InfiniteDuration(), high = absl::ZeroDuration();
    for (int i = 0; i < 200; ++i) {
      const absl::Duration backoff = wait.Backoff(retry);
      ASSERT_GE(backoff, absl::ZeroDuration());
      ASSERT_LE(backoff, cap) << "retry " << retry;
      low = std::min(low, backoff);
      high = std::max(high, backoff);
    }
    // Spread over the whole range (full jitter), not clustered at the cap.
    EXPECT_LT(low, cap / 4) << "retry " << retry;
    EXPECT_GT(high, cap * 3 / 4) << "retry " << retry;
  }
}

TEST(ProfilerWaitTest, DescribesTheWaitForTheJobsActivity) {
  ProfilerOutage outage;
  outage.since = absl::FromUnixSeconds(1700000531);  // 2023-11-14 22:22:11 UTC
  outage.failures = 5;
  outage.last_error = absl::UnavailableError("Connection refused");
  const std::string text = ProfilerWait::Describe(outage, "jetson:50061");
  EXPECT_THAT(text, StartsWith(std::string(ProfilerWait::kWaitingActivityPrefix)));
  EXPECT_EQ(text,
            "waiting for the profiler agent at jetson:50061 (unreachable since 22:22:11 UTC, "
            "retry 4: UNAVAILABLE: Connection refused)");
}

}  // namespace
}  // namespace netadapt::master
