#include "cli/report.h"

#include <google/protobuf/timestamp.pb.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/job_format.h"

namespace netadapt::cli {
namespace {

// Colours of the series (the "category10" palette, readable on white and in grey print).
constexpr char kSeedColor[] = "#b8c2cc";
constexpr char kLutColor[] = "#1f77b4";
constexpr char kMeasuredColor[] = "#d62728";
constexpr char kSearchColor[] = "#1f77b4";
constexpr char kFineTuneColor[] = "#ff7f0e";
constexpr char kEvaluateColor[] = "#2ca02c";
constexpr char kOtherColor[] = "#c7c7c7";
// Test-split points of the latency-accuracy plot.
constexpr char kFinalColor[] = "#2ca02c";
constexpr char kUniformColor[] = "#9467bd";
constexpr char kSeedTestColor[] = "#7f7f7f";
constexpr char kSeedTrainedColor[] = "#8c564b";

// A coordinate: one decimal is below a pixel.
std::string C(double v) { return absl::StrFormat("%.1f", v); }

bool IsLatency(v1::ResourceType type) {
  return type == v1::RESOURCE_TYPE_LATENCY || type == v1::RESOURCE_TYPE_UNSPECIFIED;
}

bool HasResult(const v1::ModelResult& result) {
  return !result.model_digest().empty() || result.resource() > 0 || result.accuracy() > 0;
}

// 61100840 -> "61,100,840".
std::string Thousands(int64_t value) {
  std::string digits = absl::StrCat(value < 0 ? -value : value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

std::string Seconds(double seconds) { return HumanDuration(absl::Seconds(seconds)); }

// One model of the job: the seed, every iteration's choice, the final one, then the uniform
// baseline and the seed trained alike. Accuracies: `held_out` (the seed's and the
// iterations'), `test` (the seed's, the final network's, the baselines'); 0 where not
// evaluated.
struct ModelPoint {
  std::string label;  // "seed", "3", "final", "uniform", "seed trained alike"
  std::string name;   // "seed", "iteration 3", "final", "uniform baseline", ...
  const v1::ModelResult* result;
  double held_out = 0;
  double test = 0;
  const char* color = kLutColor;  // of its test-split marker
};

bool HasUniform(const v1::Job& job) {
  return job.uniform_baseline().state() == v1::UniformBaseline::SUCCEEDED &&
         job.uniform_baseline().result().test_accuracy() > 0;
}

std::vector<ModelPoint> ModelPoints(const v1::Job& job, bool baselines = true) {
  std::vector<ModelPoint> points;
  if (HasResult(job.seed())) {
    points.push_back({"seed", "seed", &job.seed(), job.seed().accuracy(),
                      job.seed().test_accuracy(), kSeedTestColor});
  }
  for (const v1::Iteration& it : job.history()) {
    points.push_back({absl::StrCat(it.iteration()), absl::StrCat("iteration ", it.iteration()),
                      &it.result(), it.result().accuracy(), 0});
  }
  if (HasResult(job.final())) {
    points.push_back({"final", "final", &job.final(), 0, FinalTestAccuracy(job), kFinalColor});
  }
  if (baselines && HasUniform(job)) {
    const v1::UniformBaseline& baseline = job.uniform_baseline();
    points.push_back({"uniform", "uniform baseline", &baseline.result(), 0,
                      baseline.result().test_accuracy(), kUniformColor});
    if (baseline.seed_fine_tuned().test_accuracy() > 0) {
      points.push_back({"seed trained alike", "seed trained alike", &baseline.seed_fine_tuned(),
                        0, baseline.seed_fine_tuned().test_accuracy(), kSeedTrainedColor});
    }
  }
  return points;
}

// An axis from lo to hi in round steps.
struct Axis {
  double lo = 0;
  double hi = 1;
  double step = 0.2;
};

Axis NiceAxis(double lo, double hi, int ticks = 5) {
  if (!(hi > lo)) {
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / ticks;
  const double magnitude = std::pow(10, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;
  const double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
  return {std::floor(lo / step) * step, std::ceil(hi / step) * step, step};
}

// A tick value with as many decimals as the step needs.
std::string Tick(double value, double step) {
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  if (std::fabs(value) < step * 1e-6) value = 0;
  return absl::StrFormat("%.*f", decimals, value);
}

// The resource axis' unit: values are divided by `divisor` and the axis says `unit`.
struct Scale {
  double divisor = 1;
  std::string unit;
};

Scale ResourceScale(v1::ResourceType type, double max_value) {
  if (IsLatency(type)) return {1, "ms"};
  const std::string what = type == v1::RESOURCE_TYPE_FLOPS ? "MACs" : "weights";
  if (max_value >= 1e9) return {1e9, absl::StrCat("billion ", what)};
  if (max_value >= 1e6) return {1e6, absl::StrCat("million ", what)};
  if (max_value >= 1e3) return {1e3, absl::StrCat("thousand ", what)};
  return {1, what};
}

// An SVG element under construction.
class Svg {
 public:
  Svg(double width, double height, absl::string_view label) {
    absl::StrAppend(&text_, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", C(width),
                    "\" height=\"", C(height), "\" viewBox=\"0 0 ", C(width), " ", C(height),
                    "\" role=\"img\" aria-label=\"", XmlEscape(label),
                    "\" font-family=\"sans-serif\" font-size=\"11\">\n");
  }
  void Add(absl::string_view element) { absl::StrAppend(&text_, element, "\n"); }
  // <text> at (x, y); anchor start|middle|end; rotated by `rotate` degrees around (x, y).
  void Text(double x, double y, absl::string_view content, absl::string_view anchor = "start",
            absl::string_view extra = "", double rotate = 0) {
    std::string transform;
    if (rotate != 0) {
      transform = absl::StrCat(" transform=\"rotate(", C(rotate), " ", C(x), " ", C(y), ")\"");
    }
    absl::StrAppend(&text_, "<text x=\"", C(x), "\" y=\"", C(y), "\" text-anchor=\"", anchor,
                    "\"", transform, extra.empty() ? "" : " ", extra, ">", XmlEscape(content),
                    "</text>\n");
  }
  // A rectangle with a tooltip.
  void Rect(double x, double y, double w, double h, absl::string_view fill,
            absl::string_view title) {
    absl::StrAppend(&text_, "<rect x=\"", C(x), "\" y=\"", C(y), "\" width=\"",
                    C(std::max(0.0, w)), "\" height=\"", C(std::max(0.0, h)), "\" fill=\"", fill,
                    "\"><title>", XmlEscape(title), "</title></rect>\n");
  }
  void Line(double x1, double y1, double x2, double y2, absl::string_view stroke,
            absl::string_view extra = "") {
    absl::StrAppend(&text_, "<line x1=\"", C(x1), "\" y1=\"", C(y1), "\" x2=\"", C(x2),
                    "\" y2=\"", C(y2), "\" stroke=\"", stroke, "\"", extra.empty() ? "" : " ",
                    extra, "/>\n");
  }
  std::string Finish() && {
    absl::StrAppend(&text_, "</svg>");
    return std::move(text_);
  }

 private:
  std::string text_;
};

// A legend entry per (colour, name), in a row from (x, y).
void Legend(Svg& svg, double x, double y,
            const std::vector<std::pair<std::string, std::string>>& entries) {
  for (const auto& [color, name] : entries) {
    svg.Add(absl::StrCat("<rect x=\"", C(x), "\" y=\"", C(y - 9), "\" width=\"10\" height=\"10\" "
                         "fill=\"",
                         color, "\"/>"));
    svg.Text(x + 14, y, name);
    x += 24 + 6.5 * name.size();
  }
}

// A chart area with a linear y axis (grid lines and tick labels) and room for labels.
struct Frame {
  double left = 70;
  double top = 36;
  double width = 600;
  double height = 260;
  Axis y;

  double Y(double value) const { return top + height - (value - y.lo) / (y.hi - y.lo) * height; }
  double bottom() const { return top + height; }
  double right() const { return left + width; }

  void DrawY(Svg& svg, absl::string_view title) const {
    for (double v = y.lo; v <= y.hi + y.step * 1e-6; v += y.step) {
      svg.Line(left, Y(v), right(), Y(v), "#e5e5e5");
      svg.Text(left - 6, Y(v) + 4, Tick(v, y.step), "end");
    }
    svg.Line(left, top, left, bottom(), "#333333");
    svg.Line(left, bottom(), right(), bottom(), "#333333");
    svg.Text(16, top + height / 2, title, "middle", "", -90);
  }
};

std::string EmptySvg(absl::string_view label, absl::string_view message) {
  Svg svg(600, 60, label);
  svg.Text(300, 34, message, "middle", "fill=\"#666666\"");
  return std::move(svg).Finish();
}

// The layer names of the weighted (conv, linear) layers of `network`.
std::vector<std::string> WeightedLayerNames(const v1::NetworkDef& network) {
  std::vector<std::string> names;
  for (const v1::Layer& layer : network.layers()) {
    if (layer.op() == "conv2d" || layer.op() == "linear") names.push_back(layer.name());
  }
  return names;
}

std::vector<int32_t> WeightedLayerWidths(const v1::NetworkDef& network) {
  std::vector<int32_t> widths;
  for (const v1::Layer& layer : network.layers()) {
    if (layer.op() == "conv2d" || layer.op() == "linear") widths.push_back(layer.out_channels());
  }
  return widths;
}

std::string Html(absl::string_view text) { return XmlEscape(text); }

// A <table> with a header row; cells are HTML already.
std::string HtmlTable(const std::vector<std::string>& header,
                      const std::vector<std::vector<std::string>>& rows,
                      absl::string_view css_class = "") {
  std::string out = css_class.empty() ? "<table>\n"
                                      : absl::StrCat("<table class=\"", css_class, "\">\n");
  absl::StrAppend(&out, "<tr>");
  for (const std::string& h : header) absl::StrAppend(&out, "<th>", h, "</th>");
  absl::StrAppend(&out, "</tr>\n");
  for (const auto& row : rows) {
    absl::StrAppend(&out, "<tr>");
    for (const std::string& cell : row) absl::StrAppend(&out, "<td>", cell, "</td>");
    absl::StrAppend(&out, "</tr>\n");
  }
  absl::StrAppend(&out, "</table>\n");
  return out;
}

std::string MeasuredText(const v1::ModelResult& result) {
  return result.measured_latency_ms() > 0 ? MeasuredLatencyText(result) : "not measured";
}

// "12.3%", and "12.3% (calibrated 2.1%)" where the job has a calibration.
std::string LutErrorText(const v1::Job& job, const v1::ModelResult& result) {
  const v1::ResourceType type = job.spec().resource_type();
  const std::optional<double> error = LutError(result, type);
  if (!error) return "not measured";
  std::string text = absl::StrFormat("%.1f%%", *error * 100);
  if (const std::optional<double> calibrated = CalibratedLutError(job, result)) {
    absl::StrAppend(&text, absl::StrFormat(" (calibrated %.1f%%)", *calibrated * 100));
  }
  return text;
}

// "50.0% of the seed" for counts that shrink.
std::string Ratio(double adapted, double seed) {
  if (seed <= 0 || adapted <= 0) return "-";
  return absl::StrFormat("%.1f%% of the seed", adapted / seed * 100);
}

std::string SummaryTable(const v1::Job& job) {
  const v1::ResourceType type = job.spec().resource_type();
  std::string adapted_label;
  const v1::ModelResult* adapted = AdaptedModel(job, &adapted_label);
  const bool adapted_is_final = adapted == &job.final();
  const v1::ModelResult& seed = job.seed();
  const bool uniform = adapted_is_final && HasUniform(job);
  const v1::ModelResult& u = job.uniform_baseline().result();
  std::vector<std::vector<std::string>> rows;
  auto row = [&](std::string name, std::string seed_text, std::string adapted_text,
                 std::string uniform_text, std::string change) {
    std::vector<std::string> cells = {Html(name), Html(seed_text),
                                      adapted ? Html(adapted_text) : "-"};
    if (uniform) cells.push_back(Html(uniform_text));
    cells.push_back(adapted ? Html(change) : "-");
    rows.push_back(std::move(cells));
  };
  const std::string resource_name =
      IsLatency(type) ? "LUT latency" : absl::StrCat("resource (", ResourceTypeName(type), ")");
  const v1::ModelResult none;
  const v1::ModelResult& a = adapted ? *adapted : none;
  row(resource_name, FormatResource(seed.resource(), type), FormatResource(a.resource(), type),
      FormatResource(u.resource(), type), Ratio(a.resource(), seed.resource()));
  row("measured latency", MeasuredText(seed), MeasuredText(a), MeasuredText(u),
      Ratio(a.measured_latency_ms(), seed.measured_latency_ms()));
  if (IsLatency(type)) {
    row("LUT prediction error", LutErrorText(job, seed), LutErrorText(job, a),
        LutErrorText(job, u), "");
  }
  // Accuracies are compared on one split only: the test split once the final network is
  // there (the seed is evaluated on it too), the held-out split while the job iterates.
  if (adapted_is_final) {
    const double seed_test = SeedTestAccuracy(job);
    const double final_test = FinalTestAccuracy(job);
    row("test accuracy", seed_test > 0 ? FormatPercent(seed_test) : "not evaluated",
        FormatPercent(final_test), FormatPercent(u.test_accuracy()),
        seed_test > 0 ? absl::StrFormat("%+.2f points", (final_test - seed_test) * 100) : "-");
    row("held-out accuracy", FormatPercent(seed.accuracy()), "not evaluated", "not evaluated",
        "-");
  } else {
    row("held-out accuracy", FormatPercent(seed.accuracy()), FormatPercent(a.accuracy()), "",
        absl::StrFormat("%+.2f points", (a.accuracy() - seed.accuracy()) * 100));
  }
  row("weights", seed.weights() > 0 ? Thousands(seed.weights()) : "-",
      a.weights() > 0 ? Thousands(a.weights()) : "-", u.weights() > 0 ? Thousands(u.weights()) : "-",
      Ratio(static_cast<double>(a.weights()), static_cast<double>(seed.weights())));
  row("MACs", seed.macs() > 0 ? Thousands(seed.macs()) : "-",
      a.macs() > 0 ? Thousands(a.macs()) : "-", u.macs() > 0 ? Thousands(u.macs()) : "-",
      Ratio(static_cast<double>(a.macs()), static_cast<double>(seed.macs())));
  std::vector<std::string> header = {"", "seed",
                                     Html(adapted ? adapted_label : "adapted (none yet)")};
  if (uniform) header.push_back("uniform baseline");
  header.push_back("change (adapted vs seed)");
  return HtmlTable(header, rows, "summary");
}

// "Is the adaptation worth it?": the final network against the uniform baseline at equal
// latency and the seed trained alike, all on the test split.
std::string BaselineSection(const v1::Job& job) {
  const v1::ResourceType type = job.spec().resource_type();
  if (!job.has_uniform_baseline()) {
    return "<p class=\"note\">No uniform baseline: the job was submitted with "
           "uniform_baseline false (--no-uniform-baseline).</p>\n";
  }
  const v1::UniformBaseline& baseline = job.uniform_baseline();
  std::string out;
  const std::string comparison = AdaptedVsUniformText(job);
  if (!comparison.empty()) {
    absl::StrAppend(&out, "<p class=\"verdict\">Adapted vs uniform ", AtEqualResource(type),
                    ", test split: ", Html(comparison), "</p>\n");
  } else {
    absl::StrAppend(&out, "<p class=\"note\">Uniform baseline: ", Html(UniformBaselineText(job)),
                    "</p>\n");
  }
  std::vector<std::vector<std::string>> rows;
  for (const ModelPoint& p : ModelPoints(job)) {
    if (p.test <= 0) continue;
    const v1::ModelResult& r = *p.result;
    std::string training = "-";
    const int epochs = job.spec().long_term_fine_tune_epochs();
    const std::string long_term =
        epochs > 0 ? absl::StrCat(" + ", epochs, epochs == 1 ? " epoch" : " epochs") : "";
    if (p.label == "final") {
      training = absl::StrCat(job.history_size(), " x ",
                              job.spec().short_term_fine_tune_iteration(),
                              " steps (its iterations)", long_term);
    } else if (p.label == "uniform" || p.label == "seed trained alike") {
      const int baseline_epochs = baseline.fine_tune_epochs();
      training = absl::StrCat(baseline.fine_tune_steps(), " steps",
                              baseline_epochs > 0
                                  ? absl::StrCat(" + ", baseline_epochs,
                                                 baseline_epochs == 1 ? " epoch" : " epochs")
                                  : "");
    } else if (p.label == "seed") {
      training = "none";
    }
    rows.push_back({Html(p.name), Html(FormatResource(r.resource(), type)),
                    Html(r.measured_latency_ms() > 0
                             ? absl::StrCat(MeasuredText(r), " (best of ",
                                            r.measured_latency_runs(), ")")
                             : MeasuredText(r)),
                    Html(FormatPercent(p.test)), Html(training),
                    Html(absl::StrJoin(r.widths(), ","))});
  }
  absl::StrAppend(&out,
                  HtmlTable({"model", IsLatency(type) ? "LUT latency" : "resource",
                             "measured latency", "test accuracy", "training after the seed",
                             "widths"},
                            rows, "baseline"));
  absl::StrAppend(
      &out,
      "<p class=\"note\">The uniform baseline thins every prunable block of the seed by one "
      "multiplier",
      baseline.width_multiplier() > 0
          ? absl::StrFormat(" (x%.3f)", baseline.width_multiplier())
          : "",
      ", rounded to the channel step, to the final network's resource (the nearest such "
      "network), keeping the filters the pruning keeps; it and the seed are then fine-tuned "
      "as the final network's lineage was (the short-term steps of every iteration, then the "
      "long-term epochs). Latencies of the seed, the final network and the baseline are each "
      "the fastest of the same number of end-to-end measurements, taken alternately.</p>\n");
  return out;
}

std::string IterationTable(const v1::Job& job) {
  const v1::ResourceType type = job.spec().resource_type();
  // Shapes each iteration measured on the device (the seed's row: its preparation's).
  const bool device = job.iteration_measurements_size() > 0;
  std::vector<std::vector<std::string>> rows;
  for (const ModelPoint& point : ModelPoints(job)) {
    const v1::ModelResult& r = *point.result;
    std::vector<std::string> row = {Html(point.label)};
    const v1::Iteration* it = nullptr;
    for (const v1::Iteration& candidate : job.history()) {
      if (&candidate.result() == point.result) it = &candidate;
    }
    row.push_back(it ? Html(absl::StrCat(it->chosen_layer().empty() ? "block" : it->chosen_layer(),
                                         " (", it->chosen_block(), ")"))
                     : "");
    row.push_back(it && it->target_resource() > 0
                      ? Html(FormatResource(it->target_resource(), type))
                      : "");
    row.push_back(Html(FormatResource(r.resource(), type)));
    row.push_back(Html(MeasuredText(r)));
    if (IsLatency(type)) row.push_back(Html(LutErrorText(job, r)));
    if (device) {
      const v1::LatencyMeasurements* m =
          it != nullptr ? IterationMeasurements(job, it->iteration())
                        : (point.result == &job.seed() ? IterationMeasurements(job, 0) : nullptr);
      row.push_back(m != nullptr ? Html(absl::StrCat(m->shapes_measured(), " (",
                                                     absl::StrFormat("%.0f", m->device_ms()),
                                                     " ms)"))
                                 : "");
    }
    row.push_back(point.held_out > 0 ? Html(FormatPercent(point.held_out)) : "");
    row.push_back(point.test > 0 ? Html(FormatPercent(point.test)) : "");
    if (it != nullptr) {
      row.push_back(Html(Seconds(it->simplify_seconds())));
      row.push_back(Html(Seconds(it->fine_tune_seconds())));
      row.push_back(Html(Seconds(it->evaluate_seconds())));
      row.push_back(Html(Seconds(it->duration_seconds())));
    } else {
      row.insert(row.end(), {"", "", "", ""});
    }
    row.push_back(Html(absl::StrJoin(r.widths(), ",")));
    rows.push_back(std::move(row));
  }
  std::vector<std::string> header = {"model", "chosen block", "target",
                                     IsLatency(type) ? "LUT latency" : "resource",
                                     "measured latency"};
  if (IsLatency(type)) header.push_back("LUT error");
  if (device) header.push_back("shapes measured");
  header.insert(header.end(), {"held-out accuracy", "test accuracy", "search", "fine-tune",
                               "evaluate", "iteration time", "widths"});
  return HtmlTable(header, rows, "iterations");
}

constexpr char kStyle[] = R"(
body { font-family: sans-serif; margin: 2em; color: #222222; max-width: 1100px; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #dddddd; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #dddddd; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
table.iterations td:last-child, table.baseline td:last-child { text-align: left; font-family: monospace; }
.verdict { font-weight: bold; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; }
dt { font-weight: bold; }
dd { margin: 0; }
svg { max-width: 100%; height: auto; display: block; }
.note { color: #555555; font-size: 0.85em; }
.failed { color: #b00020; }
)";

}  // namespace

std::string XmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters are not allowed in XML 1.0 text.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') {
          out += ' ';
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::optional<double> LutError(const v1::ModelResult& result, v1::ResourceType type) {
  if (!IsLatency(type) || result.resource() <= 0 || result.measured_latency_ms() <= 0) {
    return std::nullopt;
  }
  return std::fabs(result.resource() - result.measured_latency_ms()) /
         result.measured_latency_ms();
}

std::optional<double> CalibratedLutError(const v1::Job& job, const v1::ModelResult& result) {
  const double calibrated = CalibratedLatency(job, result);
  if (calibrated <= 0 || result.measured_latency_ms() <= 0) return std::nullopt;
  return std::fabs(calibrated - result.measured_latency_ms()) / result.measured_latency_ms();
}

const v1::ModelResult* AdaptedModel(const v1::Job& job, std::string* label) {
  if (HasResult(job.final())) {
    if (label != nullptr) *label = "final";
    return &job.final();
  }
  if (job.history_size() > 0) {
    const v1::Iteration& last = job.history(job.history_size() - 1);
    if (label != nullptr) *label = absl::StrCat("iteration ", last.iteration());
    return &last.result();
  }
  return nullptr;
}

std::string LatencyAccuracySvg(const v1::Job& job) {
  const v1::ResourceType type = job.spec().resource_type();
  const std::vector<ModelPoint> points = ModelPoints(job);
  const std::string label = IsLatency(type) ? "latency vs accuracy" : "resource vs accuracy";
  if (points.empty()) return EmptySvg(label, "no results yet: the seed is being prepared");

  double x_max = 0;
  double x_min = HUGE_VAL;
  double y_min = HUGE_VAL;
  double y_max = -HUGE_VAL;
  const bool measured_axis = IsLatency(type);
  for (const ModelPoint& p : points) {
    const v1::ModelResult& r = *p.result;
    for (double x : {r.resource(), measured_axis ? r.measured_latency_ms() : 0.0}) {
      if (x <= 0) continue;
      x_min = std::min(x_min, x);
      x_max = std::max(x_max, x);
    }
    for (double accuracy : {p.held_out, p.test}) {
      if (accuracy <= 0) continue;
      y_min = std::min(y_min, accuracy * 100);
      y_max = std::max(y_max, accuracy * 100);
    }
  }
  if (y_max < y_min) y_min = y_max = 0;
  if (x_max <= 0) x_min = x_max = 0;
  if (job.budget() > 0 && x_max > 0) {
    x_min = std::min(x_min, job.budget());
    x_max = std::max(x_max, job.budget());
  }
  const Scale scale = ResourceScale(type, x_max);
  const Axis x_axis = NiceAxis(x_min / scale.divisor, x_max / scale.divisor);

  Frame frame;
  frame.width = 620;
  frame.height = 300;
  frame.y = NiceAxis(y_min - 0.5, y_max + 0.5);
  frame.y.lo = std::max(frame.y.lo, 0.0);
  frame.y.hi = std::min(frame.y.hi, 100.0);
  if (frame.y.hi <= frame.y.lo) frame.y = NiceAxis(0, 100);
  auto X = [&](double value) {
    return frame.left + (value / scale.divisor - x_axis.lo) / (x_axis.hi - x_axis.lo) *
                            frame.width;
  };

  Svg svg(frame.right() + 30, frame.bottom() + 56, label);
  frame.DrawY(svg, "accuracy (%)");
  for (double v = x_axis.lo; v <= x_axis.hi + x_axis.step * 1e-6; v += x_axis.step) {
    const double x = frame.left + (v - x_axis.lo) / (x_axis.hi - x_axis.lo) * frame.width;
    svg.Line(x, frame.top, x, frame.bottom(), "#f0f0f0");
    svg.Text(x, frame.bottom() + 16, Tick(v, x_axis.step), "middle");
  }
  svg.Text(frame.left + frame.width / 2, frame.bottom() + 38,
           IsLatency(type) ? "latency (ms): LUT prediction and measured on the device"
                           : absl::StrCat(ResourceTypeName(type), " (", scale.unit, ")"),
           "middle");
  if (job.budget() > 0) {
    const double x = X(job.budget());
    svg.Line(x, frame.top, x, frame.bottom(), "#888888", "stroke-dasharray=\"4 3\"");
    svg.Text(x + 4, frame.top + 12, absl::StrCat("budget ", FormatResource(job.budget(), type)),
             "start", "fill=\"#555555\"");
  }

  // The adaptation's path on the held-out split (the seed, then each iteration's choice): a
  // polyline in iteration order, a marker per point with its tooltip, and the point's label.
  std::vector<const ModelPoint*> path;
  for (const ModelPoint& p : points) {
    if (p.held_out > 0) path.push_back(&p);
  }
  auto series = [&](bool measured, absl::string_view color) {
    std::vector<std::string> coordinates;
    std::string markers;
    for (const ModelPoint* p : path) {
      const v1::ModelResult& r = *p->result;
      const double value = measured ? r.measured_latency_ms() : r.resource();
      if (value <= 0) continue;
      const double x = X(value);
      const double y = frame.Y(p->held_out * 100);
      coordinates.push_back(absl::StrCat(C(x), ",", C(y)));
      const std::string title =
          absl::StrCat(p->name, ": ", measured ? "measured " : (IsLatency(type) ? "LUT " : ""),
                       FormatResource(value, measured ? v1::RESOURCE_TYPE_LATENCY : type),
                       ", accuracy ", FormatPercent(p->held_out), " held-out");
      if (measured) {
        absl::StrAppend(&markers, "<rect x=\"", C(x - 4), "\" y=\"", C(y - 4),
                        "\" width=\"8\" height=\"8\" fill=\"", color, "\"><title>",
                        XmlEscape(title), "</title></rect>\n");
      } else {
        absl::StrAppend(&markers, "<circle cx=\"", C(x), "\" cy=\"", C(y), "\" r=\"4.5\" fill=\"",
                        color, "\"><title>", XmlEscape(title), "</title></circle>\n");
        // Iteration numbers beside the LUT markers; numbers in full at both ends.
        const bool end = p == path.front() || p == path.back();
        const std::string text =
            end ? absl::StrCat(p->label, ": ", FormatResource(value, type), ", ",
                               FormatPercent(p->held_out))
                : p->label;
        absl::StrAppend(&markers, "<text x=\"", C(x + 6), "\" y=\"", C(y - 6),
                        "\" font-size=\"10\" fill=\"#333333\">", XmlEscape(text), "</text>\n");
      }
    }
    if (coordinates.size() > 1) {
      svg.Add(absl::StrCat("<polyline fill=\"none\" stroke=\"", color,
                           "\" stroke-width=\"1.5\" points=\"", absl::StrJoin(coordinates, " "),
                           "\"", measured ? " stroke-dasharray=\"5 3\"" : "", "/>"));
    }
    svg.Add(markers);
    return !coordinates.empty();
  };
  series(false, kLutColor);
  const bool any_measured = measured_axis && series(true, kMeasuredColor);

  // The test split: the seed, the final network and the baselines, as diamonds (filled at
  // the LUT latency, hollow at the measured one), labelled.
  bool any_test = false;
  for (const ModelPoint& p : points) {
    if (p.test <= 0) continue;
    any_test = true;
    const v1::ModelResult& r = *p.result;
    const double y = frame.Y(p.test * 100);
    for (bool measured : {false, true}) {
      const double value = measured ? (measured_axis ? r.measured_latency_ms() : 0) : r.resource();
      if (value <= 0) continue;
      const double x = X(value);
      const std::string title = absl::StrCat(
          p.name, " (test split): ", measured ? "measured " : (IsLatency(type) ? "LUT " : ""),
          FormatResource(value, measured ? v1::RESOURCE_TYPE_LATENCY : type), ", accuracy ",
          FormatPercent(p.test));
      svg.Add(absl::StrCat("<polygon points=\"", C(x), ",", C(y - 6), " ", C(x + 6), ",", C(y),
                           " ", C(x), ",", C(y + 6), " ", C(x - 6), ",", C(y), "\" fill=\"",
                           measured ? "#ffffff" : p.color, "\" stroke=\"", p.color,
                           "\" stroke-width=\"1.5\"><title>", XmlEscape(title),
                           "</title></polygon>"));
      if (!measured) {
        svg.Text(x + 8, y + 12,
                 absl::StrCat(p.label, " (test): ", FormatResource(value, type), ", ",
                              FormatPercent(p.test)),
                 "start", absl::StrCat("font-size=\"10\" fill=\"", p.color, "\""));
      }
    }
  }
  std::vector<std::pair<std::string, std::string>> legend = {
      {kLutColor, IsLatency(type) ? "LUT latency (held-out)" : absl::StrCat(ResourceTypeName(type), " (held-out)")}};
  if (any_measured) legend.emplace_back(kMeasuredColor, "measured (held-out)");
  if (measured_axis && !any_measured) legend.emplace_back("#ffffff", "(latency not measured)");
  if (any_test) legend.emplace_back(kFinalColor, "test split (diamonds; hollow: measured)");
  Legend(svg, frame.left, 18, legend);
  return std::move(svg).Finish();
}

std::string WidthsSvg(const v1::Job& job) {
  std::vector<int32_t> seed(job.seed().widths().begin(), job.seed().widths().end());
  const v1::NetworkDef& network =
      job.seed().network().layers_size() > 0 ? job.seed().network() : job.spec().network();
  if (seed.empty()) seed = WeightedLayerWidths(network);
  if (seed.empty()) return EmptySvg("per-layer widths", "no network yet");
  std::vector<std::string> names = WeightedLayerNames(network);
  if (names.size() != seed.size()) {
    names.clear();
    for (size_t i = 0; i < seed.size(); ++i) names.push_back(absl::StrCat("layer ", i));
  }
  std::string adapted_label;
  const v1::ModelResult* adapted = AdaptedModel(job, &adapted_label);
  if (adapted != nullptr && adapted->widths_size() != static_cast<int>(seed.size())) {
    adapted = nullptr;  // a result without widths (or of another network): seed only
  }

  const double row = 22;
  const double name_width = 150;
  const double bar_width = 420;
  const double top = 34;
  const int32_t max_width = *std::max_element(seed.begin(), seed.end());
  Svg svg(name_width + bar_width + 180, top + row * seed.size() + 16, "per-layer widths");
  Legend(svg, name_width, 18,
         adapted ? std::vector<std::pair<std::string, std::string>>{{kSeedColor, "seed"},
                                                                   {kLutColor, adapted_label}}
                 : std::vector<std::pair<std::string, std::string>>{{kSeedColor, "seed"}});
  for (size_t i = 0; i < seed.size(); ++i) {
    const double y = top + row * i;
    const double seed_length = max_width > 0 ? bar_width * seed[i] / max_width : 0;
    svg.Text(name_width - 8, y + 15, names[i], "end");
    svg.Rect(name_width, y + 3, seed_length, row - 6, kSeedColor,
             absl::StrCat(names[i], ": seed ", seed[i]));
    std::string text = absl::StrCat(seed[i]);
    if (adapted != nullptr) {
      const int32_t width = adapted->widths(static_cast<int>(i));
      svg.Rect(name_width, y + 7, max_width > 0 ? bar_width * width / max_width : 0, row - 14,
               kLutColor, absl::StrCat(names[i], ": ", adapted_label, " ", width));
      text = absl::StrCat(seed[i], " -> ", width);
      if (seed[i] > 0) absl::StrAppend(&text, absl::StrFormat(" (%.0f%%)", 100.0 * width / seed[i]));
    }
    svg.Text(name_width + seed_length + 6, y + 15, text);
  }
  return std::move(svg).Finish();
}

std::string TimeSvg(const v1::Job& job) {
  if (job.history_size() == 0) return EmptySvg("time per iteration", "no iteration done yet");
  const int n = job.history_size();
  const double slot = std::max(34.0, 620.0 / n);
  double max_total = 0;
  for (const v1::Iteration& it : job.history()) {
    max_total = std::max({max_total, it.duration_seconds(),
                          it.simplify_seconds() + it.fine_tune_seconds() + it.evaluate_seconds()});
  }
  Frame frame;
  frame.width = slot * n;
  frame.height = 240;
  frame.y = NiceAxis(0, max_total > 0 ? max_total * 1.08 : 1);
  frame.y.lo = 0;
  Svg svg(frame.right() + 20, frame.bottom() + 44, "time per iteration");
  frame.DrawY(svg, "seconds");
  Legend(svg, frame.left, 18,
         {{kSearchColor, "search (simplify)"},
          {kFineTuneColor, "fine-tune"},
          {kEvaluateColor, "evaluate"},
          {kOtherColor, "other (dispatch, waiting)"}});
  const double bar = slot * 0.6;
  for (int i = 0; i < n; ++i) {
    const v1::Iteration& it = job.history(i);
    const double x = frame.left + slot * i + (slot - bar) / 2;
    const double split = it.simplify_seconds() + it.fine_tune_seconds() + it.evaluate_seconds();
    const double other = std::max(0.0, it.duration_seconds() - split);
    double base = 0;
    for (const auto& [seconds, color, name] :
         {std::tuple{it.simplify_seconds(), kSearchColor, "search (simplify)"},
          std::tuple{it.fine_tune_seconds(), kFineTuneColor, "fine-tune"},
          std::tuple{it.evaluate_seconds(), kEvaluateColor, "evaluate"},
          std::tuple{other, kOtherColor, "other"}}) {
      if (seconds <= 0) continue;
      svg.Rect(x, frame.Y(base + seconds), bar, frame.Y(base) - frame.Y(base + seconds), color,
               absl::StrCat("iteration ", it.iteration(), " ", name, ": ", Seconds(seconds)));
      base += seconds;
    }
    const double total = std::max(it.duration_seconds(), split);
    svg.Text(x + bar / 2, frame.Y(total) - 4, Seconds(total), "middle", "font-size=\"10\"");
    svg.Text(x + bar / 2, frame.bottom() + 16, absl::StrCat(it.iteration()), "middle");
  }
  svg.Text(frame.left + frame.width / 2, frame.bottom() + 36, "iteration", "middle");
  return std::move(svg).Finish();
}

std::string LutErrorSvg(const v1::Job& job) {
  const v1::ResourceType type = job.spec().resource_type();
  if (!IsLatency(type)) {
    return EmptySvg("LUT prediction error",
                    absl::StrCat("not a latency job (resource: ", ResourceTypeName(type),
                                 "): no LUT to check"));
  }
  std::vector<ModelPoint> points;
  for (ModelPoint& p : ModelPoints(job)) {
    if (p.label != "seed trained alike") points.push_back(std::move(p));  // the seed's network
  }
  if (points.empty()) return EmptySvg("LUT prediction error", "no results yet");
  double max_error = 0;
  for (const ModelPoint& p : points) {
    max_error = std::max(max_error, LutError(*p.result, type).value_or(0) * 100);
  }
  const double slot = std::max(40.0, 620.0 / points.size());
  Frame frame;
  frame.width = slot * points.size();
  frame.height = 200;
  frame.y = NiceAxis(0, std::max(1.0, max_error * 1.15));
  frame.y.lo = 0;
  Svg svg(frame.right() + 20, frame.bottom() + 44, "LUT prediction error");
  frame.DrawY(svg, "|LUT - measured| / measured (%)");
  const double bar = slot * 0.6;
  for (size_t i = 0; i < points.size(); ++i) {
    const ModelPoint& p = points[i];
    const v1::ModelResult& r = *p.result;
    const double x = frame.left + slot * i + (slot - bar) / 2;
    const std::optional<double> error = LutError(r, type);
    if (error) {
      const double percent = *error * 100;
      svg.Rect(x, frame.Y(percent), bar, frame.bottom() - frame.Y(percent),
               r.resource() >= r.measured_latency_ms() ? kLutColor : kMeasuredColor,
               absl::StrCat(p.name, ": LUT ", FormatResource(r.resource(), type), ", measured ",
                            FormatResource(r.measured_latency_ms(), v1::RESOURCE_TYPE_LATENCY),
                            absl::StrFormat(", error %.1f%%", percent)));
      svg.Text(x + bar / 2, frame.Y(percent) - 4, absl::StrFormat("%.1f%%", percent), "middle",
               "font-size=\"10\"");
    } else {
      svg.Text(x + bar / 2 + 4, frame.bottom() - 6, "not measured", "start",
               "font-size=\"10\" fill=\"#888888\"", -90);
    }
    svg.Text(x + bar / 2, frame.bottom() + 16, p.label, "middle");
  }
  svg.Text(frame.left + frame.width / 2, frame.bottom() + 36,
           "model (blue: LUT over-predicts, red: under-predicts)", "middle");
  return std::move(svg).Finish();
}

std::string RenderReportHtml(const v1::Job& job, const ReportOptions& options) {
  const v1::JobSpec& spec = job.spec();
  const v1::ResourceType type = spec.resource_type();
  std::string page;
  absl::StrAppend(&page, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n",
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n",
                  "<title>netadapt report: ", Html(job.name()), "</title>\n<style>", kStyle,
                  "</style>\n</head>\n<body>\n");
  absl::StrAppend(&page, "<h1>NetAdapt report: ", Html(job.name()),
                  spec.display_name().empty() ? "" : absl::StrCat(" (", Html(spec.display_name()), ")"),
                  "</h1>\n<dl>\n");
  auto item = [&page](absl::string_view term, absl::string_view value,
                      absl::string_view css_class = "") {
    absl::StrAppend(&page, "<dt>", Html(term), "</dt><dd",
                    css_class.empty() ? "" : absl::StrCat(" class=\"", css_class, "\""), ">",
                    Html(value), "</dd>\n");
  };
  item("model", ModelDescription(spec));
  item("dataset", spec.dataset());
  item("state", absl::StrCat(JobStateName(job.state()), ", phase ", PhaseName(job.phase())),
       job.state() == v1::Job::FAILED ? "failed" : "");
  if (!job.reason().empty()) item("reason", job.reason(), "failed");
  item("resource", ResourceTypeName(type));
  if (job.budget() > 0) {
    item("budget", job.seed().resource() > 0
                       ? absl::StrFormat("%s (%.1f%% of the seed)",
                                         FormatResource(job.budget(), type),
                                         job.budget() / job.seed().resource() * 100)
                       : FormatResource(job.budget(), type));
  }
  item("iterations", absl::StrCat(job.history_size(), " done (at most ", MaxIters(spec), ")"));
  if (const std::string device = MeasurementsText(job.measurements()); !device.empty()) {
    item("device", device);
  }
  item("created", FormatTimestamp(job.create_time(), options.zone));
  item("updated", FormatTimestamp(job.update_time(), options.zone));
  absl::StrAppend(&page, "</dl>\n");

  absl::StrAppend(&page, "<h2 id=\"summary\">Seed vs adapted</h2>\n", SummaryTable(job),
                  "<p class=\"note\">Accuracy is top-1, and figures are compared on one split "
                  "only: the seed's and the iterations' on the held-out split carved from the "
                  "training set, the seed's, the final model's and the baselines' also on the "
                  "test split. LUT latency is the sum of the per-layer look-up table entries; "
                  "measured latency is the whole network timed end to end on the device.</p>\n");
  absl::StrAppend(&page, "<h2 id=\"baseline\">Adapted vs uniform ", AtEqualResource(type),
                  "</h2>\n",
                  BaselineSection(job));
  absl::StrAppend(&page, "<h2 id=\"latency-accuracy\">",
                  IsLatency(type) ? "Latency vs accuracy" : "Resource vs accuracy", "</h2>\n",
                  LatencyAccuracySvg(job), "\n");
  absl::StrAppend(&page, "<h2 id=\"widths\">Per-layer widths</h2>\n", WidthsSvg(job), "\n");
  absl::StrAppend(&page, "<h2 id=\"time\">Time per iteration</h2>\n", TimeSvg(job),
                  "\n<p class=\"note\">Blocks run in parallel on the workers: search, fine-tune "
                  "and evaluate are the longest such task of any block in the iteration, and "
                  "other is the rest of the iteration's wall time.</p>\n");
  absl::StrAppend(&page, "<h2 id=\"lut-error\">LUT prediction error</h2>\n", LutErrorSvg(job),
                  "\n");
  absl::StrAppend(&page, "<h2 id=\"iterations\">Iterations</h2>\n", IterationTable(job));
  absl::StrAppend(&page, "<p class=\"note\">netadapt report");
  if (options.generated != absl::InfinitePast()) {
    absl::StrAppend(&page, ", generated ",
                    absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", options.generated, options.zone));
  }
  absl::StrAppend(&page, ". Self-contained: no scripts, no network.</p>\n</body>\n</html>\n");
  return page;
}

}  // namespace netadapt::cli
