// The paper's workload: NetAdapt iteration 1 from the unpruned network, the filter-count
// search for every block, per strategy, interpolation and reduction ratio delta.
//
//   simplify_bench                      synthetic LUT on the original's grid, readable table
//   simplify_bench --json               one JSON object: {"rows": [...]}
//   simplify_bench --lut=FILE           the same workload on a LUT file (JSON or binary)
//   simplify_bench --write_lut=FILE     also write the synthetic LUT (JSON) for other tools
//   simplify_bench --fit_cache=DIR      persist rbf-cubic fits: a second run loads them
//   simplify_bench --networks=alexnet   a subset
//   simplify_bench --networks=resnet50,mobilenet_v2 --interpolations=bilinear
//                                       graph networks: blocks are channel groups
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/filter_search.h"
#include "common/latency_table.h"
#include "common/lut_grid.h"
#include "common/lut_latency_model.h"
#include "common/network_blocks.h"
#include "common/synthetic_latency.h"
#include "common/zoo.h"

ABSL_FLAG(bool, json, false, "print one JSON object with a top-level \"rows\" array");
ABSL_FLAG(std::string, lut, "", "LUT file (JSON or binary) to use instead of the synthetic one");
ABSL_FLAG(std::string, write_lut, "", "write the synthetic LUT to this file (JSON form)");
ABSL_FLAG(std::string, networks, "alexnet,mobilenet", "comma-separated zoo models");
ABSL_FLAG(std::string, deltas, "0.01,0.025,0.05", "reduction ratios");
ABSL_FLAG(std::string, interpolations, "bilinear,rbf-cubic", "interpolations of LUT misses");
ABSL_FLAG(std::string, strategies, "linear,binary,exact",
          "strategies to run (same_as_linear needs linear first)");
ABSL_FLAG(double, min_seconds, 0.2, "repeat each row until this much time has passed");
ABSL_FLAG(std::string, fit_cache, "",
          "keep rbf-cubic fits in this directory (LutFitCache): a second run on the same LUT "
          "loads them instead of solving; empty: fit every run");
ABSL_FLAG(std::string, dense_solver, "",
          "the rbf-cubic fit's solver: dsysv, dgesv (LAPACK) or eigen-lu; empty: the build's "
          "fastest");

namespace netadapt {
namespace {

using common::SearchStrategy;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Row {
  std::string network;
  double delta = 0;
  std::string strategy;
  std::string interpolation;
  double seconds_all_blocks = 0;
  double fit_seconds = 0;
  int64_t resource_computations = 0;
  int64_t layer_lookups = 0;
  int64_t bound_queries = 0;
  int repetitions = 0;
  std::vector<int> choices;
  std::vector<bool> met;
  bool same_as_linear = true;
};

[[noreturn]] void Fail(const absl::Status& status) {
  std::cerr << "simplify_bench: " << status << "\n";
  std::exit(1);
}

template <typename T>
T OrDie(absl::StatusOr<T> value) {
  if (!value.ok()) Fail(value.status());
  return *std::move(value);
}

absl::StatusOr<common::DenseSolver> ParseDenseSolver(absl::string_view name) {
  std::vector<std::string> names;
  for (common::DenseSolver solver : common::AvailableDenseSolvers()) {
    if (name == common::DenseSolverName(solver)) return solver;
    names.emplace_back(common::DenseSolverName(solver));
  }
  return absl::InvalidArgumentError(absl::StrCat("--dense_solver: '", name,
                                                 "' is not one of this build's solvers (",
                                                 absl::StrJoin(names, ", "), ")"));
}

// Searches every block once; fills the row's choices and counters.
// (What the master does each iteration, the analysis of the network included.)
void SearchAllBlocks(const common::NetworkDef& net, double target, common::ResourceModel& model,
                     const common::SearchOptions& options, Row& row) {
  row.choices.clear();
  row.met.clear();
  row.resource_computations = row.layer_lookups = row.bound_queries = 0;
  const common::BlockSearch search = OrDie(common::BlockSearch::Create(net, options));
  for (const common::SearchResult& r : OrDie(search.SimplifyAllBlocks(target, model))) {
    row.choices.push_back(r.width);
    row.met.push_back(r.meets_target);
    row.resource_computations += r.stats.resource_computations;
    row.layer_lookups += r.stats.layer_lookups;
    row.bound_queries += r.stats.bound_queries;
  }
}

void RunNetwork(const std::string& name, std::vector<Row>& rows) {
  common::ZooOptions zoo;  // 224 x 224, 10 classes (CIFAR-10 classifier, as the original)
  const common::NetworkDef net = OrDie(common::ZooNetwork(name, zoo));
  const common::CostContext context;

  common::LatencyTable table;
  if (!absl::GetFlag(FLAGS_lut).empty()) {
    table = OrDie(common::ReadLatencyTable(absl::GetFlag(FLAGS_lut)));
  } else {
    // The original's grid: conv channels step 8, linear step 64.
    table = OrDie(common::BuildSyntheticTable(net, context, common::LutGrid{8, 64},
                                              common::SyntheticLatencyOptions{}));
    if (!absl::GetFlag(FLAGS_write_lut).empty()) {
      const std::string path = absl::StrCat(absl::GetFlag(FLAGS_write_lut), ".", name, ".json");
      if (auto s = common::WriteLatencyTable(table, path, common::LatencyTableFormat::kJson);
          !s.ok()) {
        Fail(s);
      }
      std::cerr << "wrote " << path << "\n";
    }
  }
  for (absl::string_view interpolation_name :
       absl::StrSplit(absl::GetFlag(FLAGS_interpolations), ',')) {
    const common::Interpolation interpolation =
        OrDie(common::ParseInterpolation(interpolation_name));
    common::MissPolicy policy =
        common::MissPolicy::Interpolate(interpolation, absl::GetFlag(FLAGS_fit_cache));
    if (const std::string solver = absl::GetFlag(FLAGS_dense_solver); !solver.empty()) {
      policy.dense_solver = OrDie(ParseDenseSolver(solver));
    }
    common::LutLatencyModel model(table, policy);
    const double full = OrDie(common::NetworkResource(net, context, model));
    std::vector<double> deltas;
    for (absl::string_view text : absl::StrSplit(absl::GetFlag(FLAGS_deltas), ',')) {
      double delta = 0;
      if (!absl::SimpleAtod(text, &delta)) Fail(absl::InvalidArgumentError("--deltas"));
      deltas.push_back(delta);
    }
    // Families are fitted lazily, at their first miss, as in a real job. A warm-up pass of
    // linear (which evaluates every shape the other strategies can ask for) fits them all, so
    // the one-time fit is timed apart from the searches.
    {
      common::SearchOptions warm_up;
      warm_up.strategy = SearchStrategy::kLinear;
      Row ignored;
      for (double delta : deltas) SearchAllBlocks(net, full - delta * full, model, warm_up, ignored);
    }
    const common::LutLatencyModel::FitStats fit = model.fit_stats();
    std::cerr << name << " " << interpolation_name << ": " << fit.families
              << " families fitted in " << absl::StrFormat("%.2f", fit.seconds) << " s ("
              << fit.loaded << " loaded from --fit_cache, " << fit.fallbacks
              << " fell back to bilinear; solver "
              << common::DenseSolverName(policy.dense_solver) << ")\n";
    const double fit_seconds = fit.seconds;

    for (double delta : deltas) {
      const double target = full - delta * full;
      std::vector<int> linear_choices;
      for (absl::string_view strategy_name :
           absl::StrSplit(absl::GetFlag(FLAGS_strategies), ',')) {
        const SearchStrategy strategy = OrDie(common::ParseSearchStrategy(strategy_name));
        common::SearchOptions options;
        options.strategy = strategy;
        options.context = context;
        Row row;
        row.network = name;
        row.delta = delta;
        row.strategy = std::string(common::SearchStrategyName(strategy));
        row.interpolation = std::string(interpolation_name);
        row.fit_seconds = fit_seconds;
        const auto start = Clock::now();
        do {
          SearchAllBlocks(net, target, model, options, row);
          ++row.repetitions;
        } while (Seconds(Clock::now() - start) < absl::GetFlag(FLAGS_min_seconds));
        row.seconds_all_blocks = Seconds(Clock::now() - start) / row.repetitions;
        if (strategy == SearchStrategy::kLinear) linear_choices = row.choices;
        row.same_as_linear = linear_choices.empty() || row.choices == linear_choices;
        rows.push_back(row);
      }
    }
  }
}

std::string ChoicesString(const Row& row) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < row.choices.size(); ++i) {
    parts.push_back(absl::StrCat(row.choices[i], row.met[i] ? "" : "!"));
  }
  return absl::StrJoin(parts, " ");
}

