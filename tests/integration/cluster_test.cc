// The master and N workers in one process over real gRPC channels on loopback: MasterServer
// (JobService, CoordinatorService, the artifact reactors, GrpcTaskRunner, the worker pool) and
// workers registered through the real MasterClient, whose engine is faked. The fake searches
// for real (BlockSearch on FLOPS), moves its "checkpoints" (the network's JSON) through the
// master's artifact store, skips training and scores a network by its widths.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/filter_search.h"
#include "common/network_def_json.h"
#include "common/resource_model.h"
#include "common/status_macros.h"
#include "common/rpc/artifact_transfer.h"
#include "common/rpc/channel.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/server.h"
#include "common/uniform_thinning.h"
#include "master/job_runner.h"
#include "master/master_server.h"
#include "netadapt/v1/job_service.grpc.pb.h"
#include "netadapt/v1/worker_service.grpc.pb.h"
#include "tests/testing/status_matchers.h"
#include "worker/master_client.h"

namespace netadapt {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

// How long a test waits for anything before it fails (a slow shared CI machine).
constexpr absl::Duration kPatience = absl::Seconds(60);

std::chrono::system_clock::time_point Deadline() {
  return absl::ToChronoTime(absl::Now() + kPatience);
}

// What the workers did, shared by all of them: every task they were given (by worker), and
// the one task that failed on purpose. Thread-safe.
class TaskLog {
 public:
  struct Entry {
    std::string worker;
    std::string task;  // "jobs/1 iteration 2 block 0 simplify"
    bool failed = false;
  };

  // Makes the first task any worker gets fail as if its worker were lost (UNAVAILABLE).
  void FailFirstTask() {
    absl::MutexLock lock(&mu_);
    fail_first_ = true;
  }
  // Records `task` on `worker`; true when it must fail.
  bool Record(const std::string& worker, const std::string& task) {
    absl::MutexLock lock(&mu_);
    const bool fail = fail_first_ && entries_.empty();
    entries_.push_back({worker, task, fail});
    return fail;
  }
  std::vector<Entry> entries() const {
    absl::MutexLock lock(&mu_);
    return entries_;
  }

 private:
  mutable absl::Mutex mu_;
  bool fail_first_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
};

// A worker's WorkerService with a fake engine (above). Artifacts go through `master`, the
// worker's real MasterConnection. `lose` runs when a task fails on purpose: the worker is gone
// (it stops heartbeating), so the master cannot hand the retry back to it.
class FakeWorkerService final : public v1::WorkerService::Service {
 public:
  FakeWorkerService(std::string name, worker::MasterConnection* master, TaskLog* log,
                    std::function<void()> lose)
      : name_(std::move(name)), master_(master), log_(log), lose_(std::move(lose)) {}

  grpc::Status Pretrain(grpc::ServerContext*, const v1::PretrainTask* task,
                        grpc::ServerWriter<v1::TaskUpdate>* writer) override {
    return Answer(task->header(), "pretrain", writer, [&]() -> absl::StatusOr<v1::TaskResult> {
      common::NetworkDef network;
      if (!task->network_json().empty()) {
        NETADAPT_ASSIGN_OR_RETURN(network, common::NetworkDefFromJson(task->network_json()));
      } else {
        NETADAPT_ASSIGN_OR_RETURN(network, Fetch(task->model_digest()));
      }
      return Stored(network);
    });
  }

  grpc::Status Simplify(grpc::ServerContext*, const v1::SimplifyTask* task,
                        grpc::ServerWriter<v1::TaskUpdate>* writer) override {
    return Answer(task->header(), "simplify", writer, [&]() -> absl::StatusOr<v1::TaskResult> {
      NETADAPT_ASSIGN_OR_RETURN(const common::NetworkDef network, Fetch(task->model_digest()));
      if (task->block_widths_size() > 0) {  // the uniform baseline: no search
        NETADAPT_ASSIGN_OR_RETURN(
            const common::NetworkDef thinned,
            common::WithBlockWidths(network, std::vector<int>(task->block_widths().begin(),
                                                              task->block_widths().end())));
        NETADAPT_ASSIGN_OR_RETURN(v1::TaskResult result, Stored(thinned));
        result.set_meets_target(true);
        return result;
      }
      common::SearchOptions options;
      options.channel_step = task->channel_step();
      NETADAPT_ASSIGN_OR_RETURN(common::BlockSearch search,
                                common::BlockSearch::Create(network, options));
      common::AnalyticResourceModel flops(common::ResourceType::kFlops);
      NETADAPT_ASSIGN_OR_RETURN(
          const common::SearchResult found,
          search.SimplifyBlock(task->block(), task->target_resource(), flops));
      NETADAPT_ASSIGN_OR_RETURN(v1::TaskResult result, Stored(search.SimplifiedNetwork(found)));
      result.set_width(found.width);
      result.set_resource(found.resource);
      result.set_meets_target(found.meets_target);
      return result;
    });
  }

