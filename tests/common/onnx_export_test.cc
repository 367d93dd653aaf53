// ONNX export: the graph's structure for every zoo model, a network using every sequential op
// and graph networks (residual adds of two and three inputs, a concat, a squeeze-excite gate),
// the refusals, and validity under the ONNX checker (C++ libonnx here; Python's onnx.checker
// with full_check when /usr/bin/python3 has onnx). Numbers are compared with
// LibTorch's forward in tests/common/torch/onnx_export_torch_test.cc.
#include "common/onnx_export.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <unistd.h>

#include <cstdlib>
#include <deque>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/checkpoint_format.h"
#include "common/file_util.h"
#include "common/network_def_json.h"
#include "common/network_tensors.h"
#include "common/status_macros.h"
#include "common/zoo.h"
#include "tests/testing/every_op_network.h"
#include "tests/testing/graph_network.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

NetworkDef Zoo(absl::string_view model) {
  ZooOptions options;
  options.input_size = 32;
  options.width_multiplier = 0.125;
  absl::StatusOr<NetworkDef> def = ZooNetwork(model, options);
  NETADAPT_CHECK(def.ok());
  return *def;
}

NetworkDef EveryOp() { return netadapt::testing::EveryOpNetwork(); }

// Every network the exporter is tested on: the zoo, every sequential op, and graphs (residual
// adds of two and three inputs, a concat, a squeeze-excite gate, a dropout as the last layer).
std::vector<NetworkDef> AllNetworks() {
  std::vector<NetworkDef> defs = {EveryOp(), netadapt::testing::GraphOpNetwork(),
                                  netadapt::testing::ThreeWayAddNetwork(),
                                  netadapt::testing::DropoutAfterAddNetwork()};
  for (const std::string& name : ZooNames()) defs.push_back(Zoo(name));
  return defs;
}

// Tensors of `def` with varied bytes; `storage` owns them (a deque: views stay valid).
std::vector<CheckpointTensor> Tensors(const NetworkDef& def, std::deque<std::string>* storage) {
  absl::StatusOr<std::vector<TensorSpec>> specs = NetworkTensors(def);
  NETADAPT_CHECK(specs.ok());
  std::vector<CheckpointTensor> tensors;
  for (const TensorSpec& spec : *specs) {
    CheckpointTensor& t = tensors.emplace_back();
    t.name = spec.name;
    t.dtype = spec.dtype;
    t.shape = spec.shape;
    int64_t n = 1;
    for (int64_t s : spec.shape) n *= s;
    std::string& bytes = storage->emplace_back(n * ElementSize(spec.dtype), '\0');
    if (spec.dtype == TensorDtype::kFloat32) {
      float* values = reinterpret_cast<float*>(bytes.data());
      for (int64_t i = 0; i < n; ++i) values[i] = 0.01f * static_cast<float>((i * 37) % 101);
    }
    t.data = bytes;
  }
  return tensors;
}

onnx::ModelProto Export(const NetworkDef& def) {
  std::deque<std::string> storage;
  absl::StatusOr<std::string> bytes = ExportOnnx(def, Tensors(def, &storage));
  NETADAPT_CHECK(bytes.ok());
  onnx::ModelProto model;
  NETADAPT_CHECK(model.ParseFromString(*bytes));
  return model;
}

std::map<std::string, std::string> Attributes(const onnx::NodeProto& node) {
  std::map<std::string, std::string> out;
  for (const onnx::AttributeProto& a : node.attribute()) {
    std::string value;
    if (a.type() == onnx::AttributeProto::INT) value = absl::StrCat(a.i());
    if (a.type() == onnx::AttributeProto::FLOAT) value = absl::StrCat(a.f());
    if (a.type() == onnx::AttributeProto::STRING) value = a.s();
    if (a.type() == onnx::AttributeProto::INTS) {
      for (int64_t v : a.ints()) absl::StrAppend(&value, value.empty() ? "" : ",", v);
    }
    out[a.name()] = value;
  }
  return out;
}

