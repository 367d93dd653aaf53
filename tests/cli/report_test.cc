// `netadapt report` and `netadapt health`:
//   - the renderer (cli/report.h) as pure functions: the job's numbers are in the page, the
//     page and its SVG plots are well-formed XML (a small checker here, and python3's
//     xml.etree when /usr/bin/python3 exists);
//   - ReportChromiumTest: the page rendered by headless Chromium (skipped when
//     /usr/bin/chromium is missing; scripts/install-deps.sh installs it);
//   - the commands through RunApp against a fake JobService on 127.0.0.1:0.
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <grpcpp/server_context.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "cli/app.h"
#include "cli/commands.h"
#include "cli/job_format.h"
#include "cli/report.h"
#include "common/rpc/server.h"
#include "netadapt/v1/job_service.grpc.pb.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::netadapt::testing::StatusIs;

constexpr char kPython[] = "/usr/bin/python3";
constexpr char kChromium[] = "/usr/bin/chromium";

bool Exists(const char* path) { return access(path, X_OK) == 0; }

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteAll(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

// A fresh directory for this test.
std::string TestDir() {
  const std::string dir =
      absl::StrCat(::testing::TempDir(), "/report_test_", getpid(), "_",
                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  EXPECT_EQ(std::system(absl::StrCat("rm -rf '", dir, "' && mkdir -p '", dir, "'").c_str()), 0);
  return dir;
}

// Runs `command` with sh, stdout captured; its exit status in *exit_code.
std::string Capture(const std::string& command, int* exit_code) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    *exit_code = -1;
    return out;
  }
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  const int status = pclose(pipe);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

v1::Layer WeightedLayer(const std::string& name, const std::string& op, int in, int out) {
  v1::Layer layer;
  layer.set_name(name);
  layer.set_op(op);
  layer.set_in_channels(in);
  layer.set_out_channels(out);
  return layer;
}

// A LATENCY job that adapted a 4-layer network in three iterations; iteration 2 has no
// measured latency. Numbers are distinct so each can be found in the page.
v1::Job SampleJob() {
  v1::Job job;
  job.set_name("jobs/7");
  job.mutable_spec()->set_model("helloworld");
  job.mutable_spec()->set_dataset("fashion-mnist:/usr/share/datasets/fashion-mnist");
  job.mutable_spec()->set_display_name("demo <half> & more");
  job.mutable_spec()->set_resource_type(v1::RESOURCE_TYPE_LATENCY);
  job.mutable_spec()->set_max_iters(30);
  v1::NetworkDef* network = job.mutable_spec()->mutable_network();
  network->set_name("helloworld");
  *network->add_layers() = WeightedLayer("features.0", "conv2d", 1, 16);
  network->add_layers()->set_op("relu");
  *network->add_layers() = WeightedLayer("features.2", "conv2d", 16, 32);
  *network->add_layers() = WeightedLayer("features.4", "conv2d", 32, 64);
  *network->add_layers() = WeightedLayer("classifier", "linear", 64, 10);
  job.set_state(v1::Job::SUCCEEDED);
  job.set_phase(v1::Job::DONE);
  job.set_budget(10.0);

  v1::ModelResult* seed = job.mutable_seed();
  seed->set_model_digest("aa");
  seed->set_resource(20.0);
  seed->set_measured_latency_ms(21.5);
  seed->set_accuracy(0.9123);
  for (int w : {16, 32, 64, 10}) seed->add_widths(w);
  seed->set_weights(123456);
  seed->set_macs(7654321);

  const double lut[] = {17.25, 13.5, 9.75};
  const double measured[] = {18.0, 0, 10.5};
  const double accuracy[] = {0.9047, 0.8861, 0.8712};
  const std::vector<std::vector<int>> widths = {{8, 32, 64, 10}, {8, 24, 64, 10}, {8, 24, 40, 10}};
  for (int i = 0; i < 3; ++i) {
    v1::Iteration* it = job.add_history();
    it->set_iteration(i + 1);
    it->set_chosen_block(i);
    it->set_chosen_layer(i == 0 ? "features.0" : i == 1 ? "features.2" : "features.4");
    it->set_target_resource(lut[i] + 0.5);
    it->set_simplify_seconds(1.5 + i);
    it->set_fine_tune_seconds(30.25 + i);
    it->set_evaluate_seconds(4.5);
    it->set_duration_seconds(40 + i);
    v1::ModelResult* r = it->mutable_result();
    r->set_model_digest(absl::StrCat("d", i));
    r->set_resource(lut[i]);
    r->set_measured_latency_ms(measured[i]);
    r->set_accuracy(accuracy[i]);
    for (int w : widths[i]) r->add_widths(w);
    r->set_weights(100000 - 20000 * i);
    r->set_macs(6000000 - 1000000 * i);
  }
  v1::ModelResult* final_model = job.mutable_final();
  *final_model = job.history(2).result();
  final_model->set_model_digest("ff");
  final_model->set_accuracy(0.8699);
  final_model->set_test_accuracy(0.8699);
  final_model->set_measured_latency_runs(5);
  job.set_best_iteration(2);
  seed->set_test_accuracy(0.9108);
  seed->set_measured_latency_runs(5);

  // The uniform baseline at the final network's latency, and the seed trained alike.
  v1::UniformBaseline* uniform = job.mutable_uniform_baseline();
  uniform->set_state(v1::UniformBaseline::SUCCEEDED);
  uniform->set_width_multiplier(0.5625);
  for (int w : {8, 16, 36}) uniform->add_block_widths(w);
  uniform->set_fine_tune_steps(300);
  uniform->set_fine_tune_epochs(1);
  v1::ModelResult* thinned = uniform->mutable_result();
  thinned->set_model_digest("uu");
  thinned->set_resource(9.7);
  thinned->set_measured_latency_ms(10.4);
  thinned->set_measured_latency_runs(5);
  thinned->set_accuracy(0.865);
  thinned->set_test_accuracy(0.865);
  for (int w : {8, 16, 36, 10}) thinned->add_widths(w);
  v1::ModelResult* trained = uniform->mutable_seed_fine_tuned();
  *trained = *seed;
  trained->set_model_digest("st");
  trained->set_accuracy(0.9161);
  trained->set_test_accuracy(0.9161);
  return job;
}

// A small well-formedness check: tags nest and close, attributes are quoted, entities are
// the XML ones or numeric. Returns "" when well-formed, else what is wrong.
std::string CheckWellFormed(absl::string_view xml) {
  std::vector<std::string> open;
  size_t i = 0;
  while (i < xml.size()) {
    if (xml[i] == '&') {
      const size_t end = xml.find(';', i);
      if (end == absl::string_view::npos) return absl::StrCat("unterminated entity at ", i);
      const absl::string_view entity = xml.substr(i + 1, end - i - 1);
      if (entity != "amp" && entity != "lt" && entity != "gt" && entity != "quot" &&
          entity != "apos" && !absl::StartsWith(entity, "#")) {
        return absl::StrCat("unknown entity &", entity, "; at ", i);
      }
      i = end + 1;
      continue;
    }
    if (xml[i] != '<') {
      if (xml[i] == '>') return absl::StrCat("stray > at ", i);
      ++i;
      continue;
    }
    const size_t end = xml.find('>', i);
    if (end == absl::string_view::npos) return absl::StrCat("unterminated tag at ", i);
    absl::string_view tag = xml.substr(i + 1, end - i - 1);
    i = end + 1;
    if (absl::StartsWith(tag, "!") || absl::StartsWith(tag, "?")) continue;
    if (tag.find('<') != absl::string_view::npos) return absl::StrCat("< inside a tag: ", tag);
    if (absl::StartsWith(tag, "/")) {
      const std::string name(tag.substr(1));
      if (open.empty() || open.back() != name) {
        return absl::StrCat("</", name, "> closes ", open.empty() ? "nothing" : open.back());
      }
      open.pop_back();
      continue;
    }
    // Quotes in a start tag come in pairs.
    if (std::count(tag.begin(), tag.end(), '"') % 2 != 0) {
      return absl::StrCat("unbalanced quotes in <", tag, ">");
    }
    const bool self_closing = absl::EndsWith(tag, "/");
    const std::string name(tag.substr(0, tag.find_first_of(" \n/")));
    if (!self_closing) open.push_back(name);
  }
  if (!open.empty()) return absl::StrCat("<", open.back(), "> never closed");
  return "";
}

std::vector<std::string> SvgElements(absl::string_view page) {
  std::vector<std::string> svgs;
  for (size_t start = page.find("<svg"); start != absl::string_view::npos;
       start = page.find("<svg", start + 1)) {
    const size_t end = page.find("</svg>", start);
    if (end == absl::string_view::npos) break;
    svgs.emplace_back(page.substr(start, end + 6 - start));
  }
  return svgs;
}

TEST(ReportTest, PageCarriesEveryNumberOfTheJob) {
  const v1::Job job = SampleJob();
  const std::string page = RenderReportHtml(job);
  // Each model's accuracy (seed and iterations on the held-out split, final on test).
  for (const char* accuracy : {"91.23%", "90.47%", "88.61%", "87.12%", "86.99%"}) {
    EXPECT_THAT(page, HasSubstr(accuracy));
  }
  // LUT and measured latencies.
  for (const char* latency :
       {"20.00 ms", "21.50 ms", "17.25 ms", "18.00 ms", "13.50 ms", "9.75 ms", "10.50 ms"}) {
    EXPECT_THAT(page, HasSubstr(latency));
  }
  // Summary: weights and MACs with separators, the ratio to the seed.
  for (const char* count : {"123,456", "7,654,321", "60,000", "4,000,000"}) {
    EXPECT_THAT(page, HasSubstr(count));
  }
  EXPECT_THAT(page, HasSubstr(absl::StrFormat("%.1f%% of the seed", 9.75 / 20 * 100)));
  // Accuracies compared on the test split only: 86.99 - 91.08, never 91.23 (held-out).
  EXPECT_THAT(page, HasSubstr("-4.09 points"));
  EXPECT_THAT(page, Not(HasSubstr("-4.24 points")));
  // The uniform baseline and the seed trained alike, against the final network.
  for (const char* text : {"9.70 ms", "10.40 ms", "86.50%", "91.61%", "91.08%",
                           "Adapted vs uniform at equal latency, test split: accuracy 86.99% vs "
                           "86.50% (+0.49 points); LUT 9.75 ms vs 9.70 ms, measured 10.50 ms vs "
                           "10.40 ms",
                           "<td>uniform baseline</td>", "<td>seed trained alike</td>",
                           "<td>300 steps + 1 epoch</td>", "(x0.562)", "best of 5"}) {
    EXPECT_THAT(page, HasSubstr(text));
  }
  // The header, escaped.
  EXPECT_THAT(page, HasSubstr("demo &lt;half&gt; &amp; more"));
  EXPECT_THAT(page, Not(HasSubstr("<half>")));
  EXPECT_THAT(page, HasSubstr("SUCCEEDED"));
  // Self-contained: no scripts, nothing fetched.
  EXPECT_THAT(page, Not(HasSubstr("<script")));
  EXPECT_THAT(page, Not(HasSubstr("http://localhost")));
  EXPECT_THAT(page, Not(HasSubstr("src=")));
  EXPECT_THAT(page, Not(HasSubstr("href=")));
  EXPECT_EQ(SvgElements(page).size(), 4u);
}

TEST(ReportTest, DeviceMeasurementsInTheSummaryAndPerIteration) {
  v1::Job job = SampleJob();
  EXPECT_THAT(RenderReportHtml(job), Not(HasSubstr("shapes measured")));
  job.mutable_measurements()->set_lookups(500);
  job.mutable_measurements()->set_lut_hits(480);
  job.mutable_measurements()->set_shapes_measured(20);
  job.mutable_measurements()->set_device_ms(1234);
  v1::LatencyMeasurements* first = job.add_iteration_measurements();
  first->set_iteration(job.history(0).iteration());
  first->set_lookups(100);
  first->set_shapes_measured(7);
  first->set_device_ms(56.4);
  const std::string page = RenderReportHtml(job);
  EXPECT_THAT(page, HasSubstr("20 shapes measured on the device (1234 ms), 480 of 500 look-ups"));
  EXPECT_THAT(page, HasSubstr("<th>shapes measured</th>"));
  EXPECT_THAT(page, HasSubstr("<td>7 (56 ms)</td>"));
}

TEST(ReportTest, LatencyAccuracyPlotHasEveryPointAndBothSeries) {
  const std::string svg = LatencyAccuracySvg(SampleJob());
  // The held-out path: the seed and the iterations.
  EXPECT_THAT(svg, HasSubstr("seed: 20.00 ms, 91.23%"));   // a labelled end point
  EXPECT_THAT(svg, HasSubstr("3: 9.75 ms, 87.12%"));       // the other end
  EXPECT_THAT(svg, HasSubstr("iteration 2: LUT 13.50 ms, accuracy 88.61% held-out"));
  EXPECT_THAT(svg, HasSubstr("iteration 1: measured 18.00 ms, accuracy 90.47% held-out"));
  EXPECT_THAT(svg, Not(HasSubstr("iteration 2: measured")));  // not measured: no marker
  EXPECT_THAT(svg, HasSubstr("LUT latency (held-out)"));
  EXPECT_THAT(svg, HasSubstr("measured (held-out)"));
  EXPECT_THAT(svg, HasSubstr("budget 10.00 ms"));
  // The test split: the seed, the final network, the uniform baseline, the seed trained
  // alike, each at its LUT and its measured latency.
  for (const char* text : {"seed (test): 20.00 ms, 91.08%", "final (test): 9.75 ms, 86.99%",
                           "uniform (test): 9.70 ms, 86.50%",
                           "seed trained alike (test): 20.00 ms, 91.61%",
                           "uniform baseline (test split): measured 10.40 ms, accuracy 86.50%"}) {
    EXPECT_THAT(svg, HasSubstr(text));
  }
  // Four held-out LUT points (seed, 3 iterations), eight test-split diamonds.
  EXPECT_EQ(std::vector<absl::string_view>(absl::StrSplit(svg, "<circle")).size(), 5u);
  EXPECT_EQ(std::vector<absl::string_view>(absl::StrSplit(svg, "<polygon")).size(), 9u);
  EXPECT_EQ(CheckWellFormed(svg), "");
}

TEST(ReportTest, WidthsPlotShowsSeedAndAdaptedWidthOfEveryLayer) {
  const std::string svg = WidthsSvg(SampleJob());
  for (const char* text : {">features.0<", ">features.2<", ">features.4<", ">classifier<",
                           "16 -&gt; 8 (50%)", "32 -&gt; 24 (75%)", "64 -&gt; 40 (62%)",
                           "10 -&gt; 10 (100%)", "features.4: final 40", "features.4: seed 64"}) {
    EXPECT_THAT(svg, HasSubstr(text));
  }
  EXPECT_EQ(CheckWellFormed(svg), "");
}

TEST(ReportTest, TimePlotStacksSearchFineTuneEvaluateAndTheRest) {
  const std::string svg = TimeSvg(SampleJob());
  EXPECT_THAT(svg, HasSubstr("iteration 1 search (simplify): 1.5s"));
  EXPECT_THAT(svg, HasSubstr("iteration 2 fine-tune: 31.2s"));
  EXPECT_THAT(svg, HasSubstr("iteration 3 evaluate: 4.5s"));
  EXPECT_THAT(svg, HasSubstr("iteration 1 other: 3.8s"));  // 40 - 1.5 - 30.25 - 4.5
  for (const char* total : {">40.0s<", ">41.0s<", ">42.0s<"}) EXPECT_THAT(svg, HasSubstr(total));
  EXPECT_EQ(CheckWellFormed(svg), "");
}

TEST(ReportTest, LutErrorPlotSaysWhereLatencyWasNotMeasured) {
  const v1::Job job = SampleJob();
  const std::string svg = LutErrorSvg(job);
  // seed |20 - 21.5| / 21.5 = 7.0%; iteration 1: 4.2%; 3 and final: 7.1%.
  for (const char* error : {">7.0%<", ">4.2%<", ">7.1%<"}) EXPECT_THAT(svg, HasSubstr(error));
  EXPECT_THAT(svg, HasSubstr(">not measured<"));
  EXPECT_EQ(CheckWellFormed(svg), "");

  EXPECT_NEAR(*LutError(job.seed(), v1::RESOURCE_TYPE_LATENCY), 1.5 / 21.5, 1e-12);
  EXPECT_FALSE(LutError(job.history(1).result(), v1::RESOURCE_TYPE_LATENCY).has_value());
  EXPECT_FALSE(LutError(job.seed(), v1::RESOURCE_TYPE_FLOPS).has_value());
}

// With the seed's overhead as a calibration term, the prediction is LUT + overhead; the
// report shows both errors.
TEST(ReportTest, CalibratedLutErrorAddsTheSeedsOverhead) {
  v1::Job job = SampleJob();
  EXPECT_FALSE(CalibratedLutError(job, job.seed()).has_value());  // no calibration
  job.set_lut_overhead_ms(1.5);                                     // 21.5 - 20
  EXPECT_NEAR(*CalibratedLutError(job, job.seed()), 0, 1e-12);
  // Iteration 1: LUT 17.25 + 1.5 = 18.75 against 18.0 measured.
  EXPECT_NEAR(*CalibratedLutError(job, job.history(0).result()), 0.75 / 18.0, 1e-12);
  EXPECT_FALSE(CalibratedLutError(job, job.history(1).result()).has_value());  // not measured
  EXPECT_THAT(RenderReportHtml(job), HasSubstr("4.2% (calibrated 4.2%)"));
}

TEST(ReportTest, PageIsWellFormed) {
  const std::string page = RenderReportHtml(SampleJob());
  EXPECT_EQ(CheckWellFormed(page), "");
  for (const std::string& svg : SvgElements(page)) EXPECT_EQ(CheckWellFormed(svg), "") << svg;
  // The checker itself catches what it should.
  EXPECT_NE(CheckWellFormed("<svg><text>a</svg>"), "");
  EXPECT_NE(CheckWellFormed("<svg><text>a & b</text></svg>"), "");
  EXPECT_NE(CheckWellFormed("<svg><rect x=\"1/></svg>"), "");
}

TEST(ReportTest, PageParsesWithPythonXml) {
  // A second, independent XML parser; /usr/bin/python3 is on CI (python3-torch brings it).
  // The C++ well-formedness check above runs regardless.
  if (!Exists(kPython)) GTEST_SKIP() << kPython << " not installed";
  const std::string dir = TestDir();
  const std::string file = dir + "/report.html";
  WriteAll(file, RenderReportHtml(SampleJob()));
  // Every <svg> element: its number of <text> elements, then all their texts.
  const std::string script = R"(
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
svg = '{http://www.w3.org/2000/svg}'
plots = list(root.iter(svg + 'svg'))
print(len(plots))
for plot in plots:
    print('|'.join(t.text or '' for t in plot.iter(svg + 'text')))
)";
  WriteAll(dir + "/check.py", script);
  int code = 0;
  const std::string out =
      Capture(absl::StrCat(kPython, " '", dir, "/check.py' '", file, "' 2>&1"), &code);
  ASSERT_EQ(code, 0) << out;
  const std::vector<std::string> lines = absl::StrSplit(out, '\n');
  ASSERT_GE(lines.size(), 5u) << out;
  EXPECT_EQ(lines[0], "4");
  EXPECT_THAT(lines[1], HasSubstr("seed: 20.00 ms, 91.23%"));
  EXPECT_THAT(lines[2], HasSubstr("64 -> 40 (62%)"));
  EXPECT_THAT(lines[3], HasSubstr("42.0s"));
  EXPECT_THAT(lines[4], HasSubstr("not measured"));
}

