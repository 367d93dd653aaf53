// orchestration_bench: what the master itself costs. A real master (JobManager, JobStore,
// WorkerPool, the gRPC task runner and services) drives fake workers that are real gRPC
// WorkerService servers doing no training: FineTune sleeps --task_ms, Simplify runs the real
// FLOPs search, Evaluate answers at once. Reports, for 1, 2, 4, 8 workers, the time per
// iteration against the ideal (rounds of --task_ms: ceil(blocks / workers) per iteration)
// and the master's overhead per task; then the time to upload and download a --transfer_mb
// artifact through JobService on loopback.
//
//   build/bench/orchestration_bench [--task_ms=1000] [--workers=1,2,4,8] [--iterations=2]
//                                   [--transfer_mb=250] [--json]
#include <grpcpp/grpcpp.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/artifact_store.h"
#include "common/filter_search.h"
#include "common/network_def_json.h"
#include "common/resource_model.h"
#include "common/rpc/artifact_transfer.h"
#include "common/rpc/channel.h"
#include "common/rpc/server.h"
#include "common/sha256.h"
#include "master/grpc_task_runner.h"
#include "master/job_manager.h"
#include "master/job_store.h"
#include "master/services.h"
#include "netadapt/v1/worker_service.grpc.pb.h"
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

ABSL_FLAG(int, task_ms, 1000, "How long each fake fine-tuning task takes.");
ABSL_FLAG(std::string, workers, "1,2,4,8", "Worker counts to run.");
ABSL_FLAG(int, iterations, 2, "NetAdapt iterations per run.");
ABSL_FLAG(int, blocks, 8, "Prunable blocks of the benchmark network.");
ABSL_FLAG(int, transfer_mb, 250, "Size of the artifact moved through JobService (0 = skip).");
ABSL_FLAG(bool, json, false, "Print one JSON object.");

namespace netadapt {
namespace {

// A network of `blocks` 3x3 convs (32 channels, 8x8) and a linear classifier.
common::NetworkDef BenchNetwork(int blocks) {
  common::NetworkDef net;
  net.name = "chain";
  net.input = {3, 8, 8};
  int in = 3;
  for (int b = 0; b < blocks; ++b) {
    net.layers.push_back(
        common::Layer::Conv2d(absl::StrCat("features.", 2 * b), in, 32, {3, 3}, {1, 1}, {1, 1}));
    net.layers.push_back(common::Layer::Relu(absl::StrCat("features.", 2 * b + 1)));
    in = 32;
  }
  net.layers.push_back(common::Layer::Flatten("flatten"));
  net.layers.push_back(common::Layer::Linear("fc", 32 * 64, 10));
  return net;
}

// The networks behind the fake workers' model digests, shared by all of them as the real
// workers share the master's artifacts (a digest made on one worker is used on another).
class Networks {
 public:
  std::string Remember(const common::NetworkDef& network) {
    const std::string digest = common::Sha256Hex(common::NetworkDefToJson(network));
    absl::MutexLock lock(&mu_);
    networks_[digest] = network;
    return digest;
  }
  common::NetworkDef Lookup(const std::string& digest) {
    absl::MutexLock lock(&mu_);
    return networks_.at(digest);
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, common::NetworkDef> networks_;
};

// A WorkerService that does no training.
class FakeWorker final : public v1::WorkerService::CallbackService {
 public:
  FakeWorker(absl::Duration task, Networks& networks) : task_(task), networks_(networks) {}

