#include "common/clock.h"

#include <algorithm>

namespace netadapt::common {
namespace {

class RealClockImpl final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  void SleepFor(absl::Duration duration) override { absl::SleepFor(duration); }
  bool AwaitWithTimeout(absl::Mutex* mu, const absl::Condition& condition,
                        absl::Duration timeout) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return mu->AwaitWithTimeout(condition, timeout);
  }
};

// How often a timed wait on a caller's mutex looks at the fake time (real time).
constexpr absl::Duration kFakeWaitPoll = absl::Milliseconds(1);

}  // namespace

Clock* RealClock() {
  static Clock* const clock = new RealClockImpl();
  return clock;
}

absl::Time FakeClock::Now() const {
  return absl::FromUnixNanos(now_ns_.load(std::memory_order_acquire));
}

void FakeClock::MoveToLocked(absl::Time time) {
  const int64_t ns = absl::ToUnixNanos(time);
  if (ns > now_ns_.load(std::memory_order_relaxed)) now_ns_.store(ns, std::memory_order_release);
}

void FakeClock::SleepFor(absl::Duration duration) {
  absl::MutexLock lock(&mu_);
  const absl::Time deadline = Now() + duration;
  if (auto_advance_) {
    MoveToLocked(deadline);
    return;
  }
  ++waiters_;
  auto passed = [this, deadline]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return Now() >= deadline; };
  mu_.Await(absl::Condition(&passed));
  --waiters_;
}

bool FakeClock::AwaitWithTimeout(absl::Mutex* mu, const absl::Condition& condition,
                                 absl::Duration timeout) {
  if (condition.Eval()) return true;
  absl::Time deadline;
  bool jumped = false;
  {
    absl::MutexLock lock(&mu_);  // lock order: the caller's mutex, then mu_
    deadline = Now() + timeout;
    if (auto_advance_ && timeout != absl::InfiniteDuration()) {
      MoveToLocked(deadline);
      jumped = true;
    } else {
      ++waiters_;
    }
  }
  if (jumped) {
    // A timed wait releases `mu` while it waits; so does this one, for a moment of real time,
    // or a caller that polls in a loop under `mu` would starve the threads blocked on it.
    mu->AwaitWithTimeout(condition, kFakeWaitPoll);
    return condition.Eval();
  }
  // Advance cannot release the caller's mutex, so absl would not re-evaluate this condition
  // when the time moves: poll the time in short real-time slices.
  auto done = [this, &condition, deadline] { return condition.Eval() || Now() >= deadline; };
  while (!mu->AwaitWithTimeout(absl::Condition(&done), kFakeWaitPoll)) {
  }
  {
    absl::MutexLock lock(&mu_);
    --waiters_;
  }
  return condition.Eval();
}

void FakeClock::Advance(absl::Duration duration) {
  absl::MutexLock lock(&mu_);
  MoveToLocked(Now() + std::max(duration, absl::ZeroDuration()));
}

void FakeClock::SetTime(absl::Time time) {
  absl::MutexLock lock(&mu_);
  MoveToLocked(time);
}

void FakeClock::SetAutoAdvance(bool on) {
  absl::MutexLock lock(&mu_);
  auto_advance_ = on;
}

int FakeClock::waiters() const {
  absl::MutexLock lock(&mu_);
  return waiters_;
}

bool FakeClock::AwaitWaiters(int count, absl::Duration real_timeout) {
  absl::MutexLock lock(&mu_);
  auto enough = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return waiters_ >= count; };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), real_timeout);
}

}  // namespace netadapt::common