std::vector<int64_t> Dims(const onnx::ValueInfoProto& info) {
  std::vector<int64_t> dims;
  for (const auto& d : info.type().tensor_type().shape().dim()) {
    dims.push_back(d.has_dim_param() ? -1 : d.dim_value());
  }
  return dims;
}

// A node the exporter must write: its op, its name (also its output's name, except for the
// node that outputs "logits") and its data inputs, the first of the node's inputs (weights and
// constants follow them).
struct ExpectedNode {
  std::string op;
  std::string name;
  std::vector<std::string> inputs;
};

// The nodes `layer` must become, in order, given the ONNX value of each of its inputs; sets
// `*value` to the value holding the layer's output.
std::vector<ExpectedNode> ExpectedNodes(const Layer& layer, const TensorShape& in,
                                        const TensorShape& out,
                                        const std::vector<std::string>& operands,
                                        std::string* value) {
  const std::string& x = operands[0];
  const std::string& y = layer.name;
  *value = y;
  auto one = [&](const char* op) { return std::vector<ExpectedNode>{{op, y, {x}}}; };
  switch (layer.op) {
    case LayerOp::kConv2d: return one("Conv");
    case LayerOp::kLinear: return one("Gemm");
    case LayerOp::kBatchNorm2d: return one("BatchNormalization");
    case LayerOp::kRelu: return one("Relu");
    case LayerOp::kRelu6: return one("Clip");
    case LayerOp::kMaxPool2d: return one("MaxPool");
    case LayerOp::kAvgPool2d: return one("AveragePool");
    case LayerOp::kFlatten: return one("Flatten");
    case LayerOp::kSigmoid: return one("Sigmoid");
    case LayerOp::kHardsigmoid: return one("HardSigmoid");
    case LayerOp::kAdaptiveAvgPool2d: {
      if (out.height == 1 && out.width == 1) return one("GlobalAveragePool");
      const bool pool = in.height > out.height || in.width > out.width;
      const bool resize = in.height < out.height || in.width < out.width;
      std::vector<ExpectedNode> nodes;
      std::string pooled = x;
      if (pool) {
        pooled = resize ? y + ".pool" : y;
        nodes.push_back({"AveragePool", pooled, {x}});
      }
      if (resize) nodes.push_back({"Resize", y, {pooled, ""}});
      if (nodes.empty()) *value = x;
      return nodes;
    }
    case LayerOp::kDropout:
      *value = x;
      return {};
    case LayerOp::kHardswish:
      return {{"HardSigmoid", y + ".gate", {x}}, {"Mul", y, {x, y + ".gate"}}};
    case LayerOp::kAdd: {
      // A chain of two-operand Adds; the last is named after the layer.
      std::vector<ExpectedNode> nodes;
      std::string sum = x;
      for (size_t k = 1; k < operands.size(); ++k) {
        const std::string name = k + 1 == operands.size() ? y : absl::StrCat(y, ".partial", k);
        nodes.push_back({"Add", name, {sum, operands[k]}});
        sum = name;
      }
      return nodes;
    }
    case LayerOp::kMul: return {{"Mul", y, operands}};
    case LayerOp::kConcat: return {{"Concat", y, operands}};
  }
  return {};
}

