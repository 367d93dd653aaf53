// The real `netadapt` binary against a fake JobService served in this process on
// 127.0.0.1:0: the requests it sends, what it prints, and its exit codes.
#include <fcntl.h>
#include <grpcpp/server_context.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <google/protobuf/util/json_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <chrono>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/artifact_store.h"
#include "common/checkpoint_format.h"
#include "common/network_def_json.h"
#include "common/network_tensors.h"
#include "common/onnx_export.h"
#include "common/status_macros.h"
#include "common/rpc/artifact_transfer.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/server.h"
#include "common/sha256.h"
#include "common/zoo.h"
#include "netadapt/v1/job_service.grpc.pb.h"
#include "tests/testing/status_matchers.h"

extern char** environ;

namespace netadapt::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A scripted JobService. The synchronous API keeps the fake short; a streaming call holds a
// server thread, which is fine for a handful of test calls.
class FakeJobService final : public v1::JobService::Service {
 public:
  explicit FakeJobService(common::ArtifactStore* store) : store_(store) {}

  grpc::Status CreateJob(grpc::ServerContext*, const v1::CreateJobRequest* request,
                         v1::Job* job) override {
    absl::MutexLock lock(&mu_);
    created_.push_back(*request);
    job->set_name(absl::StrCat("jobs/", created_.size()));
    *job->mutable_spec() = request->spec();
    job->set_state(v1::Job::PENDING);
    return grpc::Status::OK;
  }

  grpc::Status GetJob(grpc::ServerContext*, const v1::GetJobRequest* request,
                      v1::Job* job) override {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(request->name());
    if (it == jobs_.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat(request->name(), " not found"));
    }
    *job = it->second;
    return grpc::Status::OK;
  }

  // Pages of at most two jobs, whatever the client asks, so that the CLI must paginate.
  grpc::Status ListJobs(grpc::ServerContext*, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override {
    absl::MutexLock lock(&mu_);
    size_t start = request->page_token().empty() ? 0 : std::stoul(request->page_token());
    ++list_calls_;
    auto it = jobs_.begin();
    std::advance(it, std::min(start, jobs_.size()));
    for (size_t n = 0; it != jobs_.end() && n < 2; ++it, ++n) *response->add_jobs() = it->second;
    if (start + 2 < jobs_.size()) response->set_next_page_token(absl::StrCat(start + 2));
    return grpc::Status::OK;
  }

  grpc::Status CancelJob(grpc::ServerContext*, const v1::CancelJobRequest* request,
                         v1::Job* job) override {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(request->name());
    if (it == jobs_.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat(request->name(), " not found"));
    }
    it->second.set_state(v1::Job::CANCELLED);
    *job = it->second;
    return grpc::Status::OK;
  }

  // Sends the job's scripted updates of this call (one script per call, in order), then ends
  // with the script's status.
  grpc::Status WatchJob(grpc::ServerContext*, const v1::WatchJobRequest* request,
                        grpc::ServerWriter<v1::Job>* writer) override {
    std::vector<v1::Job> updates;
    grpc::Status end;
    {
      absl::MutexLock lock(&mu_);
      auto it = watch_scripts_.find(request->name());
      if (it == watch_scripts_.end() || it->second.empty()) {
        return grpc::Status(grpc::StatusCode::NOT_FOUND,
                            absl::StrCat(request->name(), " not found"));
      }
      updates = it->second.front().first;
      end = it->second.front().second;
      it->second.erase(it->second.begin());
      ++watch_calls_;
    }
    for (const v1::Job& job : updates) {
      if (!writer->Write(job)) break;
    }
    return end;
  }

  grpc::Status ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest*,
                           v1::ListWorkersResponse* response) override {
    for (int i = 1; i <= 2; ++i) {
      v1::Worker* worker = response->add_workers();
      worker->set_name(absl::StrCat("workers/", i));
      worker->set_address(absl::StrCat("10.0.0.", i, ":50052"));
      worker->add_devices("cuda:0");
      worker->set_state(v1::Worker::ALIVE);
    }
    return grpc::Status::OK;
  }

  grpc::Status UploadArtifact(grpc::ServerContext*, grpc::ServerReader<v1::ArtifactChunk>* reader,
                              v1::ArtifactRef* ref) override {
    rpc::StoreReceiver receiver(*store_);
    v1::ArtifactChunk chunk;
    int chunks = 0;
    while (reader->Read(&chunk)) {
      ++chunks;
      if (absl::Status s = receiver.Add(chunk); !s.ok()) return rpc::ToGrpcStatus(s);
    }
    absl::StatusOr<v1::ArtifactRef> stored = receiver.Finish();
    if (!stored.ok()) return rpc::ToGrpcStatus(stored.status());
    *ref = *stored;
    absl::MutexLock lock(&mu_);
    upload_chunks_ += chunks;
    return grpc::Status::OK;
  }

  grpc::Status DownloadArtifact(grpc::ServerContext*, const v1::GetArtifactRequest* request,
                                grpc::ServerWriter<v1::ArtifactChunk>* writer) override {
    return rpc::ToGrpcStatus(rpc::SendStoredArtifact(
        *store_, request->digest(), request->offset(),
        [writer](const v1::ArtifactChunk& chunk) { return writer->Write(chunk); }));
  }

  void AddJob(const v1::Job& job) {
    absl::MutexLock lock(&mu_);
    jobs_[job.name()] = job;
  }
  void AddWatchScript(const std::string& name, std::vector<v1::Job> updates, grpc::Status end) {
    absl::MutexLock lock(&mu_);
    watch_scripts_[name].emplace_back(std::move(updates), std::move(end));
  }
  std::vector<v1::CreateJobRequest> created() {
    absl::MutexLock lock(&mu_);
    return created_;
  }
  int list_calls() {
    absl::MutexLock lock(&mu_);
    return list_calls_;
  }
  int watch_calls() {
    absl::MutexLock lock(&mu_);
    return watch_calls_;
  }
  int upload_chunks() {
    absl::MutexLock lock(&mu_);
    return upload_chunks_;
  }

 private:
  common::ArtifactStore* const store_;
  absl::Mutex mu_;
  std::vector<v1::CreateJobRequest> created_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::Job> jobs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<std::pair<std::vector<v1::Job>, grpc::Status>>>
      watch_scripts_ ABSL_GUARDED_BY(mu_);
  int list_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int watch_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int upload_chunks_ ABSL_GUARDED_BY(mu_) = 0;
};

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::chrono::milliseconds duration{0};
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteAll(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/cli_test_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_EQ(std::system(absl::StrCat("rm -rf '", dir_, "' && mkdir -p '", dir_, "'").c_str()),
              0);
    NETADAPT_ASSERT_OK_AND_ASSIGN(store_, common::ArtifactStore::Open(dir_ + "/store"));
    service_ = std::make_unique<FakeJobService>(store_.get());
    rpc::ServerOptions options;
    options.address = "127.0.0.1:0";
    NETADAPT_ASSERT_OK_AND_ASSIGN(server_, rpc::RpcServer::Start(options, {service_.get()}));
    master_ = absl::StrCat("127.0.0.1:", server_->port());
  }

  void TearDown() override {
    server_->Shutdown(absl::Seconds(1));
  }

  // Runs `netadapt ARGS --master=<fake>` with stdout and stderr captured, without
  // $NETADAPT_MASTER; kills it after 10 s.
  CliResult Run(std::vector<std::string> args, bool with_master = true) {
    args.insert(args.begin(), NETADAPT_CLI_BINARY);
    if (with_master) args.push_back("--master=" + master_);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) {
      if (!absl::StartsWith(*e, "NETADAPT_MASTER=")) envp.push_back(*e);
    }
    envp.push_back(nullptr);

    const std::string out_path = absl::StrCat(dir_, "/stdout_", runs_);
    const std::string err_path = absl::StrCat(dir_, "/stderr_", runs_++);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CliResult result;
    const auto start = std::chrono::steady_clock::now();
    pid_t pid = -1;
    const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
      ADD_FAILURE() << "cannot start " << argv[0];
      return result;
    }
    int status = 0;
    const auto deadline = start + std::chrono::seconds(10);
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ADD_FAILURE() << "netadapt did not exit within 10 s";
        break;
      }
      // A child's exit has no fd to wait on without signalfd juggling: poll the pid at 5 ms.
      poll(nullptr, 0, 5);
    }
    result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = ReadAll(out_path);
    result.err = ReadAll(err_path);
    return result;
  }

  std::string dir_;
  std::unique_ptr<common::ArtifactStore> store_;
  std::unique_ptr<FakeJobService> service_;
  std::unique_ptr<rpc::RpcServer> server_;
  std::string master_;
  int runs_ = 0;
};

