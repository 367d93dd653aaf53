// The CLI's pure parts: tables, live progress and change lines, JSON output, building and
// checking job specs, error texts and exit codes, choosing the model to export.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/job_format.h"
#include "cli/job_spec_builder.h"
#include "cli/progress.h"
#include "common/network_def_json.h"
#include "common/zoo.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::cli {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kCreated = 1714564800;  // 2024-05-01 12:00:00 UTC

v1::Proposal MakeProposal(int block, const std::string& layer, v1::Proposal::State state) {
  v1::Proposal p;
  p.set_block(block);
  p.set_layer(layer);
  p.set_state(state);
  return p;
}

// A job in iteration 3 of 10: two iterations done, three proposals under way.
v1::Job RunningJob() {
  v1::Job job;
  job.set_name("jobs/7");
  job.mutable_spec()->set_model("alexnet");
  job.mutable_spec()->set_dataset("cifar10:/data/cifar");
  job.mutable_spec()->set_max_iters(10);
  job.mutable_spec()->mutable_zoo()->set_width_multiplier(0.5);
  job.set_state(v1::Job::RUNNING);
  job.set_phase(v1::Job::ITERATING);
  job.mutable_create_time()->set_seconds(kCreated);
  job.mutable_update_time()->set_seconds(kCreated + 100);
  job.mutable_seed()->set_resource(20);
  job.mutable_seed()->set_accuracy(0.9);
  job.mutable_seed()->set_model_digest(std::string(64, 'a'));
  job.set_budget(10);
  job.set_current_iteration(3);
  job.set_current_target(16.5);
  for (int i = 1; i <= 2; ++i) {
    v1::Iteration* it = job.add_history();
    it->set_iteration(i);
    it->set_target_resource(20 - 2 * i);
    it->set_chosen_block(i);
    it->set_chosen_layer(absl::StrCat("features.", 3 * i));
    it->mutable_result()->set_resource(19.5 - 2 * i);
    it->mutable_result()->set_accuracy(0.9 - 0.01 * i);
    it->mutable_result()->set_model_digest(std::string(64, static_cast<char>('0' + i)));
    it->mutable_result()->add_widths(64);
    it->mutable_result()->add_widths(192 - 16 * i);
    it->set_duration_seconds(40 + i);
  }
  v1::Proposal tuning = MakeProposal(1, "features.3", v1::Proposal::FINE_TUNING);
  tuning.set_step(250);
  tuning.set_total_steps(500);
  tuning.set_width(48);
  tuning.set_worker("workers/1");
  *job.add_proposals() = tuning;
  v1::Proposal done = MakeProposal(0, "features.0", v1::Proposal::SUCCEEDED);
  done.set_width(56);
  done.set_resource(16.2);
  done.set_accuracy(0.87);
  *job.add_proposals() = done;
  *job.add_proposals() = MakeProposal(2, "features.6", v1::Proposal::TARGET_NOT_MET);
  return job;
}

FormatOptions At(int64_t seconds_after_creation) {
  FormatOptions options;
  options.now = absl::FromUnixSeconds(kCreated + seconds_after_creation);
  return options;
}

TEST(FormatTest, TableAlignsColumnsWithoutTrailingBlanks) {
  EXPECT_EQ(FormatTable({"NAME", "STATE"}, {{"jobs/1", "RUNNING"}, {"jobs/12"}}),
            "NAME     STATE\n"
            "jobs/1   RUNNING\n"
            "jobs/12\n");
}

TEST(FormatTest, ResourcesDurationsPercent) {
  EXPECT_EQ(FormatResource(12.345, v1::RESOURCE_TYPE_LATENCY), "12.35 ms");
  EXPECT_EQ(FormatResource(12.345, v1::RESOURCE_TYPE_UNSPECIFIED), "12.35 ms");
  EXPECT_EQ(FormatResource(1.5e9, v1::RESOURCE_TYPE_FLOPS), "1.50 GMAC");
  EXPECT_EQ(FormatResource(2.5e6, v1::RESOURCE_TYPE_WEIGHTS), "2.50 M weights");
  EXPECT_EQ(FormatPercent(0.9123), "91.23%");
  EXPECT_EQ(HumanDuration(absl::Milliseconds(850)), "850ms");
  EXPECT_EQ(HumanDuration(absl::Seconds(41.25)), "41.2s");
  EXPECT_EQ(HumanDuration(absl::Seconds(723)), "12m03s");
  EXPECT_EQ(HumanDuration(absl::Minutes(184)), "3h04m");
  EXPECT_EQ(HumanDuration(absl::Hours(51)), "2d03h");
  EXPECT_EQ(ModelDescription(RunningJob().spec()), "alexnet (x0.5)");
  EXPECT_EQ(ResourceTypeName(v1::RESOURCE_TYPE_FLOPS), "flops");
}