// Structure shared by every exported model: opset, I/O, the nodes of each layer in layer order
// reading the values of the layer's inputs, initializers = the float state_dict tensors with
// their shapes and bytes.
void ExpectStructure(const NetworkDef& def, const onnx::ModelProto& model) {
  SCOPED_TRACE(def.name);
  EXPECT_EQ(model.ir_version(), kOnnxIrVersion);
  ASSERT_EQ(model.opset_import_size(), 1);
  EXPECT_EQ(model.opset_import(0).domain(), "");
  EXPECT_EQ(model.opset_import(0).version(), 13);
  ASSERT_EQ(model.metadata_props_size(), 1);
  NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef embedded,
                                NetworkDefFromJson(model.metadata_props(0).value()));
  EXPECT_EQ(NetworkDefToJson(embedded), NetworkDefToJson(def));

  const onnx::GraphProto& graph = model.graph();
  ASSERT_EQ(graph.input_size(), 1);
  EXPECT_EQ(graph.input(0).name(), "input");
  EXPECT_EQ(Dims(graph.input(0)),
            (std::vector<int64_t>{-1, def.input.channels, def.input.height, def.input.width}));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<TensorShape> shapes, InferShapes(def));
  ASSERT_EQ(graph.output_size(), 1);
  EXPECT_EQ(graph.output(0).name(), "logits");
  EXPECT_EQ(Dims(graph.output(0)).front(), -1);
  EXPECT_EQ(Dims(graph.output(0))[1], shapes.back().channels);

  // Nodes: each layer's, in layer order, reading the values of the layer's inputs (for a
  // chain: the previous node's output); the last one outputs "logits", or an Identity copies
  // the result there when no node makes it.
  const std::vector<std::vector<int>> sources = InputIndices(def);
  std::vector<std::string> values(def.layers.size());
  std::vector<ExpectedNode> expected;
  for (size_t i = 0; i < def.layers.size(); ++i) {
    std::vector<std::string> operands;
    for (int k : sources[i]) operands.push_back(k == kNetworkInput ? "input" : values[k]);
    for (ExpectedNode& node :
         ExpectedNodes(def.layers[i], InputShape(def, shapes, sources[i]), shapes[i], operands,
                       &values[i])) {
      expected.push_back(std::move(node));
    }
  }
  if (expected.empty() || expected.back().name != values.back()) {
    expected.push_back({"Identity", def.layers.back().name + ".output", {values.back()}});
  }
  ASSERT_EQ(graph.node_size(), static_cast<int>(expected.size()));
  for (int n = 0; n < graph.node_size(); ++n) {
    const onnx::NodeProto& node = graph.node(n);
    const ExpectedNode& want = expected[n];
    SCOPED_TRACE(want.name);
    EXPECT_EQ(node.op_type(), want.op);
    EXPECT_EQ(node.name(), want.name);
    ASSERT_GE(node.input_size(), static_cast<int>(want.inputs.size()));
    EXPECT_EQ(std::vector<std::string>(node.input().begin(),
                                       node.input().begin() + want.inputs.size()),
              want.inputs);
    ASSERT_EQ(node.output_size(), 1);
    EXPECT_EQ(node.output(0), n + 1 == graph.node_size() ? "logits" : want.name);
    if (node.op_type() == "Conv") {
      const Layer& layer = def.layers[def.FindLayer(node.name())];
      const std::map<std::string, std::string> a = Attributes(node);
      EXPECT_EQ(a.at("group"), absl::StrCat(layer.groups));
      EXPECT_EQ(a.at("kernel_shape"), absl::StrCat(layer.kernel.h, ",", layer.kernel.w));
      EXPECT_EQ(a.at("strides"), absl::StrCat(layer.stride.h, ",", layer.stride.w));
      EXPECT_EQ(a.at("pads"), absl::StrCat(layer.padding.h, ",", layer.padding.w, ",",
                                           layer.padding.h, ",", layer.padding.w));
      EXPECT_EQ(node.input_size(), layer.bias ? 3 : 2);
    }
    if (node.op_type() == "Gemm") {
      EXPECT_EQ(Attributes(node).at("transB"), "1");
    }
    if (node.op_type() == "HardSigmoid") {
      // PyTorch's hardsigmoid, relu6(x + 3) / 6, not ONNX's default alpha 0.2.
      EXPECT_EQ(Attributes(node).at("alpha"), absl::StrCat(1.0f / 6.0f));
      EXPECT_EQ(Attributes(node).at("beta"), absl::StrCat(0.5f));
    }
    if (node.op_type() == "Concat") {
      EXPECT_EQ(Attributes(node).at("axis"), "1");
    }
    if (node.op_type() == "Add" || node.op_type() == "Mul" || node.op_type() == "Sigmoid" ||
        node.op_type() == "Identity") {
      EXPECT_EQ(node.attribute_size(), 0);
      EXPECT_EQ(node.input_size(), static_cast<int>(want.inputs.size()));
    }
    const int index = def.FindLayer(node.name());
    if (index >= 0 && def.layers[index].op == LayerOp::kAvgPool2d) {
      EXPECT_EQ(Attributes(node).at("count_include_pad"), "1");
    }
  }

  // Initializers: every float state_dict tensor, in order, then only Clip/Resize constants.
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<TensorSpec> specs, NetworkTensors(def));
  std::map<std::string, const onnx::TensorProto*> inits;
  for (const onnx::TensorProto& init : graph.initializer()) inits[init.name()] = &init;
  std::deque<std::string> storage;
  const std::vector<CheckpointTensor> tensors = Tensors(def, &storage);
  size_t weights = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].dtype != TensorDtype::kFloat32) {
      EXPECT_EQ(inits.count(specs[i].name), 0u) << specs[i].name;
      continue;
    }
    ++weights;
    ASSERT_EQ(inits.count(specs[i].name), 1u) << specs[i].name;
    const onnx::TensorProto& init = *inits[specs[i].name];
    EXPECT_EQ(init.data_type(), onnx::TensorProto::FLOAT);
    EXPECT_EQ(std::vector<int64_t>(init.dims().begin(), init.dims().end()), specs[i].shape);
    EXPECT_EQ(init.raw_data(), tensors[i].data) << specs[i].name;
  }
  for (const auto& [name, init] : inits) {
    if (absl::EndsWith(name, ".clip_min") || absl::EndsWith(name, ".clip_max") ||
        absl::EndsWith(name, ".scales")) {
      ++weights;
    }
  }
  EXPECT_EQ(weights, inits.size());
}

