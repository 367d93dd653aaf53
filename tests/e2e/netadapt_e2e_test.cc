// The whole system on loopback: the real netadapt-profiler (measuring this CPU),
// netadapt-master and two netadapt-worker processes; a tiny CNN on a synthetic dataset is
// adapted to 0.7 of its latency.
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/network_blocks.h"
#include "common/network_def_json.h"
#include "common/onnx_export.h"
#include "common/rpc/artifact_transfer.h"
#include "common/rpc/channel.h"
#include "common/torch/checkpoint.h"
#include "netadapt/v1/job_service.grpc.pb.h"
#include "netadapt/v1/profiler.grpc.pb.h"
#include "tests/testing/e2e_jobs.h"
#include "tests/testing/server_process.h"
#include "tests/testing/status_matchers.h"

namespace netadapt {
namespace {

using ::testing::HasSubstr;

class NetAdaptE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The agent on the last CPU, the master and the workers on the others, as
    // scripts/local-cluster.sh runs them: live LUT measurements apart from training.
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus >= 2) {
      std::vector<int> rest;
      for (int cpu = 0; cpu + 1 < cpus; ++cpu) rest.push_back(cpu);
      profiler_.set_cpus({static_cast<int>(cpus - 1)});
      master_.set_cpus(rest);
      for (testing::ServerProcess& worker : workers_) worker.set_cpus(rest);
    }
    std::string error;
    std::optional<int> profiler = profiler_.Start(
        NETADAPT_PROFILER_BINARY, {"--threads=1", "--min_runs=5", "--max_time_ms=200"},
        std::chrono::seconds(30), &error);
    ASSERT_TRUE(profiler) << error;
    state_dir_ = absl::StrCat(::testing::TempDir(), "/e2e_master_", getpid());
    std::optional<int> master = master_.Start(
        NETADAPT_MASTER_BINARY,
        {absl::StrCat("--profiler=127.0.0.1:", *profiler), "--state_dir=" + state_dir_,
         "--heartbeat_interval_ms=200"},
        std::chrono::seconds(30), &error);
    ASSERT_TRUE(master) << error;
    master_address_ = absl::StrCat("127.0.0.1:", *master);
    for (int i = 0; i < 2; ++i) {
      std::optional<int> worker = workers_[i].Start(
          NETADAPT_WORKER_BINARY,
          {"--master=" + master_address_, "--device=cpu", "--threads=1",
           absl::StrCat("--cache_dir=", state_dir_, "/worker", i)},
          std::chrono::seconds(30), &error);
      ASSERT_TRUE(worker) << error;
    }
    jobs_ = v1::JobService::NewStub(rpc::MakeChannel(master_address_));
    profiler_stub_ = v1::ProfilerService::NewStub(
        rpc::MakeChannel(absl::StrCat("127.0.0.1:", *profiler)));
    // Both workers registered.
    for (int i = 0; i < 100; ++i) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      v1::ListWorkersResponse workers;
      ASSERT_TRUE(jobs_->ListWorkers(&context, {}, &workers).ok());
      if (workers.workers_size() == 2) return;
      absl::SleepFor(absl::Milliseconds(100));
    }
    FAIL() << "the workers did not register";
  }

  // conv(1->16) - pool - conv(16->32) - pool - linear: two blocks, trains in milliseconds.
  static v1::JobSpec Spec() {
    v1::JobSpec spec;
    spec.set_dataset("synthetic:classes=4,shape=1x16x16,train=512,test=256,seed=3");
    *spec.mutable_network() = testing::TinyNetwork();
    spec.set_holdout_size(128);
    spec.set_resource_type(v1::RESOURCE_TYPE_LATENCY);
    spec.set_budget_ratio(0.7);
    spec.set_init_resource_reduction_ratio(0.1);
    spec.set_resource_reduction_decay(1.0);
    spec.set_max_iters(10);
    spec.set_short_term_fine_tune_iteration(20);
    spec.set_finetune_lr(0.02);
    spec.set_batch_size(32);
    spec.set_channel_step(2);
    spec.set_seed(11);
    return spec;
  }

  v1::Job Create(const v1::JobSpec& spec, const std::string& request_id) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::CreateJobRequest request;
    *request.mutable_spec() = spec;
    request.set_request_id(request_id);
    v1::Job job;
    const grpc::Status status = jobs_->CreateJob(&context, request, &job);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return job;
  }

  // Every message of WatchJob until the stream ends.
  std::vector<v1::Job> Watch(const std::string& name) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(3));
    v1::WatchJobRequest request;
    request.set_name(name);
    auto reader = jobs_->WatchJob(&context, request);
    std::vector<v1::Job> seen;
    v1::Job job;
    while (reader->Read(&job)) seen.push_back(job);
    const grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return seen;
  }

  // The checkpoint behind `digest`, downloaded from the master.
  std::string Download(const std::string& digest) {
    rpc::BytesReceiver download(digest);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::GetArtifactRequest request;
    request.set_digest(digest);
    auto reader = jobs_->DownloadArtifact(&context, request);
    v1::ArtifactChunk chunk;
    while (reader->Read(&chunk)) EXPECT_TRUE(download.Add(chunk).ok());
    EXPECT_TRUE(reader->Finish().ok());
    absl::StatusOr<std::string> bytes = download.Finish();
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    return bytes.ok() ? *bytes : std::string();
  }

  double MeasuredMs(const v1::NetworkDef& network) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::MeasureNetworkRequest request;
    *request.mutable_network() = network;
    request.mutable_options()->set_min_runs(30);
    v1::MeasureNetworkResponse response;
    const grpc::Status status = profiler_stub_->MeasureNetwork(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.latency().median_ms();
  }

  // The state directory (journal, artifacts, worker caches: ~30 MB) goes with a passing
  // test and stays for a failed one's post-mortem. The processes stop first: a master still
  // writing would race the removal.
  void TearDown() override {
    workers_[0].Kill();
    workers_[1].Kill();
    master_.Kill();
    profiler_.Kill();
    if (!HasFailure() && !state_dir_.empty()) std::filesystem::remove_all(state_dir_);
  }

  testing::ServerProcess profiler_, master_, workers_[2];
  std::string state_dir_, master_address_;
  std::unique_ptr<v1::JobService::Stub> jobs_;
  std::unique_ptr<v1::ProfilerService::Stub> profiler_stub_;
};