TEST(ReportTest, EmptyAndUnusualJobsRender) {
  v1::Job empty;
  empty.set_name("jobs/1");
  std::string page = RenderReportHtml(empty);
  EXPECT_EQ(CheckWellFormed(page), "");
  EXPECT_THAT(page, HasSubstr("no results yet"));
  EXPECT_THAT(page, HasSubstr("adapted (none yet)"));

  // A FLOPS job: the resource axis counts MACs and there is no LUT error to show.
  v1::Job flops = SampleJob();
  flops.mutable_spec()->set_resource_type(v1::RESOURCE_TYPE_FLOPS);
  for (v1::ModelResult* r : {flops.mutable_seed(), flops.mutable_final()}) {
    r->set_resource(r->resource() * 1e6);
  }
  for (v1::Iteration& it : *flops.mutable_history()) {
    it.mutable_result()->set_resource(it.result().resource() * 1e6);
  }
  flops.set_budget(10e6);
  page = RenderReportHtml(flops);
  EXPECT_EQ(CheckWellFormed(page), "");
  EXPECT_THAT(page, HasSubstr("million MACs"));
  EXPECT_THAT(page, HasSubstr("not a latency job"));
  EXPECT_THAT(page, HasSubstr("20.00 MMAC"));

  // A running job without a final model: the last iteration is the adapted one.
  v1::Job running = SampleJob();
  running.clear_final();
  running.set_state(v1::Job::RUNNING);
  std::string label;
  ASSERT_NE(AdaptedModel(running, &label), nullptr);
  EXPECT_EQ(label, "iteration 3");
  EXPECT_THAT(RenderReportHtml(running), HasSubstr("<th>iteration 3</th>"));
  // ... compared with the seed on the held-out split, which says so.
  EXPECT_THAT(RenderReportHtml(running),
              HasSubstr("<td>held-out accuracy</td><td>91.23%</td><td>87.12%</td><td>-4.11 "
                        "points</td>"));
}