TEST(OnnxExportTest, EveryZooModel) {
  for (const std::string& name : ZooNames()) {
    const NetworkDef def = Zoo(name);
    ExpectStructure(def, Export(def));
  }
}

TEST(OnnxExportTest, EveryOp) {
  const NetworkDef def = EveryOp();
  const onnx::ModelProto model = Export(def);
  ExpectStructure(def, model);
  std::map<std::string, const onnx::NodeProto*> nodes;
  for (const onnx::NodeProto& node : model.graph().node()) nodes[node.name()] = &node;
  EXPECT_EQ(Attributes(*nodes.at("maxpool")).at("ceil_mode"), "1");
  EXPECT_EQ(Attributes(*nodes.at("avgpool")).at("ceil_mode"), "0");
  EXPECT_EQ(Attributes(*nodes.at("avgpool")).at("pads"), "1,1,1,1");
  EXPECT_EQ(Attributes(*nodes.at("bn")).at("epsilon"), absl::StrCat(1e-5f));
  EXPECT_THAT(nodes.at("relu6")->input(),
              ::testing::ElementsAre("bn", "relu6.clip_min", "relu6.clip_max"));
  EXPECT_EQ(model.graph().output(0).type().tensor_type().shape().dim_size(), 2);
}

// Which node reads which value, for the graph networks.
std::map<std::string, const onnx::NodeProto*> NodesByName(const onnx::ModelProto& model) {
  std::map<std::string, const onnx::NodeProto*> nodes;
  for (const onnx::NodeProto& node : model.graph().node()) nodes[node.name()] = &node;
  return nodes;
}