  grpc::ServerWriteReactor<v1::TaskUpdate>* Pretrain(grpc::CallbackServerContext*,
                                                     const v1::PretrainTask* task) override {
    v1::TaskResult result;
    result.set_model_digest(Remember(*common::NetworkDefFromJson(task->network_json())));
    return Reply(result);
  }
  grpc::ServerWriteReactor<v1::TaskUpdate>* Simplify(grpc::CallbackServerContext*,
                                                     const v1::SimplifyTask* task) override {
    const common::NetworkDef network = Lookup(task->model_digest());
    common::SearchOptions options;
    options.channel_step = task->channel_step();
    common::BlockSearch search = *common::BlockSearch::Create(network, options);
    common::AnalyticResourceModel flops(common::ResourceType::kFlops);
    common::SearchResult found = *search.SimplifyBlock(task->block(), task->target_resource(), flops);
    v1::TaskResult result;
    result.set_width(found.width);
    result.set_resource(found.resource);
    result.set_meets_target(found.meets_target);
    result.set_model_digest(Remember(search.SimplifiedNetwork(found)));
    return Reply(result);
  }
  grpc::ServerWriteReactor<v1::TaskUpdate>* FineTune(grpc::CallbackServerContext*,
                                                     const v1::FineTuneTask* task) override {
    v1::TaskResult result;
    result.set_model_digest(task->model_digest());
    return Reply(result, task_);
  }
  grpc::ServerWriteReactor<v1::TaskUpdate>* Evaluate(grpc::CallbackServerContext*,
                                                     const v1::EvaluateTask* task) override {
    v1::TaskResult result;
    result.set_accuracy(0.5 + 1e-3 * (std::hash<std::string>()(task->model_digest()) % 100));
    return Reply(result);
  }

 private:
  class Reactor final : public grpc::ServerWriteReactor<v1::TaskUpdate> {
   public:
    Reactor(v1::TaskResult result, absl::Duration delay) {
      *update_.mutable_result() = std::move(result);
      if (delay <= absl::ZeroDuration()) {
        StartWriteAndFinish(&update_, {}, grpc::Status::OK);
        return;
      }
      // Sleeps off the callback thread, as a worker's task thread would.
      std::thread([this, delay] {
        absl::SleepFor(delay);
        StartWriteAndFinish(&update_, {}, grpc::Status::OK);
      }).detach();
    }
    void OnDone() override { delete this; }

   private:
    v1::TaskUpdate update_;
  };
  grpc::ServerWriteReactor<v1::TaskUpdate>* Reply(v1::TaskResult result,
                                                  absl::Duration delay = absl::ZeroDuration()) {
    return new Reactor(std::move(result), delay);
  }
  std::string Remember(const common::NetworkDef& network) { return networks_.Remember(network); }
  common::NetworkDef Lookup(const std::string& digest) { return networks_.Lookup(digest); }