// The budget is 0.7 of the seed in steps of 0.1, not 0.5 in steps of 0.2: with the certified
// search (issue 15) the table grows as the search needs it, and at 0.5 this 2-conv network was
// at the edge of its reach: a job that measured a neighbour a few % differently found no block
// able to reach the last target, or took another path than the first job (5 runs in 8 on a
// clean clone; 0 in 20 at 0.7 in steps of 0.1).
TEST_F(NetAdaptE2eTest, AdaptsToTheBudgetAndTheSameSpecChoosesTheSame) {
  const v1::Job created = Create(Spec(), "first");
  const std::vector<v1::Job> seen = Watch(created.name());
  ASSERT_FALSE(seen.empty());
  const v1::Job& job = seen.back();
  ASSERT_EQ(job.state(), v1::Job::SUCCEEDED) << job.reason();

  // Several iterations, each below the previous resource, ending within the budget.
  ASSERT_GE(job.history_size(), 2);
  double previous = job.seed().resource();
  for (const v1::Iteration& iteration : job.history()) {
    EXPECT_LT(iteration.result().resource(), previous) << "iteration " << iteration.iteration();
    previous = iteration.result().resource();
  }
  EXPECT_LE(previous, job.budget());
  EXPECT_GT(job.final().accuracy(), 0.25);  // chance is 0.25 with 4 classes
  // The master measured every kept network end to end, and counted its weights and MACs.
  EXPECT_GT(job.seed().measured_latency_ms(), 0);
  EXPECT_GT(job.final().measured_latency_ms(), 0);
  EXPECT_LT(job.final().weights(), job.seed().weights());
  EXPECT_LT(job.final().macs(), job.seed().macs());
  for (const v1::Iteration& iteration : job.history()) {
    EXPECT_GT(iteration.result().measured_latency_ms(), 0);
    EXPECT_GT(iteration.fine_tune_seconds(), 0);
  }

  // The watch stream showed every iteration as it finished.
  std::set<int> history_sizes;
  for (const v1::Job& update : seen) history_sizes.insert(update.history_size());
  for (int i = 0; i <= job.history_size(); ++i) EXPECT_TRUE(history_sizes.count(i)) << i;

  // The final model downloads, loads with the final widths, and measures faster.
  const std::string bytes = Download(job.final().model_digest());
  ASSERT_FALSE(bytes.empty());
  NETADAPT_ASSERT_OK_AND_ASSIGN(engine::Model model, engine::ParseCheckpoint(bytes, "cpu"));
  std::vector<int32_t> widths;
  for (const common::Layer& layer : model.def().layers) {
    if (layer.IsWeighted()) widths.push_back(layer.out_channels);
  }
  EXPECT_THAT(widths, ::testing::ElementsAreArray(job.final().widths()));
  EXPECT_LT(MeasuredMs(common::NetworkDefToProto(model.def())), MeasuredMs(job.spec().network()));

  // The same spec and seed again: the same choices.
  const v1::Job again = Watch(Create(Spec(), "second").name()).back();
  ASSERT_EQ(again.state(), v1::Job::SUCCEEDED) << again.reason();
  ASSERT_EQ(again.history_size(), job.history_size());
  for (int i = 0; i < job.history_size(); ++i) {
    EXPECT_EQ(again.history(i).chosen_block(), job.history(i).chosen_block());
    EXPECT_THAT(again.history(i).result().widths(),
                ::testing::ElementsAreArray(job.history(i).result().widths()));
  }
}

