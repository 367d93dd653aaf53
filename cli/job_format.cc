#include "cli/job_format.h"

#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace netadapt::cli {
namespace {

// "RESOURCE_TYPE_FLOPS" -> "flops".
std::string EnumSuffix(const std::string& name, absl::string_view prefix) {
  return absl::AsciiStrToLower(absl::StripPrefix(name, prefix));
}

absl::Time ToTime(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

bool IsSet(const google::protobuf::Timestamp& timestamp) {
  return timestamp.seconds() != 0 || timestamp.nanos() != 0;
}

// "12m ago" relative to `now`; "" for an unset timestamp.
std::string Age(const google::protobuf::Timestamp& timestamp, absl::Time now) {
  if (!IsSet(timestamp)) return "";
  const absl::Duration age = now - ToTime(timestamp);
  if (age < absl::ZeroDuration()) return "";
  return absl::StrCat(HumanDuration(age), " ago");
}

std::string OrDash(std::string text) { return text.empty() ? "-" : text; }

std::string Widths(const v1::ModelResult& result) {
  return absl::StrJoin(result.widths(), ",");
}

// Which split a result's `accuracy` is on.
enum class Split { kHeldOut, kTest };

// "12.30 ms (measured 12.90 ms), accuracy 91.20% held-out, 90.80% test" for a kept model.
std::string ResultSummary(const v1::ModelResult& result, v1::ResourceType type, Split split) {
  std::string text = absl::StrCat(FormatResource(result.resource(), type));
  if (result.measured_latency_ms() > 0) {
    absl::StrAppend(&text, " (measured ", MeasuredLatencyText(result), ")");
  }
  absl::StrAppend(&text, ", accuracy ", FormatPercent(result.accuracy()),
                  split == Split::kTest ? " test" : " held-out");
  if (split == Split::kHeldOut && result.test_accuracy() > 0) {
    absl::StrAppend(&text, ", ", FormatPercent(result.test_accuracy()), " test");
  }
  return text;
}

// "1000 steps + 1 epoch" of a baseline's training.
std::string TrainingText(const v1::UniformBaseline& baseline) {
  std::vector<std::string> parts;
  if (baseline.fine_tune_steps() > 0) parts.push_back(absl::StrCat(baseline.fine_tune_steps(), " steps"));
  if (baseline.fine_tune_epochs() > 0) {
    parts.push_back(absl::StrCat(baseline.fine_tune_epochs(),
                                 baseline.fine_tune_epochs() == 1 ? " epoch" : " epochs"));
  }
  return parts.empty() ? "no training" : absl::StrJoin(parts, " + ");
}

std::string Points(double a, double b) {
  return absl::StrFormat("%+.2f points", (a - b) * 100);
}

bool HasResult(const v1::ModelResult& result) {
  return !result.model_digest().empty() || result.resource() > 0 || result.accuracy() > 0;
}

// "250/500" for a task with steps; "" otherwise.
std::string Steps(const v1::Proposal& proposal) {
  if (proposal.total_steps() <= 0) return "";
  return absl::StrCat(proposal.step(), "/", proposal.total_steps());
}

}  // namespace

std::string FormatResource(double value, v1::ResourceType type) {
  switch (type) {
    case v1::RESOURCE_TYPE_FLOPS: {
      const double abs = std::fabs(value);
      if (abs >= 1e9) return absl::StrFormat("%.2f GMAC", value / 1e9);
      if (abs >= 1e6) return absl::StrFormat("%.2f MMAC", value / 1e6);
      if (abs >= 1e3) return absl::StrFormat("%.2f KMAC", value / 1e3);
      return absl::StrFormat("%.0f MAC", value);
    }
    case v1::RESOURCE_TYPE_WEIGHTS: {
      const double abs = std::fabs(value);
      if (abs >= 1e6) return absl::StrFormat("%.2f M weights", value / 1e6);
      if (abs >= 1e3) return absl::StrFormat("%.2f K weights", value / 1e3);
      return absl::StrFormat("%.0f weights", value);
    }
    default:
      return absl::StrFormat("%.2f ms", value);
  }
}

std::string FormatPercent(double fraction) { return absl::StrFormat("%.2f%%", fraction * 100); }

double SeedTestAccuracy(const v1::Job& job) { return job.seed().test_accuracy(); }

double FinalTestAccuracy(const v1::Job& job) {
  if (job.final().test_accuracy() > 0) return job.final().test_accuracy();
  return HasResult(job.final()) ? job.final().accuracy() : 0;
}

std::string SeedVsFinalText(const v1::Job& job) {
  const double seed = SeedTestAccuracy(job);
  const double final_accuracy = FinalTestAccuracy(job);
  if (seed <= 0 || final_accuracy <= 0) return "";
  return absl::StrCat("seed ", FormatPercent(seed), " -> final ", FormatPercent(final_accuracy),
                      " (", Points(final_accuracy, seed), ")");
}

std::string AdaptedVsUniformText(const v1::Job& job) {
  const v1::UniformBaseline& baseline = job.uniform_baseline();
  const v1::ModelResult& uniform = baseline.result();
  const double adapted = FinalTestAccuracy(job);
  if (baseline.state() != v1::UniformBaseline::SUCCEEDED || adapted <= 0 ||
      uniform.test_accuracy() <= 0) {
    return "";
  }
  const v1::ResourceType type = job.spec().resource_type();
  std::string text = absl::StrCat("accuracy ", FormatPercent(adapted), " vs ",
                                  FormatPercent(uniform.test_accuracy()), " (",
                                  Points(adapted, uniform.test_accuracy()), "); ",
                                  type == v1::RESOURCE_TYPE_LATENCY ||
                                          type == v1::RESOURCE_TYPE_UNSPECIFIED
                                      ? "LUT "
                                      : "",
                                  FormatResource(job.final().resource(), type), " vs ",
                                  FormatResource(uniform.resource(), type));
  if (job.final().measured_latency_ms() > 0 && uniform.measured_latency_ms() > 0) {
    absl::StrAppend(&text, ", measured ",
                    FormatResource(job.final().measured_latency_ms(), v1::RESOURCE_TYPE_LATENCY),
                    " vs ", FormatResource(uniform.measured_latency_ms(), v1::RESOURCE_TYPE_LATENCY));
  }
  // Widths on the channel step's grid may not come near the final network's resource
  // (small blocks, a coarse step): then "equal" is only approximate, and the text says so.
  if (job.final().resource() > 0 && uniform.resource() > 0) {
    const double off = uniform.resource() / job.final().resource() - 1;
    if (std::fabs(off) > 0.05) {
      absl::StrAppend(&text,
                      absl::StrFormat("; NOT equal: the nearest uniform thinning on the channel "
                                      "step's grid (%d) is %+.0f%% of the adapted network's",
                                      job.spec().channel_step(), off * 100));
    }
  }
  return text;
}

std::string AtEqualResource(v1::ResourceType type) {
  switch (type) {
    case v1::RESOURCE_TYPE_FLOPS:
      return "at equal MACs";
    case v1::RESOURCE_TYPE_WEIGHTS:
      return "at equal weights";
    default:
      return "at equal latency";
  }
}

std::string UniformBaselineText(const v1::Job& job) {
  if (!job.has_uniform_baseline()) return "";
  const v1::UniformBaseline& baseline = job.uniform_baseline();
  std::string text;
  if (baseline.block_widths_size() > 0 || baseline.result().widths_size() > 0) {
    text = absl::StrFormat("x%.2f, widths %s", baseline.width_multiplier(),
                           absl::StrJoin(baseline.result().widths().empty()
                                             ? baseline.block_widths()
                                             : baseline.result().widths(),
                                         ","));
  }
  switch (baseline.state()) {
    case v1::UniformBaseline::SUCCEEDED:
      absl::StrAppend(&text, text.empty() ? "" : ": ",
                      ResultSummary(baseline.result(), job.spec().resource_type(), Split::kTest),
                      " (", TrainingText(baseline), ")");
      return text;
    case v1::UniformBaseline::RUNNING:
      return absl::StrCat(text, text.empty() ? "" : ": ", "training (", TrainingText(baseline),
                          ")");
    case v1::UniformBaseline::FAILED:
      return absl::StrCat(text, text.empty() ? "" : ": ", "FAILED: ", baseline.reason());
    case v1::UniformBaseline::SKIPPED:
      return absl::StrCat("skipped: ", baseline.reason());
    default:
      return text;
  }
}

std::string HumanDuration(absl::Duration duration) {
  if (duration < absl::ZeroDuration()) duration = absl::ZeroDuration();
  if (duration < absl::Seconds(1)) {
    return absl::StrCat(absl::ToInt64Milliseconds(duration), "ms");
  }
  if (duration < absl::Minutes(1)) {
    return absl::StrFormat("%.1fs", absl::ToDoubleSeconds(duration));
  }
  const int64_t seconds = absl::ToInt64Seconds(duration);
  if (duration < absl::Hours(1)) {
    return absl::StrFormat("%dm%02ds", seconds / 60, seconds % 60);
  }
  if (duration < absl::Hours(24)) {
    return absl::StrFormat("%dh%02dm", seconds / 3600, seconds / 60 % 60);
  }
  return absl::StrFormat("%dd%02dh", seconds / 86400, seconds / 3600 % 24);
}

std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp, absl::TimeZone zone) {
  if (!IsSet(timestamp)) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", ToTime(timestamp), zone);
}