// A job whose seed was never evaluated on the test split (an older master): the final
// network's test accuracy is not compared with the seed's held-out one.
TEST(ReportTest, AccuraciesOfTwoSplitsAreNeverCompared) {
  v1::Job job = SampleJob();
  job.mutable_seed()->clear_test_accuracy();
  job.clear_uniform_baseline();
  const std::string page = RenderReportHtml(job);
  EXPECT_THAT(page, HasSubstr("<td>test accuracy</td><td>not evaluated</td><td>86.99%</td><td>-"
                              "</td>"));
  EXPECT_THAT(page, Not(HasSubstr("-4.24 points")));
  EXPECT_THAT(page, HasSubstr("No uniform baseline"));
  EXPECT_EQ(CheckWellFormed(page), "");
}

TEST(HealthTest, DecodesTheResponse) {
  EXPECT_EQ(*DecodeHealthCheckResponse(std::string("\x08\x01", 2)), HealthState::kServing);
  EXPECT_EQ(*DecodeHealthCheckResponse(std::string("\x08\x02", 2)), HealthState::kNotServing);
  EXPECT_EQ(*DecodeHealthCheckResponse(""), HealthState::kUnknown);
  // Unknown fields are skipped.
  EXPECT_EQ(*DecodeHealthCheckResponse(std::string("\x12\x01z\x08\x01", 5)),
            HealthState::kServing);
  EXPECT_THAT(DecodeHealthCheckResponse(std::string("\x08", 1)),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(HealthStateName(HealthState::kNotServing), "NOT_SERVING");
}

// The page as headless Chromium parses and lays it out.
class ReportChromiumTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Headless Chromium (Debian package chromium) is installed by install-deps.sh, so CI runs
    // this; elsewhere the SVG checks above still run.
    if (!Exists(kChromium)) {
      GTEST_SKIP() << kChromium << " not installed (Debian package chromium; "
                   << "scripts/install-deps.sh installs it)";
    }
    dir_ = TestDir();
    file_ = dir_ + "/report.html";
    WriteAll(file_, RenderReportHtml(SampleJob()));
  }

  // chromium --headless with `args`, a profile of its own, at most 120 s.
  std::string RunChromium(const std::string& args, int* code) {
    return Capture(absl::StrCat("HOME='", dir_, "' timeout 120 ", kChromium,
                                " --headless --disable-gpu --no-sandbox --no-first-run "
                                "--user-data-dir='",
                                dir_, "/profile' ", args, " 'file://", file_, "' 2>/dev/null"),
                   code);
  }

  std::string dir_;
  std::string file_;
};

