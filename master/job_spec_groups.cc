#include "master/job_spec_groups.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace netadapt::master {
namespace {

// One group field and its flat twin: the group's value, when set (non-zero), wins over an
// unset flat field and must equal a set one.
template <typename T, typename Setter>
absl::Status Merge(const T& grouped, const char* grouped_name, const T& flat,
                   const char* flat_name, Setter set_flat) {
  if (grouped == T{}) return absl::OkStatus();
  if (flat != T{} && flat != grouped) {
    return absl::InvalidArgumentError(absl::StrCat(
        "spec.", grouped_name, " is ", grouped, " but spec.", flat_name, " is ", flat,
        ": give one of them (the grouped form replaces the flat one)"));
  }
  set_flat(grouped);
  return absl::OkStatus();
}

}  // namespace

absl::Status MergeSpecGroups(v1::JobSpec& spec) {
  const v1::FineTuning& f = spec.fine_tuning();
  absl::Status status = Merge(f.short_term_steps(), "fine_tuning.short_term_steps",
                              spec.short_term_fine_tune_iteration(),
                              "short_term_fine_tune_iteration",
                              [&](int64_t v) { spec.set_short_term_fine_tune_iteration(v); });
  status.Update(Merge(f.long_term_epochs(), "fine_tuning.long_term_epochs",
                      spec.long_term_fine_tune_epochs(), "long_term_fine_tune_epochs",
                      [&](int32_t v) { spec.set_long_term_fine_tune_epochs(v); }));
  status.Update(Merge(f.learning_rate(), "fine_tuning.learning_rate", spec.finetune_lr(),
                      "finetune_lr", [&](double v) { spec.set_finetune_lr(v); }));
  status.Update(Merge(f.momentum(), "fine_tuning.momentum", spec.momentum(), "momentum",
                      [&](double v) { spec.set_momentum(v); }));
  status.Update(Merge(f.weight_decay(), "fine_tuning.weight_decay", spec.weight_decay(),
                      "weight_decay", [&](double v) { spec.set_weight_decay(v); }));
  status.Update(Merge(f.batch_size(), "fine_tuning.batch_size", spec.batch_size(), "batch_size",
                      [&](int32_t v) { spec.set_batch_size(v); }));
  const v1::SearchOptions& s = spec.search_options();
  status.Update(Merge(static_cast<int>(s.strategy()), "search_options.strategy",
                      static_cast<int>(spec.search()), "search",
                      [&](int v) { spec.set_search(static_cast<v1::SearchStrategy>(v)); }));
  status.Update(Merge(s.binary_threshold(), "search_options.binary_threshold",
                      spec.binary_threshold(), "binary_threshold",
                      [&](int32_t v) { spec.set_binary_threshold(v); }));
  status.Update(Merge(s.channel_step(), "search_options.channel_step", spec.channel_step(),
                      "channel_step", [&](int32_t v) { spec.set_channel_step(v); }));
  // Optional: set (even to 0) is a value.
  if (s.has_certify_tolerance()) {
    if (spec.has_certify_tolerance() && spec.certify_tolerance() != s.certify_tolerance()) {
      status.Update(absl::InvalidArgumentError(absl::StrCat(
          "spec.search_options.certify_tolerance is ", s.certify_tolerance(),
          " but spec.certify_tolerance is ", spec.certify_tolerance(),
          ": give one of them (the grouped form replaces the flat one)")));
    } else {
      spec.set_certify_tolerance(s.certify_tolerance());
    }
  }
  return status;
}

void FillSpecGroups(v1::JobSpec& spec) {
  v1::FineTuning& f = *spec.mutable_fine_tuning();
  f.set_short_term_steps(spec.short_term_fine_tune_iteration());
  f.set_long_term_epochs(spec.long_term_fine_tune_epochs());
  f.set_learning_rate(spec.finetune_lr());
  f.set_momentum(spec.momentum());
  f.set_weight_decay(spec.weight_decay());
  f.set_batch_size(spec.batch_size());
  v1::SearchOptions& s = *spec.mutable_search_options();
  s.set_strategy(spec.search());
  s.set_binary_threshold(spec.binary_threshold());
  s.set_channel_step(spec.channel_step());
  if (spec.has_certify_tolerance()) {
    s.set_certify_tolerance(spec.certify_tolerance());
  } else {
    s.clear_certify_tolerance();
  }
}

}  // namespace netadapt::master