TEST(FormatTest, JobDetailsShowSummaryHistoryAndProposals) {
  const std::string text = FormatJobDetails(RunningJob(), At(125));
  EXPECT_THAT(text, HasSubstr("name       jobs/7\n"));
  EXPECT_THAT(text, HasSubstr("state      RUNNING, phase ITERATING\n"));
  EXPECT_THAT(text, HasSubstr("model      alexnet (x0.5)\n"));
  EXPECT_THAT(text, HasSubstr("resource   latency, budget 10.00 ms\n"));
  EXPECT_THAT(text, HasSubstr("seed       20.00 ms, accuracy 90.00% held-out\n"));
  EXPECT_THAT(text, HasSubstr("iteration  3/10, target 16.50 ms\n"));
  EXPECT_THAT(text, HasSubstr("created    2024-05-01 12:00:00 (2m05s ago)\n"));
  EXPECT_THAT(text, HasSubstr(
                        "ITER  TARGET    BLOCK  LAYER       RESOURCE  MEASURED  ACCURACY  TIME   "
                        "WIDTHS\n"
                        "1     18.00 ms  1      features.3  17.50 ms  -         89.00%    41.0s  "
                        "64,176\n"));
  // Proposals sorted by block.
  EXPECT_THAT(text, HasSubstr("proposals (iteration 3)\n"
                              "BLOCK  LAYER       STATE           STEPS    WIDTH  RESOURCE  "
                              "ACCURACY  WORKER     ERROR\n"
                              "0      features.0  SUCCEEDED       -        56     16.20 ms  "
                              "87.00%    -          -\n"
                              "1      features.3  FINE_TUNING     250/500  48"));
}

TEST(FormatTest, JobDetailsShowTheReasonOfAFailure) {
  v1::Job job = RunningJob();
  job.set_state(v1::Job::FAILED);
  job.set_reason("no proposal reaches the target 16.5 ms");
  EXPECT_THAT(FormatJobDetails(job, At(0)),
              HasSubstr("reason     no proposal reaches the target 16.5 ms\n"));
}

TEST(FormatTest, SkippedFilesAreNamedInGetAndWatch) {
  const v1::Job running = RunningJob();
  EXPECT_EQ(SkippedFilesText(running), "");
  EXPECT_THAT(FormatJobDetails(running, At(0)), Not(HasSubstr("skipped")));

  v1::Job job = running;
  job.add_skipped_files("train/cat/1.jpg");
  job.set_skipped_images(3);
  EXPECT_EQ(SkippedFilesText(job),
            "1 unreadable file left out (skip_corrupt), 3 reads skipped in all: train/cat/1.jpg");
  EXPECT_THAT(FormatJobDetails(job, At(0)), HasSubstr("skipped    1 unreadable file"));
  EXPECT_THAT(ChangeLines(&running, job),
              ElementsAre(HasSubstr("skipped: 1 unreadable file left out")));
  EXPECT_THAT(ChangeLines(&job, job), ElementsAre());  // said once

  for (int i = 2; i <= 5; ++i) job.add_skipped_files(absl::StrCat("train/dog/", i, ".png"));
  EXPECT_EQ(SkippedFilesText(job),
            "5 unreadable files left out (skip_corrupt), 3 reads skipped in all: train/cat/1.jpg, "
            "train/dog/2.png, train/dog/3.png, ... (`netadapt get JOB --output=json` lists them)");
}

v1::LatencyMeasurements Measurements(int iteration, int64_t lookups, int64_t hits,
                                     int64_t measured, double device_ms) {
  v1::LatencyMeasurements m;
  m.set_iteration(iteration);
  m.set_lookups(lookups);
  m.set_lut_hits(hits);
  m.set_shapes_measured(measured);
  m.set_device_ms(device_ms);
  return m;
}

TEST(FormatTest, DeviceMeasurementsInGetAndWatch) {
  v1::Job job = RunningJob();
  EXPECT_EQ(MeasurementsText(job.measurements()), "");
  EXPECT_THAT(FormatJobDetails(job, At(0)), Not(HasSubstr("NEW SHAPES")));
  *job.mutable_measurements() = Measurements(0, 3033, 3021, 12, 340.4);
  *job.add_iteration_measurements() = Measurements(0, 30, 20, 10, 300);
  *job.add_iteration_measurements() = Measurements(2, 3003, 3001, 2, 40.4);
  EXPECT_EQ(MeasurementsText(job.measurements()),
            "12 shapes measured on the device (340 ms), 3021 of 3033 look-ups from the LUT");
  EXPECT_EQ(IterationMeasurements(job, 1), nullptr);
  ASSERT_NE(IterationMeasurements(job, 2), nullptr);
  EXPECT_EQ(IterationMeasurements(job, 2)->shapes_measured(), 2);
  const std::string details = FormatJobDetails(job, At(0));
  EXPECT_THAT(details, HasSubstr("device     12 shapes measured on the device (340 ms)"));
  EXPECT_THAT(details, HasSubstr("NEW SHAPES"));
  // Iteration 1 has no counts (a dash), iteration 2 measured 2 shapes.
  EXPECT_THAT(details, HasSubstr("17.50 ms  -         -           89.00%"));
  EXPECT_THAT(details, HasSubstr("15.50 ms  -         2           88.00%"));

  v1::Job before = job;
  before.mutable_history()->RemoveLast();
  EXPECT_THAT(ChangeLines(&before, job),
              ElementsAre(HasSubstr("; device: 2 shapes measured on the device (40 ms), 3001 of "
                                    "3003 look-ups from the LUT")));
}