TEST_F(ReportChromiumTest, DomCarriesThePlotsNumbers) {
  int code = 0;
  const std::string dom = RunChromium("--dump-dom", &code);
  ASSERT_EQ(code, 0) << dom;
  EXPECT_EQ(SvgElements(dom).size(), 4u) << dom;
  // Text labels of each plot, as Chromium serialises its DOM.
  for (const char* text : {">seed: 20.00 ms, 91.23%</text>",
                           ">final (test): 9.75 ms, 86.99%</text>",
                           ">uniform (test): 9.70 ms, 86.50%</text>",
                           ">64 -&gt; 40 (62%)</text>", ">42.0s</text>", ">7.0%</text>",
                           ">not measured</text>"}) {
    EXPECT_THAT(dom, HasSubstr(text));
  }
  // Tooltips with every iteration's numbers, and the summary table.
  for (const char* text :
       {"iteration 2: LUT 13.50 ms, accuracy 88.61%", "iteration 3: measured 10.50 ms",
        "<td>7,654,321</td>", "<td>86.99%</td>"}) {
    EXPECT_THAT(dom, HasSubstr(text));
  }
}

TEST_F(ReportChromiumTest, RendersToAScreenshot) {
  int code = 0;
  const std::string png = dir_ + "/report.png";
  const std::string out =
      RunChromium(absl::StrCat("--window-size=1200,2600 --screenshot='", png, "'"), &code);
  ASSERT_EQ(code, 0) << out;
  struct stat info {};
  ASSERT_EQ(stat(png.c_str(), &info), 0) << "no screenshot";
  // A blank page of this size compresses to a few KB; plots and tables make it far larger.
  EXPECT_GT(info.st_size, 40000) << png;
}

