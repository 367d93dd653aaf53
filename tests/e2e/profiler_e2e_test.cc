// End-to-end: the real netadapt-profiler binary on loopback, driven through ProfilerClient.
// Layers are tiny and the measurement caps small, so the whole file runs in a few seconds.
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/latency_table.h"
#include "common/network_def_json.h"
#include "common/rpc/channel.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/profiler_client.h"
#include "common/zoo.h"
#include "tests/testing/server_process.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::profiler {
namespace {

using common::LayerOp;
using common::LayerShape;
using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr int kMaxBatch = 16;

LayerShape Conv(int in, int out, int size) {
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

LayerShape Linear(int in, int out) {
  LayerShape s;
  s.op = LayerOp::kLinear;
  s.in_channels = in;
  s.out_channels = out;
  return s;
}

v1::MeasureLayersRequest Request(const std::vector<LayerShape>& shapes) {
  v1::MeasureLayersRequest request;
  for (const LayerShape& s : shapes) *request.add_shapes() = common::LayerShapeToProto(s);
  return request;
}

class ProfilerE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    std::optional<int> port = agent_.Start(
        NETADAPT_PROFILER_BINARY,
        {"--threads=1", "--warmup_runs=2", "--min_runs=5", "--max_runs=50",
         "--max_time_ms=40", absl::StrCat("--max_batch_shapes=", kMaxBatch),
         "--max_memory_mb=64", "--log_level=warn", "--shutdown_grace_s=1"},
        std::chrono::seconds(30), &error);
    ASSERT_TRUE(port.has_value()) << error;
    address_ = absl::StrCat("127.0.0.1:", *port);
    channel_ = rpc::MakeChannel(address_);
    client_ = std::make_unique<rpc::ProfilerClient>(channel_);
  }
  void TearDown() override { agent_.Kill(); }

  // Measures `shapes` and returns the response, failing the test on error.
  v1::MeasureLayersResponse Measure(const std::vector<LayerShape>& shapes) {
    absl::StatusOr<v1::MeasureLayersResponse> response = client_->MeasureLayers(Request(shapes));
    EXPECT_THAT(response, IsOk());
    return response.ok() ? *response : v1::MeasureLayersResponse();
  }

  testing::ServerProcess agent_;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<rpc::ProfilerClient> client_;
};

TEST_F(ProfilerE2eTest, MeasuresConvAndLinearLayersWithSaneStatistics) {
  const v1::MeasureLayersResponse response =
      Measure({Conv(3, 8, 16), Linear(64, 32), Conv(8, 8, 8)});
  ASSERT_THAT(response.measurements(), SizeIs(3));
  for (const v1::LayerMeasurement& m : response.measurements()) {
    const v1::LatencyStatistics& l = m.latency();
    SCOPED_TRACE(m.shape().ShortDebugString());
    EXPECT_GT(l.p10_ms(), 0);
    EXPECT_LE(l.p10_ms(), l.median_ms());
    EXPECT_LE(l.median_ms(), l.p90_ms());
    EXPECT_GT(l.mean_ms(), 0);
    EXPECT_GE(l.stddev_ms(), 0);
    EXPECT_GE(l.samples(), 5);
    EXPECT_LE(l.samples(), 50);
    EXPECT_FALSE(m.cached());
  }
  EXPECT_EQ(response.measurements(1).shape().op(), "linear");
  EXPECT_FALSE(response.device().device_name().empty());

  // Cached unless forced.
  EXPECT_TRUE(Measure({Linear(64, 32)}).measurements(0).cached());
  v1::MeasureLayersRequest forced = Request({Linear(64, 32)});
  forced.set_force(true);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::MeasureLayersResponse again, client_->MeasureLayers(forced));
  EXPECT_FALSE(again.measurements(0).cached());
}

TEST_F(ProfilerE2eTest, MuchWiderLayerMeasuresSlower) {
  // 256x the multiply-adds (0.6 M vs 151 M). Compares the fastest decile (p10), the least
  // disturbed statistic, taking the best of up to five forced rounds: a median taken while a
  // neighbour loaded the same cores once came out 4 ms for the narrow layer (CI, 2026-12-06),
  // three rounds later still 4 ms. ctest also runs this executable RUN_SERIAL. A device that
  // really did not tell the two apart fails every round.
  double narrow = 0, wide = 0;
  for (int round = 0; round < 5; ++round) {
    v1::MeasureLayersRequest request = Request({Conv(8, 8, 32), Conv(128, 128, 32)});
    request.set_force(true);
    absl::StatusOr<v1::MeasureLayersResponse> response = client_->MeasureLayers(request);
    ASSERT_THAT(response, IsOk());
    ASSERT_THAT(response->measurements(), SizeIs(2));
    const double n = response->measurements(0).latency().p10_ms();
    const double w = response->measurements(1).latency().p10_ms();
    narrow = round == 0 ? n : std::min(narrow, n);
    wide = round == 0 ? w : std::min(wide, w);
    if (wide > 4 * narrow) break;
  }
  EXPECT_GT(wide, 4 * narrow);
}