TEST(FormatTest, MeasuredLatencyShowsItsSpreadAndTheHistoryItsCalibration) {
  v1::ModelResult result;
  EXPECT_EQ(MeasuredLatencyText(result), "");
  result.set_measured_latency_ms(1.94);
  result.set_measured_latency_slowest_ms(2.0);
  EXPECT_EQ(MeasuredLatencyText(result), "1.94 ms");
  result.set_measured_latency_slowest_ms(2.4);
  EXPECT_EQ(MeasuredLatencyText(result), "1.94 ms (up to 2.40)");
  result.set_measured_latency_unstable(true);
  result.set_measured_latency_slowest_ms(3.88);
  EXPECT_EQ(MeasuredLatencyText(result), "1.94 ms (noisy: up to 3.88)");

  v1::Job job = RunningJob();
  job.mutable_spec()->set_resource_type(v1::RESOURCE_TYPE_LATENCY);
  EXPECT_THAT(FormatJobDetails(job, At(0)), Not(HasSubstr("CALIBRATED")));
  EXPECT_EQ(CalibratedLatency(job, job.history(0).result()), 0);
  job.set_lut_overhead_ms(0.5);
  EXPECT_DOUBLE_EQ(CalibratedLatency(job, job.history(0).result()), 17.5 + 0.5);
  *job.mutable_history(0)->mutable_result() = [&] {
    v1::ModelResult r = job.history(0).result();
    r.set_measured_latency_ms(18.1);
    r.set_measured_latency_slowest_ms(30);
    r.set_measured_latency_unstable(true);
    return r;
  }();
  const std::string details = FormatJobDetails(job, At(0));
  EXPECT_THAT(details, HasSubstr("calibrated = LUT + the seed's +0.50 ms"));
  EXPECT_THAT(details, HasSubstr("CALIBRATED"));
  EXPECT_THAT(details, HasSubstr("18.00 ms    18.10 ms (noisy: up to 30.00)"));
}

TEST(FormatTest, JobAndWorkerLists) {
  v1::Job other;
  other.set_name("jobs/8");
  other.set_state(v1::Job::PENDING);
  other.mutable_spec()->set_model("helloworld");
  const std::string jobs = FormatJobList({RunningJob(), other}, At(3600));
  EXPECT_THAT(jobs, HasSubstr("NAME    STATE    PHASE      ITER  MODEL"));
  EXPECT_THAT(jobs, HasSubstr("jobs/7  RUNNING  ITERATING  3/10  alexnet (x0.5)  "
                              "cifar10:/data/cifar  15.50 ms  88.00%    1h00m ago"));
  EXPECT_THAT(jobs, HasSubstr("jobs/8  PENDING  -          0/30  helloworld"));
  EXPECT_EQ(FormatJobList({}, At(0)), "no jobs\n");

  v1::Worker worker;
  worker.set_name("workers/1");
  worker.set_address("10.0.0.2:50052");
  worker.add_devices("cuda:0");
  worker.add_devices("cuda:1");
  worker.set_state(v1::Worker::ALIVE);
  worker.mutable_last_heartbeat()->set_seconds(kCreated + 58);
  worker.add_tasks("jobs/7 iteration 3 block 1 fine-tune");
  EXPECT_EQ(FormatWorkerList({worker}, At(60)),
            "NAME       ADDRESS         STATE  DEVICES        HEARTBEAT  TASKS\n"
            "workers/1  10.0.0.2:50052  ALIVE  cuda:0,cuda:1  2.0s ago   "
            "jobs/7 iteration 3 block 1 fine-tune\n");
  EXPECT_EQ(FormatWorkerList({}, At(0)), "no workers\n");
}

TEST(FormatTest, JsonUsesProtoFieldNamesAndRoundTrips) {
  const v1::Job job = RunningJob();
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string pretty, ToJson(job));
  EXPECT_THAT(pretty, HasSubstr("\"current_iteration\": 3"));
  EXPECT_THAT(pretty, HasSubstr("\"state\": \"RUNNING\""));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string compact, ToJson(job, /*pretty=*/false));
  EXPECT_EQ(std::count(compact.begin(), compact.end(), '\n'), 1);
  v1::Job parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(compact, &parsed).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, job));
}