// What a failed expectation should show: the command's output.
std::string Show(const CliResult& r) {
  return absl::StrCat("exit ", r.exit_code, "\nstdout:\n", r.out, "\nstderr:\n", r.err);
}

v1::Job JobWith(const std::string& name, v1::Job::State state, int iteration) {
  v1::Job job;
  job.set_name(name);
  job.mutable_spec()->set_model("helloworld");
  job.mutable_spec()->set_dataset("synthetic:");
  job.mutable_spec()->set_max_iters(3);
  job.set_state(state);
  job.set_phase(v1::Job::ITERATING);
  job.set_current_iteration(iteration);
  job.mutable_seed()->set_resource(10);
  job.mutable_seed()->set_accuracy(0.8);
  job.set_budget(5);
  for (int i = 1; i < iteration || (i <= iteration && v1::Job::SUCCEEDED == state); ++i) {
    v1::Iteration* it = job.add_history();
    it->set_iteration(i);
    it->set_chosen_block(i % 2);
    it->mutable_result()->set_resource(10 - 2 * i);
    it->mutable_result()->set_accuracy(0.8 - 0.01 * i);
    it->set_duration_seconds(2);
  }
  return job;
}

TEST_F(CliTest, SubmitWithFlagsSendsTheSpecAndARequestId) {
  const CliResult r = Run({"submit", "--model", "alexnet", "--dataset",
                           "synthetic:classes=10,shape=3x32x32", "--budget-ratio", "0.5",
                           "--reduction-ratio", "0.025", "--decay", "0.98", "--max-iters", "12",
                           "--short-term-steps", "100", "--finetune-lr", "0.01", "--batch-size",
                           "64", "--holdout-size", "1000", "--resource-type", "flops", "--search",
                           "binary", "--lut-mode", "interpolate", "--seed", "7", "--input-size",
                           "32", "--width-multiplier", "0.5", "--long-term-epochs", "2",
                           "--display-name", "half alexnet"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_THAT(r.out, HasSubstr("created jobs/1 (PENDING)"));
  const std::vector<v1::CreateJobRequest> created = service_->created();
  ASSERT_EQ(created.size(), 1u);
  const v1::JobSpec& spec = created[0].spec();
  EXPECT_EQ(spec.model(), "alexnet");
  EXPECT_EQ(spec.dataset(), "synthetic:classes=10,shape=3x32x32");
  EXPECT_EQ(spec.budget_ratio(), 0.5);
  EXPECT_EQ(spec.init_resource_reduction_ratio(), 0.025);
  EXPECT_EQ(spec.resource_reduction_decay(), 0.98);
  EXPECT_EQ(spec.max_iters(), 12);
  EXPECT_EQ(spec.short_term_fine_tune_iteration(), 100);
  EXPECT_EQ(spec.finetune_lr(), 0.01);
  EXPECT_EQ(spec.batch_size(), 64);
  EXPECT_EQ(spec.holdout_size(), 1000);
  EXPECT_EQ(spec.resource_type(), v1::RESOURCE_TYPE_FLOPS);
  EXPECT_EQ(spec.search(), v1::SEARCH_STRATEGY_BINARY);
  EXPECT_EQ(spec.lut_mode(), v1::LUT_MODE_INTERPOLATE);
  EXPECT_EQ(spec.seed(), 7u);
  EXPECT_EQ(spec.zoo().input_size(), 32);
  EXPECT_EQ(spec.zoo().width_multiplier(), 0.5);
  EXPECT_EQ(spec.long_term_fine_tune_epochs(), 2);
  EXPECT_EQ(spec.display_name(), "half alexnet");
  EXPECT_EQ(created[0].request_id().size(), 32u);
}

TEST_F(CliTest, SubmitSpecFileWithOverridesAndJsonOutput) {
  const std::string spec_file = dir_ + "/spec.json";
  WriteAll(spec_file, R"({"model": "helloworld", "dataset": "synthetic:", "budget_ratio": 0.3,
                          "max_iters": 5, "search": "SEARCH_STRATEGY_LINEAR"})");
  const CliResult r = Run({"submit", "--spec", spec_file, "--max-iters", "7", "--output=json",
                           "--request-id", "retry-42"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  const std::vector<v1::CreateJobRequest> created = service_->created();
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].spec().model(), "helloworld");
  EXPECT_EQ(created[0].spec().budget_ratio(), 0.3);
  EXPECT_EQ(created[0].spec().max_iters(), 7);
  EXPECT_EQ(created[0].spec().search(), v1::SEARCH_STRATEGY_LINEAR);
  EXPECT_EQ(created[0].request_id(), "retry-42");
  v1::Job printed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &printed).ok()) << r.out;
  EXPECT_EQ(printed.name(), "jobs/1");
  EXPECT_EQ(printed.spec().max_iters(), 7);
}

