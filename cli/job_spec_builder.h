#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netadapt/v1/resources.pb.h"

namespace netadapt::cli {

// The JobSpec fields `netadapt submit` and `netadapt pretrain` take as flags. A field is set
// only when its flag was given, so that flags override a --spec file field by field.
struct SpecFlags {
  std::optional<std::string> display_name;
  std::optional<std::string> model;
  std::optional<std::string> dataset;
  std::optional<double> width_multiplier;
  std::optional<int> input_size;
  std::optional<int> pretrain_epochs;
  std::optional<int64_t> holdout_size;
  std::optional<std::string> resource_type;  // latency | flops | weights
  std::optional<double> budget_ratio;
  std::optional<double> budget;
  std::optional<double> reduction_ratio;
  std::optional<double> reduction;
  std::optional<double> decay;
  std::optional<int> max_iters;
  std::optional<int64_t> short_term_steps;
  std::optional<double> finetune_lr;
  std::optional<double> momentum;
  std::optional<double> weight_decay;
  std::optional<int> batch_size;
  std::optional<int> long_term_epochs;
  std::optional<std::string> search;  // exact | binary | linear
  std::optional<int> binary_threshold;
  std::optional<int> channel_step;
  std::optional<double> certify_tolerance;
  std::optional<std::string> lut_mode;  // measure | interpolate
  std::optional<std::string> interpolation;
  std::optional<uint64_t> seed;
  std::optional<std::string> weights_digest;
  std::optional<std::string> lut_digest;
  std::optional<std::string> budget_metric;  // lut | measured
  std::optional<bool> uniform_baseline;
};

enum class JobKind {
  // `submit`: a NetAdapt run (max_iters >= 1).
  kAdapt,
  // `pretrain`: prepares the seed network only; max_iters is 0 and pretrain_epochs required.
  kPretrain,
};

// Builds the spec of a job: `spec_json` (a JobSpec in protobuf's JSON mapping, "" for none)
// first, then every flag that is set; `network_json` (a NetworkDef as common/
// network_def_json.h reads it, "" for none) replaces the model. The result passes
// ValidateJobSpec. InvalidArgument naming the flag (or the spec field) otherwise, e.g.
// "--budget-ratio must be in (0, 1), got 1.5".
absl::StatusOr<v1::JobSpec> BuildJobSpec(const SpecFlags& flags, absl::string_view spec_json,
                                         absl::string_view network_json, JobKind kind);

// The checks the CLI can make without the master: exactly one of model / network, a known zoo
// model, a dataset spec that parses, ratios in (0, 1), positive counts and rates (0 means
// "the default" for every numeric field). InvalidArgument naming the field.
absl::Status ValidateJobSpec(const v1::JobSpec& spec, JobKind kind);

// Checkpoint when `content` starts with our magic "NACKPT", else a PyTorch state_dict.
v1::WeightsFormat DetectWeightsFormat(absl::string_view content);

// "jobs/7" for "jobs/7" or "7". InvalidArgument for an empty name or another collection.
absl::StatusOr<std::string> ParseJobName(absl::string_view name);

// 32 random hex digits: a CreateJobRequest.request_id.
std::string NewRequestId();

}  // namespace netadapt::cli