// `command` through sh, stdout and stderr captured; its exit status in *code.
std::string Capture(const std::string& command, int* code) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    *code = -1;
    return out;
  }
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  const int status = pclose(pipe);
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// Issue 17: a job (the uniform baseline on by default) ends with the baseline: the seed
// thinned by one multiplier to the final network's latency and trained as the final
// network's lineage was, the seed trained alike, every accuracy compared on the test split and
// the seed, final network and baseline measured the same number of times. `netadapt get
// --output json` carries it, and so does the report, which Chromium renders.
TEST_F(NetAdaptE2eTest, TheUniformBaselineIsInGetJsonAndTheReport) {
  v1::JobSpec spec = Spec();
  spec.set_budget_ratio(0.6);
  spec.set_init_resource_reduction_ratio(0.15);
  // Two iterations whatever the LUT measures (targets near 0.85 and 0.7 of the seed, always
  // reachable): a LUT measured under load can leave the network just above the budget, and a
  // third target would then be below what the network can reach.
  spec.set_max_iters(2);
  spec.set_long_term_fine_tune_epochs(1);
  const v1::Job created = Create(spec, "baseline");
  const v1::Job job = Watch(created.name()).back();
  ASSERT_EQ(job.state(), v1::Job::SUCCEEDED) << job.reason();
  ASSERT_GE(job.history_size(), 1);
  EXPECT_TRUE(job.spec().uniform_baseline());
  const v1::UniformBaseline& uniform = job.uniform_baseline();
  ASSERT_EQ(uniform.state(), v1::UniformBaseline::SUCCEEDED) << uniform.reason();
  EXPECT_EQ(uniform.fine_tune_steps(), job.history_size() * spec.short_term_fine_tune_iteration());
  EXPECT_EQ(uniform.fine_tune_epochs(), 1);
  // Widths: one multiplier, rounded to the channel step (2), below the seed's.
  ASSERT_EQ(uniform.block_widths_size(), 2);
  const int seed_widths[] = {16, 32};
  for (int b = 0; b < 2; ++b) {
    EXPECT_EQ(uniform.block_widths(b) % 2, 0);
    EXPECT_LE(uniform.block_widths(b), seed_widths[b]);
    EXPECT_EQ(uniform.result().widths(b), uniform.block_widths(b));
  }
  EXPECT_LT(uniform.block_widths(0) + uniform.block_widths(1), 48);
  EXPECT_GT(uniform.result().resource(), 0);
  EXPECT_FALSE(uniform.result().model_digest().empty());
  // Test-split accuracies of all four models.
  EXPECT_GT(job.seed().test_accuracy(), 0);  // untrained: about chance (0.25)
  EXPECT_EQ(job.final().test_accuracy(), job.final().accuracy());
  EXPECT_GT(uniform.result().test_accuracy(), 0.25);
  EXPECT_GT(uniform.seed_fine_tuned().test_accuracy(), 0.25);
  // Fair timings: the same number of end-to-end measurements each.
  for (const v1::ModelResult* result : {&job.seed(), &job.final(), &uniform.result()}) {
    EXPECT_GT(result->measured_latency_ms(), 0);
    EXPECT_EQ(result->measured_latency_runs(), 5);
  }
  // The pruned baseline downloads and loads with its widths.
  NETADAPT_ASSERT_OK_AND_ASSIGN(engine::Model thinned,
                                engine::ParseCheckpoint(Download(uniform.result().model_digest()),
                                                        "cpu"));
  std::vector<int32_t> widths;
  for (const common::Layer& layer : thinned.def().layers) {
    if (layer.IsWeighted()) widths.push_back(layer.out_channels);
  }
  EXPECT_THAT(widths, ::testing::ElementsAreArray(uniform.result().widths()));

  // The CLI: get (text and JSON) and the report.
  const std::string cli =
      absl::StrCat(NETADAPT_CLI_BINARY, " --master=", master_address_, " ");
  int code = 0;
  const std::string text = Capture(cli + "get " + job.name(), &code);
  ASSERT_EQ(code, 0) << text;
  EXPECT_THAT(text, HasSubstr("adapted vs uniform  at equal latency, test split: accuracy"));
  EXPECT_THAT(text, HasSubstr("seed -> final       test split: seed"));
  const std::string json = Capture(cli + "--output json get " + job.name(), &code);
  ASSERT_EQ(code, 0) << json;
  for (const char* field : {"\"uniform_baseline\"", "\"seed_fine_tuned\"", "\"test_accuracy\"",
                            "\"width_multiplier\"", "\"block_widths\"",
                            "\"measured_latency_runs\": 5", "\"state\": \"SUCCEEDED\"",
                            "\"fine_tune_steps\""}) {
    EXPECT_THAT(json, HasSubstr(field));
  }
  const std::string report = state_dir_ + "/report.html";
  const std::string written = Capture(cli + "report " + job.name() + " -o " + report, &code);
  ASSERT_EQ(code, 0) << written;
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string page, common::ReadFile(report));
  EXPECT_THAT(page, HasSubstr("Adapted vs uniform at equal latency, test split: accuracy"));
  EXPECT_THAT(page, HasSubstr("<td>uniform baseline</td>"));
  EXPECT_THAT(page, HasSubstr("uniform (test): "));
  // export --iteration uniform: the same checkpoint, as a user downloads it.
  const std::string exported = state_dir_ + "/uniform.ckpt";
  const std::string export_out =
      Capture(cli + "export " + job.name() + " --iteration uniform -o " + exported, &code);
  ASSERT_EQ(code, 0) << export_out;
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string exported_bytes, common::ReadFile(exported));
  EXPECT_EQ(exported_bytes, Download(uniform.result().model_digest()));
  if (access("/usr/bin/chromium", X_OK) != 0) {
    GTEST_SKIP() << "/usr/bin/chromium not installed: the report was not rendered";
  }
  const std::string dom = Capture(
      absl::StrCat("HOME='", state_dir_, "' timeout 120 /usr/bin/chromium --headless "
                   "--disable-gpu --no-sandbox --no-first-run --user-data-dir='",
                   state_dir_, "/chromium' --dump-dom 'file://", report, "' 2>/dev/null"),
      &code);
  ASSERT_EQ(code, 0) << dom;
  EXPECT_THAT(dom, HasSubstr(">uniform (test): "));
  EXPECT_THAT(dom, HasSubstr("Adapted vs uniform at equal latency, test split: accuracy"));
}