TEST(ProgressTest, BarsAndRedraw) {
  EXPECT_EQ(ProgressBar(250, 500, 22), "[##########----------]");
  EXPECT_EQ(ProgressBar(0, 0, 7), "[-----]");
  EXPECT_EQ(ProgressBar(900, 500, 7), "[#####]");
  EXPECT_EQ(RedrawPrefix(0), "");
  EXPECT_EQ(RedrawPrefix(5), "\x1b[5F\x1b[J");
  EXPECT_EQ(LineCount("a\nb\n"), 2);
}

TEST(ProgressTest, LiveViewShowsIterationProposalsAndTrend) {
  ProgressOptions options;
  options.width = 120;
  options.now = absl::FromUnixSeconds(kCreated + 90);
  const std::string frame = RenderProgress(RunningJob(), options);
  EXPECT_THAT(frame, HasSubstr("jobs/7  alexnet (x0.5) on cifar10:/data/cifar  RUNNING / "
                               "ITERATING  elapsed 1m30s\n"));
  EXPECT_THAT(frame, HasSubstr("iteration 3/10  target 16.50 ms  budget 10.00 ms\n"));
  // 20 -> 15.5 of the way to 10: 45%.
  EXPECT_THAT(frame, HasSubstr("resource  [#########-----------] 20.00 ms -> 15.50 ms"));
  EXPECT_THAT(frame, HasSubstr("accuracy  seed 90.00% -> 88.00% (held-out)\n"));
  EXPECT_THAT(frame, HasSubstr("time/iteration  last 42.0s  mean 41.5s\n"));
  EXPECT_THAT(frame, HasSubstr("  block 0 (features.0)  SUCCEEDED       width 56  16.20 ms  "
                               "acc 87.00%\n"));
  EXPECT_THAT(frame, HasSubstr("  block 1 (features.3)  FINE_TUNING    "
                               " [##########----------] 250/500  width 48  on workers/1\n"));
  EXPECT_THAT(frame, HasSubstr("  block 2 (features.6)  TARGET_NOT_MET\n"));
  EXPECT_THAT(frame, HasSubstr("    2  block 2 (features.6)  15.50 ms  acc 88.00%  42.0s\n"));
  // Nothing wraps on a narrow terminal.
  options.width = 40;
  for (absl::string_view line : absl::StrSplit(RenderProgress(RunningJob(), options), '\n')) {
    EXPECT_LE(line.size(), 39u) << line;
  }
}

TEST(ProgressTest, ChangeLinesReportWhatChanged) {
  const v1::Job first = RunningJob();
  EXPECT_THAT(ChangeLines(nullptr, first),
              ElementsAre("jobs/7: RUNNING, phase ITERATING, iteration 3/10, resource 15.50 ms, "
                          "accuracy 88.00%",
                          "iteration 3 block 0 (features.0): SUCCEEDED, width 56, resource "
                          "16.20 ms, accuracy 87.00%",
                          "iteration 3 block 1 (features.3): FINE_TUNING on workers/1",
                          "iteration 3 block 2 (features.6): TARGET_NOT_MET"));
  EXPECT_THAT(ChangeLines(&first, first), ElementsAre());

  // Fine-tuning progress is reported per quarter, not per step.
  v1::Job step = first;
  step.mutable_proposals(0)->set_step(260);
  EXPECT_THAT(ChangeLines(&first, step), ElementsAre());
  step.mutable_proposals(0)->set_step(380);
  EXPECT_THAT(ChangeLines(&first, step),
              ElementsAre("iteration 3 block 1 (features.3): fine-tuning 380/500"));

  // The iteration ends: its result, then the next iteration and its proposals.
  v1::Job next = first;
  v1::Iteration* it = next.add_history();
  it->set_iteration(3);
  it->set_chosen_block(0);
  it->set_chosen_layer("features.0");
  it->mutable_result()->set_resource(16.2);
  it->mutable_result()->set_accuracy(0.87);
  it->set_duration_seconds(39);
  next.set_current_iteration(4);
  next.set_current_target(14);
  next.clear_proposals();
  *next.add_proposals() = MakeProposal(0, "features.0", v1::Proposal::PENDING);
  EXPECT_THAT(ChangeLines(&first, next),
              ElementsAre("iteration 3/10 done: block 0 (features.0), resource 16.20 ms, "
                          "accuracy 87.00%, took 39.0s",
                          "iteration 4/10 started: target 14.00 ms",
                          "iteration 4 block 0 (features.0): PENDING"));

  v1::Job failed = next;
  failed.set_state(v1::Job::FAILED);
  failed.set_reason("block 0: worker lost 3 times");
  EXPECT_THAT(ChangeLines(&next, failed),
              ElementsAre("jobs/7: state RUNNING -> FAILED",
                          "jobs/7: FAILED: block 0: worker lost 3 times"));
}