std::string ResourceTypeName(v1::ResourceType type) {
  if (type == v1::RESOURCE_TYPE_UNSPECIFIED) return "latency";
  return EnumSuffix(v1::ResourceType_Name(type), "RESOURCE_TYPE_");
}

std::string JobStateName(v1::Job::State state) {
  return state == v1::Job::STATE_UNSPECIFIED ? "UNKNOWN" : v1::Job::State_Name(state);
}

std::string PhaseName(v1::Job::Phase phase) {
  return phase == v1::Job::PHASE_UNSPECIFIED ? "-" : v1::Job::Phase_Name(phase);
}

std::string ProposalStateName(v1::Proposal::State state) {
  return state == v1::Proposal::STATE_UNSPECIFIED ? "UNKNOWN" : v1::Proposal::State_Name(state);
}

std::string ModelDescription(const v1::JobSpec& spec) {
  if (spec.has_network()) {
    return absl::StrCat("network ", spec.network().name().empty() ? "-" : spec.network().name(),
                        " (", spec.network().layers_size(), " layers)");
  }
  std::vector<std::string> options;
  if (spec.zoo().width_multiplier() > 0 && spec.zoo().width_multiplier() != 1) {
    options.push_back(absl::StrCat("x", spec.zoo().width_multiplier()));
  }
  if (spec.zoo().input_size() > 0) options.push_back(absl::StrCat(spec.zoo().input_size(), "px"));
  std::string text = spec.model().empty() ? "-" : spec.model();
  if (!options.empty()) absl::StrAppend(&text, " (", absl::StrJoin(options, ", "), ")");
  return text;
}

