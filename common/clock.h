#pragma once

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace netadapt::common {

// Where code that waits or times out gets the time (as Ray's ClockInterface): the real clock
// in the binaries, a FakeClock in tests, which advance time instead of sleeping. Code waits
// on a condition with a deadline (AwaitWithTimeout), so that the event it waits for wakes it
// at once and only the timeout follows the clock. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;

  virtual absl::Time Now() const = 0;

  // Blocks until `duration` has passed on this clock.
  virtual void SleepFor(absl::Duration duration) = 0;

  // As absl::Mutex::AwaitWithTimeout, with the timeout measured on this clock: waits, `mu`
  // held on entry and on return, until `condition` holds or `timeout` has passed. Returns
  // whether `condition` holds.
  virtual bool AwaitWithTimeout(absl::Mutex* mu, const absl::Condition& condition,
                                absl::Duration timeout) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;
};

// The process's real clock (absl::Now, absl::SleepFor). Never null, never destroyed.
Clock* RealClock();

// A clock for tests: time stands still until Advance or SetTime moves it; sleepers and
// timed waits wake once the time reaches their deadline. A timed wait on a caller's mutex
// rechecks the time every millisecond of real time (a clock cannot signal a mutex it does not
// own; absl re-evaluates a condition only when its mutex is released), so it may wake up to
// that late. With auto-advance, a wait that would block jumps the time to its deadline
// instead (still releasing the caller's mutex for up to a millisecond of real time, as a
// timed wait would): for tests that step through backoffs. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::UnixEpoch()) : now_ns_(absl::ToUnixNanos(start)) {}

  absl::Time Now() const override;
  void SleepFor(absl::Duration duration) override ABSL_LOCKS_EXCLUDED(mu_);
  bool AwaitWithTimeout(absl::Mutex* mu, const absl::Condition& condition,
                        absl::Duration timeout) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Moves the time forward by `duration` (>= 0) and wakes the waits it ends.
  void Advance(absl::Duration duration) ABSL_LOCKS_EXCLUDED(mu_);
  // Sets the time; it never goes back (an earlier `time` is ignored).
  void SetTime(absl::Time time) ABSL_LOCKS_EXCLUDED(mu_);
  // On: a sleep or timed wait that would block moves the time to its deadline at once.
  void SetAutoAdvance(bool on) ABSL_LOCKS_EXCLUDED(mu_);

  // Threads blocked in SleepFor or AwaitWithTimeout now.
  int waiters() const ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks (in real time, up to `real_timeout`) until at least `count` threads wait on this
  // clock; whether they do. Lets a test advance the time once a thread is known to wait.
  bool AwaitWaiters(int count, absl::Duration real_timeout) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Moves the time to `time` if later; wakes the sleepers it ends (they wait on mu_).
  void MoveToLocked(absl::Time time) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  // The time in Unix nanoseconds: written under mu_, read without it, because a timed wait
  // reads it inside a condition on the caller's mutex, where taking mu_ could block.
  std::atomic<int64_t> now_ns_;
  bool auto_advance_ ABSL_GUARDED_BY(mu_) = false;
  int waiters_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace netadapt::common