TEST_F(CliTest, SubmitUploadsWeightsFirst) {
  // Over one chunk (1 MiB), so the upload really streams.
  std::string weights = std::string("NACKPT\0\1", 8) + std::string(1500000, 'w');
  const std::string file = dir_ + "/seed.ckpt";
  WriteAll(file, weights);
  const CliResult r =
      Run({"submit", "--model", "helloworld", "--dataset", "synthetic:", "--weights", file});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  const std::vector<v1::CreateJobRequest> created = service_->created();
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].spec().weights_digest(), common::Sha256Hex(weights));
  EXPECT_EQ(created[0].spec().weights_format(), v1::WEIGHTS_FORMAT_CHECKPOINT);
  EXPECT_GE(service_->upload_chunks(), 2);
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string stored,
                                store_->Get(common::Sha256Hex(weights)));
  EXPECT_EQ(stored, weights);
}

TEST_F(CliTest, UploadPrintsTheDigestAndExportDownloadsIt) {
  const std::string model = "a pytorch state_dict, as far as anyone can tell";
  const std::string file = dir_ + "/model.pt";
  WriteAll(file, model);
  const CliResult upload = Run({"upload", file});
  ASSERT_EQ(upload.exit_code, 0) << Show(upload);
  EXPECT_EQ(upload.out, common::Sha256Hex(model) + "\n");

  v1::Job job = JobWith("jobs/3", v1::Job::SUCCEEDED, 2);
  job.mutable_final()->set_model_digest(common::Sha256Hex(model));
  service_->AddJob(job);
  const std::string exported = dir_ + "/final.ckpt";
  const CliResult r = Run({"export", "jobs/3", "--iteration", "best", "-o", exported});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(ReadAll(exported), model);
  EXPECT_THAT(r.out, HasSubstr("the final model of jobs/3"));

  // A model the job does not have yet.
  const CliResult missing = Run({"export", "3", "--iteration", "seed", "-o", exported});
  EXPECT_EQ(missing.exit_code, 1) << Show(missing);
  EXPECT_THAT(missing.err, HasSubstr("jobs/3 has no seed model"));
  // ONNX and JSON are converted from our checkpoint format: this model is not one.
  const CliResult onnx = Run({"export", "3", "--format", "onnx", "-o", exported});
  EXPECT_EQ(onnx.exit_code, 1) << Show(onnx);
  EXPECT_THAT(onnx.err, HasSubstr("not a netadapt checkpoint"));
  const CliResult unwritable = Run({"export", "3", "-o", dir_ + "/no/such/dir/final.ckpt"});
  EXPECT_EQ(unwritable.exit_code, 1) << Show(unwritable);
  EXPECT_THAT(unwritable.err, HasSubstr("-o " + dir_));
}