TEST_F(ProfilerE2eTest, DescribesTheDevice) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::DescribeDeviceResponse device, client_->DescribeDevice());
  EXPECT_FALSE(device.fingerprint().device_name().empty());
  EXPECT_TRUE(device.fingerprint().runtime_versions().contains("libtorch"));
  EXPECT_EQ(device.fingerprint().extra().at("intra_op_threads"), "1");
  EXPECT_EQ(device.torch_device(), "cpu");
  EXPECT_EQ(device.max_batch_shapes(), kMaxBatch);
  EXPECT_EQ(device.max_memory_bytes(), int64_t{64} << 20);
}

TEST_F(ProfilerE2eTest, MeasuresANetworkEndToEnd) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(common::NetworkDef net,
                                common::ZooNetwork("helloworld", {16, 3, 10, 0.25}));
  v1::MeasureNetworkRequest request;
  *request.mutable_network() = common::NetworkDefToProto(net);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::MeasureNetworkResponse response,
                                client_->MeasureNetwork(request));
  EXPECT_GT(response.latency().median_ms(), 0);
  EXPECT_LE(response.latency().p10_ms(), response.latency().p90_ms());

  request.mutable_network()->mutable_layers(0)->set_in_channels(5);  // input has 3
  EXPECT_THAT(client_->MeasureNetwork(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("layers[0]")));
}