// The commands through RunApp (the binary's whole logic) against a fake JobService.
class FakeJobService final : public v1::JobService::Service {
 public:
  grpc::Status GetJob(grpc::ServerContext*, const v1::GetJobRequest* request,
                      v1::Job* job) override {
    absl::MutexLock lock(&mu_);
    ++get_calls_;
    auto it = jobs_.find(request->name());
    if (it == jobs_.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat(request->name(), " not found"));
    }
    *job = it->second;
    return grpc::Status::OK;
  }
  void AddJob(const v1::Job& job) {
    absl::MutexLock lock(&mu_);
    jobs_[job.name()] = job;
  }
  int get_calls() {
    absl::MutexLock lock(&mu_);
    return get_calls_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, v1::Job> jobs_ ABSL_GUARDED_BY(mu_);
  int get_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

struct AppResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class ReportCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir();
    rpc::ServerOptions options;
    options.address = "127.0.0.1:0";
    NETADAPT_ASSERT_OK_AND_ASSIGN(server_, rpc::RpcServer::Start(options, {&service_}));
    master_ = absl::StrCat("127.0.0.1:", server_->port());
    service_.AddJob(SampleJob());
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
  }

  AppResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), "netadapt");
    args.push_back("--master=" + master_);
    args.push_back("--timeout=5s");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    std::ostringstream out;
    std::ostringstream err;
    AppResult result;
    result.exit_code = RunApp(static_cast<int>(argv.size()), argv.data(), out, err, nullptr,
                              /*out_is_tty=*/false, 100);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  std::string dir_;
  FakeJobService service_;
  std::unique_ptr<rpc::RpcServer> server_;
  std::string master_;
};

