// What a whole NetAdapt job measures on the device (issue 15): jobs without training on
// AlexNet and MobileNet V1 at the defaults (budget 0.5 of the seed's latency, first reduction
// 0.025 of it, decay 0.96, at most 30 iterations, channel step 8), the device a synthetic
// latency model (common/synthetic_latency.h, +-3 % noise) that counts what it measures, and a
// fixed stand-in for accuracy to pick each iteration's block. Per scheme of asking for
// latencies:
//   prefetch   today's worker: every shape of every candidate of the block measured before
//              the search (one batch per block search), then the exact search on them
//   on-demand  the exact search measuring each shape it evaluates as it goes (no bounds: a
//              measured table certifies nothing about unmeasured shapes)
//   certified  CertifiedSimplifyBlock: estimate from the table, measure to certify
//              (tolerance 0.03, the device's noise: exact by construction; 0.01; 0: the
//              monotone rule, measure the answer and the next wider candidate)
// against the original's full LUT grid (conv step 8, linear step 64), and each iteration's
// choice (block, width) against a job that knows every latency (the "fully measured" run).
//
//   measurement_bench                         both networks, every scheme
//   measurement_bench --networks=alexnet --tolerances=0.03
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/certified_search.h"
#include "common/filter_search.h"
#include "common/latency_estimate.h"
#include "common/latency_table.h"
#include "common/lut_grid.h"
#include "common/network_blocks.h"
#include "common/synthetic_latency.h"
#include "common/zoo.h"

ABSL_FLAG(std::string, networks, "alexnet,mobilenet", "comma-separated zoo models (224x224)");
ABSL_FLAG(std::string, tolerances, "0.03,0.01,0", "CertifyOptions.tolerance of the certified rows");
ABSL_FLAG(double, budget_ratio, 0.5, "the budget, a ratio of the seed's latency");
ABSL_FLAG(double, reduction_ratio, 0.025, "first iteration's reduction, a ratio of the seed's");
ABSL_FLAG(double, decay, 0.96, "each iteration's reduction is the previous one times this");
ABSL_FLAG(int, max_iters, 30, "iteration limit");
ABSL_FLAG(double, noise, 0.03, "the synthetic device's relative noise");

namespace netadapt {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Fail(const absl::Status& status) {
  std::cerr << "measurement_bench: " << status << "\n";
  std::exit(1);
}

template <typename T>
T OrDie(absl::StatusOr<T> value) {
  if (!value.ok()) Fail(value.status());
  return *std::move(value);
}

// The target device: measures SyntheticLatencyMs into the job's table (the measured LUT, kept
// for the whole job as the master keeps lut.bin) and counts calls, shapes and device time.
class CountingDevice final : public common::MeasuredLatencySource {
 public:
  explicit CountingDevice(common::SyntheticLatencyOptions options) : options_(options) {}

  absl::StatusOr<std::vector<double>> Measure(
      const std::vector<common::LayerShape>& shapes) override {
    std::vector<double> latencies;
    bool called = false;
    for (const common::LayerShape& shape : shapes) {
      std::optional<double> known = table_.Find(shape);
      if (!known) {
        called = true;
        known = common::SyntheticLatencyMs(shape, options_);
        table_.Insert(shape, *known);
        ++measured_;
        device_ms_ += *known;
      } else {
        ++hits_;
      }
      latencies.push_back(*known);
    }
    if (called) ++calls_;
    return latencies;
  }
  absl::StatusOr<std::vector<double>> Estimate(
      const std::vector<common::LayerShape>& shapes) override {
    std::vector<double> latencies;
    for (const common::LayerShape& shape : shapes) {
      absl::StatusOr<double> latency = common::EstimateLatencyMs(table_, shape);
      if (!latency.ok()) return latency.status();
      latencies.push_back(*latency);
    }
    return latencies;
  }

  const common::LatencyTable& table() const { return table_; }
  int64_t measured() const { return measured_; }  // distinct shapes: each is measured once
  int64_t calls() const { return calls_; }        // batches that measured something
  int64_t hits() const { return hits_; }
  double device_ms() const { return device_ms_; }  // one run of each measured shape

 private:
  common::SyntheticLatencyOptions options_;
  common::LatencyTable table_;
  int64_t measured_ = 0;
  int64_t calls_ = 0;
  int64_t hits_ = 0;
  double device_ms_ = 0;
};

// The device as a ResourceModel: every miss is measured alone (the on-demand scheme), or only
// read from the table (the prefetch scheme, after its prefetch).
class DeviceModel final : public common::ResourceModel {
 public:
  explicit DeviceModel(CountingDevice& device) : device_(device) {}
  absl::StatusOr<double> LayerCost(const common::LayerShape& shape) override {
    absl::StatusOr<std::vector<double>> latency = device_.Measure({shape});
    if (!latency.ok()) return latency.status();
    return (*latency)[0];
  }

