#include "cli/job_spec_builder.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "cli/job_format.h"
#include "common/artifact_store.h"
#include "common/dataset_spec.h"
#include "common/network_def_json.h"
#include "common/status_macros.h"
#include "common/zoo.h"

namespace netadapt::cli {
namespace {

// Range checks of explicitly given flags: a flag set to 0 is an error even where 0 in the
// spec means "the default", because the user asked for 0.
absl::Status CheckRatio(const std::optional<double>& value, absl::string_view flag) {
  if (value && !(*value > 0 && *value < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " must be in (0, 1), got ", *value));
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status CheckPositive(const std::optional<T>& value, absl::string_view flag) {
  if (value && !(*value > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " must be positive, got ", *value));
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status CheckNonNegative(const std::optional<T>& value, absl::string_view flag) {
  if (value && *value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " must not be negative, got ", *value));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ResourceType> ParseResourceType(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "latency") return v1::RESOURCE_TYPE_LATENCY;
  if (lower == "flops" || lower == "macs") return v1::RESOURCE_TYPE_FLOPS;
  if (lower == "weights") return v1::RESOURCE_TYPE_WEIGHTS;
  return absl::InvalidArgumentError(absl::StrCat(
      "--resource-type must be latency, flops or weights, got '", text, "'"));
}

absl::StatusOr<v1::SearchStrategy> ParseSearch(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "exact") return v1::SEARCH_STRATEGY_EXACT;
  if (lower == "binary") return v1::SEARCH_STRATEGY_BINARY;
  if (lower == "linear") return v1::SEARCH_STRATEGY_LINEAR;
  return absl::InvalidArgumentError(
      absl::StrCat("--search must be exact, binary or linear, got '", text, "'"));
}

absl::StatusOr<v1::LutMode> ParseLutMode(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "measure") return v1::LUT_MODE_MEASURE;
  if (lower == "interpolate") return v1::LUT_MODE_INTERPOLATE;
  return absl::InvalidArgumentError(
      absl::StrCat("--lut-mode must be measure or interpolate, got '", text, "'"));
}

absl::StatusOr<v1::BudgetMetric> ParseBudgetMetric(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "lut") return v1::BUDGET_METRIC_LUT;
  if (lower == "measured") return v1::BUDGET_METRIC_MEASURED;
  return absl::InvalidArgumentError(
      absl::StrCat("--budget-metric must be lut or measured, got '", text, "'"));
}

absl::Status CheckFlags(const SpecFlags& f, JobKind kind) {
  NETADAPT_RETURN_IF_ERROR(CheckRatio(f.budget_ratio, "--budget-ratio"));
  NETADAPT_RETURN_IF_ERROR(CheckRatio(f.reduction_ratio, "--reduction-ratio"));
  NETADAPT_RETURN_IF_ERROR(CheckPositive(f.budget, "--budget"));
  NETADAPT_RETURN_IF_ERROR(CheckPositive(f.reduction, "--reduction"));
  if (f.decay && !(*f.decay > 0 && *f.decay <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--decay must be in (0, 1], got ", *f.decay));
  }
  if (f.budget && f.budget_ratio) {
    return absl::InvalidArgumentError("give --budget or --budget-ratio, not both");
  }
  if (f.reduction && f.reduction_ratio) {
    return absl::InvalidArgumentError("give --reduction or --reduction-ratio, not both");
  }
  if (kind == JobKind::kAdapt) {
    NETADAPT_RETURN_IF_ERROR(CheckPositive(f.max_iters, "--max-iters"));
    NETADAPT_RETURN_IF_ERROR(CheckNonNegative(f.pretrain_epochs, "--pretrain-epochs"));
  } else {
    NETADAPT_RETURN_IF_ERROR(CheckPositive(f.pretrain_epochs, "--epochs"));
  }
  NETADAPT_RETURN_IF_ERROR(CheckPositive(f.short_term_steps, "--short-term-steps"));
  NETADAPT_RETURN_IF_ERROR(CheckPositive(f.finetune_lr, "--finetune-lr"));
  NETADAPT_RETURN_IF_ERROR(CheckNonNegative(f.momentum, "--momentum"));
  NETADAPT_RETURN_IF_ERROR(CheckNonNegative(f.weight_decay, "--weight-decay"));
  NETADAPT_RETURN_IF_ERROR(CheckPositive(f.batch_size, "--batch-size"));
  NETADAPT_RETURN_IF_ERROR(CheckPositive(f.holdout_size, "--holdout-size"));
  NETADAPT_RETURN_IF_ERROR(CheckNonNegative(f.long_term_epochs, "--long-term-epochs"));
  NETADAPT_RETURN_IF_ERROR(CheckPositive(f.input_size, "--input-size"));
  NETADAPT_RETURN_IF_ERROR(CheckPositive(f.width_multiplier, "--width-multiplier"));
  NETADAPT_RETURN_IF_ERROR(CheckPositive(f.binary_threshold, "--binary-threshold"));
  NETADAPT_RETURN_IF_ERROR(CheckPositive(f.channel_step, "--channel-step"));
  NETADAPT_RETURN_IF_ERROR(CheckNonNegative(f.certify_tolerance, "--certify-tolerance"));
  if (f.weights_digest) {
    NETADAPT_RETURN_IF_ERROR(common::ValidateDigest(*f.weights_digest, "--weights-digest"));
  }
  if (f.lut_digest) {
    NETADAPT_RETURN_IF_ERROR(common::ValidateDigest(*f.lut_digest, "--lut-digest"));
  }
  return absl::OkStatus();
}

absl::Status SpecError(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("spec.", field, " ", problem));
}

}  // namespace