std::string Show(const AppResult& r) {
  return absl::StrCat("exit ", r.exit_code, "\nstdout:\n", r.out, "\nstderr:\n", r.err);
}

TEST_F(ReportCommandTest, WritesThePage) {
  const std::string file = dir_ + "/report.html";
  const AppResult r = Run({"report", "jobs/7", "-o", file});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_THAT(r.out, HasSubstr("wrote " + file + ": report of jobs/7 (SUCCEEDED, 3 iterations"));
  const std::string page = ReadAll(file);
  EXPECT_TRUE(absl::StartsWith(page, "<!DOCTYPE html>")) << page.substr(0, 100);
  EXPECT_THAT(page, HasSubstr("NetAdapt report: jobs/7"));
  EXPECT_THAT(page, HasSubstr("86.99%"));
  EXPECT_THAT(page, HasSubstr("generated "));
  EXPECT_EQ(SvgElements(page).size(), 4u);
  EXPECT_EQ(service_.get_calls(), 1);

  // "7" names the same job; "-" writes to stdout.
  const AppResult to_stdout = Run({"report", "7", "-o", "-"});
  ASSERT_EQ(to_stdout.exit_code, 0) << Show(to_stdout);
  EXPECT_THAT(to_stdout.out, HasSubstr("NetAdapt report: jobs/7"));
}

