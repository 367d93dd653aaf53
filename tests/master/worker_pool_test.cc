#include "master/worker_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/clock.h"

namespace netadapt::master {
namespace {

using ::netadapt::common::FakeClock;

const auto kNever = [] { return false; };
// How long a test waits in real time for another thread before it fails.
constexpr absl::Duration kPatience = absl::Seconds(10);

TEST(WorkerPoolTest, OneTaskPerDeviceAndReleaseFreesIt) {
  FakeClock clock;
  clock.SetAutoAdvance(true);  // each 50 ms poll of `cancelled` passes at once
  WorkerPool pool(absl::Seconds(10), &clock);
  const std::string name = pool.Register("host:1", {"cuda:0", "cuda:1"}, "i1");
  EXPECT_EQ(name, "workers/1");
  EXPECT_EQ(pool.alive_devices(), 2);
  std::optional<WorkerSlot> a = pool.Acquire(kNever, "a");
  std::optional<WorkerSlot> b = pool.Acquire(kNever, "b");
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->device, b->device);
  // Both devices are busy: a third acquire waits until cancelled.
  std::atomic<int> polls{0};
  EXPECT_FALSE(pool.Acquire([&] { return ++polls > 2; }, "c"));
  EXPECT_THAT(pool.List()[0].tasks(), ::testing::SizeIs(2));
  pool.Release(*a);
  std::optional<WorkerSlot> c = pool.Acquire(kNever, "c");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->device, a->device);
}

TEST(WorkerPoolTest, WaitersAreServedWhenASlotFrees) {
  FakeClock clock;
  WorkerPool pool(absl::Seconds(10), &clock);
  pool.Register("host:1", {"cpu"}, "i1");
  std::optional<WorkerSlot> held = pool.Acquire(kNever, "held");
  ASSERT_TRUE(held);
  absl::Notification got;
  std::thread waiter([&] {
    EXPECT_TRUE(pool.Acquire(kNever, "waiter"));
    got.Notify();
  });
  ASSERT_TRUE(clock.AwaitWaiters(1, kPatience));  // the waiter waits in Acquire
  EXPECT_FALSE(got.HasBeenNotified());
  pool.Release(*held);
  EXPECT_TRUE(got.WaitForNotificationWithTimeout(absl::Seconds(5)));
  waiter.join();
}

TEST(WorkerPoolTest, SilentAndUnreachableWorkersLeaveThePool) {
  FakeClock clock;
  WorkerPool pool(absl::Milliseconds(1), &clock);
  const std::string name = pool.Register("host:1", {"cpu"}, "i1");
  clock.Advance(absl::Milliseconds(20));
  pool.ExpireSilentWorkers();
  EXPECT_EQ(pool.alive_devices(), 0);
  EXPECT_EQ(pool.List()[0].state(), v1::Worker::DEAD);
  EXPECT_FALSE(pool.Heartbeat(name, "i1"));  // must register again
  EXPECT_EQ(pool.Register("host:1", {"cpu"}, "i2"), name);  // same address, same name
  EXPECT_FALSE(pool.Heartbeat(name, "i1"));  // the old incarnation is gone

  WorkerPool other(absl::Seconds(10));
  other.Register("host:2", {"cpu"}, "j");
  std::optional<WorkerSlot> slot = other.Acquire(kNever, "x");
  ASSERT_TRUE(slot);
  other.MarkUnreachable(*slot);
  other.Release(*slot);
  EXPECT_EQ(other.alive_devices(), 0);
}

// A held slot's watcher learns that its worker is gone, whichever way it goes, so the task on
// it stops waiting (a SIGSTOPped worker's RPC would otherwise wait for the task deadline).
TEST(WorkerPoolTest, WatchersHearWhenTheirWorkerIsLost) {
  FakeClock clock;
  WorkerPool pool(absl::Milliseconds(50), &clock);
  pool.Register("host:1", {"cpu"}, "i1");
  pool.Register("host:2", {"cpu"}, "i2");
  std::optional<WorkerSlot> first = pool.Acquire(kNever, "a");
  std::optional<WorkerSlot> second = pool.Acquire(kNever, "b");
  ASSERT_TRUE(first && second);
  ASSERT_NE(first->worker, second->worker);
  int first_lost = 0, second_lost = 0;
  const int64_t first_watch = pool.Watch(*first, [&] { ++first_lost; });
  pool.Watch(*second, [&] { ++second_lost; });
  // Only the worker that stops heartbeating is lost, and each watcher hears it once.
  clock.Advance(absl::Milliseconds(80));
  pool.Heartbeat(second->worker, second->incarnation);
  pool.ExpireSilentWorkers();
  pool.ExpireSilentWorkers();
  EXPECT_EQ(first_lost, 1);
  EXPECT_EQ(second_lost, 0);
  pool.Unwatch(first_watch);  // after it fired: harmless
  // A new incarnation at the same address (the worker restarted) loses the old one's tasks.
  pool.Register(second->address, {"cpu"}, "i3");
  EXPECT_EQ(second_lost, 1);
  // Watching a slot whose worker is already gone reports it at once.
  int late = 0;
  pool.Watch(*first, [&] { ++late; });
  EXPECT_EQ(late, 1);
}

TEST(WorkerPoolTest, UnwatchedSlotsAreNotReported) {
  WorkerPool pool(absl::Seconds(10));
  pool.Register("host:1", {"cpu"}, "i1");
  std::optional<WorkerSlot> slot = pool.Acquire(kNever, "a");
  ASSERT_TRUE(slot);
  int lost = 0;
  pool.Unwatch(pool.Watch(*slot, [&] { ++lost; }));
  pool.MarkUnreachable(*slot);
  EXPECT_EQ(lost, 0);
}

// A backup takes only idle capacity: another worker than the straggler's, and never a slot a
// queued task waits for.
TEST(WorkerPoolTest, TryAcquireTakesOnlyIdleSlotsElsewhere) {
  FakeClock clock;
  WorkerPool pool(absl::Seconds(10), &clock);
  pool.Register("host:1", {"cpu"}, "i1");
  std::optional<WorkerSlot> straggler = pool.Acquire(kNever, "slow");
  ASSERT_TRUE(straggler);
  EXPECT_FALSE(pool.TryAcquire("backup", straggler->worker));  // its own worker only
  pool.Register("host:2", {"cpu"}, "i2");
  std::optional<WorkerSlot> backup = pool.TryAcquire("backup", straggler->worker);
  ASSERT_TRUE(backup);
  EXPECT_NE(backup->worker, straggler->worker);
  EXPECT_FALSE(pool.TryAcquire("another backup", straggler->worker));  // none free
  // With a task queued, a freed slot goes to it, not to a backup.
  absl::Notification queued_got;
  std::thread waiter([&] {
    if (pool.Acquire(kNever, "queued")) queued_got.Notify();
  });
  ASSERT_TRUE(clock.AwaitWaiters(1, kPatience));  // "queued" waits in Acquire
  EXPECT_FALSE(pool.TryAcquire("backup", straggler->worker));
  pool.Release(*backup);
  EXPECT_TRUE(queued_got.WaitForNotificationWithTimeout(absl::Seconds(5)));
  waiter.join();
}

}  // namespace
}  // namespace netadapt::master