absl::StatusOr<v1::JobSpec> BuildJobSpec(const SpecFlags& f, absl::string_view spec_json,
                                         absl::string_view network_json, JobKind kind) {
  NETADAPT_RETURN_IF_ERROR(CheckFlags(f, kind));
  v1::JobSpec spec;
  if (!spec_json.empty()) {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;  // a typo must not be silently ignored
    const auto status = google::protobuf::util::JsonStringToMessage(
        std::string(spec_json), &spec, options);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--spec: not a JobSpec in JSON: ", status.message().as_string()));
    }
  }
  if (f.display_name) spec.set_display_name(*f.display_name);
  if (f.model) {
    spec.set_model(*f.model);
    spec.clear_network();
  }
  if (!network_json.empty()) {
    absl::StatusOr<common::NetworkDef> network = common::NetworkDefFromJson(network_json);
    if (!network.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--network: ", network.status().message()));
    }
    *spec.mutable_network() = common::NetworkDefToProto(*network);
    spec.clear_model();
  }
  if (f.dataset) spec.set_dataset(*f.dataset);
  if (f.width_multiplier) spec.mutable_zoo()->set_width_multiplier(*f.width_multiplier);
  if (f.input_size) spec.mutable_zoo()->set_input_size(*f.input_size);
  if (f.pretrain_epochs) spec.set_pretrain_epochs(*f.pretrain_epochs);
  if (f.holdout_size) spec.set_holdout_size(*f.holdout_size);
  if (f.resource_type) {
    NETADAPT_ASSIGN_OR_RETURN(v1::ResourceType type, ParseResourceType(*f.resource_type));
    spec.set_resource_type(type);
  }
  // A budget flag replaces the file's budget of either kind.
  if (f.budget_ratio) {
    spec.set_budget_ratio(*f.budget_ratio);
    spec.clear_budget();
  }
  if (f.budget) {
    spec.set_budget(*f.budget);
    spec.clear_budget_ratio();
  }
  if (f.reduction_ratio) {
    spec.set_init_resource_reduction_ratio(*f.reduction_ratio);
    spec.clear_init_resource_reduction();
  }
  if (f.reduction) {
    spec.set_init_resource_reduction(*f.reduction);
    spec.clear_init_resource_reduction_ratio();
  }
  if (f.decay) spec.set_resource_reduction_decay(*f.decay);
  if (f.max_iters) spec.set_max_iters(*f.max_iters);
  // A flag sets the flat field and clears its grouped twin (JobSpec.fine_tuning,
  // search_options) from a spec file, so that the flag wins as it does over a flat field.
  v1::FineTuning& tuning = *spec.mutable_fine_tuning();
  v1::SearchOptions& searching = *spec.mutable_search_options();
  if (f.short_term_steps) {
    spec.set_short_term_fine_tune_iteration(*f.short_term_steps);
    tuning.clear_short_term_steps();
  }
  if (f.finetune_lr) {
    spec.set_finetune_lr(*f.finetune_lr);
    tuning.clear_learning_rate();
  }
  if (f.momentum) {
    spec.set_momentum(*f.momentum);
    tuning.clear_momentum();
  }
  if (f.weight_decay) {
    spec.set_weight_decay(*f.weight_decay);
    tuning.clear_weight_decay();
  }
  if (f.batch_size) {
    spec.set_batch_size(*f.batch_size);
    tuning.clear_batch_size();
  }
  if (f.long_term_epochs) {
    spec.set_long_term_fine_tune_epochs(*f.long_term_epochs);
    tuning.clear_long_term_epochs();
  }
  if (f.search) {
    NETADAPT_ASSIGN_OR_RETURN(v1::SearchStrategy search, ParseSearch(*f.search));
    spec.set_search(search);
    searching.clear_strategy();
  }
  if (f.binary_threshold) {
    spec.set_binary_threshold(*f.binary_threshold);
    searching.clear_binary_threshold();
  }
  if (f.channel_step) {
    spec.set_channel_step(*f.channel_step);
    searching.clear_channel_step();
  }
  if (f.certify_tolerance) {
    spec.set_certify_tolerance(*f.certify_tolerance);
    searching.clear_certify_tolerance();
  }
  // Empty groups are left out of the request (and its JSON).
  if (tuning.ByteSizeLong() == 0) spec.clear_fine_tuning();
  if (searching.ByteSizeLong() == 0) spec.clear_search_options();
  if (f.lut_mode) {
    NETADAPT_ASSIGN_OR_RETURN(v1::LutMode mode, ParseLutMode(*f.lut_mode));
    spec.set_lut_mode(mode);
  }
  if (f.interpolation) spec.set_interpolation(*f.interpolation);
  if (f.seed) spec.set_seed(*f.seed);
  if (f.weights_digest) {
    spec.set_weights_digest(*f.weights_digest);
    spec.set_weights_format(v1::WEIGHTS_FORMAT_UNSPECIFIED);
  }
  if (f.lut_digest) spec.set_lut_digest(*f.lut_digest);
  if (f.budget_metric) {
    NETADAPT_ASSIGN_OR_RETURN(v1::BudgetMetric metric, ParseBudgetMetric(*f.budget_metric));
    spec.set_budget_metric(metric);
  }
  if (f.uniform_baseline) spec.set_uniform_baseline(*f.uniform_baseline);

  if (kind == JobKind::kPretrain) {
    // The master reads max_iters 0 with pretrain_epochs > 0 as "prepare the seed only".
    spec.set_max_iters(0);
  } else if (spec.max_iters() == 0 && spec.pretrain_epochs() > 0) {
    // ... so an adaptation that also pre-trains must spell out the default iteration count.
    spec.set_max_iters(kDefaultMaxIters);
  }
  NETADAPT_RETURN_IF_ERROR(ValidateJobSpec(spec, kind));
  return spec;
}