TEST_F(ProfilerE2eTest, BadInputsNameTheShapeAndTheAgentKeepsServing) {
  v1::MeasureLayersRequest unknown_op = Request({Conv(3, 8, 8), Conv(3, 8, 8)});
  unknown_op.mutable_shapes(1)->set_op("maxpool2d");
  EXPECT_THAT(client_->MeasureLayers(unknown_op),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shapes[1].op")));
  unknown_op.mutable_shapes(1)->set_op("transformer");
  EXPECT_THAT(client_->MeasureLayers(unknown_op),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shapes[1].op")));

  EXPECT_THAT(client_->MeasureLayers(Request({Conv(0, 8, 8)})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("shapes[0].in_channels"), HasSubstr("positive"))));
  EXPECT_THAT(client_->MeasureLayers(Request({Conv(3, 8, 8), Linear(16, -4)})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shapes[1].out_channels")));

  // 4096 -> 4096 channels at 512 x 512: terabytes.
  EXPECT_THAT(client_->MeasureLayers(Request({Conv(3, 8, 8), Conv(4096, 4096, 512)})),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       AllOf(HasSubstr("shapes[1] (conv2d 4096->4096"), HasSubstr("cap"))));
  EXPECT_THAT(
      client_->MeasureLayers(Request(std::vector<LayerShape>(kMaxBatch + 1, Conv(3, 8, 8)))),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("limit of 16")));
  EXPECT_THAT(client_->MeasureLayers(v1::MeasureLayersRequest()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shapes")));

  EXPECT_THAT(Measure({Conv(3, 8, 8)}).measurements(), SizeIs(1));
}

TEST_F(ProfilerE2eTest, CancelledRequestStopsItsRemainingMeasurements) {
  // Eight shapes at 250 ms each (the stopping rule cannot stop them early); the client gives
  // up after 300 ms.
  std::vector<LayerShape> shapes;
  for (int i = 1; i <= 8; ++i) shapes.push_back(Conv(i, 4, 8));
  v1::MeasureLayersRequest slow = Request(shapes);
  slow.mutable_options()->set_min_runs(100000);
  slow.mutable_options()->set_max_runs(100000);
  slow.mutable_options()->set_max_time_ms(250);
  rpc::ProfilerClientOptions options;
  options.measure_timeout_base = absl::Milliseconds(300);
  options.measure_timeout_per_shape = absl::ZeroDuration();
  rpc::ProfilerClient impatient(channel_, options);
  EXPECT_THAT(impatient.MeasureLayers(slow), StatusIs(absl::StatusCode::kDeadlineExceeded));

  // Had the agent carried on, it would be measuring the remaining shapes at 250 ms each, so
  // by the time this quick request reaches them they would come back cached. They are not:
  // only the shapes measured before the deadline are in the cache, and the request is fast.
  v1::MeasureLayersRequest quick = Request(shapes);
  quick.mutable_options()->set_max_time_ms(2);
  const auto start = std::chrono::steady_clock::now();
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::MeasureLayersResponse response, client_->MeasureLayers(quick));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int cached = 0;
  for (const v1::LayerMeasurement& m : response.measurements()) cached += m.cached() ? 1 : 0;
  EXPECT_LE(cached, 2);
  EXPECT_LT(seconds, 1.0);
}

TEST_F(ProfilerE2eTest, ClientCancelStopsTheCallAtOnce) {
  std::vector<LayerShape> shapes;
  for (int i = 1; i <= 8; ++i) shapes.push_back(Conv(i, 5, 8));
  v1::MeasureLayersRequest slow = Request(shapes);
  slow.mutable_options()->set_min_runs(100000);
  slow.mutable_options()->set_max_runs(100000);
  slow.mutable_options()->set_max_time_ms(250);
  // The callback API starts the call before returning, so the cancel below always applies
  // to a started call.
  std::unique_ptr<v1::ProfilerService::Stub> stub = v1::ProfilerService::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::MeasureLayersResponse response;
  absl::Mutex mu;
  std::optional<grpc::Status> status;
  const auto start = std::chrono::steady_clock::now();
  stub->async()->MeasureLayers(&context, &slow, &response, [&](grpc::Status s) {
    absl::MutexLock lock(&mu);
    status = s;
  });
  // A cheap call served between two of the slow call's shapes: the slow call is now being
  // measured on the agent.
  ASSERT_THAT(client_->MeasureLayers(Request({Linear(8, 8)})), IsOk());
  context.TryCancel();
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(
        absl::Condition(+[](std::optional<grpc::Status>* s) { return s->has_value(); }, &status),
        absl::Seconds(10)));
    EXPECT_EQ(status->error_code(), grpc::StatusCode::CANCELLED);
  }
  // The agent is free again at once: a new shape is measured without waiting for the
  // cancelled call's remaining shapes (8 x 250 ms).
  // Only the shape(s) measured before the cancel are cached.
  v1::MeasureLayersRequest quick = Request(shapes);
  quick.mutable_options()->set_max_time_ms(2);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::MeasureLayersResponse after, client_->MeasureLayers(quick));
  int cached = 0;
  for (const v1::LayerMeasurement& m : after.measurements()) cached += m.cached() ? 1 : 0;
  EXPECT_LE(cached, 2);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.5);
}

TEST_F(ProfilerE2eTest, ConcurrentClientsBothGetResults) {
  rpc::ProfilerClient other(rpc::MakeChannel(address_));
  absl::StatusOr<v1::MeasureLayersResponse> a, b;
  std::thread first([&] { a = client_->MeasureLayers(Request({Conv(4, 4, 8), Linear(32, 8)})); });
  std::thread second([&] { b = other.MeasureLayers(Request({Conv(6, 6, 8), Linear(16, 8)})); });
  first.join();
  second.join();
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_THAT(a->measurements(), SizeIs(2));
  EXPECT_THAT(b->measurements(), SizeIs(2));
  EXPECT_EQ(b->measurements(0).shape().in_channels(), 6);
}

TEST_F(ProfilerE2eTest, GrpcLatencyMeasurerFillsLutMisses) {
  rpc::GrpcLatencyMeasurer measurer(client_.get(), /*max_batch_shapes=*/2);
  common::LutLatencyModel model(common::LatencyTable(),
                                common::MissPolicy::Measure(&measurer));
  NETADAPT_ASSERT_OK_AND_ASSIGN(double ms, model.LayerCost(Conv(4, 8, 8)));
  EXPECT_GT(ms, 0);
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<double> three,
                                measurer.MeasureMs({Linear(8, 8), Linear(16, 8), Linear(24, 8)}));
  EXPECT_THAT(three, SizeIs(3));
  EXPECT_EQ(model.Snapshot().size(), 1u);
}

TEST_F(ProfilerE2eTest, SigtermShutsDownGracefully) {
  std::optional<int> status = agent_.Stop(SIGTERM, std::chrono::seconds(10));
  ASSERT_TRUE(status.has_value()) << "the agent did not exit within 10 s of SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

}  // namespace
}  // namespace netadapt::profiler