TEST_F(CliTest, ExportConvertsTheCheckpointToOnnxAndJson) {
  // A real checkpoint, written by the torch-free encoder the CLI's reader shares.
  common::ZooOptions zoo;
  zoo.input_size = 32;
  zoo.width_multiplier = 0.25;
  NETADAPT_ASSERT_OK_AND_ASSIGN(const common::NetworkDef def, common::ZooNetwork("mobilenet", zoo));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::vector<common::TensorSpec> specs,
                                common::NetworkTensors(def));
  std::deque<std::string> storage;
  std::vector<common::CheckpointTensor> tensors;
  for (const common::TensorSpec& spec : specs) {
    int64_t n = 1;
    for (int64_t size : spec.shape) n *= size;
    std::string& data = storage.emplace_back(n * common::ElementSize(spec.dtype), '\0');
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i % 61);
    tensors.push_back({spec.name, spec.dtype, spec.shape, data});
  }
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string checkpoint,
                                common::EncodeCheckpoint(def, tensors));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string digest, store_->Put(checkpoint));
  v1::Job job = JobWith("jobs/4", v1::Job::SUCCEEDED, 2);
  job.mutable_final()->set_model_digest(digest);
  service_->AddJob(job);

  const std::string onnx_file = dir_ + "/model.onnx";
  const CliResult onnx = Run({"export", "jobs/4", "--format", "onnx", "-o", onnx_file});
  ASSERT_EQ(onnx.exit_code, 0) << Show(onnx);
  EXPECT_THAT(onnx.out, HasSubstr("the final model of jobs/4 as ONNX (opset 13)"));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string expected, common::CheckpointToOnnx(checkpoint));
  EXPECT_EQ(ReadAll(onnx_file), expected);
  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(ReadAll(onnx_file)));
  EXPECT_EQ(model.opset_import(0).version(), 13);
  EXPECT_EQ(model.graph().input(0).name(), "input");
  EXPECT_EQ(model.graph().output(0).name(), "logits");

  const std::string json_file = dir_ + "/model.json";
  const CliResult json = Run({"export", "4", "--format", "json", "-o", json_file});
  ASSERT_EQ(json.exit_code, 0) << Show(json);
  NETADAPT_ASSERT_OK_AND_ASSIGN(const common::NetworkDef exported,
                                common::NetworkDefFromJson(ReadAll(json_file)));
  EXPECT_EQ(common::NetworkDefToJson(exported), common::NetworkDefToJson(def));

  // The default stays our checkpoint, byte for byte.
  const std::string ckpt_file = dir_ + "/model.ckpt";
  const CliResult ckpt = Run({"export", "4", "-o", ckpt_file});
  ASSERT_EQ(ckpt.exit_code, 0) << Show(ckpt);
  EXPECT_EQ(ReadAll(ckpt_file), checkpoint);
}

// An ONNX model as our exporter writes it: resnet18 (a graph: residual adds) at a small size,
// with varied weights. `storage` owns the tensors' bytes.
struct OnnxFixture {
  common::NetworkDef def;
  std::deque<std::string> storage;
  std::vector<common::CheckpointTensor> tensors;
  std::string onnx;
};
std::unique_ptr<OnnxFixture> MakeOnnx() {
  auto f = std::make_unique<OnnxFixture>();
  common::ZooOptions zoo;
  zoo.input_size = 32;
  zoo.width_multiplier = 0.125;
  absl::StatusOr<common::NetworkDef> def = common::ZooNetwork("resnet18", zoo);
  NETADAPT_CHECK(def.ok());
  f->def = *def;
  absl::StatusOr<std::vector<common::TensorSpec>> specs = common::NetworkTensors(f->def);
  NETADAPT_CHECK(specs.ok());
  for (const common::TensorSpec& spec : *specs) {
    int64_t n = 1;
    for (int64_t size : spec.shape) n *= size;
    std::string& data = f->storage.emplace_back(n * common::ElementSize(spec.dtype), '\0');
    if (spec.dtype == common::TensorDtype::kFloat32) {
      for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i % 61);
    }
    f->tensors.push_back({spec.name, spec.dtype, spec.shape, data});
  }
  absl::StatusOr<std::string> onnx = common::ExportOnnx(f->def, f->tensors);
  NETADAPT_CHECK(onnx.ok());
  f->onnx = *onnx;
  return f;
}

TEST_F(CliTest, ImportWritesTheNetworkAndItsWeights) {
  const std::unique_ptr<OnnxFixture> fixture = MakeOnnx();
  const std::string model = dir_ + "/resnet.onnx";
  WriteAll(model, fixture->onnx);
  const std::string json = dir_ + "/net.json";
  const std::string weights = dir_ + "/weights.ckpt";
  const CliResult r = Run({"import", model, "-o", json, "--weights-out", weights}, false);
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_THAT(r.out, HasSubstr("imported resnet: "));
  EXPECT_THAT(r.out, HasSubstr("10 logits"));
  // The network of the file (named after it), and a checkpoint of exactly its tensors, with
  // the exported values.
  NETADAPT_ASSERT_OK_AND_ASSIGN(const common::NetworkDef network,
                                common::NetworkDefFromJson(ReadAll(json)));
  EXPECT_EQ(network.name, "resnet");
  EXPECT_EQ(network.layers.size(), fixture->def.layers.size());
  EXPECT_EQ(common::WidthsString(network), common::WidthsString(fixture->def));
  const std::string checkpoint = ReadAll(weights);
  NETADAPT_ASSERT_OK_AND_ASSIGN(const common::CheckpointContents contents,
                                common::DecodeCheckpoint(checkpoint, weights));
  EXPECT_EQ(common::NetworkDefToJson(contents.def), common::NetworkDefToJson(network));
  EXPECT_THAT(common::CheckTensorsMatch(contents.def, contents.tensors, weights), testing::IsOk());
  for (const common::CheckpointTensor& tensor : fixture->tensors) {
    if (tensor.dtype != common::TensorDtype::kFloat32) continue;
    const common::CheckpointTensor* imported = contents.Find(tensor.name);
    ASSERT_NE(imported, nullptr) << tensor.name;
    EXPECT_EQ(imported->data, tensor.data) << tensor.name;
  }
  // explain reads the JSON as it is.
  const CliResult explain = Run({"explain", "--network", json}, false);
  EXPECT_EQ(explain.exit_code, 0) << Show(explain);
  // Without --weights-out, only the JSON.
  const CliResult only_json = Run({"import", model, "-o", dir_ + "/only.json", "--name", "r18"},
                                  false);
  ASSERT_EQ(only_json.exit_code, 0) << Show(only_json);
  EXPECT_THAT(ReadAll(dir_ + "/only.json"), HasSubstr("\"name\": \"r18\""));
}