TEST_F(ReportCommandTest, Errors) {
  const AppResult missing = Run({"report", "jobs/99", "-o", dir_ + "/r.html"});
  EXPECT_EQ(missing.exit_code, 1) << Show(missing);
  EXPECT_THAT(missing.err, HasSubstr("jobs/99 not found (NOT_FOUND)"));

  const AppResult unwritable = Run({"report", "7", "-o", dir_ + "/no/such/dir/r.html"});
  EXPECT_EQ(unwritable.exit_code, 1) << Show(unwritable);
  EXPECT_THAT(unwritable.err, HasSubstr("-o " + dir_));

  const AppResult no_output = Run({"report", "7"});
  EXPECT_EQ(no_output.exit_code, 1) << Show(no_output);

  server_->Shutdown(absl::Seconds(1));
  const AppResult unreachable = Run({"report", "7", "-o", dir_ + "/r.html"});
  EXPECT_EQ(unreachable.exit_code, 2) << Show(unreachable);
}

TEST_F(ReportCommandTest, HealthIsServingUntilShutdown) {
  const AppResult r = Run({"health"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, master_ + ": SERVING\n");
  const AppResult json = Run({"health", "--output=json"});
  ASSERT_EQ(json.exit_code, 0) << Show(json);
  EXPECT_EQ(json.out, "{\"status\": \"SERVING\"}\n");

  const AppResult unknown = Run({"health", "--service", "no.such.Service"});
  EXPECT_NE(unknown.exit_code, 0) << Show(unknown);

  server_->Shutdown(absl::Seconds(1));
  const AppResult down = Run({"health"});
  EXPECT_EQ(down.exit_code, 2) << Show(down);
}

}  // namespace
}  // namespace netadapt::cli
