// MasterClient against a fake CoordinatorService over a real gRPC server:
// chunked artifact transfer both ways, LookupLatency, registration and
// heartbeats (re-registering when told).
#include "worker/master_client.h"

#include <gmock/gmock.h>
#include <grpcpp/server_context.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/artifact_store.h"
#include "common/latency_table.h"
#include "common/rpc/artifact_transfer.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/server.h"
#include "common/sha256.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::worker {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::ElementsAre;

// A master that keeps artifacts in a store, answers latency = out_channels, and
// asks the first heartbeat to register again. (Sync API: a test fake, not a
// production server.)
class FakeCoordinator final : public v1::CoordinatorService::Service {
 public:
  explicit FakeCoordinator(common::ArtifactStore* store) : store_(store) {}

  grpc::Status RegisterWorker(grpc::ServerContext*, const v1::RegisterWorkerRequest* request,
                              v1::RegisterWorkerResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++registrations_;
    last_address_ = request->address();
    response->set_name("workers/1");
    response->set_heartbeat_interval_ms(5);
    return grpc::Status::OK;
  }
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest*,
                         v1::HeartbeatResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++heartbeats_;
    response->set_reregister(heartbeats_ == 1);
    return grpc::Status::OK;
  }
  grpc::Status LookupLatency(grpc::ServerContext*, const v1::LookupLatencyRequest* request,
                             v1::LookupLatencyResponse* response) override {
    if (request->job() != "jobs/1") return grpc::Status(grpc::StatusCode::NOT_FOUND, "no job");
    for (const v1::LayerShape& shape : request->shapes()) {
      response->add_latency_ms(shape.out_channels());
    }
    return grpc::Status::OK;
  }
  grpc::Status GetArtifact(grpc::ServerContext*, const v1::GetArtifactRequest* request,
                           grpc::ServerWriter<v1::ArtifactChunk>* writer) override {
    return rpc::ToGrpcStatus(rpc::SendStoredArtifact(
        *store_, request->digest(), request->offset(),
        [writer](const v1::ArtifactChunk& chunk) { return writer->Write(chunk); }));
  }
  grpc::Status PutArtifact(grpc::ServerContext*, grpc::ServerReader<v1::ArtifactChunk>* reader,
                           v1::ArtifactRef* ref) override {
    rpc::StoreReceiver receiver(*store_);
    v1::ArtifactChunk chunk;
    while (reader->Read(&chunk)) {
      absl::Status added = receiver.Add(chunk);
      if (!added.ok()) return rpc::ToGrpcStatus(added);
    }
    absl::StatusOr<v1::ArtifactRef> stored = receiver.Finish();
    if (!stored.ok()) return rpc::ToGrpcStatus(stored.status());
    *ref = *stored;
    return grpc::Status::OK;
  }

  bool WaitForRegistrations(int n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return registrations_ >= n && heartbeats_ >= 2;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(20));
  }
  std::string last_address() {
    absl::MutexLock lock(&mu_);
    return last_address_;
  }

 private:
  common::ArtifactStore* const store_;
  absl::Mutex mu_;
  int registrations_ ABSL_GUARDED_BY(mu_) = 0;
  int heartbeats_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_address_ ABSL_GUARDED_BY(mu_);
};

class MasterClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/master_client_test_", getpid());
    NETADAPT_ASSERT_OK_AND_ASSIGN(store_, common::ArtifactStore::Open(dir_));
    coordinator_ = std::make_unique<FakeCoordinator>(store_.get());
    rpc::ServerOptions options;
    options.address = "127.0.0.1:0";
    NETADAPT_ASSERT_OK_AND_ASSIGN(server_, rpc::RpcServer::Start(options, {coordinator_.get()}));
    MasterClientOptions client_options;
    client_options.register_retry = absl::Milliseconds(5);
    client_ = std::make_unique<MasterClient>(server_->InProcessChannel(), client_options);
  }
  void TearDown() override {
    client_.reset();
    server_->Shutdown(absl::Seconds(1));
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::unique_ptr<common::ArtifactStore> store_;
  std::unique_ptr<FakeCoordinator> coordinator_;
  std::unique_ptr<rpc::RpcServer> server_;
  std::unique_ptr<MasterClient> client_;
};

TEST_F(MasterClientTest, ArtifactsRoundTripInChunks) {
  std::string content(3 * common::kArtifactChunkBytes + 12345, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7919 % 251);
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string digest, client_->PutArtifact(content));
  EXPECT_EQ(digest, common::Sha256Hex(content));
  EXPECT_TRUE(store_->Contains(digest));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string fetched, client_->FetchArtifact(digest));
  EXPECT_TRUE(fetched == content);
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string empty_digest, client_->PutArtifact(""));
  EXPECT_THAT(client_->FetchArtifact(empty_digest), IsOk());
  EXPECT_THAT(client_->FetchArtifact(std::string(64, 'c')), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(MasterClientTest, LookupLatencyKeepsTheOrder) {
  common::LayerShape a, b;
  a.in_channels = 3;
  a.out_channels = 16;
  a.kernel = {3, 3};
  a.input_h = a.input_w = 8;
  b = a;
  b.out_channels = 8;
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<double> latencies,
                                client_->LookupLatency("jobs/1", {a, b}));
  EXPECT_THAT(latencies, ElementsAre(16, 8));
  EXPECT_THAT(client_->LookupLatency("jobs/2", {a}), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(MasterClientTest, RegistersHeartbeatsAndRegistersAgainWhenTold) {
  v1::RegisterWorkerRequest request;
  request.set_address("127.0.0.1:5000");
  request.add_devices("cpu");
  request.set_incarnation("incarnation-1");
  client_->StartHeartbeats(request);
  ASSERT_TRUE(client_->WaitRegistered(absl::Seconds(20)));
  EXPECT_EQ(client_->name(), "workers/1");
  EXPECT_TRUE(coordinator_->WaitForRegistrations(2));
  EXPECT_EQ(coordinator_->last_address(), "127.0.0.1:5000");
  client_->StopHeartbeats();
}

}  // namespace
}  // namespace netadapt::worker
