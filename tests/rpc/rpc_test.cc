// The RPC plumbing (server setup, status conversion) and the profiler service over a real
// ServerBuilder, reached in-process and over 127.0.0.1 TCP (STYLE.md section 8), with fake
// runners: no LibTorch.
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/latency_table.h"
#include "common/rpc/channel.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/profiler_client.h"
#include "common/rpc/server.h"
#include "profiler-agent/profiler.h"
#include "profiler-agent/profiler_service.h"
#include "tests/profiler-agent/fake_runner.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::rpc {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;

TEST(GrpcStatusTest, RoundTripsCodeAndMessage) {
  const absl::Status status = absl::ResourceExhaustedError("shapes[3]: too big");
  const grpc::Status wire = ToGrpcStatus(status);
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(wire.error_message(), "shapes[3]: too big");
  EXPECT_EQ(FromGrpcStatus(wire), status);
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_THAT(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")),
              StatusIs(absl::StatusCode::kUnavailable, "down"));
}

// Calls `method` with an empty message; the status and the response's bytes.
grpc::Status CallEmpty(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                       std::string* bytes) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1), response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = s;
                   done.Notify();
                 });
  done.WaitForNotification();
  std::vector<grpc::Slice> slices;
  if (status.ok()) (void)response.Dump(&slices);
  for (const grpc::Slice& s : slices) {
    bytes->append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return status;
}

constexpr char kReflectionMethod[] = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

TEST(RpcServerTest, ReflectionCanBeSwitchedOff) {
  profiler::Profiler profiler(std::make_unique<testing::FakeRunnerFactory>(), {}, {});
  profiler::ProfilerServiceImpl service(&profiler);
  for (bool reflection : {true, false}) {
    ServerOptions options;
    options.address = "127.0.0.1:0";
    options.reflection = reflection;
    NETADAPT_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RpcServer> server,
                                  RpcServer::Start(options, {&service}));
    std::string bytes;
    const grpc::Status status =
        CallEmpty(MakeChannel(absl::StrCat("127.0.0.1:", server->port())), kReflectionMethod,
                  &bytes);
    EXPECT_EQ(status.error_code() != grpc::StatusCode::UNIMPLEMENTED, reflection)
        << "reflection " << reflection << ": " << status.error_message();
  }
}

TEST(RpcServerTest, UnbindableAddressIsUnavailable) {
  ServerOptions options;
  options.address = "256.0.0.1:0";
  options.insecure = true;  // past the authentication check, to the bind
  EXPECT_THAT(RpcServer::Start(options, {}), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(RpcServerTest, LoopbackAddresses) {
  for (const char* address : {"127.0.0.1:0", "127.1.2.3:50051", "localhost:1", "[::1]:50051"}) {
    EXPECT_TRUE(IsLoopbackAddress(address)) << address;
  }
  for (const char* address : {"0.0.0.0:0", "[::]:50051", "10.0.0.2:50051", "jetson.lan:50061",
                              "128.0.0.1:1"}) {
    EXPECT_FALSE(IsLoopbackAddress(address)) << address;
  }
}

// Secure by default: all interfaces without a token or client certificates is refused, naming
// the flags that fix it; a token, loopback or an explicit `insecure` starts.
TEST(RpcServerTest, AllInterfacesWithoutAuthenticationIsRefused) {
  ServerOptions options;
  options.address = "0.0.0.0:0";
  EXPECT_THAT(RpcServer::Start(options, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::AllOf(::testing::HasSubstr("0.0.0.0:0"),
                                        ::testing::HasSubstr("--token_file"),
                                        ::testing::HasSubstr("--insecure"))));
  options.security.tokens.push_back({"client", "secret-token"});
  EXPECT_TRUE(RpcServer::Start(options, {}).ok());
  options.security.tokens.clear();
  options.insecure = true;
  EXPECT_TRUE(RpcServer::Start(options, {}).ok());
  ServerOptions loopback;
  EXPECT_EQ(loopback.address, "127.0.0.1:0");
  EXPECT_TRUE(RpcServer::Start(loopback, {}).ok());
}

// grpc.health.v1.Health/Check with an empty request; the response's status field, or -1.
int HealthStatus(const std::shared_ptr<grpc::Channel>& channel) {
  std::string bytes;
  if (!CallEmpty(channel, "/grpc.health.v1.Health/Check", &bytes).ok()) return -1;
  // HealthCheckResponse { ServingStatus status = 1; }: tag 0x08, then the varint.
  if (bytes.size() == 2 && bytes[0] == 0x08) return bytes[1];
  return bytes.empty() ? 0 : -1;
}

enum class Transport { kInProcess, kTcp };

class ProfilerServiceTest : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    auto factory = std::make_unique<testing::FakeRunnerFactory>();
    factory_ = factory.get();
    profiler::ProfilerOptions options;
    options.max_batch_shapes = 4;
    options.max_memory_bytes = 1 << 20;
    options.default_measure.min_runs = 3;
    profiler_ = std::make_unique<profiler::Profiler>(std::move(factory), Fingerprint(), options);
    service_ = std::make_unique<profiler::ProfilerServiceImpl>(profiler_.get());
    port_file_ = absl::StrCat(::testing::TempDir(), "/rpc_test_port_", getpid());
    ServerOptions server_options;
    server_options.address = "127.0.0.1:0";
    server_options.port_file = port_file_;
    NETADAPT_ASSERT_OK_AND_ASSIGN(server_, RpcServer::Start(server_options, {service_.get()}));
    channel_ = GetParam() == Transport::kInProcess
                   ? server_->InProcessChannel()
                   : MakeChannel(absl::StrCat("127.0.0.1:", server_->port()));
    client_ = std::make_unique<ProfilerClient>(channel_);
  }
  void TearDown() override {
    server_->Shutdown(absl::Seconds(1));
    profiler_->Shutdown();
    std::remove(port_file_.c_str());
  }
  static v1::DeviceFingerprint Fingerprint() {
    v1::DeviceFingerprint f;
    f.set_device_name("fake");
    return f;
  }

  testing::FakeRunnerFactory* factory_ = nullptr;  // owned by profiler_
  std::unique_ptr<profiler::Profiler> profiler_;
  std::unique_ptr<profiler::ProfilerServiceImpl> service_;
  std::string port_file_;
  std::unique_ptr<RpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ProfilerClient> client_;
};

