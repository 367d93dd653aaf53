#include "profiler-agent/profiler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "absl/synchronization/notification.h"
#include "common/zoo.h"
#include "tests/profiler-agent/fake_runner.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::profiler {
namespace {

using common::LayerOp;
using common::LayerShape;
using ::netadapt::testing::FakeRunnerFactory;
using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;

LayerShape Conv(int in, int out, int size = 8) {
  LayerShape s;
  s.op = LayerOp::kConv2d;
  s.in_channels = in;
  s.out_channels = out;
  s.kernel = {3, 3};
  s.padding = {1, 1};
  s.input_h = size;
  s.input_w = size;
  return s;
}

struct Fixture {
  explicit Fixture(ProfilerOptions options = Small()) {
    auto owned = std::make_unique<FakeRunnerFactory>();
    factory = owned.get();
    profiler = std::make_unique<Profiler>(std::move(owned), v1::DeviceFingerprint(), options);
  }
  static ProfilerOptions Small() {
    ProfilerOptions o;
    o.max_batch_shapes = 4;
    o.max_memory_bytes = 1 << 20;
    o.default_measure.warmup_runs = 1;
    o.default_measure.min_runs = 3;
    o.default_measure.max_runs = 5;
    return o;
  }
  FakeRunnerFactory* factory;  // owned by profiler
  std::unique_ptr<Profiler> profiler;
};

TEST(ProfilerTest, MeasuresEveryShapeInOrder) {
  Fixture f;
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto results,
                                f.profiler->MeasureLayersSync({Conv(8, 16), Conv(4, 4)}));
  ASSERT_THAT(results, SizeIs(2));
  EXPECT_EQ(results[0].shape, Conv(8, 16));
  EXPECT_EQ(results[1].shape, Conv(4, 4));
  for (const LayerResult& r : results) {
    EXPECT_FALSE(r.cached);
    EXPECT_GE(r.stats.samples, 3);
    EXPECT_LE(r.stats.p10_ms, r.stats.median_ms);
    EXPECT_LE(r.stats.median_ms, r.stats.p90_ms);
  }
  EXPECT_GT(results[0].stats.median_ms, results[1].stats.median_ms);
}

TEST(ProfilerTest, CachesResultsUnlessForced) {
  Fixture f;
  ASSERT_THAT(f.profiler->MeasureLayersSync({Conv(8, 16)}), IsOk());
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto again, f.profiler->MeasureLayersSync({Conv(8, 16)}));
  EXPECT_TRUE(again[0].cached);
  EXPECT_THAT(f.factory->built(), SizeIs(1));
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto forced,
                                f.profiler->MeasureLayersSync({Conv(8, 16), Conv(8, 16)}, {},
                                                              /*force=*/true));
  EXPECT_FALSE(forced[0].cached);
  EXPECT_FALSE(forced[1].cached);  // measured by this request, once
  EXPECT_THAT(f.factory->built(), SizeIs(2));
}

