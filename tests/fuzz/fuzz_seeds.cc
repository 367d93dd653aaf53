// Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/) from the project's
// own writers, so that every seed is a valid input that reaches deep into its parser:
//   build-fuzz/tests/fuzz/fuzz_seeds tests/fuzz/corpus
// Run by hand when a format changes; the pickle seeds come from make_pickle_seeds.py. The
// graph seeds of network_def_fuzzer (graph.json: residual add, concat, squeeze-excite gate,
// depthwise conv, a concat of one tensor twice before a flatten; residual.json: a copy of
// examples/residual_cnn.json) are written by hand and kept as they are.
#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/checkpoint_format.h"
#include "common/file_util.h"
#include "common/latency_table.h"
#include "common/network_def_json.h"
#include "common/network_tensors.h"
#include "common/zoo.h"
#include "netadapt/v1/resources.pb.h"

namespace netadapt::fuzz {
namespace {

// conv(1->4, bn, relu) - depthwise conv(4) - pool - conv(4->8) - flatten - linear: every layer
// kind a block can drag along, with few weights.
constexpr char kSmallNetwork[] = R"({
  "name": "seed", "input": {"channels": 1, "height": 8, "width": 8},
  "layers": [
    {"name": "features.0", "op": "conv2d", "in_channels": 1, "out_channels": 4,
     "kernel_size": [3], "padding": [1], "bias": false},
    {"name": "features.1", "op": "batchnorm2d", "num_features": 4},
    {"name": "features.2", "op": "relu"},
    {"name": "features.3", "op": "conv2d", "in_channels": 4, "out_channels": 4, "groups": 4,
     "kernel_size": [3], "padding": [1]},
    {"name": "features.4", "op": "maxpool2d", "kernel_size": [2], "stride": [2]},
    {"name": "features.5", "op": "conv2d", "in_channels": 4, "out_channels": 8,
     "kernel_size": [1]},
    {"name": "features.6", "op": "relu"},
    {"name": "flatten", "op": "flatten"},
    {"name": "classifier", "op": "linear", "in_channels": 128, "out_channels": 3}]})";

void Write(const std::string& dir, const std::string& name, const std::string& bytes) {
  const absl::Status s = common::WriteFileAtomically(absl::StrCat(dir, "/", name), bytes);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    std::exit(1);
  }
}

template <typename T>
T OrDie(absl::StatusOr<T> value) {
  if (!value.ok()) {
    std::fprintf(stderr, "%s\n", value.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(value);
}

int Main(const std::string& root) {
  const common::NetworkDef small = OrDie(common::NetworkDefFromJson(kSmallNetwork));
  common::ZooOptions zoo;
  zoo.input_size = 32;
  zoo.width_multiplier = 0.25;
  const common::NetworkDef mobilenet = OrDie(common::ZooNetwork("mobilenet", zoo));
  const common::NetworkDef helloworld = OrDie(common::ZooNetwork("helloworld", zoo));

  const std::string networks = root + "/network_def_fuzzer";
  Write(networks, "small.json", common::NetworkDefToJson(small));
  Write(networks, "mobilenet.json", common::NetworkDefToJson(mobilenet));
  Write(networks, "helloworld.json", common::NetworkDefToJson(helloworld));

  v1::JobSpec spec;
  spec.set_dataset("synthetic:classes=3,shape=1x8x8,train=64,test=32,seed=1");
  *spec.mutable_network() = common::NetworkDefToProto(small);
  spec.set_resource_type(v1::RESOURCE_TYPE_LATENCY);
  spec.set_budget_ratio(0.5);
  spec.set_max_iters(3);
  spec.set_channel_step(2);
  spec.set_seed(7);
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(spec, &json).ok()) return 1;
  Write(root + "/job_spec_fuzzer", "small.json", json);
  v1::JobSpec zoo_spec;
  zoo_spec.set_dataset("cifar10:/data/cifar-10-batches-bin");
  zoo_spec.set_model("mobilenet");
  zoo_spec.set_resource_type(v1::RESOURCE_TYPE_FLOPS);
  zoo_spec.set_budget(1e6);
  json.clear();
  if (!google::protobuf::util::MessageToJsonString(zoo_spec, &json).ok()) return 1;
  Write(root + "/job_spec_fuzzer", "zoo.json", json);

  v1::DeviceFingerprint device;
  device.set_device_name("seed-device");
  common::LatencyTable table(device);
  common::CostContext context;
  const std::vector<common::CostedLayer> layers = OrDie(common::CostedLayers(small, context));
  for (size_t i = 0; i < layers.size(); ++i) table.Insert(layers[i].shape, 0.01 * (i + 1));
  Write(root + "/latency_table_fuzzer", "small.lut",
        common::SerializeLatencyTable(table, common::LatencyTableFormat::kBinary));
  Write(root + "/latency_table_fuzzer", "small.json",
        common::SerializeLatencyTable(table, common::LatencyTableFormat::kJson));

  // Zeros for every tensor, except a few ones so the data is not all alike.
  const std::vector<common::TensorSpec> specs = OrDie(common::NetworkTensors(small));
  std::vector<std::string> buffers;
  buffers.reserve(specs.size());
  std::vector<common::CheckpointTensor> tensors;
  for (const common::TensorSpec& t : specs) {
    int64_t elements = 1;
    for (int64_t d : t.shape) elements *= d;
    buffers.emplace_back(static_cast<size_t>(elements * common::ElementSize(t.dtype)), '\0');
    if (!buffers.back().empty()) buffers.back()[0] = 1;
    tensors.push_back({t.name, t.dtype, t.shape, buffers.back()});
  }
  Write(root + "/checkpoint_fuzzer", "small.ckpt", OrDie(common::EncodeCheckpoint(small, tensors)));
  return 0;
}

}  // namespace
}  // namespace netadapt::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  return netadapt::fuzz::Main(argv[1]);
}