int MaxIters(const v1::JobSpec& spec) {
  return spec.max_iters() > 0 ? spec.max_iters() : kDefaultMaxIters;
}

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  for (size_t c = 0; c < header.size(); ++c) widths[c] = header[c].size();
  for (const std::vector<std::string>& row : rows) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], row[c].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (size_t c = 0; c < header.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      absl::StrAppend(&text, cell);
      // No padding after the last column: lines carry no trailing blanks.
      if (c + 1 < header.size()) text.append(widths[c] - cell.size() + 2, ' ');
    }
    absl::StripTrailingAsciiWhitespace(&text);
    return text + "\n";
  };
  std::string text = line(header);
  for (const std::vector<std::string>& row : rows) text += line(row);
  return text;
}

std::string MeasuredLatencyText(const v1::ModelResult& result) {
  if (result.measured_latency_ms() <= 0) return "";
  std::string text = FormatResource(result.measured_latency_ms(), v1::RESOURCE_TYPE_LATENCY);
  const double slowest = result.measured_latency_slowest_ms();
  if (result.measured_latency_unstable() && slowest > result.measured_latency_ms()) {
    absl::StrAppend(&text, " (noisy: up to ", absl::StrFormat("%.2f", slowest), ")");
  } else if (slowest > 1.1 * result.measured_latency_ms()) {
    absl::StrAppend(&text, " (up to ", absl::StrFormat("%.2f", slowest), ")");
  }
  return text;
}