TEST(ProfilerTest, RejectsOversizedBatchesAndShapesNamingThem) {
  Fixture f;
  EXPECT_THAT(f.profiler->MeasureLayersSync(std::vector<LayerShape>(5, Conv(1, 1))),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("limit of 4")));
  EXPECT_THAT(f.profiler->MeasureLayersSync({Conv(1, 1), Conv(512, 512, 64)}),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("shapes[1] (conv2d 512->512")));
  LayerShape int8 = Conv(1, 1);
  int8.dtype = "int8";
  EXPECT_THAT(f.profiler->MeasureLayersSync({int8}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shapes[0]")));
  EXPECT_THAT(f.factory->built(), SizeIs(0));
  EXPECT_THAT(f.profiler->MeasureLayersSync({Conv(1, 1)}), IsOk());
}

TEST(ProfilerTest, AbsurdSizesDoNotOverflowTheEstimate) {
  LayerShape huge = Conv(1 << 30, 1 << 30, 1 << 15);
  EXPECT_GT(Profiler::EstimatedBytes(huge), 1e19);  // int64 arithmetic would have wrapped
}

TEST(ProfilerTest, CancelStopsTheRemainingShapes) {
  Fixture f;
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  // Cancel during the second shape's runs: the third and fourth are never built.
  f.factory->on_run = [cancelled](int built, int run) {
    if (built == 1 && run == 1) cancelled->store(true);
  };
  absl::Notification finished;
  absl::Status status;
  f.profiler->MeasureLayers({Conv(1, 2), Conv(1, 3), Conv(1, 4), Conv(1, 5)}, {}, false,
                            cancelled, [&](absl::StatusOr<std::vector<LayerResult>> r) {
                              status = r.status();
                              finished.Notify();
                            });
  finished.WaitForNotification();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(f.factory->built(), SizeIs(2));
  // The profiler keeps serving.
  EXPECT_THAT(f.profiler->MeasureLayersSync({Conv(1, 6)}), IsOk());
}

TEST(ProfilerTest, ConcurrentRequestsTakeTurnsShapeByShape) {
  Fixture f;
  // Hold the measurement thread in the first shape of A until B is queued, so the order in
  // which shapes are built shows the interleaving.
  absl::Notification b_queued;
  f.factory->on_run = [&](int built, int run) {
    if (built == 0 && run == 0) b_queued.WaitForNotification();
  };
  absl::Notification a_done, b_done;
  f.profiler->MeasureLayers({Conv(1, 1), Conv(1, 2), Conv(1, 3)}, {}, false, nullptr,
                            [&](auto r) {
                              EXPECT_THAT(r, IsOk());
                              a_done.Notify();
                            });
  f.profiler->MeasureLayers({Conv(2, 1), Conv(2, 2)}, {}, false, nullptr, [&](auto r) {
    EXPECT_THAT(r, IsOk());
    b_done.Notify();
  });
  b_queued.Notify();
  a_done.WaitForNotification();
  b_done.WaitForNotification();
  const std::vector<LayerShape> order = f.factory->built();
  ASSERT_THAT(order, SizeIs(5));
  EXPECT_EQ(order[0], Conv(1, 1));
  EXPECT_EQ(order[1], Conv(2, 1));
  EXPECT_EQ(order[2], Conv(1, 2));
  EXPECT_EQ(order[3], Conv(2, 2));
  EXPECT_EQ(order[4], Conv(1, 3));
}

TEST(ProfilerTest, ShutdownFailsQueuedRequests) {
  Fixture f;
  absl::Notification release;
  f.factory->on_run = [&](int built, int run) {
    if (built == 0 && run == 0) release.WaitForNotification();
  };
  absl::Notification first_done, second_done;
  absl::Status second;
  f.profiler->MeasureLayers({Conv(1, 1)}, {}, false, nullptr, [&](auto) { first_done.Notify(); });
  f.profiler->MeasureLayers({Conv(1, 2)}, {}, false, nullptr, [&](auto r) {
    second = r.status();
    second_done.Notify();
  });
  std::thread shutdown([&] { f.profiler->Shutdown(); });
  second_done.WaitForNotification();
  EXPECT_THAT(second, StatusIs(absl::StatusCode::kUnavailable));
  release.Notify();
  shutdown.join();
  EXPECT_TRUE(first_done.HasBeenNotified());
  EXPECT_THAT(f.profiler->MeasureLayersSync({Conv(1, 3)}),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST(ProfilerTest, MeasuresNetworksAndChecksThem) {
  Fixture f(ProfilerOptions{});
  NETADAPT_ASSERT_OK_AND_ASSIGN(common::NetworkDef net,
                                common::ZooNetwork("helloworld", {16, 3, 10, 0.25}));
  absl::Notification done;
  f.profiler->MeasureNetwork(net, 1, {}, nullptr, [&](absl::StatusOr<common::LatencyStats> s) {
    EXPECT_THAT(s, IsOk());
    if (s.ok()) {
      EXPECT_EQ(s->median_ms, 2.0);
    }
    done.Notify();
  });
  done.WaitForNotification();
  absl::Notification rejected;
  f.profiler->MeasureNetwork(net, 0, {}, nullptr, [&](absl::StatusOr<common::LatencyStats> s) {
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
    rejected.Notify();
  });
  rejected.WaitForNotification();
}

}  // namespace
}  // namespace netadapt::profiler