  grpc::Status FineTune(grpc::ServerContext*, const v1::FineTuneTask* task,
                        grpc::ServerWriter<v1::TaskUpdate>* writer) override {
    return Answer(task->header(), "fine-tune", writer, [&]() -> absl::StatusOr<v1::TaskResult> {
      v1::TaskUpdate progress;  // the master relays progress to the job
      progress.mutable_progress()->set_step(task->steps());
      progress.mutable_progress()->set_total_steps(task->steps());
      writer->Write(progress);
      NETADAPT_ASSIGN_OR_RETURN(const common::NetworkDef network, Fetch(task->model_digest()));
      return Stored(network);
    });
  }

  // More filters score higher, so that the proposals differ and the pick means something.
  grpc::Status Evaluate(grpc::ServerContext*, const v1::EvaluateTask* task,
                        grpc::ServerWriter<v1::TaskUpdate>* writer) override {
    return Answer(task->header(), "evaluate", writer, [&]() -> absl::StatusOr<v1::TaskResult> {
      NETADAPT_ASSIGN_OR_RETURN(const common::NetworkDef network, Fetch(task->model_digest()));
      double filters = 0;
      for (int32_t width : master::Widths(network)) filters += width;
      v1::TaskResult result;
      result.set_accuracy(filters / (filters + 100.0));
      return result;
    });
  }

 private:
  template <typename Run>
  grpc::Status Answer(const v1::TaskHeader& header, absl::string_view kind,
                      grpc::ServerWriter<v1::TaskUpdate>* writer, Run run) {
    const std::string task = absl::StrCat(header.job(), " iteration ", header.iteration(),
                                          " block ", header.block(), " ", kind);
    if (log_->Record(name_, task)) {
      lose_();
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the worker's device was lost");
    }
    absl::StatusOr<v1::TaskResult> result = run();
    if (!result.ok()) return rpc::ToGrpcStatus(result.status());
    v1::TaskUpdate update;
    *update.mutable_result() = *std::move(result);
    writer->Write(update);
    return grpc::Status::OK;
  }

  absl::StatusOr<common::NetworkDef> Fetch(const std::string& digest) {
    NETADAPT_ASSIGN_OR_RETURN(const std::string json, master_->FetchArtifact(digest));
    return common::NetworkDefFromJson(json);
  }

  // The network stored as the task's "checkpoint"; its digest and widths as the result.
  absl::StatusOr<v1::TaskResult> Stored(const common::NetworkDef& network) {
    v1::TaskResult result;
    NETADAPT_ASSIGN_OR_RETURN(*result.mutable_model_digest(),
                              master_->PutArtifact(common::NetworkDefToJson(network)));
    for (int32_t width : master::Widths(network)) result.add_widths(width);
    return result;
  }

  const std::string name_;
  worker::MasterConnection* const master_;
  TaskLog* const log_;
  const std::function<void()> lose_;
};

// One worker: its server on 127.0.0.1:0, registered with the master and heartbeating.
struct FakeWorker {
  FakeWorker(const std::string& name, const std::string& master_address, TaskLog* log)
      : client(rpc::MakeChannel(master_address, {})),
        service(name, &client, log, [this] { client.StopHeartbeats(); }) {
    rpc::ServerOptions options;
    options.address = "127.0.0.1:0";
    options.reflection = false;
    server = *rpc::RpcServer::Start(options, {&service});
    v1::RegisterWorkerRequest registration;
    registration.set_address(absl::StrCat("127.0.0.1:", server->port()));
    registration.add_devices("cpu");
    registration.set_incarnation(name);
    client.StartHeartbeats(registration);
  }
  ~FakeWorker() {
    client.StopHeartbeats();
    server->Shutdown(absl::ZeroDuration());
  }

  worker::MasterClient client;
  FakeWorkerService service;
  std::unique_ptr<rpc::RpcServer> server;
};

class ClusterTest : public ::testing::Test {
 protected:
  static constexpr int kWorkers = 2;

  void SetUp() override {
    state_dir_ = ::testing::TempDir() + "/cluster_" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(state_dir_);
    master::MasterServerOptions options;
    options.state_dir = state_dir_;
    options.server.address = "127.0.0.1:0";
    options.server.reflection = false;
    options.heartbeat_interval = absl::Milliseconds(100);
    options.heartbeat_misses = 100;  // nobody is declared dead for being slow under load
    options.task_timeout = kPatience;
    options.shutdown_grace = absl::ZeroDuration();
    absl::StatusOr<std::unique_ptr<master::MasterServer>> master =
        master::MasterServer::Start(options);
    ASSERT_THAT(master.status(), IsOk());
    master_ = *std::move(master);
    const std::string address = absl::StrCat("127.0.0.1:", master_->port());
    jobs_ = v1::JobService::NewStub(rpc::MakeChannel(address, {}));
    for (int i = 0; i < kWorkers; ++i) {
      workers_.push_back(std::make_unique<FakeWorker>(absl::StrCat("w", i), address, &log_));
    }
    for (const auto& worker : workers_) ASSERT_TRUE(worker->client.WaitRegistered(kPatience));
  }