double CalibratedLatency(const v1::Job& job, const v1::ModelResult& result) {
  if (job.spec().resource_type() != v1::RESOURCE_TYPE_LATENCY || job.lut_overhead_ms() == 0 ||
      result.resource() <= 0) {
    return 0;
  }
  return result.resource() + job.lut_overhead_ms();
}

std::string SkippedFilesText(const v1::Job& job) {
  if (job.skipped_files_size() == 0 && job.skipped_images() == 0) return "";
  constexpr int kNamed = 3;
  const int files = job.skipped_files_size();
  std::string text =
      absl::StrCat(files, files == 1 ? " unreadable file" : " unreadable files",
                   files >= 1000 ? " or more" : "", " left out (skip_corrupt), ",
                   job.skipped_images(), job.skipped_images() == 1 ? " read" : " reads",
                   " skipped in all");
  for (int i = 0; i < std::min(files, kNamed); ++i) {
    absl::StrAppend(&text, i == 0 ? ": " : ", ", job.skipped_files(i));
  }
  if (files > kNamed) absl::StrAppend(&text, ", ... (`netadapt get JOB --output=json` lists them)");
  return text;
}

std::string MeasurementsText(const v1::LatencyMeasurements& m) {
  if (m.lookups() == 0) return "";
  return absl::StrCat(m.shapes_measured(), m.shapes_measured() == 1 ? " shape" : " shapes",
                      " measured on the device (", absl::StrFormat("%.0f", m.device_ms()),
                      " ms), ", m.lut_hits(), " of ", m.lookups(),
                      " look-ups from the LUT");
}

const v1::LatencyMeasurements* IterationMeasurements(const v1::Job& job, int iteration) {
  for (const v1::LatencyMeasurements& m : job.iteration_measurements()) {
    if (m.iteration() == iteration) return &m;
  }
  return nullptr;
}