  const absl::Duration task_;
  Networks& networks_;
};

struct Row {
  int workers = 0;
  int iterations = 0;
  int tasks = 0;
  double seconds_per_iteration = 0;
  double ideal_seconds_per_iteration = 0;
  double overhead_ms_per_task = 0;
  double overhead_percent = 0;
};

Row RunWorkers(int workers, const std::string& directory) {
  const int blocks = absl::GetFlag(FLAGS_blocks);
  const absl::Duration task = absl::Milliseconds(absl::GetFlag(FLAGS_task_ms));
  std::filesystem::remove_all(directory);
  auto store = *master::JobStore::Open(directory);
  auto artifacts = *common::ArtifactStore::Open(directory + "/artifacts");
  master::WorkerPool pool(absl::Minutes(10));
  master::GrpcTaskRunner runner(absl::Minutes(10));
  Networks networks;
  std::vector<std::unique_ptr<FakeWorker>> fakes;
  std::vector<std::unique_ptr<rpc::RpcServer>> servers;
  for (int w = 0; w < workers; ++w) {
    fakes.push_back(std::make_unique<FakeWorker>(task, networks));
    rpc::ServerOptions options;
    options.address = "127.0.0.1:0";
    servers.push_back(*rpc::RpcServer::Start(options, {fakes.back().get()}));
    pool.Register(absl::StrCat("127.0.0.1:", servers.back()->port()), {"cpu"},
                  absl::StrCat("bench", w));
  }
  master::JobManager manager(*store, pool, runner, *artifacts, nullptr, {});

  v1::JobSpec spec;
  *spec.mutable_network() = common::NetworkDefToProto(BenchNetwork(blocks));
  spec.set_dataset("synthetic:classes=10,shape=3x8x8");
  spec.set_resource_type(v1::RESOURCE_TYPE_FLOPS);
  spec.set_budget_ratio(0.01);  // never reached: every iteration runs
  spec.set_init_resource_reduction_ratio(0.01);
  spec.set_max_iters(absl::GetFlag(FLAGS_iterations));
  spec.set_short_term_fine_tune_iteration(1);
  spec.set_uniform_baseline(false);  // iterations only: what the orchestration costs
  const absl::Time start = absl::Now();
  const v1::Job created = *manager.Create(spec, "");
  v1::Job job;
  do {
    absl::SleepFor(absl::Milliseconds(5));
    job = *store->Get(created.name());
  } while (!master::JobStore::IsTerminal(job.state()));
  if (job.state() != v1::Job::SUCCEEDED) {
    std::cerr << "orchestration_bench: job " << v1::Job::State_Name(job.state()) << ": "
              << job.reason() << "\n";
    std::exit(1);
  }
  (void)start;
  Row row;
  row.workers = workers;
  row.iterations = job.history_size();
  double seconds = 0;
  for (const v1::Iteration& it : job.history()) seconds += it.duration_seconds();
  row.seconds_per_iteration = seconds / row.iterations;
  // Every block must have been fine-tuned, or the comparison with the ideal means nothing.
  for (const v1::Iteration& it : job.history()) {
    for (const v1::Proposal& p : it.proposals()) {
      if (p.state() != v1::Proposal::SUCCEEDED) {
        std::cerr << "orchestration_bench: block " << p.block() << " ended "
                  << v1::Proposal::State_Name(p.state()) << ": " << p.error() << "\n";
        std::exit(1);
      }
    }
  }
  const int rounds = (blocks + workers - 1) / workers;
  row.ideal_seconds_per_iteration = rounds * absl::ToDoubleSeconds(task);
  row.tasks = 3 * blocks;  // simplify, fine-tune, evaluate per block
  const double overhead = row.seconds_per_iteration - row.ideal_seconds_per_iteration;
  // Per task: the chains run in `workers` lanes; each lane's overhead is spread over its tasks.
  row.overhead_ms_per_task = 1e3 * overhead / (3.0 * rounds);
  row.overhead_percent = 100 * overhead / row.seconds_per_iteration;
  for (auto& server : servers) server->Shutdown(absl::Seconds(1));
  return row;
}

struct Transfer {
  double mb = 0;
  double upload_mb_per_second = 0;
  double download_mb_per_second = 0;
};

Transfer RunTransfer(const std::string& directory) {
  Transfer t;
  t.mb = absl::GetFlag(FLAGS_transfer_mb);
  std::filesystem::remove_all(directory);
  auto store = *master::JobStore::Open(directory);
  auto artifacts = *common::ArtifactStore::Open(directory + "/artifacts");
  master::WorkerPool pool(absl::Minutes(1));
  master::GrpcTaskRunner runner(absl::Minutes(1));
  master::JobManager manager(*store, pool, runner, *artifacts, nullptr, {});
  master::JobServiceImpl service(manager, *store, pool, *artifacts);
  rpc::ServerOptions options;
  options.address = "127.0.0.1:0";
  auto server = *rpc::RpcServer::Start(options, {&service});
  auto stub = v1::JobService::NewStub(rpc::MakeChannel(absl::StrCat("127.0.0.1:", server->port())));

  std::string content(static_cast<size_t>(t.mb * (1 << 20)), '\0');
  for (size_t i = 0; i < content.size(); i += 4096) content[i] = static_cast<char>(i >> 12);
  absl::Time start = absl::Now();
  {
    grpc::ClientContext context;
    v1::ArtifactRef ref;
    auto writer = stub->UploadArtifact(&context, &ref);
    (void)rpc::SendArtifactBytes(content, [&](const v1::ArtifactChunk& c) { return writer->Write(c); });
    writer->WritesDone();
    const grpc::Status status = writer->Finish();
    if (!status.ok()) {
      std::cerr << "upload: " << status.error_message() << "\n";
      std::exit(1);
    }
  }
  t.upload_mb_per_second = t.mb / absl::ToDoubleSeconds(absl::Now() - start);
  start = absl::Now();
  {
    grpc::ClientContext context;
    v1::GetArtifactRequest request;
    request.set_digest(common::Sha256Hex(content));
    auto reader = stub->DownloadArtifact(&context, request);
    rpc::BytesReceiver receiver(request.digest());
    v1::ArtifactChunk chunk;
    while (reader->Read(&chunk)) (void)receiver.Add(chunk);
    if (!reader->Finish().ok() || !receiver.Finish().ok()) {
      std::cerr << "download failed\n";
      std::exit(1);
    }
  }
  t.download_mb_per_second = t.mb / absl::ToDoubleSeconds(absl::Now() - start);
  server->Shutdown(absl::Seconds(1));
  return t;
}

}  // namespace
}  // namespace netadapt

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  spdlog::set_level(spdlog::level::warn);
  const std::string directory =
      (std::filesystem::temp_directory_path() / "netadapt_orchestration_bench").string();
  std::vector<netadapt::Row> rows;
  for (absl::string_view text : absl::StrSplit(absl::GetFlag(FLAGS_workers), ',')) {
    int workers = 0;
    if (!absl::SimpleAtoi(text, &workers) || workers <= 0) {
      std::cerr << "--workers: bad count " << text << "\n";
      return 1;
    }
    rows.push_back(netadapt::RunWorkers(workers, directory));
  }
  netadapt::Transfer transfer;
  if (absl::GetFlag(FLAGS_transfer_mb) > 0) transfer = netadapt::RunTransfer(directory + "_transfer");
  std::filesystem::remove_all(directory);
  std::filesystem::remove_all(directory + "_transfer");

