#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "netadapt/v1/resources.pb.h"

namespace netadapt::cli {

// `netadapt report`: a job as one self-contained HTML page. Pure functions of their arguments
// (no clock, no I/O), so tests compare their output.
//
// The page is also well-formed XML (void elements closed, text escaped, no script), so it
// parses with an XML parser as well as in a browser; every plot is an inline
// <svg xmlns="http://www.w3.org/2000/svg"> element whose numbers are in <text> labels and
// <title> tooltips, repeated in an HTML table under the plot.

struct ReportOptions {
  // Printed as "generated ..." in the page's footer; nothing when InfinitePast.
  absl::Time generated = absl::InfinitePast();
  absl::TimeZone zone = absl::UTCTimeZone();
};

// The whole page: a header (job, model, state, budget), the summary table (seed vs adapted:
// LUT latency, measured latency, accuracy, weights, MACs), the four plots (latency vs
// accuracy, per-layer widths, time per iteration, LUT prediction error) and the iteration
// table. Any job renders, however far it got (a job with no history shows the seed only).
std::string RenderReportHtml(const v1::Job& job, const ReportOptions& options = {});

// The plots, each one <svg> element.
// Accuracy (y) against the resource (x: LUT latency for LATENCY jobs) of the seed, every
// iteration and the final model, plus measured latency where known (LATENCY jobs).
std::string LatencyAccuracySvg(const v1::Job& job);
// Output width of every conv and linear layer: the seed's and the adapted network's.
std::string WidthsSvg(const v1::Job& job);
// Stacked bars per iteration: search (simplify), fine-tune, evaluate, and the rest of the
// iteration's wall time ("other": dispatch, waiting for workers).
std::string TimeSvg(const v1::Job& job);
// LUT prediction error of the seed, every iteration and the final model; "not measured" for
// those without a measured latency.
std::string LutErrorSvg(const v1::Job& job);

// |resource - measured| / measured for a LATENCY model with a measured latency; nullopt when
// either is missing (not measured, or not a latency job).
std::optional<double> LutError(const v1::ModelResult& result, v1::ResourceType type);
// The same error for the calibrated prediction (LUT + Job.lut_overhead_ms); nullopt without a
// calibration or a measurement.
std::optional<double> CalibratedLutError(const v1::Job& job, const v1::ModelResult& result);

// The model the job adapted the seed to: the final one when the job has one, else the last
// iteration's result, else nullptr (no iteration done yet). `label` (when not null) is set to
// "final" or "iteration K".
const v1::ModelResult* AdaptedModel(const v1::Job& job, std::string* label = nullptr);

// Text for HTML and XML: & < > " ' escaped.
std::string XmlEscape(absl::string_view text);

}  // namespace netadapt::cli