// What the import refuses exits 1 with the node, its op and what is supported; a symbolic
// input size needs --input-size.
TEST_F(CliTest, ImportErrorsNameTheNode) {
  const std::unique_ptr<OnnxFixture> fixture = MakeOnnx();
  onnx::ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(fixture->onnx));
  onnx::ModelProto unsupported = proto;
  for (onnx::NodeProto& node : *unsupported.mutable_graph()->mutable_node()) {
    if (node.name() == "relu") node.set_op_type("Elu");
  }
  const std::string bad = dir_ + "/bad.onnx";
  WriteAll(bad, unsupported.SerializeAsString());
  const CliResult r = Run({"import", bad, "-o", dir_ + "/bad.json"}, false);
  EXPECT_EQ(r.exit_code, 1) << Show(r);
  EXPECT_THAT(r.err, HasSubstr("ONNX node 'relu' (Elu): unsupported op; supported: Conv"));
  EXPECT_FALSE(std::ifstream(dir_ + "/bad.json").good());

  onnx::ModelProto symbolic = proto;
  auto* shape =
      symbolic.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()
          ->mutable_shape();
  shape->mutable_dim(2)->set_dim_param("height");
  shape->mutable_dim(3)->set_dim_param("width");
  const std::string dynamic = dir_ + "/dynamic.onnx";
  WriteAll(dynamic, symbolic.SerializeAsString());
  const CliResult no_size = Run({"import", dynamic, "-o", dir_ + "/d.json"}, false);
  EXPECT_EQ(no_size.exit_code, 1) << Show(no_size);
  EXPECT_THAT(no_size.err, HasSubstr("symbolic height ('height')"));
  EXPECT_THAT(no_size.err, HasSubstr("--input-size"));
  const CliResult sized =
      Run({"import", dynamic, "-o", dir_ + "/d.json", "--input-size", "32"}, false);
  EXPECT_EQ(sized.exit_code, 0) << Show(sized);

  const CliResult not_onnx = Run({"import", bad + ".missing", "-o", dir_ + "/x.json"}, false);
  EXPECT_EQ(not_onnx.exit_code, 1) << Show(not_onnx);
  WriteAll(dir_ + "/junk.onnx", "not a model");
  const CliResult junk = Run({"import", dir_ + "/junk.onnx", "-o", dir_ + "/x.json"}, false);
  EXPECT_EQ(junk.exit_code, 1) << Show(junk);
  EXPECT_THAT(junk.err, HasSubstr("not an ONNX model"));
}

// submit --onnx: the imported network goes in the spec and its weights, as a checkpoint, are
// uploaded first, exactly what `netadapt import` writes.
TEST_F(CliTest, SubmitOnnxSendsTheNetworkAndUploadsItsWeights) {
  const std::unique_ptr<OnnxFixture> fixture = MakeOnnx();
  const std::string model = dir_ + "/resnet.onnx";
  WriteAll(model, fixture->onnx);
  const CliResult r = Run({"submit", "--onnx", model, "--dataset",
                           "synthetic:classes=10,shape=3x32x32", "--budget-ratio", "0.5"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  const std::vector<v1::CreateJobRequest> created = service_->created();
  ASSERT_EQ(created.size(), 1u);
  const v1::JobSpec& spec = created[0].spec();
  EXPECT_TRUE(spec.model().empty());
  ASSERT_TRUE(spec.has_network());
  EXPECT_EQ(spec.network().name(), "resnet");
  EXPECT_FALSE(spec.has_zoo());
  EXPECT_EQ(spec.weights_format(), v1::WEIGHTS_FORMAT_CHECKPOINT);

  const CliResult imported =
      Run({"import", model, "-o", dir_ + "/net.json", "--weights-out", dir_ + "/w.ckpt"}, false);
  ASSERT_EQ(imported.exit_code, 0) << Show(imported);
  const std::string checkpoint = ReadAll(dir_ + "/w.ckpt");
  EXPECT_EQ(spec.weights_digest(), common::Sha256Hex(checkpoint));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string stored, store_->Get(spec.weights_digest()));
  EXPECT_EQ(stored, checkpoint);
  NETADAPT_ASSERT_OK_AND_ASSIGN(const common::NetworkDef sent,
                                common::NetworkDefFromProto(spec.network()));
  EXPECT_EQ(common::NetworkDefToJson(sent), ReadAll(dir_ + "/net.json"));
}

TEST_F(CliTest, SubmitOnnxRefusesOtherModelsAndBadGraphsBeforeUploading) {
  const std::unique_ptr<OnnxFixture> fixture = MakeOnnx();
  const std::string model = dir_ + "/resnet.onnx";
  WriteAll(model, fixture->onnx);
  onnx::ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(fixture->onnx));
  for (onnx::NodeProto& node : *proto.mutable_graph()->mutable_node()) {
    if (node.name() == "layer1.0.conv1") {
      onnx::AttributeProto* dilations = node.add_attribute();
      dilations->set_name("dilations2");
      dilations->set_type(onnx::AttributeProto::INTS);
    }
  }
  const std::string bad = dir_ + "/bad.onnx";
  WriteAll(bad, proto.SerializeAsString());
  WriteAll(dir_ + "/w.pt", "weights");
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"submit", "--onnx", model, "--model", "resnet18", "--dataset", "synthetic:"},
       "give --onnx or --model / --network, not both"},
      {{"submit", "--onnx", model, "--weights", dir_ + "/w.pt", "--dataset", "synthetic:"},
       "--onnx carries the weights"},
      {{"submit", "--onnx", bad, "--dataset", "synthetic:"},
       "--onnx " + bad + ": ONNX node 'layer1.0.conv1' (Conv): attribute 'dilations2' is not "
       "supported"},
  };
  for (const Case& c : cases) {
    const CliResult r = Run(c.args);
    EXPECT_EQ(r.exit_code, 1) << Show(r);
    EXPECT_THAT(r.err, HasSubstr(c.message)) << Show(r);
  }
  EXPECT_TRUE(service_->created().empty());
  EXPECT_EQ(service_->upload_chunks(), 0);
}