 private:
  CountingDevice& device_;
};

enum class Scheme { kFull, kPrefetch, kOnDemand, kCertified };

struct Choice {
  int block = 0;
  int width = 0;
  double resource = 0;
  friend bool operator==(const Choice& a, const Choice& b) {
    return a.block == b.block && a.width == b.width && a.resource == b.resource;
  }
};

struct Row {
  std::string network;
  std::string scheme;
  int64_t grid = 0;           // the original's LUT: every layer's grid, as it profiles them
  int64_t distinct_grid = 0;  // the distinct shapes among them (layers share families)
  int64_t measured = 0;
  int64_t calls = 0;
  int64_t hits = 0;
  double device_ms = 0;
  int64_t rounds = 0;  // search round trips (certified: Measure and Estimate calls)
  std::vector<Choice> choices;
  double seconds = 0;
};

// The stand-in for accuracy: the proposal whose block keeps the largest share of its seed
// width, weighted by a fixed per-block sensitivity (1, 1.25, ..., 2, repeating); ties go to
// the lower block. Deterministic, and it spreads the pruning over the blocks as accuracy does.
double Score(int block, int width, const std::vector<int>& seed_widths) {
  const double sensitivity = 1 + 0.25 * ((block * 3) % 5);
  return -sensitivity * (1 - static_cast<double>(width) / seed_widths[block]);
}

// One NetAdapt job without training: each iteration searches every block at the iteration's
// target and keeps the proposal with the best score.
Row RunJob(const common::NetworkDef& seed, Scheme scheme, double tolerance,
           const common::SyntheticLatencyOptions& device_options) {
  Row row;
  CountingDevice device(device_options);
  common::SyntheticLatencyModel truth(device_options);  // kFull: every latency known
  const common::CostContext context;
  common::SearchOptions options;  // exact, step 8
  options.context = context;
  const auto start = Clock::now();

  // The network's resource as the master computes it: its shapes measured.
  auto resource_of = [&](const common::NetworkDef& net) {
    if (scheme == Scheme::kFull) return OrDie(common::NetworkResource(net, context, truth));
    DeviceModel model(device);
    return OrDie(common::NetworkResource(net, context, model));
  };
  common::NetworkDef net = seed;
  const double r0 = resource_of(seed);
  const double budget = absl::GetFlag(FLAGS_budget_ratio) * r0;
  double reduction = absl::GetFlag(FLAGS_reduction_ratio) * r0;
  double resource = r0;
  std::vector<int> seed_widths;
  for (const common::Block& block : OrDie(common::FindBlocks(seed))) {
    seed_widths.push_back(block.width);
  }
  for (int iteration = 1; iteration <= absl::GetFlag(FLAGS_max_iters) && resource > budget;
       ++iteration) {
    const double target = std::max(resource - reduction, budget);
    reduction *= absl::GetFlag(FLAGS_decay);
    const common::BlockSearch search = OrDie(common::BlockSearch::Create(net, options));
    std::optional<common::SearchResult> best;
    for (int block = 0; block < search.num_blocks(); ++block) {
      common::SearchResult result;
      switch (scheme) {
        case Scheme::kFull:
          result = OrDie(search.SimplifyBlock(block, target, truth));
          break;
        case Scheme::kPrefetch: {
          std::vector<common::LayerShape> shapes;
          for (const common::CostedLayer& layer : search.layers()) shapes.push_back(layer.shape);
          const common::CandidateRange& candidates = search.candidates(block);
          for (int i = 0; i < candidates.size(); ++i) {
            for (const common::LayerShape& shape : search.LayerShapesAt(block, candidates[i])) {
              shapes.push_back(shape);
            }
          }
          OrDie(device.Measure(shapes));
          ++row.rounds;
          DeviceModel model(device);  // every shape is in the table now
          result = OrDie(search.SimplifyBlock(block, target, model));
          break;
        }
        case Scheme::kOnDemand: {
          DeviceModel model(device);
          const int64_t before = device.calls();
          result = OrDie(search.SimplifyBlock(block, target, model));
          row.rounds += device.calls() - before;
          break;
        }
        case Scheme::kCertified:
          result = OrDie(common::CertifiedSimplifyBlock(search, block, target, device,
                                                        common::CertifyOptions{tolerance}));
          row.rounds += result.stats.rounds;
          break;
      }
      if (!result.meets_target) continue;
      if (!best || Score(block, result.width, seed_widths) >
                       Score(best->block, best->width, seed_widths)) {
        best = result;
      }
    }
    if (!best) break;  // no block reaches the target: the job would fail here
    net = search.SimplifiedNetwork(*best);
    resource = best->resource;
    row.choices.push_back({best->block, best->width, best->resource});
  }
  row.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  row.measured = device.measured();
  row.calls = device.calls();
  row.hits = device.hits();
  row.device_ms = device.device_ms();
  return row;
}

void Print(const Row& row, const Row& full) {
  int differ = 0;
  int first_differ = 0;
  const size_t n = std::max(row.choices.size(), full.choices.size());
  for (size_t i = 0; i < n; ++i) {
    const bool same = i < row.choices.size() && i < full.choices.size() &&
                      row.choices[i] == full.choices[i];
    if (!same) {
      ++differ;
      if (first_differ == 0) first_differ = static_cast<int>(i) + 1;
    }
  }
  const double final_ratio = row.choices.empty() || full.choices.empty()
                                 ? 1
                                 : row.choices.back().resource / full.choices.back().resource;
  std::cout << absl::StrFormat(
      "%-9s %-14s %5zu %8lld %6.2f%% %6.2f%% %9lld %7lld %9.1f %6.2f  %s\n", row.network,
      row.scheme, row.choices.size(), static_cast<long long>(row.measured),
      100.0 * static_cast<double>(row.measured) / static_cast<double>(row.grid),
      row.scheme == "full"
          ? 100.0
          : 100.0 * static_cast<double>(row.measured) / static_cast<double>(row.distinct_grid),
      static_cast<long long>(row.calls), static_cast<long long>(row.rounds), row.device_ms,
      row.seconds,
      row.scheme == "full"
          ? std::string("(reference)")
          : differ == 0 ? std::string("yes")
                        : absl::StrFormat("no: %d of %d iterations differ from iteration %d, "
                                          "final resource %+.3f%%",
                                          differ, static_cast<int>(n), first_differ,
                                          100 * (final_ratio - 1)));
}

void RunNetwork(const std::string& name) {
  common::ZooOptions zoo;  // 224 x 224, 10 classes, as simplify_bench
  const common::NetworkDef seed = OrDie(common::ZooNetwork(name, zoo));
  const common::LutGrid lut_grid{8, 64};
  const int64_t distinct_grid = static_cast<int64_t>(
      OrDie(common::GridShapes(seed, common::CostContext{}, lut_grid)).size());
  // Per layer, as the original's LUT (keyed by layer name) holds it: in = C_in, C_in - step,
  // ... > 0 crossed with out likewise; depthwise layers one axis (17,288 for AlexNet).
  int64_t grid = 0;
  for (const common::CostedLayer& layer :
       OrDie(common::CostedLayers(seed, common::CostContext{}))) {
    const int step = layer.shape.op == common::LayerOp::kLinear ? lut_grid.linear_step
                                                                 : lut_grid.conv_step;
    const int64_t rows = (layer.shape.in_channels + step - 1) / step;
    const int64_t cols = (layer.shape.out_channels + step - 1) / step;
    grid += layer.shape.IsDepthwise() ? rows : rows * cols;
  }
  common::SyntheticLatencyOptions device;
  device.noise = absl::GetFlag(FLAGS_noise);

  Row full = RunJob(seed, Scheme::kFull, 0, device);
  full.network = name;
  full.scheme = "full";
  full.grid = grid;
  full.distinct_grid = distinct_grid;
  full.measured = grid;  // what the original profiles up front
  Print(full, full);
  auto run = [&](Scheme scheme, const std::string& label, double tolerance) {
    Row row = RunJob(seed, scheme, tolerance, device);
    row.network = name;
    row.scheme = label;
    row.grid = grid;
    row.distinct_grid = distinct_grid;
    Print(row, full);
  };
  run(Scheme::kPrefetch, "prefetch", 0);
  run(Scheme::kOnDemand, "on-demand", 0);
  for (absl::string_view text : absl::StrSplit(absl::GetFlag(FLAGS_tolerances), ',')) {
    double tolerance = 0;
    if (!absl::SimpleAtod(text, &tolerance)) {
      Fail(absl::InvalidArgumentError(absl::StrCat("--tolerances: not a number: ", text)));
    }
    run(Scheme::kCertified, absl::StrCat("certified ", text), tolerance);
  }
}

}  // namespace
}  // namespace netadapt

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::cout << absl::StrFormat("%-9s %-14s %5s %8s %7s %7s %9s %7s %9s %6s  %s\n", "network",
                               "scheme", "iters", "measured", "grid", "distinct", "dev_calls",
                               "rounds", "device_ms", "cpu_s", "same choices as fully measured");
  for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_networks), ',')) {
    netadapt::RunNetwork(std::string(name));
  }
  std::cout << "\nmeasured = distinct layer shapes the device measured in the whole job (full: the "
               "original's LUT grid, conv step 8, linear step 64, every layer's); grid = measured "
               "/ that grid; distinct = measured / the grid's distinct shapes (layers of one family "
               "share them); "
               "dev_calls = batches that measured something; rounds = the searches' round trips "
               "(prefetch: one per block search; on-demand: one per miss; certified: Measure and "
               "Estimate calls, table hits included); device_ms = one run of each measured shape\n";
  return 0;
}