absl::Status ValidateJobSpec(const v1::JobSpec& spec, JobKind kind) {
  if (spec.model().empty() == !spec.has_network()) {
    return absl::InvalidArgumentError(
        spec.model().empty() ? "give --model (a zoo model) or --network (a JSON definition)"
                             : "give --model or --network, not both");
  }
  if (!spec.model().empty()) {
    const std::vector<std::string> names = common::ZooNames();
    if (std::find(names.begin(), names.end(), spec.model()) == names.end()) {
      return absl::InvalidArgumentError(absl::StrCat("--model: unknown model '", spec.model(),
                                                     "' (known: ", absl::StrJoin(names, ", "),
                                                     ")"));
    }
  }
  if (spec.dataset().empty()) {
    return absl::InvalidArgumentError(
        "--dataset is required, e.g. cifar10:/data/cifar-10-batches-bin or "
        "synthetic:classes=10,shape=3x32x32");
  }
  if (absl::Status parsed = common::ParseDatasetSpec(spec.dataset()).status(); !parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--dataset: ", parsed.message()));
  }
  auto ratio = [](double value, absl::string_view field) -> absl::Status {
    if (value != 0 && !(value > 0 && value < 1)) {
      return SpecError(field, absl::StrCat("must be in (0, 1), got ", value));
    }
    return absl::OkStatus();
  };
  auto positive = [](double value, absl::string_view field) -> absl::Status {
    if (value < 0) return SpecError(field, absl::StrCat("must not be negative, got ", value));
    return absl::OkStatus();
  };
  NETADAPT_RETURN_IF_ERROR(ratio(spec.budget_ratio(), "budget_ratio"));
  NETADAPT_RETURN_IF_ERROR(ratio(spec.init_resource_reduction_ratio(),
                                 "init_resource_reduction_ratio"));
  if (spec.resource_reduction_decay() < 0 || spec.resource_reduction_decay() > 1) {
    return SpecError("resource_reduction_decay",
                     absl::StrCat("must be in (0, 1], got ", spec.resource_reduction_decay()));
  }
  if (spec.budget() > 0 && spec.budget_ratio() > 0) {
    return SpecError("budget", "and budget_ratio are exclusive");
  }
  if (spec.init_resource_reduction() > 0 && spec.init_resource_reduction_ratio() > 0) {
    return SpecError("init_resource_reduction", "and init_resource_reduction_ratio are exclusive");
  }
  NETADAPT_RETURN_IF_ERROR(positive(spec.budget(), "budget"));
  NETADAPT_RETURN_IF_ERROR(positive(spec.init_resource_reduction(), "init_resource_reduction"));
  NETADAPT_RETURN_IF_ERROR(positive(spec.max_iters(), "max_iters"));
  NETADAPT_RETURN_IF_ERROR(positive(spec.pretrain_epochs(), "pretrain_epochs"));
  NETADAPT_RETURN_IF_ERROR(positive(spec.holdout_size(), "holdout_size"));
  NETADAPT_RETURN_IF_ERROR(positive(static_cast<double>(spec.short_term_fine_tune_iteration()),
                                    "short_term_fine_tune_iteration"));
  NETADAPT_RETURN_IF_ERROR(positive(spec.finetune_lr(), "finetune_lr"));
  NETADAPT_RETURN_IF_ERROR(positive(spec.momentum(), "momentum"));
  NETADAPT_RETURN_IF_ERROR(positive(spec.weight_decay(), "weight_decay"));
  NETADAPT_RETURN_IF_ERROR(positive(spec.batch_size(), "batch_size"));
  NETADAPT_RETURN_IF_ERROR(positive(spec.long_term_fine_tune_epochs(), "long_term_fine_tune_epochs"));
  NETADAPT_RETURN_IF_ERROR(positive(spec.binary_threshold(), "binary_threshold"));
  NETADAPT_RETURN_IF_ERROR(positive(spec.channel_step(), "channel_step"));
  NETADAPT_RETURN_IF_ERROR(positive(spec.zoo().input_size(), "zoo.input_size"));
  NETADAPT_RETURN_IF_ERROR(positive(spec.zoo().width_multiplier(), "zoo.width_multiplier"));
  if (kind == JobKind::kPretrain && spec.pretrain_epochs() <= 0) {
    return absl::InvalidArgumentError("--epochs is required and must be positive");
  }
  if (!spec.weights_digest().empty()) {
    NETADAPT_RETURN_IF_ERROR(common::ValidateDigest(spec.weights_digest(), "spec.weights_digest"));
  }
  if (!spec.lut_digest().empty()) {
    NETADAPT_RETURN_IF_ERROR(common::ValidateDigest(spec.lut_digest(), "spec.lut_digest"));
  }
  return absl::OkStatus();
}

v1::WeightsFormat DetectWeightsFormat(absl::string_view content) {
  return absl::StartsWith(content, "NACKPT") ? v1::WEIGHTS_FORMAT_CHECKPOINT
                                             : v1::WEIGHTS_FORMAT_STATE_DICT;
}

absl::StatusOr<std::string> ParseJobName(absl::string_view name) {
  absl::string_view id = absl::StripAsciiWhitespace(name);
  absl::ConsumePrefix(&id, "jobs/");
  if (id.empty() || absl::StrContains(id, '/')) {
    return absl::InvalidArgumentError(
        absl::StrCat("job name must be jobs/N or N, got '", name, "'"));
  }
  return absl::StrCat("jobs/", id);
}

std::string NewRequestId() {
  std::random_device device;
  std::string id;
  for (int i = 0; i < 4; ++i) {
    absl::StrAppend(&id, absl::Hex(device(), absl::kZeroPad8));
  }
  return id;
}

}  // namespace netadapt::cli