TEST_F(NetAdaptE2eTest, CancelStopsAJobAndBadSpecsAreRefused) {
  v1::JobSpec spec = Spec();
  spec.set_short_term_fine_tune_iteration(100000);  // long enough to be cancelled mid-task
  const v1::Job created = Create(spec, "long");
  for (int i = 0; i < 300; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::GetJobRequest request;
    request.set_name(created.name());
    v1::Job job;
    ASSERT_TRUE(jobs_->GetJob(&context, request, &job).ok());
    const bool fine_tuning = std::any_of(
        job.proposals().begin(), job.proposals().end(),
        [](const v1::Proposal& p) { return p.state() == v1::Proposal::FINE_TUNING && p.step() > 0; });
    if (fine_tuning) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::CancelJobRequest request;
    request.set_name(created.name());
    v1::Job job;
    const grpc::Status status = jobs_->CancelJob(&context, request, &job);
    ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  }
  const absl::Time start = absl::Now();
  const v1::Job cancelled = Watch(created.name()).back();
  EXPECT_EQ(cancelled.state(), v1::Job::CANCELLED);
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));

  v1::JobSpec bad = Spec();
  bad.set_budget_ratio(2);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::CreateJobRequest request;
  *request.mutable_spec() = bad;
  v1::Job job;
  const grpc::Status status = jobs_->CreateJob(&context, request, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("spec.budget_ratio"));
}