// A finished job with its uniform baseline: get, watch's live view and its summary compare
// on the test split only, and say so.
v1::Job FinishedJob() {
  v1::Job job = RunningJob();
  job.set_state(v1::Job::SUCCEEDED);
  job.set_phase(v1::Job::DONE);
  job.clear_proposals();
  job.mutable_seed()->set_test_accuracy(0.8908);
  job.mutable_seed()->set_measured_latency_ms(22);
  v1::ModelResult* final_model = job.mutable_final();
  *final_model = job.history(1).result();
  final_model->set_accuracy(0.8889);
  final_model->set_test_accuracy(0.8889);
  final_model->set_measured_latency_ms(16.5);
  v1::UniformBaseline* uniform = job.mutable_uniform_baseline();
  uniform->set_state(v1::UniformBaseline::SUCCEEDED);
  uniform->set_width_multiplier(0.78);
  uniform->set_fine_tune_steps(1000);
  uniform->set_fine_tune_epochs(1);
  uniform->mutable_result()->set_resource(15.25);
  uniform->mutable_result()->set_measured_latency_ms(16.25);
  uniform->mutable_result()->set_accuracy(0.8915);
  uniform->mutable_result()->set_test_accuracy(0.8915);
  for (int w : {48, 152}) uniform->mutable_result()->add_widths(w);
  uniform->mutable_seed_fine_tuned()->set_test_accuracy(0.8931);
  return job;
}

TEST(FormatTest, FinishedJobComparesOnTheTestSplit) {
  const v1::Job job = FinishedJob();
  const std::string text = FormatJobDetails(job, At(500));
  EXPECT_THAT(text, HasSubstr("final               15.50 ms (measured 16.50 ms), accuracy 88.89% "
                              "test\n"));
  EXPECT_THAT(text, HasSubstr("seed                20.00 ms (measured 22.00 ms), accuracy 90.00% "
                              "held-out, 89.08% test\n"));
  EXPECT_THAT(text, HasSubstr("uniform             x0.78, widths 48,152: 15.25 ms (measured "
                              "16.25 ms), accuracy 89.15% test (1000 steps + 1 epoch)\n"));
  EXPECT_THAT(text, HasSubstr("seed trained alike  accuracy 89.31% test (1000 steps + 1 epoch "
                              "more)\n"));
  EXPECT_THAT(text, HasSubstr("seed -> final       test split: seed 89.08% -> final 88.89% "
                              "(-0.19 points)\n"));
  EXPECT_THAT(text, HasSubstr("adapted vs uniform  at equal latency, test split: accuracy 88.89% "
                              "vs 89.15% (-0.26 points); LUT 15.50 ms vs 15.25 ms, measured "
                              "16.50 ms vs 16.25 ms\n"));

  ProgressOptions options;
  options.width = 200;
  const std::string frame = RenderProgress(job, options);
  EXPECT_THAT(frame, HasSubstr("test split  seed 89.08% -> final 88.89% (-0.19 points)\n"));
  EXPECT_THAT(frame, HasSubstr("adapted vs uniform at equal latency, test split: accuracy 88.89% "
                               "vs 89.15%"));
  v1::Job running = job;
  running.set_state(v1::Job::RUNNING);
  EXPECT_THAT(ChangeLines(&running, job),
              ::testing::IsSupersetOf(
                  {"jobs/7: SUCCEEDED, resource 15.50 ms, accuracy 88.89% test",
                   "jobs/7: test split: seed 89.08% -> final 88.89% (-0.19 points)",
                   "jobs/7: adapted vs uniform at equal latency, test split: accuracy 88.89% vs "
                   "89.15% (-0.26 points); LUT 15.50 ms vs 15.25 ms, measured 16.50 ms vs "
                   "16.25 ms"}));

  // A uniform thinning far from the final network's resource (a coarse channel step) is
  // flagged.
  v1::Job coarse = job;
  coarse.mutable_spec()->set_channel_step(8);
  coarse.mutable_uniform_baseline()->mutable_result()->set_resource(12.4);
  EXPECT_THAT(AdaptedVsUniformText(coarse),
              HasSubstr("; NOT equal: the nearest uniform thinning on the channel step's grid "
                        "(8) is -20% of the adapted network's"));
  EXPECT_THAT(AdaptedVsUniformText(job), Not(HasSubstr("NOT equal")));

  // Matched on MACs in a FLOPS job, and said so.
  v1::Job flops = job;
  flops.mutable_spec()->set_resource_type(v1::RESOURCE_TYPE_FLOPS);
  EXPECT_THAT(FormatJobDetails(flops, At(500)),
              HasSubstr("adapted vs uniform  at equal MACs, test split: accuracy 88.89% vs "
                        "89.15% (-0.26 points); 16 MAC vs 15 MAC, measured 16.50 ms vs "
                        "16.25 ms\n"));

  // A seed without a test accuracy (an older master): no comparison across splits.
  v1::Job old = job;
  old.mutable_seed()->clear_test_accuracy();
  EXPECT_THAT(FormatJobDetails(old, At(500)), Not(HasSubstr("seed -> final")));
  EXPECT_EQ(SeedVsFinalText(old), "");
  // A baseline that failed or was skipped says so.
  old.mutable_uniform_baseline()->set_state(v1::UniformBaseline::FAILED);
  old.mutable_uniform_baseline()->set_reason("worker lost");
  EXPECT_EQ(AdaptedVsUniformText(old), "");
  EXPECT_THAT(FormatJobDetails(old, At(500)), HasSubstr("FAILED: worker lost"));
  old.mutable_uniform_baseline()->set_state(v1::UniformBaseline::SKIPPED);
  old.mutable_uniform_baseline()->set_reason("no iteration ran");
  EXPECT_THAT(FormatJobDetails(old, At(500)), HasSubstr("uniform             skipped: no "
                                                        "iteration ran"));
}

