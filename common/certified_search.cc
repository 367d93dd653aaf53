#include "common/certified_search.h"

#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

absl::Status CheckCount(const std::vector<double>& values, size_t expected, const char* what) {
  if (values.size() != expected) {
    return absl::InternalError(absl::StrCat(what, ": asked for ", expected, " shapes, got ",
                                            values.size(), " latencies"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SearchResult> CertifiedSimplifyBlock(const BlockSearch& search, int block,
                                                    double target,
                                                    MeasuredLatencySource& source,
                                                    const CertifyOptions& options) {
  if (block < 0 || block >= search.num_blocks()) {
    return absl::InvalidArgumentError(
        absl::StrCat("block ", block, " is out of range: the network has ", search.num_blocks(),
                     " blocks"));
  }
  if (!std::isfinite(target)) {
    return absl::InvalidArgumentError(absl::StrCat("target must be finite, got ", target));
  }
  if (!(options.tolerance >= 0 && options.tolerance < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tolerance must be in [0, 1), got ", options.tolerance));
  }
  const double rho = (1 - options.tolerance) / (1 + options.tolerance);
  const std::vector<CostedLayer>& layers = search.layers();
  const std::vector<bool> touched = search.TouchedLayers(block);
  const CandidateRange& candidates = search.candidates(block);
  const int n = candidates.size();

  SearchResult result;
  result.block = block;
  SearchStats& stats = result.stats;

  // The network as it is: the untouched layers cost the same for every candidate, and the
  // touched ones give their families a measured entry to estimate from (in a job the master
  // measured them all when it costed the network: table hits).
  std::vector<double> costs(layers.size(), 0);
  if (!layers.empty()) {
    std::vector<LayerShape> current;
    for (const CostedLayer& layer : layers) current.push_back(layer.shape);
    ++stats.rounds;
    stats.layer_lookups += static_cast<int64_t>(current.size());
    NETADAPT_ASSIGN_OR_RETURN(std::vector<double> measured, source.Measure(current));
    NETADAPT_RETURN_IF_ERROR(CheckCount(measured, current.size(), "Measure"));
    for (size_t j = 0; j < layers.size(); ++j) {
      if (!touched[j]) costs[j] = measured[j];
    }
  }
  double untouched = 0;
  for (size_t j = 0; j < layers.size(); ++j) {
    if (!touched[j]) untouched += costs[j];
  }

  // The touched layers' shapes of every candidate, and their estimated latency.
  std::vector<std::vector<LayerShape>> shapes(n);
  std::vector<LayerShape> all;
  for (int i = 0; i < n; ++i) {
    const std::vector<LayerShape> at = search.LayerShapesAt(block, candidates[i]);
    for (size_t j = 0; j < layers.size(); ++j) {
      if (touched[j]) shapes[i].push_back(at[j]);
    }
    all.insert(all.end(), shapes[i].begin(), shapes[i].end());
  }
  std::vector<double> estimated(n, 0);  // touched layers only
  {
    ++stats.rounds;
    NETADAPT_ASSIGN_OR_RETURN(std::vector<double> guesses, source.Estimate(all));
    NETADAPT_RETURN_IF_ERROR(CheckCount(guesses, all.size(), "Estimate"));
    size_t k = 0;
    for (int i = 0; i < n; ++i) {
      for (size_t t = 0; t < shapes[i].size(); ++t) estimated[i] += guesses[k++];
    }
  }

  std::vector<std::optional<double>> resource(n);  // exact, summed in layer order
  std::vector<double> touched_measured(n, 0);
  // Touched latency of candidate i as predicted: measured, or estimated and rescaled by the
  // nearest measured candidate's measured / estimated ratio (the estimates' bias is local).
  auto predicted_touched = [&](int i) {
    if (resource[i]) return touched_measured[i];
    for (int d = 1; d < n; ++d) {
      for (int k : {i - d, i + d}) {
        if (k >= 0 && k < n && resource[k] && estimated[k] > 0) {
          return estimated[i] * touched_measured[k] / estimated[k];
        }
      }
    }
    return estimated[i];
  };
  auto bound = [&](double touched_latency) { return untouched + rho * touched_latency; };

  while (true) {
    // Everything up to `certified` is bounded away from the target by a measured candidate;
    // measured candidates at or above the target fail on their own.
    int certified = -1;
    for (int i = 0; i < n; ++i) {
      if (resource[i] && bound(touched_measured[i]) >= target) certified = i;
    }
    int first = certified + 1;
    while (first < n && resource[first] && *resource[first] >= target) ++first;
    if (first == n || resource[first]) {
      // Every candidate fails (the narrowest, measured, is the answer), or `first` is measured
      // below the target with every wider one failing.
      const int chosen = first == n ? n - 1 : first;
      result.width = candidates[chosen];
      result.resource = *resource[chosen];
      result.meets_target = result.resource < target;
      return result;
    }
    // The predicted answer, and the wider candidates whose measurement should certify that
    // nothing between `first` and it is below the target.
    int answer = first;
    while (answer < n && untouched + predicted_touched(answer) >= target) ++answer;
    std::vector<int> batch;
    if (answer < n && !resource[answer]) {
      // An unconfirmed prediction: measure it and the next wider candidate only. The walk
      // below would follow the raw estimates, which are off by more than the tolerance until
      // something nearby is measured, and a measurement costs far more than a round trip.
      batch.push_back(answer);
      if (answer - 1 >= first && !resource[answer - 1]) batch.push_back(answer - 1);
    } else if (answer == n && !resource[n - 1]) {
      batch.push_back(n - 1);  // none predicted to meet: the narrowest may certify them all
    } else {
      // Confirmed (measured below the target, or no candidate meets it): measure wider
      // candidates until one is predicted to bound everything wider above the target.
      for (int k = std::min(answer, n) - 1; k >= first; --k) {
        if (!resource[k]) batch.push_back(k);
        if (bound(predicted_touched(k)) >= target) break;
      }
    }
    std::vector<LayerShape> asked;
    for (int i : batch) asked.insert(asked.end(), shapes[i].begin(), shapes[i].end());
    ++stats.rounds;
    stats.layer_lookups += static_cast<int64_t>(asked.size());
    NETADAPT_ASSIGN_OR_RETURN(std::vector<double> measured, source.Measure(asked));
    NETADAPT_RETURN_IF_ERROR(CheckCount(measured, asked.size(), "Measure"));
    size_t k = 0;
    for (int i : batch) {
      ++stats.resource_computations;
      double total = 0;
      double touched_total = 0;
      for (size_t j = 0; j < layers.size(); ++j) {
        if (!touched[j]) {
          total += costs[j];
          continue;
        }
        total += measured[k];
        touched_total += measured[k];
        ++k;
      }
      resource[i] = total;
      touched_measured[i] = touched_total;
    }
  }
}

}  // namespace netadapt::common