TEST_F(CliTest, GetListCancelWorkers) {
  for (int i = 1; i <= 3; ++i) {
    service_->AddJob(JobWith(absl::StrCat("jobs/", i), v1::Job::RUNNING, i));
  }
  const CliResult get = Run({"get", "2"});
  ASSERT_EQ(get.exit_code, 0) << Show(get);
  EXPECT_THAT(get.out, HasSubstr("name       jobs/2"));
  EXPECT_THAT(get.out, HasSubstr("RUNNING, phase ITERATING"));
  EXPECT_THAT(get.out, HasSubstr("iteration  2/3"));

  const CliResult list = Run({"list"});
  ASSERT_EQ(list.exit_code, 0) << Show(list);
  EXPECT_EQ(service_->list_calls(), 2);  // two pages
  for (const char* name : {"jobs/1 ", "jobs/2 ", "jobs/3 "}) {
    EXPECT_THAT(list.out, HasSubstr(name));
  }
  const CliResult json = Run({"list", "--output", "json"});
  ASSERT_EQ(json.exit_code, 0) << Show(json);
  v1::ListJobsResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.out, &parsed).ok()) << json.out;
  EXPECT_EQ(parsed.jobs_size(), 3);
  const CliResult limited = Run({"list", "--limit", "1"});
  EXPECT_EQ(std::count(limited.out.begin(), limited.out.end(), '\n'), 2) << Show(limited);

  const CliResult cancel = Run({"cancel", "jobs/1"});
  ASSERT_EQ(cancel.exit_code, 0) << Show(cancel);
  EXPECT_EQ(cancel.out, "cancelled jobs/1\n");

  const CliResult workers = Run({"workers"});
  ASSERT_EQ(workers.exit_code, 0) << Show(workers);
  EXPECT_THAT(workers.out, HasSubstr("workers/1  10.0.0.1:50052  ALIVE  cuda:0"));
  EXPECT_THAT(workers.out, HasSubstr("workers/2"));
}

TEST_F(CliTest, NotFoundIsReadable) {
  const CliResult r = Run({"get", "jobs/7"});
  EXPECT_EQ(r.exit_code, 1) << Show(r);
  EXPECT_EQ(r.err, "error: jobs/7 not found (NOT_FOUND)\n");
  EXPECT_EQ(r.out, "");
  const CliResult cancel = Run({"cancel", "7"});
  EXPECT_EQ(cancel.exit_code, 1) << Show(cancel);
}