  if (absl::GetFlag(FLAGS_json)) {
    nlohmann::json report;
    report["task_ms"] = absl::GetFlag(FLAGS_task_ms);
    report["blocks"] = absl::GetFlag(FLAGS_blocks);
    for (const auto& r : rows) {
      report["rows"].push_back({{"workers", r.workers},
                                {"iterations", r.iterations},
                                {"seconds_per_iteration", r.seconds_per_iteration},
                                {"ideal_seconds_per_iteration", r.ideal_seconds_per_iteration},
                                {"overhead_ms_per_task", r.overhead_ms_per_task},
                                {"overhead_percent", r.overhead_percent}});
    }
    report["transfer"] = {{"mb", transfer.mb},
                          {"upload_mb_per_second", transfer.upload_mb_per_second},
                          {"download_mb_per_second", transfer.download_mb_per_second}};
    std::cout << report.dump(2) << "\n";
    return 0;
  }
  std::printf("%d blocks, fine-tuning tasks of %d ms, %d iterations per run\n",
              absl::GetFlag(FLAGS_blocks), absl::GetFlag(FLAGS_task_ms),
              absl::GetFlag(FLAGS_iterations));
  std::printf("%8s %12s %12s %10s %16s %10s\n", "workers", "s/iteration", "ideal s", "speedup",
              "overhead ms/task", "overhead");
  for (const auto& r : rows) {
    std::printf("%8d %12.3f %12.3f %9.2fx %16.2f %9.2f%%\n", r.workers, r.seconds_per_iteration,
                r.ideal_seconds_per_iteration,
                rows.front().seconds_per_iteration / r.seconds_per_iteration,
                r.overhead_ms_per_task, r.overhead_percent);
  }
  if (transfer.mb > 0) {
    std::printf("artifact of %.0f MB over loopback: upload %.0f MB/s, download %.0f MB/s\n",
                transfer.mb, transfer.upload_mb_per_second, transfer.download_mb_per_second);
  }
  return 0;
}