TEST(OnnxExportTest, GraphOps) {
  const NetworkDef def = netadapt::testing::GraphOpNetwork();
  const onnx::ModelProto model = Export(def);
  ExpectStructure(def, model);
  using ::testing::ElementsAre;
  const std::map<std::string, const onnx::NodeProto*> nodes = NodesByName(model);
  // b.conv reads stem.relu, which a.conv and the residual read too.
  EXPECT_THAT(nodes.at("a.conv")->input(), ElementsAre("stem.relu", "a.conv.weight",
                                                       "a.conv.bias"));
  EXPECT_EQ(nodes.at("b.conv")->input(0), "stem.relu");
  EXPECT_THAT(nodes.at("b.act.gate")->input(), ElementsAre("b.conv"));
  EXPECT_THAT(nodes.at("b.act")->input(), ElementsAre("b.conv", "b.act.gate"));
  EXPECT_THAT(nodes.at("cat")->input(), ElementsAre("a.relu", "b.act"));
  EXPECT_THAT(nodes.at("se.pool")->input(), ElementsAre("mix.bn"));
  EXPECT_THAT(nodes.at("se.mul")->input(), ElementsAre("se.gate", "mix.bn"));
  EXPECT_THAT(nodes.at("residual")->input(), ElementsAre("se.mul", "stem.relu"));
  EXPECT_EQ(Attributes(*nodes.at("dw")).at("group"), "16");
  EXPECT_EQ(nodes.at("fc1")->input(0), "flatten");  // the dropout adds no node
  EXPECT_EQ(nodes.at("fc2")->output(0), "logits");
  EXPECT_EQ(Dims(model.graph().output(0)), (std::vector<int64_t>{-1, 5}));
}

TEST(OnnxExportTest, AnAddOfThreeInputsIsAChainOfTwoAdds) {
  const NetworkDef def = netadapt::testing::ThreeWayAddNetwork();
  const onnx::ModelProto model = Export(def);
  ExpectStructure(def, model);
  const std::map<std::string, const onnx::NodeProto*> nodes = NodesByName(model);
  EXPECT_THAT(nodes.at("sum.partial1")->input(), ::testing::ElementsAre("conv", "relu"));
  EXPECT_THAT(nodes.at("sum")->input(), ::testing::ElementsAre("sum.partial1", "input"));
  EXPECT_EQ(nodes.at("conv")->input(0), "input");
}

TEST(OnnxExportTest, ADropoutAfterAnAddAtTheEndLeavesTheAddAsTheOutput) {
  const NetworkDef def = netadapt::testing::DropoutAfterAddNetwork();
  const onnx::ModelProto model = Export(def);
  ExpectStructure(def, model);
  // No layer reads the add, so its node outputs "logits" itself: no Identity is needed.
  const onnx::NodeProto& last = model.graph().node(model.graph().node_size() - 1);
  EXPECT_EQ(last.op_type(), "Add");
  EXPECT_EQ(last.name(), "residual");
  EXPECT_THAT(last.input(), ::testing::ElementsAre("act", "input"));
  EXPECT_EQ(last.output(0), "logits");
  EXPECT_EQ(Dims(model.graph().output(0)), (std::vector<int64_t>{-1, 4, 5, 5}));
}

TEST(OnnxExportTest, ANetworkOfNoNodesIsAnIdentity) {
  NetworkDef def;
  def.name = "nothing";
  def.input = {2, 3, 3};
  def.layers = {Layer::Dropout("drop")};
  const onnx::ModelProto model = Export(def);
  ASSERT_EQ(model.graph().node_size(), 1);
  EXPECT_EQ(model.graph().node(0).op_type(), "Identity");
  EXPECT_EQ(model.graph().node(0).input(0), "input");
  EXPECT_EQ(model.graph().node(0).output(0), "logits");
}

TEST(OnnxExportTest, CeilModeThatChangesNothingIsDropped) {
  NetworkDef def = EveryOp();
  def.input = {3, 12, 12};  // 12 -> 6 rows with or without ceil_mode
  def.layers[7].output_size = {3, 12};
  def.layers[10].in_channels = 8 * 3 * 12;
  const onnx::ModelProto model = Export(def);
  for (const onnx::NodeProto& node : model.graph().node()) {
    if (node.name() == "maxpool") {
      EXPECT_EQ(Attributes(node).at("ceil_mode"), "0");
    }
  }
}