// The residual example (examples/residual_cnn.json: three stages, two of them with a
// downsampling shortcut) to half its measured latency: the groups that residual adds tie keep
// one width everywhere, the checkpoints load, and the exported ONNX passes the checker.
TEST_F(NetAdaptE2eTest, AdaptsAResidualNetworkWithTiedChannelGroups) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string json,
                                common::ReadFile(NETADAPT_EXAMPLES_DIR "/residual_cnn.json"));
  NETADAPT_ASSERT_OK_AND_ASSIGN(common::NetworkDef seed, common::NetworkDefFromJson(json));
  v1::JobSpec spec = Spec();
  spec.set_dataset("synthetic:classes=4,shape=1x28x28,train=512,test=256,seed=3");
  *spec.mutable_network() = common::NetworkDefToProto(seed);
  // Budgeted on MACs, which are exact: measured live, this network's small convs cost little
  // more than their fixed overhead on an idle CPU, so how far a latency job gets depends on
  // the machine's load (it failed with no proposal reaching a target on an idle machine and
  // passed under load). The latency path is the tiny network's test above; this one is about
  // the groups.
  spec.set_resource_type(v1::RESOURCE_TYPE_FLOPS);
  spec.set_init_resource_reduction_ratio(0.1);
  spec.set_short_term_fine_tune_iteration(10);
  spec.set_channel_step(4);
  const v1::Job job = Watch(Create(spec, "residual").name()).back();
  ASSERT_EQ(job.state(), v1::Job::SUCCEEDED) << job.reason();
  // 0.1 of the seed a step, to 0.5 of it: several iterations.
  ASSERT_GE(job.history_size(), 2);
  EXPECT_LE(job.final().resource(), job.budget());
  for (const v1::Iteration& it : job.history()) {
    std::cerr << "iteration " << it.iteration() << ": " << it.chosen_layer() << " -> "
              << absl::StrJoin(it.result().widths(), " ") << ", " << it.result().resource()
              << " MACs, accuracy " << it.result().accuracy() << "\n";
  }

  // Proposals name groups by their producers.
  bool named_a_group = false;
  for (const v1::Iteration& iteration : job.history()) {
    for (const v1::Proposal& p : iteration.proposals()) {
      named_a_group |= p.layer() == "layer2.0 (2 layers: layer2.0.conv2, layer2.0.downsample.0)";
    }
  }
  EXPECT_TRUE(named_a_group);

  // Every chosen network: each group's producers share one width, and the checkpoint holds it.
  const std::string final_bytes = Download(job.final().model_digest());
  NETADAPT_ASSERT_OK_AND_ASSIGN(engine::Model final_model,
                                engine::ParseCheckpoint(final_bytes, "cpu"));
  const common::NetworkDef& adapted = final_model.def();
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<common::Block> groups, common::FindBlocks(adapted));
  ASSERT_EQ(groups.size(), 6u);
  int narrowed = 0;
  for (const common::Block& group : groups) {
    for (int producer : group.producers) {
      EXPECT_EQ(adapted.layers[producer].out_channels, group.width)
          << adapted.layers[producer].name;
      narrowed += adapted.layers[producer].out_channels <
                  seed.layers[producer].out_channels;
    }
  }
  EXPECT_GT(narrowed, 0);
  std::vector<int32_t> widths;
  for (const common::Layer& layer : adapted.layers) {
    if (layer.IsWeighted()) widths.push_back(layer.out_channels);
  }
  EXPECT_THAT(widths, ::testing::ElementsAreArray(job.final().widths()));
  EXPECT_LT(MeasuredMs(common::NetworkDefToProto(adapted)), MeasuredMs(job.spec().network()));

  // The ONNX export of the adapted network passes the checker (full_check: strict shapes).
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string onnx,
                                common::CheckpointToOnnx(final_bytes, "final checkpoint"));
  const std::string onnx_file = state_dir_ + "/residual.onnx";
  ASSERT_TRUE(common::WriteFileAtomically(onnx_file, onnx).ok());
  // CI installs python3-onnx (scripts/install-deps.sh); the check is skipped without it.
  if (std::system("/usr/bin/python3 -c 'import onnx' > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3-onnx is not installed: the ONNX checker did not run";
  }
  const std::string check = absl::StrCat(
      "/usr/bin/python3 -c 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), "
      "full_check=True)' ",
      onnx_file);
  EXPECT_EQ(std::system(check.c_str()), 0) << check;
}

// A bad graph through the job API: INVALID_ARGUMENT naming the layer, nothing scheduled, and
// the master goes on serving.
TEST_F(NetAdaptE2eTest, ABadGraphIsRefusedNamingTheLayer) {
  v1::JobSpec bad = Spec();
  v1::Layer* layer = bad.mutable_network()->mutable_layers(3);  // features.3, a conv
  layer->add_inputs("features.9");
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::CreateJobRequest request;
  *request.mutable_spec() = bad;
  v1::Job job;
  const grpc::Status status = jobs_->CreateJob(&context, request, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("layers[3] (features.3, conv2d): inputs[0] 'features.9' is not a layer"));
  grpc::ClientContext list_context;
  list_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ListJobsResponse jobs;
  ASSERT_TRUE(jobs_->ListJobs(&list_context, {}, &jobs).ok());
  EXPECT_EQ(jobs.jobs_size(), 0);
}

}  // namespace
}  // namespace netadapt
