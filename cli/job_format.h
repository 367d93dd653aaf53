#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "netadapt/v1/job_service.pb.h"
#include "netadapt/v1/resources.pb.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace netadapt::cli {

// Text renderings of jobs and workers for the `netadapt` commands: pure functions of their
// arguments (the clock and time zone come in FormatOptions), so tests can compare output.

// JobSpec.max_iters when 0 (resources.proto).
inline constexpr int kDefaultMaxIters = 30;

struct FormatOptions {
  // Time zone of printed timestamps.
  absl::TimeZone zone = absl::UTCTimeZone();
  // "Now", for ages ("3m ago") and elapsed times.
  absl::Time now = absl::UnixEpoch();
};

// A resource value with its unit: "12.34 ms" (LATENCY and UNSPECIFIED), "1.23 GMAC" (FLOPS),
// "2.46 M weights" (WEIGHTS).
std::string FormatResource(double value, v1::ResourceType type);
// A fraction in [0, 1] as a percentage: 0.9123 -> "91.23%".
std::string FormatPercent(double fraction);
// Short human duration: "850ms", "41.2s", "12m03s", "3h04m", "2d03h".
std::string HumanDuration(absl::Duration duration);
// "2024-05-01 12:00:00" in `zone`; "-" for an unset timestamp.
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp, absl::TimeZone zone);
// "latency", "flops", "weights" (UNSPECIFIED is latency, the default).
std::string ResourceTypeName(v1::ResourceType type);
// "RUNNING", "FINE_TUNING", ...: the enum value's name.
std::string JobStateName(v1::Job::State state);
std::string PhaseName(v1::Job::Phase phase);
std::string ProposalStateName(v1::Proposal::State state);
// What the job adapts: "alexnet", "alexnet (x0.5, 32px)", or "network tiny (7 layers)".
std::string ModelDescription(const v1::JobSpec& spec);
// The iteration limit with its default applied.
int MaxIters(const v1::JobSpec& spec);

// Aligned columns separated by two spaces, a header line first; every line ends in '\n'.
// Rows shorter than the header are padded with empty cells.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// Accuracies on the test split (0 when not evaluated): the seed's (ModelResult.test_accuracy),
// the final network's (its `accuracy` is on the test split in every version), the uniform
// baseline's and the seed's after the same training.
double SeedTestAccuracy(const v1::Job& job);
double FinalTestAccuracy(const v1::Job& job);
// "seed 89.08% -> final 88.89% (-0.19 points)": both on the test split; "" when either is
// missing (a held-out figure is never compared with a test one).
std::string SeedVsFinalText(const v1::Job& job);
// "accuracy 88.89% vs 89.15% (-0.26 points); LUT 3.20 ms vs 3.19 ms, measured 4.10 ms vs
// 4.02 ms": the final network against the uniform baseline at equal latency, on the test
// split; "" until both are there.
std::string AdaptedVsUniformText(const v1::Job& job);
// "at equal latency" (LATENCY), "at equal MACs" (FLOPS), "at equal weights" (WEIGHTS): what
// the uniform baseline is matched on.
std::string AtEqualResource(v1::ResourceType type);
// The uniform baseline's state in words: "x0.62, widths 8,24,40,10: 3.19 ms (measured 4.02
// ms), accuracy 89.15% test" when done, else its state and reason; "" when the job has none.
std::string UniformBaselineText(const v1::Job& job);

// A network's end-to-end latency with its spread: "1.94 ms"; "1.94 ms (up to 2.40)" when the
// slowest of its measurements was more than 10 % slower; "1.94 ms (noisy: up to 3.88)" when
// they never agreed (ModelResult.measured_latency_unstable). "" when not measured.
std::string MeasuredLatencyText(const v1::ModelResult& result);
// The LUT's prediction calibrated with the seed's overhead (Job.lut_overhead_ms): the
// result's LUT sum plus that term; 0 when the job has no such term (not LATENCY, or the seed
// was not measured).
double CalibratedLatency(const v1::Job& job, const v1::ModelResult& result);

// What the job's image folders left out as unreadable (skip_corrupt): the distinct files, the
// first few by name, and the images left out over all reads; "" when nothing was left out.
std::string SkippedFilesText(const v1::Job& job);

// What a LATENCY job's look-ups cost (Job.measurements or one of iteration_measurements):
// "12 shapes measured on the device (340 ms), 3021 of 3033 look-ups from the LUT"; "" when
// nothing was looked up.
std::string MeasurementsText(const v1::LatencyMeasurements& measurements);
// The counts of iteration `iteration` (0: the seed's preparation); nullptr when it has none.
const v1::LatencyMeasurements* IterationMeasurements(const v1::Job& job, int iteration);

// `netadapt get`: the job's summary, history table and current proposals.
std::string FormatJobDetails(const v1::Job& job, const FormatOptions& options);
// `netadapt list`: one row per job; "no jobs\n" when empty.
std::string FormatJobList(const std::vector<v1::Job>& jobs, const FormatOptions& options);
// `netadapt workers`: one row per worker; "no workers\n" when empty.
std::string FormatWorkerList(const std::vector<v1::Worker>& workers,
                             const FormatOptions& options);

// The protobuf JSON mapping of `message` (proto field names; indented, or on one line when
// `pretty` is false), ending in '\n'. Internal if protobuf cannot print it.
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message, bool pretty = true);

}  // namespace netadapt::cli