TEST(SpecBuilderTest, FlagsSetTheSpec) {
  SpecFlags flags;
  flags.model = "alexnet";
  flags.dataset = "synthetic:classes=10,shape=3x32x32";
  flags.budget_ratio = 0.4;
  flags.reduction_ratio = 0.05;
  flags.decay = 0.98;
  flags.max_iters = 12;
  flags.short_term_steps = 100;
  flags.resource_type = "flops";
  flags.search = "binary";
  flags.lut_mode = "interpolate";
  flags.seed = 7;
  flags.width_multiplier = 0.5;
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::JobSpec spec, BuildJobSpec(flags, "", "", JobKind::kAdapt));
  EXPECT_EQ(spec.model(), "alexnet");
  EXPECT_EQ(spec.budget_ratio(), 0.4);
  EXPECT_EQ(spec.init_resource_reduction_ratio(), 0.05);
  EXPECT_EQ(spec.resource_reduction_decay(), 0.98);
  EXPECT_EQ(spec.max_iters(), 12);
  EXPECT_EQ(spec.short_term_fine_tune_iteration(), 100);
  EXPECT_EQ(spec.resource_type(), v1::RESOURCE_TYPE_FLOPS);
  EXPECT_EQ(spec.search(), v1::SEARCH_STRATEGY_BINARY);
  EXPECT_EQ(spec.lut_mode(), v1::LUT_MODE_INTERPOLATE);
  EXPECT_EQ(spec.seed(), 7u);
  EXPECT_EQ(spec.zoo().width_multiplier(), 0.5);
  // Unset: the master's defaults (the uniform baseline on, the budget on the LUT).
  EXPECT_FALSE(spec.has_uniform_baseline());
  EXPECT_EQ(spec.budget_metric(), v1::BUDGET_METRIC_UNSPECIFIED);
}

TEST(SpecBuilderTest, UniformBaselineAndBudgetMetricFlags) {
  SpecFlags flags;
  flags.model = "alexnet";
  flags.dataset = "synthetic:classes=10,shape=3x32x32";
  flags.uniform_baseline = false;
  flags.budget_metric = "measured";
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::JobSpec spec, BuildJobSpec(flags, "", "", JobKind::kAdapt));
  EXPECT_TRUE(spec.has_uniform_baseline());
  EXPECT_FALSE(spec.uniform_baseline());
  EXPECT_EQ(spec.budget_metric(), v1::BUDGET_METRIC_MEASURED);
  // From a spec file too, by the proto's JSON names.
  flags = SpecFlags();
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      spec, BuildJobSpec(flags,
                         R"({"model": "alexnet", "dataset": "synthetic:classes=10,shape=3x32x32",
                             "uniform_baseline": false, "budget_metric": "BUDGET_METRIC_LUT"})",
                         "", JobKind::kAdapt));
  EXPECT_FALSE(spec.uniform_baseline());
  EXPECT_EQ(spec.budget_metric(), v1::BUDGET_METRIC_LUT);
  flags.model = "alexnet";
  flags.dataset = "synthetic:classes=10,shape=3x32x32";
  flags.budget_metric = "wall-clock";
  EXPECT_THAT(BuildJobSpec(flags, "", "", JobKind::kAdapt).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--budget-metric")));
}

// A flag wins over the spec file's grouped form as over its flat form: it clears the twin.
TEST(SpecBuilderTest, FlagsOverrideTheGroupedForm) {
  SpecFlags flags;
  flags.finetune_lr = 0.05;
  flags.channel_step = 4;
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      v1::JobSpec spec,
      BuildJobSpec(flags,
                   R"({"model": "alexnet", "dataset": "synthetic:classes=10,shape=3x32x32",
                       "fine_tuning": {"learning_rate": 0.002, "short_term_steps": 300},
                       "search_options": {"channel_step": 16}})",
                   "", JobKind::kAdapt));
  EXPECT_EQ(spec.finetune_lr(), 0.05);
  EXPECT_EQ(spec.fine_tuning().learning_rate(), 0);
  EXPECT_EQ(spec.fine_tuning().short_term_steps(), 300);  // no flag: the file's stays
  EXPECT_EQ(spec.channel_step(), 4);
  EXPECT_FALSE(spec.has_search_options());  // emptied by the flag
}