  void TearDown() override {
    workers_.clear();
    if (master_ != nullptr) master_->Shutdown();
  }

  static v1::JobSpec Spec() {
    v1::JobSpec spec;
    spec.set_model("helloworld");
    spec.set_dataset("synthetic:classes=10,shape=3x16x16");
    spec.set_resource_type(v1::RESOURCE_TYPE_FLOPS);
    spec.set_budget_ratio(0.5);
    spec.set_init_resource_reduction_ratio(0.2);
    spec.set_resource_reduction_decay(1.0);
    spec.set_short_term_fine_tune_iteration(10);
    spec.set_uniform_baseline(false);
    return spec;
  }

  absl::StatusOr<v1::Job> Create(const v1::JobSpec& spec) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::CreateJobRequest request;
    *request.mutable_spec() = spec;
    request.set_request_id(absl::StrCat("request-", ++requests_));
    v1::Job job;
    NETADAPT_RETURN_IF_ERROR(rpc::FromGrpcStatus(jobs_->CreateJob(&context, request, &job)));
    return job;
  }

  // Every snapshot WatchJob streams until it ends; the stream's status in `status`.
  std::vector<v1::Job> Watch(const std::string& name, absl::Status* status) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::WatchJobRequest request;
    request.set_name(name);
    std::unique_ptr<grpc::ClientReader<v1::Job>> reader = jobs_->WatchJob(&context, request);
    std::vector<v1::Job> snapshots;
    v1::Job job;
    while (reader->Read(&job)) snapshots.push_back(job);
    *status = rpc::FromGrpcStatus(reader->Finish());
    return snapshots;
  }

  absl::StatusOr<std::string> Download(const std::string& digest) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::GetArtifactRequest request;
    request.set_digest(digest);
    std::unique_ptr<grpc::ClientReader<v1::ArtifactChunk>> reader =
        jobs_->DownloadArtifact(&context, request);
    rpc::BytesReceiver receiver(digest);
    v1::ArtifactChunk chunk;
    absl::Status added;
    while (added.ok() && reader->Read(&chunk)) added = receiver.Add(chunk);
    if (!added.ok()) context.TryCancel();
    const absl::Status finished = rpc::FromGrpcStatus(reader->Finish());
    NETADAPT_RETURN_IF_ERROR(added);
    NETADAPT_RETURN_IF_ERROR(finished);
    return receiver.Finish();
  }

  absl::StatusOr<v1::ArtifactRef> Upload(const std::string& content) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::ArtifactRef ref;
    std::unique_ptr<grpc::ClientWriter<v1::ArtifactChunk>> writer =
        jobs_->UploadArtifact(&context, &ref);
    const absl::Status sent = rpc::SendArtifactBytes(
        content, [&](const v1::ArtifactChunk& chunk) { return writer->Write(chunk); });
    writer->WritesDone();
    const absl::Status finished = rpc::FromGrpcStatus(writer->Finish());
    NETADAPT_RETURN_IF_ERROR(finished);
    NETADAPT_RETURN_IF_ERROR(sent);
    return ref;
  }

  std::string state_dir_;
  std::unique_ptr<master::MasterServer> master_;
  std::unique_ptr<v1::JobService::Stub> jobs_;
  TaskLog log_;
  std::vector<std::unique_ptr<FakeWorker>> workers_;
  int requests_ = 0;
};

TEST_F(ClusterTest, TheWorkersRegisterAndAreListedAlive) {
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  v1::ListWorkersResponse response;
  ASSERT_THAT(rpc::FromGrpcStatus(jobs_->ListWorkers(&context, {}, &response)), IsOk());
  ASSERT_EQ(response.workers_size(), kWorkers);
  for (const v1::Worker& worker : response.workers()) {
    EXPECT_EQ(worker.state(), v1::Worker::ALIVE) << worker.name();
    EXPECT_THAT(worker.devices(), ::testing::ElementsAre("cpu"));
  }
}

