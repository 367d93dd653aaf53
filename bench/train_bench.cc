// train_bench: examples per second of fine-tuning (forward, backward, SGD step) and of
// evaluation for zoo models at 32x32 with LibTorch through netadapt_torch, side by side with
// the same workload in Python PyTorch (bench/train_bench.py) when an interpreter with torch is
// available. The target: our training step is not slower than Python's on the same
// backend (ratio >= 1.0).
//
//   build/bench/train_bench [--models=alexnet,mobilenet,helloworld] [--batch=64] [--steps=30]
//                           [--eval_batches=10] [--threads=0] [--python=/usr/bin/python3] [--json]
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/batch_filler.h"
#include "common/dataset.h"
#include "common/dataset_random.h"
#include "common/zoo.h"
#include "common/torch/device.h"
#include "common/torch/model.h"
#include "common/torch/training.h"
#include <nlohmann/json.hpp>

ABSL_FLAG(std::string, models, "alexnet,mobilenet,helloworld", "zoo models, comma-separated");
ABSL_FLAG(int, batch, 64, "batch size");
ABSL_FLAG(int, steps, 20, "timed training steps per model (after 3 warm-up steps)");
ABSL_FLAG(int, eval_batches, 10, "timed evaluation batches per model");
ABSL_FLAG(int, threads, 0, "intra-op threads for both sides; 0 = one per core");
ABSL_FLAG(std::string, device, "cpu", "cpu or cuda:N (the Python side always runs on the CPU)");
ABSL_FLAG(std::string, python, "/usr/bin/python3",
          "interpreter with torch for the Python side; empty to skip it");
ABSL_FLAG(bool, json, false, "print one JSON object instead of a table");