TEST(SpecBuilderTest, CertifyToleranceFlag) {
  SpecFlags flags;
  flags.model = "alexnet";
  flags.dataset = "synthetic:classes=10,shape=3x32x32";
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::JobSpec spec, BuildJobSpec(flags, "", "", JobKind::kAdapt));
  EXPECT_FALSE(spec.has_certify_tolerance());  // the master's default
  flags.certify_tolerance = 0;
  NETADAPT_ASSERT_OK_AND_ASSIGN(spec, BuildJobSpec(flags, "", "", JobKind::kAdapt));
  EXPECT_TRUE(spec.has_certify_tolerance());
  EXPECT_EQ(spec.certify_tolerance(), 0);
  flags.certify_tolerance = -0.1;
  EXPECT_THAT(BuildJobSpec(flags, "", "", JobKind::kAdapt).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--certify-tolerance")));
}

TEST(SpecBuilderTest, FlagsOverrideTheSpecFile) {
  SpecFlags flags;
  flags.max_iters = 7;
  flags.budget = 3.5;  // replaces the file's budget_ratio
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      v1::JobSpec spec,
      BuildJobSpec(flags,
                   R"({"model": "helloworld", "dataset": "synthetic:", "budget_ratio": 0.3,
                       "maxIters": 5, "seed": "9"})",
                   "", JobKind::kAdapt));
  EXPECT_EQ(spec.model(), "helloworld");
  EXPECT_EQ(spec.max_iters(), 7);
  EXPECT_EQ(spec.budget(), 3.5);
  EXPECT_EQ(spec.budget_ratio(), 0);
  EXPECT_EQ(spec.seed(), 9u);

  EXPECT_THAT(BuildJobSpec({}, R"({"model": "helloworld", "dataset": "synthetic:", "budgt": 1})",
                           "", JobKind::kAdapt),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--spec")));
  EXPECT_THAT(BuildJobSpec({}, R"({"model": "helloworld", "dataset": "synthetic:",
                                   "budget_ratio": 2})",
                           "", JobKind::kAdapt),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.budget_ratio")));
}

TEST(SpecBuilderTest, NetworkFileReplacesTheModel) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(common::NetworkDef network, common::ZooNetwork("helloworld"));
  SpecFlags flags;
  flags.dataset = "synthetic:";
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      v1::JobSpec spec,
      BuildJobSpec(flags, R"({"model": "alexnet"})", common::NetworkDefToJson(network),
                   JobKind::kAdapt));
  EXPECT_TRUE(spec.model().empty());
  EXPECT_EQ(spec.network().layers_size(), static_cast<int>(network.layers.size()));
  EXPECT_THAT(BuildJobSpec(flags, "", R"({"layers": [{"op": "conv9d"}]})", JobKind::kAdapt),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--network")));
}