std::string FormatJobDetails(const v1::Job& job, const FormatOptions& options) {
  const v1::JobSpec& spec = job.spec();
  const v1::ResourceType type = spec.resource_type();
  std::vector<std::vector<std::string>> summary;
  auto add = [&summary](std::string key, std::string value) {
    summary.push_back({std::move(key), std::move(value)});
  };
  add("name", job.name());
  if (!spec.display_name().empty()) add("display name", spec.display_name());
  add("state", absl::StrCat(JobStateName(job.state()), ", phase ", PhaseName(job.phase())));
  if (!job.reason().empty()) add("reason", job.reason());
  add("model", ModelDescription(spec));
  add("dataset", OrDash(spec.dataset()));
  std::string budget = absl::StrCat(ResourceTypeName(type), ", budget ");
  if (job.budget() > 0) {
    absl::StrAppend(&budget, FormatResource(job.budget(), type));
  } else if (spec.budget() > 0) {
    absl::StrAppend(&budget, FormatResource(spec.budget(), type));
  } else {
    absl::StrAppend(&budget, FormatPercent(spec.budget_ratio() > 0 ? spec.budget_ratio() : 0.5),
                    " of the seed");
  }
  if (spec.budget_metric() == v1::BUDGET_METRIC_MEASURED) {
    absl::StrAppend(&budget, " measured end to end");
  }
  add("resource", budget);
  if (HasResult(job.seed())) add("seed", ResultSummary(job.seed(), type, Split::kHeldOut));
  if (job.current_iteration() > 0) {
    std::string iteration = absl::StrCat(job.current_iteration(), "/", MaxIters(spec));
    if (job.current_target() > 0) {
      absl::StrAppend(&iteration, ", target ", FormatResource(job.current_target(), type));
    }
    add("iteration", iteration);
  }
  if (job.history_size() > 0) {
    add("latest",
        ResultSummary(job.history(job.history_size() - 1).result(), type, Split::kHeldOut));
  }
  if (HasResult(job.final())) add("final", ResultSummary(job.final(), type, Split::kTest));
  if (const std::string uniform = UniformBaselineText(job); !uniform.empty()) {
    add("uniform", uniform);
  }
  const v1::UniformBaseline& baseline = job.uniform_baseline();
  if (baseline.seed_fine_tuned().test_accuracy() > 0) {
    add("seed trained alike",
        absl::StrCat("accuracy ", FormatPercent(baseline.seed_fine_tuned().test_accuracy()),
                     " test (", TrainingText(baseline), " more)"));
  }
  if (const std::string text = SeedVsFinalText(job); !text.empty()) {
    add("seed -> final", absl::StrCat("test split: ", text));
  }
  if (const std::string text = AdaptedVsUniformText(job); !text.empty()) {
    add("adapted vs uniform",
        absl::StrCat(AtEqualResource(type), ", test split: ", text));
  }
  if (const std::string skipped = SkippedFilesText(job); !skipped.empty()) {
    add("skipped", skipped);
  }
  if (const std::string device = MeasurementsText(job.measurements()); !device.empty()) {
    add("device", device);
  }
  const std::string created_age = Age(job.create_time(), options.now);
  add("created", absl::StrCat(FormatTimestamp(job.create_time(), options.zone),
                              created_age.empty() ? "" : absl::StrCat(" (", created_age, ")")));
  add("updated", FormatTimestamp(job.update_time(), options.zone));

  // Key/value lines: the keys padded to one width, no header.
  size_t key_width = 0;
  for (const auto& row : summary) key_width = std::max(key_width, row[0].size());
  std::string text;
  for (const auto& row : summary) {
    absl::StrAppend(&text, row[0], std::string(key_width - row[0].size() + 2, ' '), row[1],
                    "\n");
  }

  if (job.history_size() > 0) {
    // The calibrated column only where there is a calibration (a measured LATENCY seed).
    const bool calibrated = CalibratedLatency(job, job.seed()) > 0;
    // Shapes the iteration measured on the device, where the job counts them (LATENCY).
    const bool device = job.iteration_measurements_size() > 0;
    std::vector<std::vector<std::string>> rows;
    for (const v1::Iteration& it : job.history()) {
      std::vector<std::string> row = {
          absl::StrCat(it.iteration()), FormatResource(it.target_resource(), type),
          absl::StrCat(it.chosen_block()), OrDash(it.chosen_layer()),
          FormatResource(it.result().resource(), type)};
      if (calibrated) {
        row.push_back(FormatResource(CalibratedLatency(job, it.result()), type));
      }
      row.push_back(OrDash(MeasuredLatencyText(it.result())));
      if (device) {
        const v1::LatencyMeasurements* m = IterationMeasurements(job, it.iteration());
        row.push_back(m == nullptr ? "-" : absl::StrCat(m->shapes_measured()));
      }
      row.push_back(FormatPercent(it.result().accuracy()));
      row.push_back(HumanDuration(absl::Seconds(it.duration_seconds())));
      row.push_back(OrDash(Widths(it.result())));
      rows.push_back(std::move(row));
    }
    std::vector<std::string> header = {"ITER", "TARGET", "BLOCK", "LAYER", "RESOURCE"};
    if (calibrated) header.push_back("CALIBRATED");
    header.push_back("MEASURED");
    if (device) header.push_back("NEW SHAPES");
    header.insert(header.end(), {"ACCURACY", "TIME", "WIDTHS"});
    absl::StrAppend(&text, "\nhistory (accuracy on the held-out split",
                    calibrated ? absl::StrCat("; calibrated = LUT + the seed's ",
                                              absl::StrFormat("%+.2f", job.lut_overhead_ms()),
                                              " ms the LUT does not model")
                               : "",
                    ")\n", FormatTable(header, rows));
  }
  if (job.proposals_size() > 0) {
    std::vector<const v1::Proposal*> proposals;
    for (const v1::Proposal& p : job.proposals()) proposals.push_back(&p);
    std::stable_sort(proposals.begin(), proposals.end(),
                     [](const v1::Proposal* a, const v1::Proposal* b) {
                       return a->block() < b->block();
                     });
    std::vector<std::vector<std::string>> rows;
    for (const v1::Proposal* p : proposals) {
      rows.push_back({absl::StrCat(p->block()), OrDash(p->layer()), ProposalStateName(p->state()),
                      OrDash(Steps(*p)), p->width() > 0 ? absl::StrCat(p->width()) : "-",
                      p->resource() > 0 ? FormatResource(p->resource(), type) : "-",
                      p->accuracy() > 0 ? FormatPercent(p->accuracy()) : "-",
                      OrDash(p->worker()), OrDash(p->error())});
    }
    absl::StrAppend(&text, "\nproposals (iteration ", job.current_iteration(), ")\n",
                    FormatTable({"BLOCK", "LAYER", "STATE", "STEPS", "WIDTH", "RESOURCE",
                                 "ACCURACY", "WORKER", "ERROR"},
                                rows));
  }
  return text;
}