namespace netadapt {
namespace {

constexpr int kWarmupSteps = 3;

struct Row {
  std::string model;
  double train = 0;  // examples per second
  double eval = 0;
  double python_train = 0;  // 0 when not measured
  double python_eval = 0;
};

[[noreturn]] void Fail(const absl::Status& status) {
  std::cerr << "train_bench: " << status << "\n";
  std::exit(1);
}

template <typename T>
T OrDie(absl::StatusOr<T> value) {
  if (!value.ok()) Fail(value.status());
  return *std::move(value);
}

// The Python side's data: random uint8 images, 10 classes, normalised per batch.
common::ImageDataset RandomImages(int64_t n) {
  common::ImageDataset data;
  data.name = "random";
  data.channels = 3;
  data.height = data.width = 32;
  data.num_classes = 10;
  std::mt19937_64 rng(0);
  data.pixels.resize(n * data.ImageElements());
  for (uint8_t& p : data.pixels) p = static_cast<uint8_t>(rng() & 0xff);
  for (int64_t i = 0; i < n; ++i) data.labels.push_back(static_cast<int32_t>(rng() % 10));
  return data;
}

Row RunModel(const std::string& name) {
  const int batch = absl::GetFlag(FLAGS_batch);
  const int steps = absl::GetFlag(FLAGS_steps);
  const int eval_batches = absl::GetFlag(FLAGS_eval_batches);
  common::ZooOptions zoo;
  zoo.input_size = 32;
  engine::Model model = OrDie(engine::Model::Create(
      OrDie(common::ZooNetwork(name, zoo)), {.device = absl::GetFlag(FLAGS_device), .seed = 0}));
  const int64_t n = int64_t{batch} * (std::max(steps, eval_batches) + kWarmupSteps);
  const common::ImageDataset data = RandomImages(n);
  const std::vector<int64_t> all = engine::AllIndices(data);

  engine::SgdOptions sgd;
  sgd.batch_size = batch;
  sgd.intra_op_threads = absl::GetFlag(FLAGS_threads);
  sgd.batch.mean = {0.5f, 0.5f, 0.5f};
  sgd.batch.std = {0.25f, 0.25f, 0.25f};
  OrDie(engine::FineTune(model, data, all, kWarmupSteps, sgd));
  const engine::TrainSummary train = OrDie(engine::FineTune(model, data, all, steps, sgd));

  engine::EvalOptions eval;
  eval.batch_size = batch;
  eval.mean = sgd.batch.mean;
  eval.std = sgd.batch.std;
  eval.intra_op_threads = sgd.intra_op_threads;
  const std::vector<int64_t> warm(all.begin(), all.begin() + int64_t{batch} * kWarmupSteps);
  OrDie(engine::Evaluate(model, data, warm, eval));
  const std::vector<int64_t> timed(all.begin(), all.begin() + int64_t{batch} * eval_batches);
  const engine::EvalResult evaluated = OrDie(engine::Evaluate(model, data, timed, eval));

  Row row;
  row.model = name;
  row.train = train.examples_per_second;
  row.eval = evaluated.examples_per_second;
  return row;
}

// Runs bench/train_bench.py and fills the python_* columns; a note on stderr when it cannot.
void RunPython(std::vector<Row>& rows, nlohmann::json& report) {
  const std::string python = absl::GetFlag(FLAGS_python);
  if (python.empty()) return;
  const std::string command = absl::StrCat(
      python, " ", NETADAPT_TRAIN_BENCH_PY, " --models=", absl::GetFlag(FLAGS_models),
      " --batch=", absl::GetFlag(FLAGS_batch), " --steps=", absl::GetFlag(FLAGS_steps),
      " --eval_batches=", absl::GetFlag(FLAGS_eval_batches),
      " --threads=", absl::GetFlag(FLAGS_threads), " 2>/dev/null");
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string output;
  if (pipe) {
    char buffer[4096];
    while (size_t n = fread(buffer, 1, sizeof(buffer), pipe.get())) output.append(buffer, n);
  }
  const nlohmann::json parsed = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || !parsed.contains("rows")) {
    std::cerr << "train_bench: no Python side (" << python
              << " with torch is needed: Debian's python3-torch)\n";
    return;
  }
  report["python_torch_version"] = parsed["torch_version"];
  for (const nlohmann::json& p : parsed["rows"]) {
    for (Row& row : rows) {
      if (row.model != p["model"].get<std::string>()) continue;
      row.python_train = p["train_examples_per_second"].get<double>();
      row.python_eval = p["eval_examples_per_second"].get<double>();
    }
  }
}

std::string Ratio(double ours, double theirs) {
  return theirs > 0 ? absl::StrFormat("%.2f", ours / theirs) : "-";
}

}  // namespace
}  // namespace netadapt

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // What a worker does; the Python side runs with the interpreter's defaults.
  netadapt::engine::KeepFreedHostMemory();
  using netadapt::Row;
  std::vector<Row> rows;
  for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_models), ',')) {
    rows.push_back(netadapt::RunModel(std::string(name)));
  }
  nlohmann::json report;
  report["libtorch"] = netadapt::engine::TorchBuildDescription();
  report["batch"] = absl::GetFlag(FLAGS_batch);
  report["threads"] = absl::GetFlag(FLAGS_threads);
  netadapt::RunPython(rows, report);

  if (absl::GetFlag(FLAGS_json)) {
    report["rows"] = nlohmann::json::array();
    for (const Row& row : rows) {
      nlohmann::json r = {{"model", row.model},
                          {"train_examples_per_second", row.train},
                          {"eval_examples_per_second", row.eval}};
      if (row.python_train > 0) {
        r["python_train_examples_per_second"] = row.python_train;
        r["python_eval_examples_per_second"] = row.python_eval;
        r["train_ratio"] = row.train / row.python_train;
        r["eval_ratio"] = row.eval / row.python_eval;
      }
      report["rows"].push_back(r);
    }
    std::cout << report.dump(2) << "\n";
    return 0;
  }
  std::printf("%s, batch %d, 32x32 inputs, examples/s (ratio = ours / Python)\n",
              report["libtorch"].get<std::string>().c_str(), absl::GetFlag(FLAGS_batch));
  std::printf("%-11s %12s %12s %7s %12s %12s %7s\n", "model", "train C++", "train Py", "ratio",
              "eval C++", "eval Py", "ratio");
  for (const Row& row : rows) {
    std::printf("%-11s %12.1f %12.1f %7s %12.1f %12.1f %7s\n", row.model.c_str(), row.train,
                row.python_train, netadapt::Ratio(row.train, row.python_train).c_str(), row.eval,
                row.python_eval, netadapt::Ratio(row.eval, row.python_eval).c_str());
  }
  return 0;
}