// A job runs on the workers to the budget; Watch streams it from the first snapshot to the
// terminal one and ends OK; the final checkpoint comes back through DownloadArtifact.
TEST_F(ClusterTest, AJobRunsToCompletionAndWatchStreamsIt) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(const v1::Job created, Create(Spec()));
  absl::Status watched;
  const std::vector<v1::Job> snapshots = Watch(created.name(), &watched);
  EXPECT_THAT(watched, IsOk());
  ASSERT_GE(snapshots.size(), 2u);
  for (size_t i = 1; i < snapshots.size(); ++i) {
    EXPECT_EQ(snapshots[i].name(), created.name());
    EXPECT_GE(snapshots[i].history_size(), snapshots[i - 1].history_size());
  }
  const v1::Job& job = snapshots.back();
  ASSERT_EQ(job.state(), v1::Job::SUCCEEDED) << job.reason();
  EXPECT_GE(job.history_size(), 2);
  EXPECT_GT(job.seed().resource(), 0);
  EXPECT_LT(job.final().resource(), job.seed().resource());
  EXPECT_LE(job.final().resource(), 0.5 * job.seed().resource() * (1 + 1e-9));

  // Every kind of task ran on the workers. (Which worker took which is the pool's choice and
  // timing's: the fake tasks end at once, so one worker may take them all.)
  std::set<std::string> kinds;
  for (const TaskLog::Entry& entry : log_.entries()) {
    kinds.insert(entry.task.substr(entry.task.rfind(' ') + 1));
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"pretrain", "simplify", "fine-tune", "evaluate"}));

  // The final checkpoint the workers uploaded, downloaded by a user.
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string checkpoint,
                                Download(job.final().model_digest()));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const common::NetworkDef final_network,
                                common::NetworkDefFromJson(checkpoint));
  const std::vector<int32_t> widths = master::Widths(final_network);
  EXPECT_EQ(widths, std::vector<int32_t>(job.final().widths().begin(),
                                         job.final().widths().end()));
}

// The first task fails as if its worker were lost: the master takes that worker out of the
// pool and runs the task on the other one, and the job succeeds.
TEST_F(ClusterTest, ATaskFailsOverToAnotherWorker) {
  log_.FailFirstTask();
  NETADAPT_ASSERT_OK_AND_ASSIGN(const v1::Job created, Create(Spec()));
  absl::Status watched;
  const std::vector<v1::Job> snapshots = Watch(created.name(), &watched);
  ASSERT_FALSE(snapshots.empty());
  ASSERT_EQ(snapshots.back().state(), v1::Job::SUCCEEDED) << snapshots.back().reason();
  const std::vector<TaskLog::Entry> entries = log_.entries();
  ASSERT_GE(entries.size(), 2u);
  ASSERT_TRUE(entries[0].failed);
  bool retried_elsewhere = false;
  for (size_t i = 1; i < entries.size(); ++i) {
    EXPECT_FALSE(entries[i].failed);
    if (entries[i].task == entries[0].task && entries[i].worker != entries[0].worker) {
      retried_elsewhere = true;
    }
  }
  EXPECT_TRUE(retried_elsewhere) << entries[0].task << " failed on " << entries[0].worker;
  // The master took the lost worker out of the pool.
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  v1::ListWorkersResponse response;
  ASSERT_THAT(rpc::FromGrpcStatus(jobs_->ListWorkers(&context, {}, &response)), IsOk());
  int dead = 0;
  for (const v1::Worker& worker : response.workers()) dead += worker.state() == v1::Worker::DEAD;
  EXPECT_EQ(dead, 1);
}

TEST_F(ClusterTest, ABadRequestIsRefusedNamingTheField) {
  v1::JobSpec spec = Spec();
  spec.set_budget_ratio(1.5);
  EXPECT_THAT(Create(spec).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.budget_ratio")));
  spec = Spec();
  spec.clear_dataset();
  EXPECT_THAT(Create(spec).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.dataset")));
  // Nothing was created and no task ran.
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  v1::ListJobsResponse jobs;
  ASSERT_THAT(rpc::FromGrpcStatus(jobs_->ListJobs(&context, {}, &jobs)), IsOk());
  EXPECT_EQ(jobs.jobs_size(), 0);
  EXPECT_TRUE(log_.entries().empty());
}

// An artifact a user uploads reaches a worker through CoordinatorService and comes back to the
// user, byte for byte; an unknown digest is NOT_FOUND on both sides.
TEST_F(ClusterTest, ArtifactsTravelBetweenUsersAndWorkers) {
  std::string content(3 << 20, '\0');  // several chunks
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7919 % 251);
  NETADAPT_ASSERT_OK_AND_ASSIGN(const v1::ArtifactRef ref, Upload(content));
  EXPECT_EQ(ref.size(), static_cast<int64_t>(content.size()));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string fetched,
                                workers_[0]->client.FetchArtifact(ref.digest()));
  EXPECT_EQ(fetched, content);
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string put,
                                workers_[1]->client.PutArtifact("from a worker"));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string downloaded, Download(put));
  EXPECT_EQ(downloaded, "from a worker");
  const std::string unknown(64, 'a');
  EXPECT_THAT(Download(unknown).status(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(workers_[0]->client.FetchArtifact(unknown).status(),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace netadapt