TEST(SpecBuilderTest, BadValuesNameTheFlag) {
  SpecFlags base;
  base.model = "alexnet";
  base.dataset = "synthetic:";
  auto with = [&](auto setter) {
    SpecFlags flags = base;
    setter(flags);
    return BuildJobSpec(flags, "", "", JobKind::kAdapt).status();
  };
  EXPECT_THAT(with([](SpecFlags& f) { f.budget_ratio = 1.5; }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "--budget-ratio must be in (0, 1), got 1.5"));
  EXPECT_THAT(with([](SpecFlags& f) { f.reduction_ratio = 0; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--reduction-ratio")));
  EXPECT_THAT(with([](SpecFlags& f) { f.short_term_steps = -1; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--short-term-steps")));
  EXPECT_THAT(with([](SpecFlags& f) { f.max_iters = 0; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--max-iters")));
  EXPECT_THAT(with([](SpecFlags& f) { f.decay = 1.2; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--decay")));
  EXPECT_THAT(with([](SpecFlags& f) { f.search = "greedy"; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--search")));
  EXPECT_THAT(with([](SpecFlags& f) { f.resource_type = "energy"; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--resource-type")));
  EXPECT_THAT(with([](SpecFlags& f) {
                f.budget = 1;
                f.budget_ratio = 0.5;
              }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not both")));
  EXPECT_THAT(with([](SpecFlags& f) { f.model = "resnet"; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown model 'resnet'")));
  EXPECT_THAT(with([](SpecFlags& f) { f.dataset.reset(); }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--dataset")));
  EXPECT_THAT(with([](SpecFlags& f) { f.dataset = "imagenet:/x"; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--dataset")));
  EXPECT_THAT(with([](SpecFlags& f) { f.weights_digest = "abc"; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--weights-digest")));
  EXPECT_THAT(with([](SpecFlags&) {}), IsOk());
}

TEST(SpecBuilderTest, PretrainPreparesTheSeedOnly) {
  SpecFlags flags;
  flags.model = "helloworld";
  flags.dataset = "synthetic:";
  EXPECT_THAT(BuildJobSpec(flags, "", "", JobKind::kPretrain),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--epochs")));
  flags.pretrain_epochs = 3;
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::JobSpec spec,
                                BuildJobSpec(flags, "", "", JobKind::kPretrain));
  EXPECT_EQ(spec.pretrain_epochs(), 3);
  EXPECT_EQ(spec.max_iters(), 0);
  // An adaptation that pre-trains first spells out the iteration count, so the master
  // cannot take it for a pretrain-only job.
  NETADAPT_ASSERT_OK_AND_ASSIGN(spec, BuildJobSpec(flags, "", "", JobKind::kAdapt));
  EXPECT_EQ(spec.max_iters(), kDefaultMaxIters);
}

TEST(SpecBuilderTest, NamesWeightsAndRequestIds) {
  EXPECT_EQ(DetectWeightsFormat(std::string("NACKPT\0\1rest", 12)),
            v1::WEIGHTS_FORMAT_CHECKPOINT);
  EXPECT_EQ(DetectWeightsFormat("PK\x03\x04"), v1::WEIGHTS_FORMAT_STATE_DICT);
  EXPECT_THAT(ParseJobName("7"), ::testing::Eq(absl::StatusOr<std::string>("jobs/7")));
  EXPECT_THAT(ParseJobName("jobs/12"), ::testing::Eq(absl::StatusOr<std::string>("jobs/12")));
  EXPECT_THAT(ParseJobName(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseJobName("workers/1"), StatusIs(absl::StatusCode::kInvalidArgument));
  const std::string id = NewRequestId();
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(id, NewRequestId());
}

TEST(ErrorsTest, ReadableMessagesAndExitCodes) {
  EXPECT_EQ(FormatError(absl::NotFoundError("jobs/7 not found"), "m:1"),
            "error: jobs/7 not found (NOT_FOUND)");
  EXPECT_THAT(FormatError(absl::UnavailableError("connection refused"), "m:1"),
              AllOf(HasSubstr("error: cannot reach the master at m:1: connection refused "
                              "(UNAVAILABLE)"),
                    HasSubstr("--master")));
  EXPECT_EQ(ExitCodeForStatus(absl::InvalidArgumentError("")), kExitUsage);
  EXPECT_EQ(ExitCodeForStatus(absl::NotFoundError("")), kExitUsage);
  EXPECT_EQ(ExitCodeForStatus(absl::UnavailableError("")), kExitUnreachable);
  EXPECT_EQ(ExitCodeForStatus(absl::DeadlineExceededError("")), kExitUnreachable);
  EXPECT_EQ(ExitCodeForStatus(absl::InternalError("")), kExitServerError);
  EXPECT_EQ(ExitCodeForStatus(absl::OkStatus()), kExitServerError);
}

TEST(ExportTest, SelectsTheModel) {
  v1::Job job = RunningJob();
  EXPECT_EQ(SelectModel(job, "seed")->digest, std::string(64, 'a'));
  EXPECT_EQ(SelectModel(job, "2")->digest, std::string(64, '2'));
  EXPECT_THAT(SelectModel(job, "5"), StatusIs(absl::StatusCode::kFailedPrecondition,
                                              HasSubstr("no model for iteration 5")));
  EXPECT_THAT(SelectModel(job, "final"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(SelectModel(job, "latest"), StatusIs(absl::StatusCode::kInvalidArgument,
                                                   HasSubstr("--iteration")));
  // No final model and nothing within the budget (10 ms) yet.
  EXPECT_THAT(SelectModel(job, "best"), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                 HasSubstr("within its budget")));
  job.set_budget(18);  // both iterations fit: the more accurate one (iteration 1) wins
  EXPECT_EQ(SelectModel(job, "best")->description, "iteration 1");
  job.mutable_final()->set_model_digest(std::string(64, 'f'));
  EXPECT_EQ(SelectModel(job, "best")->digest, std::string(64, 'f'));
  EXPECT_EQ(SelectModel(job, "final")->digest, std::string(64, 'f'));

  // The uniform baseline: named when it has a model, else why not.
  EXPECT_THAT(SelectModel(job, "uniform"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("submitted with --no-uniform-baseline")));
  job.mutable_uniform_baseline()->set_state(v1::UniformBaseline::FAILED);
  job.mutable_uniform_baseline()->set_reason("fine-tuning failed");
  EXPECT_THAT(SelectModel(job, "uniform"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("baseline FAILED: fine-tuning failed")));
  job.mutable_uniform_baseline()->set_state(v1::UniformBaseline::SUCCEEDED);
  job.mutable_uniform_baseline()->mutable_result()->set_model_digest(std::string(64, 'u'));
  EXPECT_EQ(SelectModel(job, "uniform")->digest, std::string(64, 'u'));
  EXPECT_EQ(SelectModel(job, "uniform")->description, "the uniform baseline");
}

}  // namespace
}  // namespace netadapt::cli
