// The fake clock: time moves only when told, and sleepers and timed waits wake when it passes
// their deadline, or at once when their condition holds.
#include "common/clock.h"

#include <gtest/gtest.h>

#include <thread>

#include "absl/synchronization/notification.h"

namespace netadapt::common {
namespace {

TEST(FakeClockTest, TimeMovesOnlyWhenAdvancedAndNeverBack) {
  FakeClock clock(absl::FromUnixSeconds(100));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(100));
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(105));
  clock.SetTime(absl::FromUnixSeconds(50));  // ignored: time does not go back
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(105));
  clock.Advance(-absl::Seconds(1));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(105));
  clock.SetTime(absl::FromUnixSeconds(200));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(200));
}

TEST(FakeClockTest, ASleeperWakesWhenTheTimePassesItsDeadline) {
  FakeClock clock;
  absl::Notification woke;
  std::thread sleeper([&] {
    clock.SleepFor(absl::Hours(1));
    woke.Notify();
  });
  ASSERT_TRUE(clock.AwaitWaiters(1, absl::Seconds(10)));
  clock.Advance(absl::Minutes(59));
  EXPECT_FALSE(woke.WaitForNotificationWithTimeout(absl::Milliseconds(20)));
  EXPECT_EQ(clock.waiters(), 1);
  clock.Advance(absl::Minutes(1));
  EXPECT_TRUE(woke.WaitForNotificationWithTimeout(absl::Seconds(10)));
  sleeper.join();
  EXPECT_EQ(clock.waiters(), 0);
}

// A timed wait ends on its condition (signalled through the caller's own mutex) or on the
// fake time passing its deadline, whichever comes first.
TEST(FakeClockTest, ATimedWaitEndsOnItsConditionOrItsDeadline) {
  FakeClock clock;
  absl::Mutex mu;
  bool ready = false;
  auto is_ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return ready; };
  for (bool by_condition : {true, false}) {
    {
      absl::MutexLock lock(&mu);
      ready = false;
    }
    bool result = !by_condition;
    std::thread waiter([&] {
      absl::MutexLock lock(&mu);
      result = clock.AwaitWithTimeout(&mu, absl::Condition(&is_ready), absl::Seconds(30));
    });
    ASSERT_TRUE(clock.AwaitWaiters(1, absl::Seconds(10)));
    if (by_condition) {
      absl::MutexLock lock(&mu);
      ready = true;
    } else {
      clock.Advance(absl::Seconds(30));
    }
    waiter.join();
    EXPECT_EQ(result, by_condition);
  }
  // A condition that holds already returns at once, whatever the timeout.
  absl::MutexLock lock(&mu);
  ready = true;
  EXPECT_TRUE(clock.AwaitWithTimeout(&mu, absl::Condition(&is_ready), absl::InfiniteDuration()));
}

TEST(FakeClockTest, AutoAdvanceJumpsToTheDeadlineInsteadOfBlocking) {
  FakeClock clock;
  clock.SetAutoAdvance(true);
  clock.SleepFor(absl::Seconds(3));
  EXPECT_EQ(clock.Now(), absl::UnixEpoch() + absl::Seconds(3));
  absl::Mutex mu;
  absl::MutexLock lock(&mu);
  bool never = false;
  EXPECT_FALSE(clock.AwaitWithTimeout(&mu, absl::Condition(&never), absl::Seconds(7)));
  EXPECT_EQ(clock.Now(), absl::UnixEpoch() + absl::Seconds(10));
}

// A caller that polls under its mutex (wait, look, wait again) on an auto-advancing clock
// still lets the threads blocked on that mutex in, as a real timed wait does.
TEST(FakeClockTest, AutoAdvanceStillReleasesTheCallersMutex) {
  FakeClock clock;
  clock.SetAutoAdvance(true);
  absl::Mutex mu;
  bool done = false;
  auto is_done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return done; };
  absl::Notification polling;
  std::thread other([&] {
    polling.WaitForNotification();
    absl::MutexLock lock(&mu);
    done = true;
  });
  int polls = 0;
  {
    absl::MutexLock lock(&mu);
    polling.Notify();
    while (!clock.AwaitWithTimeout(&mu, absl::Condition(&is_done), absl::Seconds(1)) &&
           polls < 10000) {
      ++polls;
    }
    EXPECT_TRUE(done) << "the other thread never got the mutex in " << polls << " polls";
  }
  other.join();
  EXPECT_GE(clock.Now(), absl::UnixEpoch() + absl::Seconds(polls));
}

TEST(RealClockTest, FollowsTheWallClock) {
  const absl::Time before = absl::Now();
  RealClock()->SleepFor(absl::Milliseconds(2));
  EXPECT_GE(RealClock()->Now() - before, absl::Milliseconds(2));
  absl::Mutex mu;
  absl::MutexLock lock(&mu);
  bool never = false;
  EXPECT_FALSE(RealClock()->AwaitWithTimeout(&mu, absl::Condition(&never), absl::Milliseconds(2)));
}

}  // namespace
}  // namespace netadapt::common