TEST_P(ProfilerServiceTest, WritesThePortFileAndServesHealth) {
  std::ifstream in(port_file_);
  int port = 0;
  in >> port;
  EXPECT_EQ(port, server_->port());
  EXPECT_GT(port, 0);
  EXPECT_EQ(HealthStatus(channel_), 1);  // SERVING
}

TEST_P(ProfilerServiceTest, MeasuresThroughTheClientAndTheLatencyMeasurer) {
  common::LayerShape conv;
  conv.in_channels = 4;
  conv.out_channels = 8;
  conv.kernel = {3, 3};
  conv.input_h = conv.input_w = 8;
  GrpcLatencyMeasurer measurer(client_.get(), /*max_batch_shapes=*/4);
  std::vector<common::LayerShape> shapes(6, conv);
  for (int i = 0; i < 6; ++i) shapes[i].out_channels = 8 * (i + 1);
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<double> ms, measurer.MeasureMs(shapes));
  ASSERT_THAT(ms, SizeIs(6));
  // The fake's latency: MACs / 1e6 plus up to 0.002 ms of noise.
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(ms[i], shapes[i].Macs() / 1e6, 0.0025);

  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::DescribeDeviceResponse device, client_->DescribeDevice());
  EXPECT_EQ(device.fingerprint().device_name(), "fake");
  EXPECT_EQ(device.max_batch_shapes(), 4);

  v1::MeasureLayersRequest too_many;
  for (int i = 0; i < 5; ++i) *too_many.add_shapes() = common::LayerShapeToProto(conv);
  EXPECT_THAT(client_->MeasureLayers(too_many),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("limit of 4")));
}

// The measurer returns the agent's statistics with the host's load, and measures a shape
// whose first measurement was noisy again (forced past the agent's cache) until it is tight.
TEST_P(ProfilerServiceTest, WideShapesAreRemeasuredAndKeepTheirStatistics) {
  // The first runner built is noisy (runs alternate 1 and 3 ms: p90/p10 = 3); later ones are
  // quiet. The profiler measures one shape at a time, so the counter needs no lock.
  auto builds = std::make_shared<int>(0);
  factory_->latency = [builds](const common::LayerShape&, int run) {
    if (run == 0) ++*builds;
    return *builds <= 1 ? (run % 2 == 0 ? 1.0 : 3.0) : 1.0;
  };
  common::LayerShape conv;
  conv.in_channels = 4;
  conv.out_channels = 8;
  conv.kernel = {3, 3};
  conv.input_h = conv.input_w = 8;
  GrpcLatencyMeasurer measurer(client_.get(), /*max_batch_shapes=*/4);
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<common::LatencyStats> stats,
                                measurer.Measure({conv}, /*force=*/false));
  ASSERT_THAT(stats, SizeIs(1));
  EXPECT_EQ(factory_->built().size(), 2u);  // measured, then re-measured (forced)
  EXPECT_DOUBLE_EQ(stats[0].median_ms, 1.0);
  EXPECT_THAT(stats[0].Spread(), ::testing::Optional(1.0));
  EXPECT_GT(stats[0].samples, 0);
  ASSERT_TRUE(stats[0].conditions.has_value());
  EXPECT_GT(stats[0].conditions->cpus_online, 0);
  EXPECT_GT(stats[0].conditions->cpus_allowed, 0);
  EXPECT_GT(stats[0].conditions->runnable_tasks, 0);  // the measuring thread at least

  // Without re-measuring, the noisy round is what comes back.
  *builds = 0;
  GrpcLatencyMeasurer once(client_.get(), 4, {}, common::RemeasurePolicy{1.25, 0});
  NETADAPT_ASSERT_OK_AND_ASSIGN(stats, once.Measure({conv}, /*force=*/true));
  EXPECT_THAT(stats[0].Spread(), ::testing::Optional(::testing::Gt(2.5)));
}

INSTANTIATE_TEST_SUITE_P(Transports, ProfilerServiceTest,
                         ::testing::Values(Transport::kInProcess, Transport::kTcp),
                         [](const auto& info) {
                           return info.param == Transport::kTcp ? "Tcp" : "InProcess";
                         });

}  // namespace
}  // namespace netadapt::rpc