TEST_F(CliTest, WatchStreamsToSuccess) {
  service_->AddWatchScript("jobs/4",
                           {JobWith("jobs/4", v1::Job::RUNNING, 1),
                            JobWith("jobs/4", v1::Job::RUNNING, 2),
                            JobWith("jobs/4", v1::Job::SUCCEEDED, 3)},
                           grpc::Status::OK);
  const CliResult r = Run({"watch", "4"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_THAT(r.out, HasSubstr("jobs/4: RUNNING, phase ITERATING, iteration 1/3"));
  EXPECT_THAT(r.out, HasSubstr("iteration 1/3 done: block 1, resource 8.00 ms"));
  EXPECT_THAT(r.out, HasSubstr("iteration 2/3 started"));
  EXPECT_THAT(r.out, HasSubstr("jobs/4: state RUNNING -> SUCCEEDED"));
  // Not a terminal: no escape sequences.
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b[")));

  // The live view redraws in place.
  service_->AddWatchScript("jobs/4",
                           {JobWith("jobs/4", v1::Job::RUNNING, 1),
                            JobWith("jobs/4", v1::Job::SUCCEEDED, 3)},
                           grpc::Status::OK);
  const CliResult live = Run({"watch", "4", "--progress=live"});
  ASSERT_EQ(live.exit_code, 0) << Show(live);
  EXPECT_THAT(live.out, HasSubstr("F\x1b[J"));
  EXPECT_THAT(live.out, HasSubstr("iteration 3/3"));

  // JSON: one Job per line.
  service_->AddWatchScript("jobs/4",
                           {JobWith("jobs/4", v1::Job::RUNNING, 2),
                            JobWith("jobs/4", v1::Job::SUCCEEDED, 3)},
                           grpc::Status::OK);
  const CliResult json = Run({"watch", "4", "--output=json"});
  ASSERT_EQ(json.exit_code, 0) << Show(json);
  const std::vector<std::string> lines = absl::StrSplit(json.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << json.out;
  v1::Job last;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(lines[1], &last).ok()) << lines[1];
  EXPECT_EQ(last.state(), v1::Job::SUCCEEDED);
}

TEST_F(CliTest, WatchOfAFailedJobExits3WithTheReason) {
  v1::Job failed = JobWith("jobs/5", v1::Job::FAILED, 2);
  failed.set_reason("no proposal reaches the target 6.00 ms");
  service_->AddWatchScript("jobs/5",
                           {JobWith("jobs/5", v1::Job::RUNNING, 1),
                            JobWith("jobs/5", v1::Job::RUNNING, 2), failed},
                           grpc::Status::OK);
  const CliResult r = Run({"watch", "jobs/5"});
  EXPECT_EQ(r.exit_code, 3) << Show(r);
  EXPECT_THAT(r.err, HasSubstr("jobs/5 FAILED: no proposal reaches the target 6.00 ms"));
}

TEST_F(CliTest, WatchReconnectsAfterUnavailable) {
  service_->AddWatchScript("jobs/6", {JobWith("jobs/6", v1::Job::RUNNING, 1)},
                           grpc::Status(grpc::StatusCode::UNAVAILABLE, "master restarting"));
  service_->AddWatchScript("jobs/6",
                           {JobWith("jobs/6", v1::Job::RUNNING, 2),
                            JobWith("jobs/6", v1::Job::SUCCEEDED, 3)},
                           grpc::Status::OK);
  const CliResult r = Run({"watch", "6", "--reconnect-backoff=20ms"});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(service_->watch_calls(), 2);
  EXPECT_THAT(r.err, HasSubstr("master restarting"));
  EXPECT_THAT(r.err, HasSubstr("reconnecting"));
  EXPECT_THAT(r.out, HasSubstr("SUCCEEDED"));
}

TEST_F(CliTest, WatchOfAnUnknownJobFailsAtOnce) {
  const CliResult r = Run({"watch", "99"});
  EXPECT_EQ(r.exit_code, 1) << Show(r);
  EXPECT_EQ(r.err, "error: jobs/99 not found (NOT_FOUND)\n");
}

// A port that nobody listens on: bound, then closed.
int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

TEST_F(CliTest, UnreachableMasterExits2Quickly) {
  const std::string nobody = absl::StrCat("--master=127.0.0.1:", UnusedPort());
  for (std::vector<std::string> args :
       {std::vector<std::string>{"get", "1"}, {"list"}, {"watch", "1"},
        {"submit", "--model", "helloworld", "--dataset", "synthetic:"}}) {
    args.push_back(nobody);
    const CliResult r = Run(args, /*with_master=*/false);
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << Show(r);
    EXPECT_THAT(r.err, HasSubstr("error: cannot reach the master at 127.0.0.1:")) << args[0];
    EXPECT_LT(r.duration, std::chrono::seconds(3)) << args[0];
  }
}

TEST_F(CliTest, BadFlagsExit1NamingTheField) {
  struct Case {
    std::vector<std::string> args;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{"submit", "--model", "alexnet", "--dataset", "synthetic:", "--budget-ratio", "1.5"},
       "--budget-ratio"},
      {{"submit", "--model", "alexnet", "--dataset", "synthetic:", "--budget-ratio", "half"},
       "--budget-ratio"},
      {{"submit", "--model", "alexnet", "--dataset", "synthetic:", "--short-term-steps", "0"},
       "--short-term-steps"},
      {{"submit", "--model", "alexnet", "--dataset", "synthetic:", "--weights", "/no/such/file"},
       "--weights"},
      {{"submit", "--model", "alexnet", "--dataset", "synthetic:", "--search", "greedy"},
       "--search"},
      {{"submit", "--model", "alexnet"}, "--dataset"},
      {{"pretrain", "--model", "alexnet", "--dataset", "synthetic:"}, "--epochs"},
      {{"export", "1", "--iteration", "latest", "-o", "/tmp/x"}, "--iteration"},
      {{"export", "1", "--format", "pdf", "-o", "/tmp/x"}, "--format"},
      {{"get", "1", "--output", "yaml"}, "--output"},
      {{"get", "1", "--timeout", "soon"}, "--timeout"},
      {{"frobnicate"}, "frobnicate"},
  };
  for (const Case& c : cases) {
    const CliResult r = Run(c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args[0] << " " << c.field << ": " << Show(r);
    EXPECT_THAT(r.err, HasSubstr(c.field)) << Show(r);
  }
  EXPECT_TRUE(service_->created().empty());
  const CliResult help = Run({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("Exit codes:"));
}

TEST_F(CliTest, PretrainSubmitsASeedOnlyJob) {
  const CliResult r = Run({"pretrain", "--model", "helloworld", "--dataset", "synthetic:",
                           "--epochs", "4", "--batch-size", "32"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  const std::vector<v1::CreateJobRequest> created = service_->created();
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].spec().pretrain_epochs(), 4);
  EXPECT_EQ(created[0].spec().max_iters(), 0);
  EXPECT_EQ(created[0].spec().batch_size(), 32);
}

// A residual network in JSON, as a user writes it: the add names its inputs.
constexpr char kResidualJson[] = R"({"name": "tiny_res", "input": {"channels": 3, "height": 8, "width": 8},
  "layers": [
    {"name": "conv1", "op": "conv2d", "in_channels": 3, "out_channels": 8, "kernel_size": [3], "padding": [1]},
    {"name": "relu1", "op": "relu"},
    {"name": "block.conv", "op": "conv2d", "in_channels": 8, "out_channels": 8, "kernel_size": [3], "padding": [1]},
    {"name": "block.add", "op": "add", "inputs": ["block.conv", "relu1"]},
    {"name": "pool", "op": "adaptive_avgpool2d", "output_size": [1]},
    {"name": "flatten", "op": "flatten"},
    {"name": "fc", "op": "linear", "in_channels": 8, "out_channels": 3}]})";

TEST_F(CliTest, ExplainShowsTheChannelGroupsOfAJsonNetwork) {
  const std::string file = dir_ + "/res.json";
  WriteAll(file, kResidualJson);
  const CliResult r = Run({"explain", "--network", file}, /*with_master=*/false);
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_THAT(r.out, HasSubstr("tiny_res: 7 layers, input [3, 8, 8], output [3, 1, 1]"));
  EXPECT_THAT(r.out, HasSubstr("block 0: conv1 (2 layers: conv1, block.conv), width 8; also "
                               "resizes 2 layers: block.conv, fc"));
  EXPECT_THAT(r.out, HasSubstr("not prunable: fc (tied to the network output)"));

  const CliResult zoo = Run({"explain", "--model", "mobilenet", "--input-size", "32"}, false);
  ASSERT_EQ(zoo.exit_code, 0) << Show(zoo);
  EXPECT_THAT(zoo.out, HasSubstr("block 13: model.13.3, width 1024"));
}

// lut show checks a LUT file as the master would and says how far to trust it: its spread and
// the load it was measured under, the widest entries first.
TEST_F(CliTest, LutShowSummarisesAndChecksALut) {
  const std::string shape =
      R"("op": "conv2d", "in_channels": IN, "out_channels": 8, "kernel_h": 3, "kernel_w": 3,
         "stride_h": 1, "stride_w": 1, "groups": 1, "input_h": 8, "input_w": 8, "batch": 1, "bias": true)";
  auto entry = [&](int in, const std::string& rest) {
    std::string s = shape;
    s.replace(s.find("IN"), 2, std::to_string(in));
    return absl::StrCat(R"({"shape": {)", s, "}, ", rest, "}");
  };
  const std::string lut = dir_ + "/lut.json";
  WriteAll(lut, absl::StrCat(
      R"({"device": {"device_name": "test cpu", "power_mode": "MAXN"}, "entries": [)",
      entry(4, R"("latency_ms": 1.0, "p10_ms": 0.98, "p90_ms": 1.05, "samples": 20,
                  "conditions": {"load_avg_1m": 0.2, "runnable_tasks": 1, "cpus_online": 2,
                                 "cpus_allowed": 1})"), ", ",
      entry(8, R"("latency_ms": 2.0, "p10_ms": 1.0, "p90_ms": 3.0, "samples": 20,
                  "conditions": {"load_avg_1m": 3.5, "runnable_tasks": 4, "cpus_online": 2,
                                 "cpus_allowed": 1, "involuntary_switches": 17})"), ", ",
      entry(16, R"("latency_ms": 0.5)"), "]}"));
  const CliResult r = Run({"lut", "show", lut}, /*with_master=*/false);
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_THAT(r.out, HasSubstr("3 entries, 2 with statistics; spread p90/p10 median 2.04, "
                               "widest 3.00, 1 above 1.25; measured at load avg <= 3.50"));
  EXPECT_THAT(r.out, HasSubstr("agent on 1 of 2 CPUs, 1 of 2 entries preempted; device "
                               "'test cpu', power mode 'MAXN'"));
  EXPECT_THAT(r.out, HasSubstr("widest entries (p90/p10 above 1.25):\n  3.00  conv2d 8->8 k3x3"));
  EXPECT_THAT(r.out, HasSubstr("2.0000 ms (p10 1.0000, p90 3.0000, 20 runs, load avg 3.50, "
                               "preempted 17 times)"));
  EXPECT_THAT(r.out, Not(HasSubstr("conv2d 4->8")));  // tight: not listed

  const std::string bad = dir_ + "/bad.json";
  WriteAll(bad, absl::StrCat(R"({"entries": [)", entry(4, R"("latency_ms": 1.0)"), ", ",
                             entry(4, R"("latency_ms": 1.5)"), "]}"));
  const CliResult refused = Run({"lut", "show", bad}, false);
  EXPECT_EQ(refused.exit_code, 1) << Show(refused);
  EXPECT_THAT(refused.err, HasSubstr("entries[1] (conv2d 4->8 k3x3 s1x1 p0x0 g1 in8x8 b1 "
                                     "float32): the shape is already entries[0] with a "
                                     "different latency"));
}

// A bad graph is refused before anything is sent, naming the layer, by explain and submit.
TEST_F(CliTest, ABadGraphIsRefusedNamingTheLayer) {
  std::string json = kResidualJson;
  json.replace(json.find(R"(["block.conv", "relu1"])"), 23, R"(["block.conv", "relu9"])");
  const std::string file = dir_ + "/bad.json";
  WriteAll(file, json);
  for (std::vector<std::string> args :
       {std::vector<std::string>{"explain", "--network", file},
        {"submit", "--network", file, "--dataset", "synthetic:"}}) {
    const CliResult r = Run(args);
    EXPECT_EQ(r.exit_code, 1) << Show(r);
    EXPECT_THAT(r.err, HasSubstr("layers[3] (block.add, add): inputs[1] 'relu9' is not a layer"))
        << Show(r);
  }
  EXPECT_TRUE(service_->created().empty());
  const CliResult neither = Run({"explain"}, false);
  EXPECT_EQ(neither.exit_code, 1);
  EXPECT_THAT(neither.err, HasSubstr("give --model"));
}

}  // namespace
}  // namespace netadapt::cli