void PrintTable(const std::vector<Row>& rows) {
  std::printf("%-9s %-9s %5s %-6s %12s %9s %8s %9s %7s %s\n", "network", "interp", "delta",
              "search", "all_blocks_s", "speedup", "resource", "lookups", "same", "choices");
  double linear_seconds = 0;
  for (const Row& row : rows) {
    if (row.strategy == "linear") linear_seconds = row.seconds_all_blocks;
    std::printf("%-9s %-9s %5.3f %-6s %12.6f %8.1fx %8lld %9lld %7s %s\n", row.network.c_str(),
                row.interpolation.c_str(), row.delta, row.strategy.c_str(),
                row.seconds_all_blocks, linear_seconds / row.seconds_all_blocks,
                static_cast<long long>(row.resource_computations),
                static_cast<long long>(row.layer_lookups), row.same_as_linear ? "yes" : "NO",
                ChoicesString(row).c_str());
  }
  std::printf("\nresource = candidate networks whose resource was computed; lookups = layer "
              "latency lookups; choices = width per block (! = target not met, smallest "
              "candidate)\n");
}

void PrintJson(const std::vector<Row>& rows) {
  std::vector<std::string> objects;
  for (const Row& row : rows) {
    std::vector<std::string> met;
    for (bool m : row.met) met.push_back(m ? "true" : "false");
    objects.push_back(absl::StrFormat(
        R"({"network": "%s", "delta": %g, "strategy": "%s", "interpolation": "%s", )"
        R"("seconds_all_blocks": %.9g, "fit_seconds": %.6g, "resource_computations": %d, )"
        R"("layer_lookups": %d, "bound_queries": %d, "repetitions": %d, "choices": [%s], )"
        R"("meets_target": [%s], "same_as_linear": %s})",
        row.network, row.delta, row.strategy, row.interpolation, row.seconds_all_blocks,
        row.fit_seconds, row.resource_computations, row.layer_lookups, row.bound_queries,
        row.repetitions, absl::StrJoin(row.choices, ", "), absl::StrJoin(met, ", "),
        row.same_as_linear ? "true" : "false"));
  }
  std::printf("{\"rows\": [\n  %s\n]}\n", absl::StrJoin(objects, ",\n  ").c_str());
}

}  // namespace
}  // namespace netadapt

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<netadapt::Row> rows;
  for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_networks), ',')) {
    netadapt::RunNetwork(std::string(name), rows);
  }
  if (absl::GetFlag(FLAGS_json)) {
    netadapt::PrintJson(rows);
  } else {
    netadapt::PrintTable(rows);
  }
  bool all_same = true;
  for (const auto& row : rows) all_same &= row.strategy != "exact" || row.same_as_linear;
  return all_same ? 0 : 2;
}