TEST(OnnxExportTest, RefusesWhatOnnxCannotExpress) {
  std::deque<std::string> storage;
  NetworkDef adaptive = EveryOp();
  adaptive.layers[7].output_size = {3, 5};  // 7x6 -> 3x5: no multiples
  adaptive.layers[10].in_channels = 8 * 3 * 5;
  EXPECT_THAT(ExportOnnx(adaptive, Tensors(adaptive, &storage)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("layers[7] (adaptive, adaptive_avgpool2d)"),
                             HasSubstr("7x6"), HasSubstr("3x5"))));

  NetworkDef avg = EveryOp();
  avg.layers[6] = Layer::AvgPool2d("avgpool", {2, 2}, {2, 2});
  avg.layers[6].ceil_mode = true;  // 7x6 -> 4x3, the last row window partial
  avg.layers[7].output_size = {2, 3};
  avg.layers[10].in_channels = 8 * 2 * 3;
  EXPECT_THAT(ExportOnnx(avg, Tensors(avg, &storage)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("layers[6] (avgpool, avgpool2d)"), HasSubstr("ceil_mode"))));

  const NetworkDef def = Zoo("helloworld");
  std::vector<CheckpointTensor> tensors = Tensors(def, &storage);
  tensors.pop_back();
  EXPECT_THAT(ExportOnnx(def, tensors),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing tensors")));
  NetworkDef invalid = def;
  invalid.layers[0].in_channels = 5;
  EXPECT_THAT(ExportOnnx(invalid, Tensors(def, &storage)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("layers[0]")));
}

TEST(OnnxExportTest, FromCheckpointBytesDeterministically) {
  const NetworkDef def = Zoo("alexnet");
  std::deque<std::string> storage;
  const std::vector<CheckpointTensor> tensors = Tensors(def, &storage);
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string checkpoint, EncodeCheckpoint(def, tensors));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string a, CheckpointToOnnx(checkpoint, "ckpt"));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string b, ExportOnnx(def, tensors));
  EXPECT_EQ(a, b);
  EXPECT_THAT(CheckpointToOnnx("not a checkpoint at all", "f.pt"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("f.pt: not a netadapt")));
}

// The C++ checker and strict shape inference of the libonnx this build links.
TEST(OnnxExportTest, PassesTheOnnxChecker) {
  for (const NetworkDef& def : AllNetworks()) {
    onnx::ModelProto model = Export(def);
    try {
      onnx::checker::check_model(model);
      onnx::shape_inference::InferShapes(
          model, onnx::OpSchemaRegistry::Instance(),
          onnx::ShapeInferenceOptions(/*check_type_val=*/true, /*strict_mode_val=*/1));
    } catch (const std::exception& e) {
      ADD_FAILURE() << def.name << ": " << e.what();
    }
  }
}

// Python's onnx.checker with full_check (the check `python3 -c` users run).
TEST(OnnxExportTest, PassesThePythonOnnxChecker) {
  const std::string python = "/usr/bin/python3";
  // The Python checker comes from python3-onnx, which install-deps.sh (and so CI) installs;
  // the C++ checker of libonnx runs in the other tests without it.
  if (std::system((python + " -c 'import onnx' > /dev/null 2>&1").c_str()) != 0) {
    GTEST_SKIP() << python << " cannot import onnx (install Debian's python3-onnx)";
  }
  const std::string dir = absl::StrCat(::testing::TempDir(), "/onnx_export_test_", getpid());
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p '", dir, "'").c_str()), 0);
  std::string files;
  for (const NetworkDef& def : AllNetworks()) {
    std::deque<std::string> storage;
    NETADAPT_ASSERT_OK_AND_ASSIGN(std::string bytes, ExportOnnx(def, Tensors(def, &storage)));
    const std::string path = absl::StrCat(dir, "/", def.name, ".onnx");
    ASSERT_THAT(WriteFileAtomically(path, bytes), IsOk());
    absl::StrAppend(&files, " '", path, "'");
  }
  const std::string command = absl::StrCat(
      python,
      " -c 'import onnx, sys\nfor p in sys.argv[1:]: "
      "onnx.checker.check_model(onnx.load(p), full_check=True)'",
      files);
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  std::system(absl::StrCat("rm -rf '", dir, "'").c_str());
}

}  // namespace
}  // namespace netadapt::common
