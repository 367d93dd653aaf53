#include "master/worker_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"

namespace netadapt::master {
namespace {

const auto kNever = [] { return false; };

TEST(WorkerPoolTest, OneTaskPerDeviceAndReleaseFreesIt) {
  WorkerPool pool(absl::Seconds(10));
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
  WorkerPool pool(absl::Seconds(10));
  pool.Register("host:1", {"cpu"}, "i1");
  std::optional<WorkerSlot> held = pool.Acquire(kNever, "held");
  ASSERT_TRUE(held);
  absl::Notification got;
  std::thread waiter([&] {
    EXPECT_TRUE(pool.Acquire(kNever, "waiter"));
    got.Notify();
  });
  EXPECT_FALSE(got.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  pool.Release(*held);
  EXPECT_TRUE(got.WaitForNotificationWithTimeout(absl::Seconds(5)));
  waiter.join();
}

TEST(WorkerPoolTest, SilentAndUnreachableWorkersLeaveThePool) {
  WorkerPool pool(absl::Milliseconds(1));
  const std::string name = pool.Register("host:1", {"cpu"}, "i1");
  absl::SleepFor(absl::Milliseconds(20));
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

}  // namespace
}  // namespace netadapt::master