std::string FormatJobList(const std::vector<v1::Job>& jobs, const FormatOptions& options) {
  if (jobs.empty()) return "no jobs\n";
  std::vector<std::vector<std::string>> rows;
  for (const v1::Job& job : jobs) {
    const v1::ResourceType type = job.spec().resource_type();
    std::string resource = "-";
    std::string accuracy = "-";
    const v1::ModelResult* latest = nullptr;
    if (HasResult(job.final())) {
      latest = &job.final();
    } else if (job.history_size() > 0) {
      latest = &job.history(job.history_size() - 1).result();
    } else if (HasResult(job.seed())) {
      latest = &job.seed();
    }
    if (latest != nullptr) {
      resource = FormatResource(latest->resource(), type);
      accuracy = FormatPercent(latest->accuracy());
    }
    rows.push_back({job.name(), JobStateName(job.state()), PhaseName(job.phase()),
                    absl::StrCat(job.current_iteration(), "/", MaxIters(job.spec())),
                    ModelDescription(job.spec()), OrDash(job.spec().dataset()), resource,
                    accuracy, OrDash(Age(job.create_time(), options.now)),
                    OrDash(job.spec().display_name())});
  }
  return FormatTable({"NAME", "STATE", "PHASE", "ITER", "MODEL", "DATASET", "RESOURCE",
                      "ACCURACY", "CREATED", "DISPLAY NAME"},
                     rows);
}

std::string FormatWorkerList(const std::vector<v1::Worker>& workers,
                             const FormatOptions& options) {
  if (workers.empty()) return "no workers\n";
  std::vector<std::vector<std::string>> rows;
  for (const v1::Worker& worker : workers) {
    rows.push_back({worker.name(), OrDash(worker.address()),
                    worker.state() == v1::Worker::STATE_UNSPECIFIED
                        ? "UNKNOWN"
                        : v1::Worker::State_Name(worker.state()),
                    OrDash(absl::StrJoin(worker.devices(), ",")),
                    OrDash(Age(worker.last_heartbeat(), options.now)),
                    OrDash(absl::StrJoin(worker.tasks(), "; "))});
  }
  return FormatTable({"NAME", "ADDRESS", "STATE", "DEVICES", "HEARTBEAT", "TASKS"}, rows);
}

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.preserve_proto_field_names = true;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("cannot print ", message.GetTypeName(),
                                            " as JSON: ", status.ToString()));
  }
  if (json.empty() || json.back() != '\n') json += '\n';
  return json;
}

}  // namespace netadapt::cli
