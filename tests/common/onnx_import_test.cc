// ONNX import on graphs built here by hand, node by node as exporters write them (PyTorch's
// scoped node names, opset 13's two-node hardswish, a dynamic-batch flatten, ...), and on the
// graphs our exporter writes: export(import(export(x))) gives the same graph bytes. Every op
// and form of onnx_import.h, and every refusal, which must name the node and its op type.
// Numbers against PyTorch (real torchvision exports) are in
// tests/common/torch/onnx_import_torch_test.cc.
#include "common/onnx_import.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/checkpoint_format.h"
#include "common/network_def_json.h"
#include "common/network_tensors.h"
#include "common/onnx_export.h"
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

// A node under construction: attribute setters that chain.
class NodeRef {
 public:
  explicit NodeRef(onnx::NodeProto* node) : node_(node) {}
  NodeRef& Int(const std::string& name, int64_t v) {
    onnx::AttributeProto* a = Add(name, onnx::AttributeProto::INT);
    a->set_i(v);
    return *this;
  }
  NodeRef& Ints(const std::string& name, const std::vector<int64_t>& v) {
    onnx::AttributeProto* a = Add(name, onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
    return *this;
  }
  NodeRef& Float(const std::string& name, float v) {
    onnx::AttributeProto* a = Add(name, onnx::AttributeProto::FLOAT);
    a->set_f(v);
    return *this;
  }
  NodeRef& Str(const std::string& name, const std::string& v) {
    onnx::AttributeProto* a = Add(name, onnx::AttributeProto::STRING);
    a->set_s(v);
    return *this;
  }
  NodeRef& Tensor(const std::string& name, const onnx::TensorProto& t) {
    onnx::AttributeProto* a = Add(name, onnx::AttributeProto::TENSOR);
    *a->mutable_t() = t;
    return *this;
  }
  // More outputs (BatchNormalization in training mode, Dropout's mask).
  NodeRef& Outputs(const std::vector<std::string>& more) {
    for (const std::string& o : more) node_->add_output(o);
    return *this;
  }

 private:
  onnx::AttributeProto* Add(const std::string& name, onnx::AttributeProto::AttributeType type) {
    onnx::AttributeProto* a = node_->add_attribute();
    a->set_name(name);
    a->set_type(type);
    return a;
  }
  onnx::NodeProto* node_;
};

onnx::TensorProto FloatTensor(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<float>& values) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t.add_dims(d);
  t.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()),
                             values.size() * sizeof(float)));
  return t;
}

onnx::TensorProto IntTensor(const std::string& name, const std::vector<int64_t>& dims,
                            const std::vector<int64_t>& values) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : dims) t.add_dims(d);
  for (int64_t v : values) t.add_int64_data(v);
  return t;
}

// Builds an ONNX model as an exporter would; the input is "x".
class OnnxBuilder {
 public:
  // `dims`: the input's, -1 for a symbolic dimension.
  explicit OnnxBuilder(std::vector<int64_t> dims = {1, 3, 8, 8}, int opset = 13) {
    model_.set_ir_version(7);
    model_.add_opset_import()->set_version(opset);
    graph()->set_name("test");
    onnx::ValueInfoProto* input = graph()->add_input();
    input->set_name("x");
    auto* type = input->mutable_type()->mutable_tensor_type();
    type->set_elem_type(onnx::TensorProto::FLOAT);
    const char* symbols[] = {"batch", "channels", "height", "width"};
    for (size_t d = 0; d < dims.size(); ++d) {
      auto* dim = type->mutable_shape()->add_dim();
      if (dims[d] < 0) {
        dim->set_dim_param(symbols[d % 4]);
      } else {
        dim->set_dim_value(dims[d]);
      }
    }
  }

  onnx::GraphProto* graph() { return model_.mutable_graph(); }

  // A float initializer with distinct values; returns its name.
  std::string Weight(const std::string& name, const std::vector<int64_t>& dims) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    std::vector<float> values(n);
    for (int64_t i = 0; i < n; ++i) {
      values[i] = 0.01f * static_cast<float>((i * 37 + static_cast<int64_t>(name.size())) % 101) -
                  0.5f;
    }
    return Floats(name, dims, values);
  }
  std::string Floats(const std::string& name, const std::vector<int64_t>& dims,
                     const std::vector<float>& values) {
    *graph()->add_initializer() = FloatTensor(name, dims, values);
    values_[name] = values;
    return name;
  }
  std::string Ints(const std::string& name, const std::vector<int64_t>& dims,
                   const std::vector<int64_t>& values) {
    *graph()->add_initializer() = IntTensor(name, dims, values);
    return name;
  }
  // The values of initializer `name`.
  const std::vector<float>& Values(const std::string& name) { return values_.at(name); }

  // A node with one output; named `name`, or after its output when `name` is "-".
  NodeRef Node(const std::string& op, const std::vector<std::string>& inputs,
               const std::string& output, const std::string& name = "-") {
    onnx::NodeProto* node = graph()->add_node();
    node->set_op_type(op);
    node->set_name(name == "-" ? output : name);
    for (const std::string& in : inputs) node->add_input(in);
    node->add_output(output);
    return NodeRef(node);
  }

  // The model with `output` as its graph output.
  std::string Bytes(const std::string& output) {
    onnx::ModelProto model = model_;
    model.mutable_graph()->add_output()->set_name(output);
    return model.SerializeAsString();
  }

 private:
  onnx::ModelProto model_;
  std::map<std::string, std::vector<float>> values_;
};

// Layer `name` of `def`; fails the test when absent.
const Layer& Find(const NetworkDef& def, const std::string& name) {
  const int i = def.FindLayer(name);
  EXPECT_GE(i, 0) << name << " not in " << NetworkDefToJson(def);
  static const Layer none;
  return i < 0 ? none : def.layers[i];
}

std::vector<float> Data(const OnnxModel& model, const std::string& tensor) {
  for (const CheckpointTensor& t : model.tensors) {
    if (t.name != tensor) continue;
    std::vector<float> values(t.data.size() / sizeof(float));
    std::memcpy(values.data(), t.data.data(), t.data.size());
    return values;
  }
  ADD_FAILURE() << "no tensor " << tensor;
  return {};
}

std::string Json(const NetworkDef& def) { return NetworkDefToJson(def); }

// ---------------------------------------------------------------------------------------------
// Round trips through our exporter.

// Tensors of `def` with varied bytes; `storage` owns them.
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

// The model bytes without the metadata (the NetworkDef JSON, which keeps dropout layers).
std::string WithoutMetadata(const std::string& bytes) {
  onnx::ModelProto model;
  NETADAPT_CHECK(model.ParseFromString(bytes));
  model.clear_metadata_props();
  return model.SerializeAsString();
}

class OnnxRoundTripTest : public ::testing::TestWithParam<std::string> {};

NetworkDef RoundTripNetwork(const std::string& name) {
  if (name == "graph_ops") return netadapt::testing::GraphOpNetwork();
  if (name == "every_op") return netadapt::testing::EveryOpNetwork();
  if (name == "three_way_add") return netadapt::testing::ThreeWayAddNetwork();
  ZooOptions options;
  options.input_size = 32;
  options.width_multiplier = 0.125;
  absl::StatusOr<NetworkDef> def = ZooNetwork(name, options);
  NETADAPT_CHECK(def.ok());
  return *def;
}

// export(def) imports into a network that exports to the same graph and initializers; the
// import is the exported network without its dropouts (inference graphs have none; an add of
// three inputs, exported as two Adds, comes back as two adds), and the result passes the ONNX
// checker.
TEST_P(OnnxRoundTripTest, ExportOfImportIsTheSameGraph) {
  const NetworkDef def = RoundTripNetwork(GetParam());
  std::deque<std::string> storage;
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string exported, ExportOnnx(def, Tensors(def, &storage)));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const OnnxModel imported, ImportOnnx(exported));
  EXPECT_THAT(CheckTensorsMatch(imported.def, imported.tensors, "import"), IsOk());
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string again,
                                ExportOnnx(imported.def, imported.tensors));
  EXPECT_EQ(WithoutMetadata(again), WithoutMetadata(exported)) << Json(imported.def);

  NetworkDef without_dropout = def;
  without_dropout.layers.clear();
  std::map<std::string, std::string> passes_on;  // a dropout -> the value it passes on
  const std::vector<std::vector<int>> inputs = InputIndices(def);
  for (size_t i = 0; i < def.layers.size(); ++i) {
    Layer layer = def.layers[i];
    layer.inputs.clear();
    for (int k : inputs[i]) {
      std::string name = k == kNetworkInput ? "input" : def.layers[k].name;
      if (passes_on.count(name) > 0) name = passes_on[name];
      layer.inputs.push_back(name);
    }
    if (layer.op == LayerOp::kDropout) {
      passes_on[layer.name] = layer.inputs[0];
    } else {
      without_dropout.layers.push_back(layer);
    }
  }
  // The import names inputs only where a layer does not read the one before it.
  for (size_t i = 0; i < without_dropout.layers.size(); ++i) {
    Layer& layer = without_dropout.layers[i];
    const std::string previous = i == 0 ? "input" : without_dropout.layers[i - 1].name;
    if (ArityOf(layer.op).max == 1 && layer.inputs == std::vector<std::string>{previous}) {
      layer.inputs.clear();
    }
  }
  if (GetParam() != "three_way_add") {
    EXPECT_EQ(Json(imported.def), Json(without_dropout));
  }

  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(again));
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    ADD_FAILURE() << GetParam() << ": " << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Networks, OnnxRoundTripTest,
                         ::testing::Values("graph_ops", "every_op", "three_way_add", "alexnet", "helloworld", "mobilenet",
                                           "vgg16", "resnet18", "resnet50", "mobilenet_v2"));

TEST(OnnxImportTest, TheWeightsAreTheExportedOnes) {
  const NetworkDef def = netadapt::testing::GraphOpNetwork();
  std::deque<std::string> storage;
  const std::vector<CheckpointTensor> tensors = Tensors(def, &storage);
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string exported, ExportOnnx(def, tensors));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const OnnxModel imported, ImportOnnx(exported));
  ASSERT_EQ(imported.tensors.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(imported.tensors[i].name, tensors[i].name);
    EXPECT_EQ(imported.tensors[i].shape, tensors[i].shape);
    if (tensors[i].dtype == TensorDtype::kFloat32) {
      EXPECT_EQ(imported.tensors[i].data, tensors[i].data) << tensors[i].name;
    } else {  // num_batches_tracked: ONNX does not carry it
      EXPECT_EQ(imported.tensors[i].data, std::string(8, '\0')) << tensors[i].name;
    }
  }
  // A checkpoint of the import decodes to the same network and tensors.
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string checkpoint,
                                EncodeCheckpoint(imported.def, imported.tensors));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const CheckpointContents decoded, DecodeCheckpoint(checkpoint));
  EXPECT_EQ(Json(decoded.def), Json(imported.def));
  EXPECT_THAT(CheckTensorsMatch(decoded.def, decoded.tensors, "checkpoint"), IsOk());
}

// ---------------------------------------------------------------------------------------------
// PyTorch's forms and names.

// A ResNet-style stem and residual block as torch.onnx.export (1.13) writes it in eval mode:
// batchnorm folded into the convs (weights "onnx::Conv_N", with biases), node names from the
// module scopes, a functional add in the block, a relu module called twice.
TEST(OnnxImportTest, PyTorchScopesNameTheLayers) {
  OnnxBuilder b({1, 3, 8, 8}, 14);
  b.Node("Conv", {"x", b.Weight("onnx::Conv_20", {4, 3, 3, 3}), b.Weight("onnx::Conv_21", {4})},
         "/conv1/Conv_output_0", "/conv1/Conv")
      .Ints("kernel_shape", {3, 3})
      .Ints("pads", {1, 1, 1, 1})
      .Ints("strides", {1, 1})
      .Ints("dilations", {1, 1})
      .Int("group", 1);
  b.Node("Relu", {"/conv1/Conv_output_0"}, "/relu/Relu_output_0", "/relu/Relu");
  b.Node("Conv",
         {"/relu/Relu_output_0", b.Weight("onnx::Conv_23", {4, 4, 3, 3}),
          b.Weight("onnx::Conv_24", {4})},
         "/layer1/layer1.0/conv1/Conv_output_0", "/layer1/layer1.0/conv1/Conv")
      .Ints("pads", {1, 1, 1, 1});
  b.Node("Relu", {"/layer1/layer1.0/conv1/Conv_output_0"}, "/layer1/layer1.0/relu/Relu_output_0",
         "/layer1/layer1.0/relu/Relu");
  // MobileNetV2-style nesting: conv.0.0 under conv.0 under features.1.
  b.Node("Conv",
         {"/layer1/layer1.0/relu/Relu_output_0", b.Weight("onnx::Conv_26", {4, 1, 3, 3}),
          b.Weight("onnx::Conv_27", {4})},
         "dw_out", "/features/features.1/conv/conv.0/conv.0.0/Conv")
      .Ints("pads", {1, 1, 1, 1})
      .Int("group", 4);
  b.Node("Add", {"dw_out", "/relu/Relu_output_0"}, "/layer1/layer1.0/Add_output_0",
         "/layer1/layer1.0/Add");
  b.Node("Relu", {"/layer1/layer1.0/Add_output_0"}, "/layer1/layer1.0/relu_1/Relu_output_0",
         "/layer1/layer1.0/relu_1/Relu");
  b.Node("GlobalAveragePool", {"/layer1/layer1.0/relu_1/Relu_output_0"}, "gap",
         "/avgpool/GlobalAveragePool");
  b.Node("Flatten", {"gap"}, "/Flatten_output_0", "/Flatten").Int("axis", 1);
  b.Node("Gemm", {"/Flatten_output_0", b.Weight("fc.weight", {10, 4}), b.Weight("fc.bias", {10})},
         "191", "/fc/Gemm")
      .Float("alpha", 1)
      .Float("beta", 1)
      .Int("transB", 1);
  NETADAPT_ASSERT_OK_AND_ASSIGN(OnnxModel model, ImportOnnx(b.Bytes("191")));

  NetworkDef want;
  want.name = "test";
  want.input = {3, 8, 8};
  want.layers = {
      Layer::Conv2d("conv1", 3, 4, {3, 3}, {1, 1}, {1, 1}),
      Layer::Relu("relu"),
      Layer::Conv2d("layer1.0.conv1", 4, 4, {3, 3}, {1, 1}, {1, 1}),
      Layer::Relu("layer1.0.relu"),
      Layer::Conv2d("features.1.conv.0.0", 4, 4, {3, 3}, {1, 1}, {1, 1}, 4),
      Layer::Op("layer1.0", LayerOp::kAdd, {"features.1.conv.0.0", "relu"}),
      Layer::Relu("layer1.0.relu_1"),
      Layer::AdaptiveAvgPool2d("avgpool", {1, 1}),
      Layer::Flatten("flatten"),
      Layer::Linear("fc", 4, 10),
  };
  EXPECT_EQ(Json(model.def), Json(want));
  EXPECT_EQ(Data(model, "layer1.0.conv1.weight"), b.Values("onnx::Conv_23"));
  EXPECT_EQ(Data(model, "layer1.0.conv1.bias"), b.Values("onnx::Conv_24"));
  EXPECT_EQ(Data(model, "fc.weight"), b.Values("fc.weight"));
}

// With batchnorm kept (torch.onnx.TrainingMode.TRAINING), the weights carry the module names
// and BatchNormalization has training mode's three outputs, of which only the first is read.
TEST(OnnxImportTest, BatchNormInTrainingModeFormImportsItsRunningStatistics) {
  OnnxBuilder b({1, 3, 8, 8}, 14);
  b.Node("Conv", {"x", b.Weight("features.0.0.weight", {8, 3, 3, 3})}, "c",
         "/features/features.0/features.0.0/Conv")
      .Ints("kernel_shape", {3, 3})
      .Ints("pads", {1, 1, 1, 1})
      .Ints("strides", {2, 2});
  b.Node("BatchNormalization",
         {"c", b.Weight("features.0.1.weight", {8}), b.Weight("features.0.1.bias", {8}),
          b.Weight("features.0.1.running_mean", {8}), b.Weight("features.0.1.running_var", {8})},
         "bn", "/features/features.0/features.0.1/BatchNormalization")
      .Float("epsilon", 1e-3f)
      .Float("momentum", 0.9f)
      .Int("training_mode", 1)
      .Outputs({"bn_mean", "bn_var"});
  b.Node("GlobalAveragePool", {"bn"}, "p", "/GlobalAveragePool");
  b.Node("Flatten", {"p"}, "f", "/Flatten");
  b.Node("Gemm", {"f", b.Weight("classifier.1.weight", {5, 8}), b.Weight("classifier.1.bias", {5})},
         "y", "/classifier/classifier.1/Gemm")
      .Int("transB", 1);
  NETADAPT_ASSERT_OK_AND_ASSIGN(OnnxModel model, ImportOnnx(b.Bytes("y")));
  const Layer& conv = Find(model.def, "features.0.0");
  EXPECT_EQ(conv.stride, (Pair{2, 2}));
  EXPECT_FALSE(conv.bias);
  const Layer& bn = Find(model.def, "features.0.1");
  EXPECT_EQ(bn.op, LayerOp::kBatchNorm2d);
  EXPECT_EQ(bn.eps, 0.001);  // float32's 1e-3, read back as the decimal it was written as
  EXPECT_EQ(Data(model, "features.0.1.running_var"), b.Values("features.0.1.running_var"));
  EXPECT_EQ(Find(model.def, "globalaveragepool").op, LayerOp::kAdaptiveAvgPool2d);
  EXPECT_EQ(Find(model.def, "classifier.1").op, LayerOp::kLinear);
  // num_batches_tracked is not in ONNX: 0.
  for (const CheckpointTensor& t : model.tensors) {
    if (t.name == "features.0.1.num_batches_tracked") {
      EXPECT_EQ(t.data, std::string(8, '\0'));
    }
  }
}

// Names collide (a module called like another's scope, shared weights, the reserved "input"),
// or are absent: they are made unique and never "input".
TEST(OnnxImportTest, NamesAreUniqueAndNeverInput) {
  OnnxBuilder b({1, 3, 4, 4});
  const std::string w = b.Weight("shared.weight", {3, 3, 1, 1});
  b.Node("Conv", {"x", w}, "a", "one");
  b.Node("Conv", {"a", w}, "b", "two");       // shares the weight: "shared" again
  b.Node("Relu", {"b"}, "c", "shared");       // the node name of another layer
  b.Node("Relu", {"c"}, "d", "input");        // reserved
  b.Node("Sigmoid", {"d"}, "e", "");          // no name
  b.Node("Add", {"e", "d"}, "s1", "/block/Add");
  b.Node("Mul", {"s1", "e"}, "s2", "/block/Mul");  // two layers in one module scope
  b.Node("Flatten", {"s2"}, "y", "");
  NETADAPT_ASSERT_OK_AND_ASSIGN(OnnxModel model, ImportOnnx(b.Bytes("y")));
  std::vector<std::string> names;
  for (const Layer& l : model.def.layers) names.push_back(l.name);
  EXPECT_THAT(names, ::testing::ElementsAre("shared", "shared_1", "shared_2", "input_1",
                                            "sigmoid_4", "block.add", "block.mul", "flatten_7"));
  EXPECT_THAT(CheckTensorsMatch(model.def, model.tensors, "import"), IsOk());
}

// ---------------------------------------------------------------------------------------------
// Every op and form.

// Conv: strides, symmetric pads, groups, no bias, auto_pad; pools; Clip as relu6 three ways;
// relu as Clip(0); sigmoid; a padded avgpool with count_include_pad; a maxpool whose ceil_mode
// adds a window both agree on.
TEST(OnnxImportTest, ConvPoolsAndActivations) {
  OnnxBuilder b({1, 4, 9, 9}, 13);
  b.Node("Conv", {"x", b.Weight("c1.weight", {8, 4, 3, 3})}, "c1")
      .Str("auto_pad", "SAME_UPPER");  // 9x9, stride 1, kernel 3: one on each side
  b.Node("Conv", {"c1", b.Weight("dw.weight", {8, 1, 3, 3}), b.Weight("dw.bias", {8})}, "dw")
      .Int("group", 8)
      .Ints("pads", {1, 1, 1, 1})
      .Ints("strides", {2, 2});  // 9 -> 5
  b.Floats("lo", {}, {0.0f});
  b.Floats("hi", {}, {6.0f});
  b.Node("Clip", {"dw", "lo", "hi"}, "r6a");  // bounds from initializers
  onnx::TensorProto six = FloatTensor("", {}, {6.0f});
  b.Node("Constant", {}, "six").Tensor("value", six);
  b.Node("Constant", {}, "zero").Float("value_float", 0.0f);
  b.Node("Clip", {"r6a", "zero", "six"}, "r6b");  // bounds from Constant nodes
  b.Node("Clip", {"r6b", "zero"}, "relu");        // no max: a relu
  b.Node("MaxPool", {"relu"}, "mp").Ints("kernel_shape", {2, 2}).Ints("strides", {2, 2}).Int(
      "ceil_mode", 1);  // 5 -> 3 (floor: 2)
  b.Node("AveragePool", {"mp"}, "ap")
      .Ints("kernel_shape", {3, 3})
      .Ints("pads", {1, 1, 1, 1})
      .Int("count_include_pad", 1);
  b.Node("Conv", {"ap", b.Weight("pw.weight", {6, 8, 1, 1})}, "pw").Str("auto_pad", "VALID");
  b.Node("Sigmoid", {"pw"}, "sig");
  b.Node("Flatten", {"sig"}, "flat").Int("axis", -3);
  NETADAPT_ASSERT_OK_AND_ASSIGN(OnnxModel model, ImportOnnx(b.Bytes("flat")));

  NetworkDef want;
  want.name = "test";
  want.input = {4, 9, 9};
  want.layers = {
      Layer::Conv2d("c1", 4, 8, {3, 3}, {1, 1}, {1, 1}, 1, false),
      Layer::Conv2d("dw", 8, 8, {3, 3}, {2, 2}, {1, 1}, 8, true),
      Layer::Relu6("r6a"),
      Layer::Relu6("r6b"),
      Layer::Relu("relu"),
      Layer::MaxPool2d("mp", {2, 2}, {2, 2}),
      Layer::AvgPool2d("ap", {3, 3}, {1, 1}, {1, 1}),
      Layer::Conv2d("pw", 8, 6, {1, 1}, {1, 1}, {0, 0}, 1, false),
      Layer::Op("sig", LayerOp::kSigmoid),
      Layer::Flatten("flat"),
  };
  want.layers[5].ceil_mode = true;
  EXPECT_EQ(Json(model.def), Json(want));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<TensorShape> shapes, InferShapes(model.def));
  EXPECT_EQ(shapes.back(), (TensorShape{6 * 3 * 3, 1, 1}));
  EXPECT_EQ(Data(model, "dw.bias"), b.Values("dw.bias"));
}

// Resize as nn.Upsample(scale_factor=k, mode="nearest") exports it: an adaptive pool to k
// times the size (PyTorch's bins then take one input pixel each, a nearest floor upsampling);
// after an AveragePool that tiles its input, one adaptive pool that pools rows and upsamples
// columns (as our exporter writes a non-global adaptive_avgpool2d).
TEST(OnnxImportTest, ResizeUpsamplesAsAnAdaptivePool) {
  OnnxBuilder b({1, 2, 4, 3}, 13);
  b.Floats("scales", {4}, {1, 1, 2, 3});
  b.Node("Resize", {"x", "", "scales"}, "up")
      .Str("mode", "nearest")
      .Str("coordinate_transformation_mode", "asymmetric")
      .Str("nearest_mode", "floor");  // 8 x 9
  b.Node("AveragePool", {"up"}, "pool.pool").Ints("kernel_shape", {8, 1}).Ints("strides", {8, 1});
  b.Floats("scales2", {4}, {1, 1, 1, 2});
  b.Node("Resize", {"pool.pool", "", "scales2"}, "pool")
      .Str("mode", "nearest")
      .Str("coordinate_transformation_mode", "asymmetric")
      .Str("nearest_mode", "floor");  // 1 x 18
  b.Node("Flatten", {"pool"}, "y");
  NETADAPT_ASSERT_OK_AND_ASSIGN(OnnxModel model, ImportOnnx(b.Bytes("y")));
  NetworkDef want;
  want.name = "test";
  want.input = {2, 4, 3};
  want.layers = {Layer::AdaptiveAvgPool2d("up", {8, 9}), Layer::AdaptiveAvgPool2d("pool", {1, 18}),
                 Layer::Flatten("y")};
  EXPECT_EQ(Json(model.def), Json(want));
}

// PyTorch writes AvgPool2d(3, padding=1) as a zero Pad and an unpadded AveragePool (and
// AvgPool2d(2) with an all-zero Pad): the padding goes into the pool; a zero Pad before a Conv
// goes into the conv's; Pad's opset-2 attributes too.
TEST(OnnxImportTest, ZeroPadsFoldIntoTheConvOrAveragePoolReadingThem) {
  OnnxBuilder b({1, 4, 8, 8}, 13);
  b.Node("Pad", {"x", b.Ints("p1", {8}, {0, 0, 1, 1, 0, 0, 1, 1})}, "/smooth/Pad_output_0",
         "/smooth/Pad")
      .Str("mode", "constant");
  b.Node("AveragePool", {"/smooth/Pad_output_0"}, "/smooth/AveragePool_output_0",
         "/smooth/AveragePool")
      .Ints("kernel_shape", {3, 3})
      .Ints("pads", {0, 0, 0, 0})
      .Ints("strides", {1, 1})
      .Int("ceil_mode", 0);
  b.Node("Pad", {"/smooth/AveragePool_output_0", b.Ints("p0", {8}, {0, 0, 0, 0, 0, 0, 0, 0})},
         "/squash/Pad_output_0", "/squash/Pad");
  b.Node("AveragePool", {"/squash/Pad_output_0"}, "/squash/AveragePool_output_0",
         "/squash/AveragePool")
      .Ints("kernel_shape", {2, 2})
      .Ints("strides", {2, 2});  // 8 -> 4
  b.Node("Pad", {"/squash/AveragePool_output_0", b.Ints("p2", {8}, {0, 0, 2, 1, 0, 0, 2, 1}),
                 b.Floats("zero", {}, {0.0f})},
         "padded");
  b.Node("Conv", {"padded", b.Weight("conv.weight", {4, 4, 3, 3})}, "conv")
      .Ints("pads", {1, 1, 1, 1});  // 3 in all on the rows, 2 on the columns
  b.Node("Pad", {"conv"}, "padded2", "old").Ints("pads", {0, 0, 1, 1, 0, 0, 1, 1});  // opset 2
  b.Node("Conv", {"padded2", b.Weight("conv2.weight", {4, 4, 3, 3})}, "conv2");
  b.Node("Flatten", {"conv2"}, "y");
  NETADAPT_ASSERT_OK_AND_ASSIGN(OnnxModel model, ImportOnnx(b.Bytes("y")));
  NetworkDef want;
  want.name = "test";
  want.input = {4, 8, 8};
  want.layers = {
      Layer::AvgPool2d("smooth", {3, 3}, {1, 1}, {1, 1}),
      Layer::AvgPool2d("squash", {2, 2}, {2, 2}),
      Layer::Conv2d("conv", 4, 4, {3, 3}, {1, 1}, {3, 2}, 1, false),
      Layer::Conv2d("conv2", 4, 4, {3, 3}, {1, 1}, {1, 1}, 1, false),
      Layer::Flatten("y"),
  };
  EXPECT_EQ(Json(model.def), Json(want));
}

// Before opset 11 Clip's bounds are attributes; Dropout's ratio is an attribute before 12.
TEST(OnnxImportTest, OldOpsetAttributes) {
  OnnxBuilder b({1, 2, 4, 4}, 9);
  b.Node("Clip", {"x"}, "r6").Float("min", 0).Float("max", 6);
  b.Node("Flatten", {"r6"}, "f");
  b.Node("Dropout", {"f"}, "d").Float("ratio", 0.25f);
  b.Node("Gemm", {"d", b.Weight("fc.weight", {3, 32})}, "y").Int("transB", 1);
  NETADAPT_ASSERT_OK_AND_ASSIGN(OnnxModel model, ImportOnnx(b.Bytes("y")));
  EXPECT_EQ(Find(model.def, "r6").op, LayerOp::kRelu6);
  EXPECT_EQ(Find(model.def, "d").op, LayerOp::kDropout);
  EXPECT_EQ(Find(model.def, "d").p, 0.25);
  EXPECT_FALSE(Find(model.def, "fc").bias);
}

// HardSigmoid(x) then Mul(x, .), its only reader: hardswish (opset 13's form, in either operand
// order); HardSwish itself; a HardSigmoid read twice stays a hardsigmoid and the Mul a mul.
TEST(OnnxImportTest, HardSigmoidAndMulBecomeHardswish) {
  OnnxBuilder b({1, 4, 4, 4}, 13);
  b.Node("HardSigmoid", {"x"}, "/hs/HardSigmoid_output_0", "/hs/HardSigmoid")
      .Float("alpha", 1.0f / 6);
  b.Node("Mul", {"x", "/hs/HardSigmoid_output_0"}, "/hs/Mul_output_0", "/hs/Mul");
  b.Node("HardSigmoid", {"/hs/Mul_output_0"}, "g2", "/act2/HardSigmoid")
      .Float("alpha", 1.0f / 6)
      .Float("beta", 0.5f);
  b.Node("Mul", {"g2", "/hs/Mul_output_0"}, "m2", "/act2/Mul");  // the gate first
  b.Node("HardSwish", {"m2"}, "hs3", "/act3/HardSwish");
  b.Node("HardSigmoid", {"hs3"}, "g4", "/act4/HardSigmoid").Float("alpha", 1.0f / 6);
  b.Node("Mul", {"hs3", "g4"}, "m4", "/act4/Mul");
  b.Node("Add", {"m4", "g4"}, "s", "/Add");  // g4 has a second reader
  b.Node("Flatten", {"s"}, "y", "/Flatten");
  NETADAPT_ASSERT_OK_AND_ASSIGN(OnnxModel model, ImportOnnx(b.Bytes("y")));
  NetworkDef want;
  want.name = "test";
  want.input = {4, 4, 4};
  want.layers = {
      Layer::Op("hs", LayerOp::kHardswish),
      Layer::Op("act2", LayerOp::kHardswish),
      Layer::Op("act3", LayerOp::kHardswish),
      Layer::Op("act4.hardsigmoid", LayerOp::kHardsigmoid),
      Layer::Op("act4.mul", LayerOp::kMul, {"act3", "act4.hardsigmoid"}),
      Layer::Op("add", LayerOp::kAdd, {"act4.mul", "act4.hardsigmoid"}),
      Layer::Flatten("flatten"),
  };
  EXPECT_EQ(Json(model.def), Json(want));
}

// Squeeze-excite: a [C, 1, 1] gate times the feature map; residual add; concat on channels.
TEST(OnnxImportTest, SqueezeExciteAddAndConcat) {
  OnnxBuilder b({1, 8, 6, 6});
  b.Node("GlobalAveragePool", {"x"}, "se.pool");
  b.Node("Conv", {"se.pool", b.Weight("se.fc1.weight", {2, 8, 1, 1}), b.Weight("se.fc1.bias", {2})},
         "se.fc1");
  b.Node("Relu", {"se.fc1"}, "se.relu");
  b.Node("Conv", {"se.relu", b.Weight("se.fc2.weight", {8, 2, 1, 1}), b.Weight("se.fc2.bias", {8})},
         "se.fc2");
  b.Node("Sigmoid", {"se.fc2"}, "se.gate");
  b.Node("Mul", {"x", "se.gate"}, "se.mul");
  b.Node("Add", {"se.mul", "x"}, "res");
  b.Node("Concat", {"res", "x", "se.mul"}, "cat").Int("axis", 1);
  b.Node("GlobalAveragePool", {"cat"}, "pool");
  b.Node("Flatten", {"pool"}, "y");
  NETADAPT_ASSERT_OK_AND_ASSIGN(OnnxModel model, ImportOnnx(b.Bytes("y")));
  EXPECT_TRUE(Find(model.def, "se.pool").inputs.empty());  // the first layer reads the input
  EXPECT_EQ(Find(model.def, "se.mul").inputs, (std::vector<std::string>{"input", "se.gate"}));
  EXPECT_EQ(Find(model.def, "res").inputs, (std::vector<std::string>{"se.mul", "input"}));
  EXPECT_EQ(Find(model.def, "cat").inputs,
            (std::vector<std::string>{"res", "input", "se.mul"}));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<TensorShape> shapes, InferShapes(model.def));
  EXPECT_EQ(shapes.back(), (TensorShape{24, 1, 1}));
}

// Flattens: Reshape to [N, -1] with the batch computed at run time (Shape, Gather, Unsqueeze,
// Concat: x.view(x.size(0), -1) exported with a dynamic batch), to a constant [1, -1] from a
// static-batch export, to [-1, C*H*W]; a Reshape or Flatten of what is flat already is nothing.
TEST(OnnxImportTest, ReshapesThatFlatten) {
  for (int form = 0; form < 3; ++form) {
    SCOPED_TRACE(form);
    OnnxBuilder b({form == 0 ? -1 : 1, 2, 3, 3}, 13);
    b.Node("Relu", {"x"}, "r");
    std::string shape;
    if (form == 0) {
      b.Node("Shape", {"r"}, "s");
      b.Node("Constant", {}, "zero").Tensor("value", IntTensor("", {}, {0}));
      b.Node("Gather", {"s", "zero"}, "n").Int("axis", 0);
      b.Node("Unsqueeze", {"n", b.Ints("axes", {1}, {0})}, "n1");
      b.Node("Constant", {}, "minus1").Ints("value_ints", {-1});
      b.Node("Concat", {"n1", "minus1"}, "shape").Int("axis", 0);
      shape = "shape";
    } else {
      shape = b.Ints("shape", {2}, form == 1 ? std::vector<int64_t>{1, -1}
                                             : std::vector<int64_t>{-1, 18});
    }
    b.Node("Reshape", {"r", shape}, "flat");
    b.Node("Reshape", {"flat", b.Ints("again", {2}, {0, 18})}, "flat2");
    b.Node("Flatten", {"flat2"}, "flat3");
    b.Node("MatMul", {"flat3", b.Weight("w", {18, 4})}, "y", "/fc/MatMul");
    NETADAPT_ASSERT_OK_AND_ASSIGN(OnnxModel model, ImportOnnx(b.Bytes("y")));
    ASSERT_EQ(model.def.layers.size(), 3u) << Json(model.def);
    EXPECT_EQ(model.def.layers[1].op, LayerOp::kFlatten);
    EXPECT_EQ(model.def.layers[1].name, "flat");
    EXPECT_EQ(model.def.layers[2].name, "fc");
    EXPECT_EQ(model.def.layers[2].in_channels, 18);
  }
}

// Gemm's forms: transB 0 (the weight transposed into PyTorch's [out, in]), alpha and beta folded
// into weight and bias, a [1, out] bias; MatMul with and without a following bias Add; a Conv
// without bias followed by an Add of a [1, C, 1, 1] constant.
TEST(OnnxImportTest, GemmMatMulAndBiasAdds) {
  OnnxBuilder b({1, 2, 2, 2});
  b.Node("Conv", {"x", b.Weight("conv.weight", {3, 2, 1, 1})}, "conv");
  b.Node("Add", {b.Weight("conv_bias", {1, 3, 1, 1}), "conv"}, "conv_plus");
  b.Node("Flatten", {"conv_plus"}, "f");
  b.Floats("g.weight", {12, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
                                 19, 20, 21, 22, 23, 24});
  b.Floats("g.bias", {1, 2}, {0.5f, -1.0f});
  b.Node("Gemm", {"f", "g.weight", "g.bias"}, "g").Float("alpha", 2.0f).Float("beta", 3.0f);
  b.Node("MatMul", {"g", b.Weight("onnx::MatMul_7", {2, 5})}, "mm", "/fc1/MatMul");
  b.Node("Add", {"mm", b.Weight("fc1.bias", {5})}, "fc1", "/fc1/Add");
  b.Node("Relu", {"fc1"}, "relu");
  b.Node("MatMul", {"relu", b.Weight("onnx::MatMul_9", {5, 3})}, "y", "/fc2/MatMul");
  NETADAPT_ASSERT_OK_AND_ASSIGN(OnnxModel model, ImportOnnx(b.Bytes("y")));
  NetworkDef want;
  want.name = "test";
  want.input = {2, 2, 2};
  want.layers = {
      Layer::Conv2d("conv", 2, 3, {1, 1}),  Layer::Flatten("f"),
      Layer::Linear("g", 12, 2),            Layer::Linear("fc1", 2, 5),
      Layer::Relu("relu"),                  Layer::Linear("fc2", 5, 3, /*bias=*/false),
  };
  EXPECT_EQ(Json(model.def), Json(want));
  EXPECT_EQ(Data(model, "conv.bias"), b.Values("conv_bias"));
  // [12, 2] (transB 0) -> [2, 12], times alpha 2.
  std::vector<float> g(24);
  for (int o = 0; o < 2; ++o) {
    for (int i = 0; i < 12; ++i) g[o * 12 + i] = 2.0f * b.Values("g.weight")[i * 2 + o];
  }
  EXPECT_EQ(Data(model, "g.weight"), g);
  EXPECT_EQ(Data(model, "g.bias"), (std::vector<float>{1.5f, -3.0f}));
  const std::vector<float>& m = b.Values("onnx::MatMul_7");
  std::vector<float> fc1(10);
  for (int o = 0; o < 5; ++o) {
    for (int i = 0; i < 2; ++i) fc1[o * 2 + i] = m[i * 5 + o];
  }
  EXPECT_EQ(Data(model, "fc1.weight"), fc1);
  EXPECT_EQ(Data(model, "fc1.bias"), b.Values("fc1.bias"));
}

// Dropout (opset 12: ratio and training_mode as inputs, a mask output nobody reads), Identity
// of an activation and of a weight, a node whose output nothing reads (not imported).
TEST(OnnxImportTest, DropoutIdentityAndDeadNodes) {
  OnnxBuilder b({1, 2, 2, 2}, 13);
  b.Node("Flatten", {"x"}, "f");
  b.Node("Identity", {"f"}, "f2");
  b.Node("Constant", {}, "ratio").Tensor("value", FloatTensor("", {}, {0.2f}));
  onnx::TensorProto training;
  training.set_data_type(onnx::TensorProto::BOOL);
  training.set_raw_data(std::string(1, '\1'));
  b.Node("Constant", {}, "training").Tensor("value", training);
  b.Node("Dropout", {"f2", "ratio", "training"}, "drop", "/classifier/classifier.0/Dropout")
      .Outputs({"mask"});
  b.Node("Identity", {b.Weight("fc.weight", {3, 8})}, "fc.weight.alias");
  b.Node("Gemm", {"drop", "fc.weight.alias"}, "y").Int("transB", 1);
  b.Node("Softmax", {"y"}, "unused");  // dead: not the output's
  NETADAPT_ASSERT_OK_AND_ASSIGN(OnnxModel model, ImportOnnx(b.Bytes("y")));
  ASSERT_EQ(model.def.layers.size(), 3u) << Json(model.def);
  EXPECT_EQ(model.def.layers[1].name, "classifier.0");
  EXPECT_EQ(model.def.layers[1].p, 0.2);
  EXPECT_EQ(model.def.layers[2].name, "y");  // the weight's name is the alias's, not *.weight
  EXPECT_EQ(Data(model, "y.weight"), b.Values("fc.weight"));
}

// The input size: from the model, or given where the model's is symbolic.
TEST(OnnxImportTest, SymbolicHeightAndWidthTakeTheGivenSize) {
  OnnxBuilder b({-1, 3, -1, -1});
  b.Node("Conv", {"x", b.Weight("conv.weight", {4, 3, 3, 3})}, "conv");
  b.Node("GlobalAveragePool", {"conv"}, "pool");
  b.Node("Flatten", {"pool"}, "y");
  const std::string bytes = b.Bytes("y");
  EXPECT_THAT(ImportOnnx(bytes).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("input 'x'"), HasSubstr("symbolic height ('height')"),
                             HasSubstr("--input-size"))));
  OnnxImportOptions options;
  options.input_height = 20;
  options.input_width = 24;
  options.name = "mine";
  NETADAPT_ASSERT_OK_AND_ASSIGN(OnnxModel model, ImportOnnx(bytes, options));
  EXPECT_EQ(model.def.input, (TensorShape{3, 20, 24}));
  EXPECT_EQ(model.def.name, "mine");

  OnnxBuilder fixed({1, 3, 16, 16});
  fixed.Node("GlobalAveragePool", {"x"}, "pool");
  fixed.Node("Flatten", {"pool"}, "y");
  options.input_height = options.input_width = 16;
  EXPECT_THAT(ImportOnnx(fixed.Bytes("y"), options), IsOk());
  options.input_height = options.input_width = 32;
  EXPECT_THAT(ImportOnnx(fixed.Bytes("y"), options).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("fixed height of 16"), HasSubstr("not the 32"))));
}

// ---------------------------------------------------------------------------------------------
// Refusals: InvalidArgument naming the node, its op type and what is supported.

struct Refusal {
  std::string name;
  // Adds nodes reading "x" ([1, 4, 8, 8]) and ending in "y" (a flat [1, features] output).
  std::function<void(OnnxBuilder&)> build;
  std::vector<std::string> message;  // substrings
  std::vector<int64_t> input = {1, 4, 8, 8};
};

void Head(OnnxBuilder& b, const std::string& from) {
  b.Node("GlobalAveragePool", {from}, "head.pool");
  b.Node("Flatten", {"head.pool"}, "y");
}

std::vector<Refusal> Refusals() {
  std::vector<Refusal> cases;
  cases.push_back({"unsupported op", [](OnnxBuilder& b) {
                     b.Node("LeakyRelu", {"x"}, "/act/LeakyRelu_output_0", "/act/LeakyRelu");
                     Head(b, "/act/LeakyRelu_output_0");
                   },
                   {"ONNX node '/act/LeakyRelu' (LeakyRelu): unsupported op",
                    "supported: Conv, BatchNormalization"}});
  cases.push_back({"softmax", [](OnnxBuilder& b) {
                     Head(b, "x");
                     b.graph()->mutable_node(1)->set_output(0, "logits");
                     b.Node("Softmax", {"logits"}, "y", "/Softmax");
                   },
                   {"'/Softmax' (Softmax): unsupported op", "leave the softmax out"}});
  cases.push_back({"op of another domain", [](OnnxBuilder& b) {
                     b.Node("Relu", {"x"}, "r");
                     b.graph()->mutable_node(0)->set_domain("com.microsoft");
                     Head(b, "r");
                   },
                   {"'r' (Relu): ops of domain 'com.microsoft'"}});
  cases.push_back({"dilation", [](OnnxBuilder& b) {
                     b.Node("Conv", {"x", b.Weight("c.weight", {4, 4, 3, 3})}, "c")
                         .Ints("dilations", {2, 2});
                     Head(b, "c");
                   },
                   {"'c' (Conv): dilations [2, 2] are not supported"}});
  cases.push_back({"asymmetric pads", [](OnnxBuilder& b) {
                     b.Node("Conv", {"x", b.Weight("c.weight", {4, 4, 3, 3})}, "c")
                         .Ints("pads", {0, 0, 1, 1});
                     Head(b, "c");
                   },
                   {"'c' (Conv): pads [0, 0, 1, 1] are asymmetric"}});
  cases.push_back({"uneven auto_pad", [](OnnxBuilder& b) {
                     b.Node("Conv", {"x", b.Weight("c.weight", {4, 4, 2, 2})}, "c")
                         .Str("auto_pad", "SAME_UPPER");
                     Head(b, "c");
                   },
                   {"'c' (Conv): auto_pad SAME_UPPER pads this 8-wide input unevenly"}});
  cases.push_back({"weight computed at run time", [](OnnxBuilder& b) {
                     b.Node("Relu", {"x"}, "r");
                     b.Node("Conv", {"x", "r"}, "c");
                     Head(b, "c");
                   },
                   {"'c' (Conv): the weight (input 1, 'r') is computed at run time"}});
  cases.push_back({"3-D conv", [](OnnxBuilder& b) {
                     b.Node("Conv", {"x", b.Weight("c.weight", {4, 4, 3})}, "c");
                     Head(b, "c");
                   },
                   {"'c' (Conv): the weight is [4, 4, 3]; only 2-D convolutions"}});
  cases.push_back({"groups that do not match", [](OnnxBuilder& b) {
                     b.Node("Conv", {"x", b.Weight("c.weight", {4, 2, 3, 3})}, "c");
                     Head(b, "c");
                   },
                   {"'c' (Conv): the weight [4, 2, 3, 3] with group 1 does not take the "
                    "input's 4 channels"}});
  cases.push_back({"unknown attribute", [](OnnxBuilder& b) {
                     b.Node("Relu", {"x"}, "r").Int("inplace", 1);
                     Head(b, "r");
                   },
                   {"'r' (Relu): attribute 'inplace' is not supported"}});
  cases.push_back({"hardsigmoid with ONNX's default alpha", [](OnnxBuilder& b) {
                     b.Node("HardSigmoid", {"x"}, "h");
                     Head(b, "h");
                   },
                   {"'h' (HardSigmoid): alpha 0.2 and beta 0.5 are not supported",
                    "alpha 1/6"}});
  cases.push_back({"clip that is not relu6", [](OnnxBuilder& b) {
                     b.Floats("lo", {}, {0});
                     b.Floats("hi", {}, {5});
                     b.Node("Clip", {"x", "lo", "hi"}, "c");
                     Head(b, "c");
                   },
                   {"'c' (Clip): min 0 and max 5 are not supported", "ReLU6 (min 0, max 6)"}});
  cases.push_back({"mul by a constant", [](OnnxBuilder& b) {
                     b.Node("Mul", {"x", b.Weight("scale", {1, 4, 1, 1})}, "m");
                     Head(b, "m");
                   },
                   {"'m' (Mul): a product with a constant is not supported"}});
  cases.push_back({"mul of shapes that do not broadcast as a gate", [](OnnxBuilder& b) {
                     b.Node("GlobalAveragePool", {"x"}, "p");
                     b.Node("Conv", {"p", b.Weight("c.weight", {2, 4, 1, 1})}, "c");
                     b.Node("Mul", {"x", "c"}, "m");
                     Head(b, "m");
                   },
                   {"'m' (Mul): multiplies [batch, 4, 8, 8] by [batch, 2, 1, 1]",
                    "channel gate"}});
  cases.push_back({"add of a constant that is no bias", [](OnnxBuilder& b) {
                     b.Node("Relu", {"x"}, "r");
                     b.Node("Add", {"r", b.Weight("shift", {1, 4, 1, 1})}, "a");
                     Head(b, "a");
                   },
                   {"'a' (Add): an Add of a constant is supported only as the bias"}});
  cases.push_back({"bias add after a layer read twice", [](OnnxBuilder& b) {
                     b.Node("Conv", {"x", b.Weight("c.weight", {4, 4, 1, 1})}, "c");
                     b.Node("Add", {"c", b.Weight("c.bias", {1, 4, 1, 1})}, "a");
                     b.Node("Add", {"a", "c"}, "s");
                     Head(b, "s");
                   },
                   {"'a' (Add): an Add of a constant is supported only as the bias"}});
  cases.push_back({"add with broadcasting", [](OnnxBuilder& b) {
                     b.Node("GlobalAveragePool", {"x"}, "p");
                     b.Node("Add", {"x", "p"}, "a");
                     Head(b, "a");
                   },
                   {"'a' (Add): adds [batch, 4, 8, 8] and [batch, 4, 1, 1]"}});
  cases.push_back({"concat on another axis", [](OnnxBuilder& b) {
                     b.Node("Concat", {"x", "x"}, "c").Int("axis", 2);
                     Head(b, "c");
                   },
                   {"'c' (Concat): axis 2 is not supported", "(axis 1)"}});
  cases.push_back({"reshape that is no flatten", [](OnnxBuilder& b) {
                     b.Node("Reshape", {"x", b.Ints("shape", {3}, {1, 4, 64})}, "r");
                     b.Node("Flatten", {"r"}, "y");
                   },
                   {"'r' (Reshape): reshapes [batch, 4, 8, 8] to [1, 4, 64]",
                    "[batch, -1] or [batch, 256]"}});
  cases.push_back({"reshape to a shape computed with arithmetic", [](OnnxBuilder& b) {
                     b.Node("Shape", {"x"}, "s");
                     b.Node("Mul", {"s", "s"}, "s2");
                     b.Node("Reshape", {"x", "s2"}, "r");
                     b.Node("Flatten", {"r"}, "y");
                   },
                   {"'s2' (Mul): arithmetic on constants", "torch.flatten(x, 1)"}});
  cases.push_back({"resize that is no integer nearest upsampling", [](OnnxBuilder& b) {
                     b.Floats("scales", {4}, {1, 1, 2, 2});
                     b.Node("Resize", {"x", "", "scales"}, "r").Str("mode", "linear");
                     Head(b, "r");
                   },
                   {"'r' (Resize): mode 'linear'", "integer nearest upsampling"}});
  cases.push_back({"resize by a fraction", [](OnnxBuilder& b) {
                     b.Floats("scales", {4}, {1, 1, 1.5f, 1.5f});
                     b.Node("Resize", {"x", "", "scales"}, "r")
                         .Str("mode", "nearest")
                         .Str("coordinate_transformation_mode", "asymmetric")
                         .Str("nearest_mode", "floor");
                     Head(b, "r");
                   },
                   {"'r' (Resize): only integer upsampling"}});
  cases.push_back({"reflection padding", [](OnnxBuilder& b) {
                     b.Node("Pad", {"x", b.Ints("p", {8}, {0, 0, 1, 1, 0, 0, 1, 1})}, "p")
                         .Str("mode", "reflect");
                     b.Node("Conv", {"p", b.Weight("c.weight", {4, 4, 3, 3})}, "c");
                     Head(b, "c");
                   },
                   {"'p' (Pad): mode 'reflect' with value 0 is not supported",
                    "only zero padding"}});
  cases.push_back({"padding by another value", [](OnnxBuilder& b) {
                     b.Node("Pad", {"x", b.Ints("p", {8}, {0, 0, 1, 1, 0, 0, 1, 1}),
                                    b.Floats("v", {}, {1.0f})},
                            "p");
                     b.Node("Conv", {"p", b.Weight("c.weight", {4, 4, 3, 3})}, "c");
                     Head(b, "c");
                   },
                   {"'p' (Pad): mode 'constant' with value 1 is not supported"}});
  cases.push_back({"asymmetric padding", [](OnnxBuilder& b) {
                     b.Node("Pad", {"x", b.Ints("p", {8}, {0, 0, 0, 0, 0, 0, 1, 1})}, "p");
                     b.Node("Conv", {"p", b.Weight("c.weight", {4, 4, 3, 3})}, "c");
                     Head(b, "c");
                   },
                   {"'p' (Pad): pads [0, 0, 0, 0, 0, 0, 1, 1] are not supported"}});
  cases.push_back({"padding read by a max pool", [](OnnxBuilder& b) {
                     b.Node("Pad", {"x", b.Ints("p", {8}, {0, 0, 1, 1, 0, 0, 1, 1})}, "p");
                     b.Node("MaxPool", {"p"}, "m").Ints("kernel_shape", {3, 3});
                     Head(b, "m");
                   },
                   {"'m' (MaxPool): input 0 ('p') is a Pad's output",
                    "only as the padding of the Conv or AveragePool"}});
  cases.push_back({"flatten of another axis", [](OnnxBuilder& b) {
                     b.Node("Flatten", {"x"}, "y").Int("axis", 2);
                   },
                   {"'y' (Flatten): axis 2 is not supported"}});
  cases.push_back({"gemm with transA", [](OnnxBuilder& b) {
                     Head(b, "x");
                     b.graph()->mutable_node(1)->set_output(0, "f");
                     b.Node("Gemm", {"f", b.Weight("fc.weight", {4, 4})}, "y", "/fc/Gemm")
                         .Int("transA", 1);
                   },
                   {"'/fc/Gemm' (Gemm): transA 1 is not supported"}});
  cases.push_back({"gemm on a 4-D tensor", [](OnnxBuilder& b) {
                     b.Node("Gemm", {"x", b.Weight("fc.weight", {4, 4})}, "y");
                   },
                   {"'y' (Gemm): takes [batch, 4, 8, 8], not [batch, features]", "flatten it"}});
  cases.push_back({"gemm whose weight does not fit", [](OnnxBuilder& b) {
                     Head(b, "x");
                     b.graph()->mutable_node(1)->set_output(0, "f");
                     b.Node("Gemm", {"f", b.Weight("fc.weight", {3, 5})}, "y").Int("transB", 1);
                   },
                   {"'y' (Gemm): the weight [3, 5] (transB 1) takes 5 features but the input "
                    "has 4"}});
  cases.push_back({"batchnorm in training mode with its statistics read", [](OnnxBuilder& b) {
                     b.Node("BatchNormalization",
                            {"x", b.Weight("bn.weight", {4}), b.Weight("bn.bias", {4}),
                             b.Weight("bn.running_mean", {4}), b.Weight("bn.running_var", {4})},
                            "bn")
                         .Int("training_mode", 1)
                         .Outputs({"mean", "var"});
                     b.Node("Add", {"bn", "mean"}, "a");
                     Head(b, "a");
                   },
                   {"'bn' (BatchNormalization): output 1 (training mode's updated statistics) "
                    "is read"}});
  cases.push_back({"batchnorm1d", [](OnnxBuilder& b) {
                     b.Node("Flatten", {"x"}, "f");
                     b.Node("BatchNormalization",
                            {"f", b.Weight("bn.weight", {256}), b.Weight("bn.bias", {256}),
                             b.Weight("bn.running_mean", {256}), b.Weight("bn.running_var", {256})},
                            "y");
                   },
                   {"'y' (BatchNormalization): normalizes the flat [batch, 256] (BatchNorm1d)"}});
  cases.push_back({"maxpool whose ceil_mode PyTorch would not follow", [](OnnxBuilder& b) {
                     // 8 + 2 * 1 - 3 = 7: ONNX's ceil gives 4 windows, the last one starting at
                     // 9 = in + pad: PyTorch drops it.
                     b.Node("MaxPool", {"x"}, "p")
                         .Ints("kernel_shape", {3, 3})
                         .Ints("strides", {3, 3})
                         .Ints("pads", {1, 1, 1, 1})
                         .Int("ceil_mode", 1);
                     Head(b, "p");
                   },
                   {"'p' (MaxPool): ceil_mode 1 gives 4 windows where PyTorch's gives 3"}});
  cases.push_back({"avgpool with a partial ceil window", [](OnnxBuilder& b) {
                     b.Node("AveragePool", {"x"}, "p")
                         .Ints("kernel_shape", {3, 3})
                         .Ints("strides", {2, 2})
                         .Int("ceil_mode", 1);
                     Head(b, "p");
                   },
                   {"'p' (AveragePool): ceil_mode adds a partial last window"}});
  cases.push_back({"avgpool without the padding in the divisor", [](OnnxBuilder& b) {
                     b.Node("AveragePool", {"x"}, "p")
                         .Ints("kernel_shape", {3, 3})
                         .Ints("pads", {1, 1, 1, 1});
                     Head(b, "p");
                   },
                   {"'p' (AveragePool): count_include_pad 0 with padding is not supported"}});
  cases.push_back({"pool padding over half the kernel", [](OnnxBuilder& b) {
                     b.Node("MaxPool", {"x"}, "p")
                         .Ints("kernel_shape", {2, 2})
                         .Ints("pads", {2, 2, 2, 2});
                     Head(b, "p");
                   },
                   {"'p' (MaxPool): padding must be at most half of kernel_size"}});
  cases.push_back({"dropout mask read", [](OnnxBuilder& b) {
                     b.Node("Dropout", {"x"}, "d").Outputs({"mask"});
                     b.Node("Add", {"d", "mask"}, "a");
                     Head(b, "a");
                   },
                   {"'d' (Dropout): output 1 (the mask) is read"}});
  cases.push_back({"float16 weights", [](OnnxBuilder& b) {
                     onnx::TensorProto* w = b.graph()->add_initializer();
                     w->set_name("c.weight");
                     w->set_data_type(onnx::TensorProto::FLOAT16);
                     w->add_dims(4);
                     w->add_dims(4);
                     w->add_dims(1);
                     w->add_dims(1);
                     w->set_raw_data(std::string(32, '\0'));
                     b.Node("Conv", {"x", "c.weight"}, "c");
                     Head(b, "c");
                   },
                   {"'c' (Conv): the weight ('c.weight') has data type FLOAT16"}});
  cases.push_back({"external data", [](OnnxBuilder& b) {
                     onnx::TensorProto* w = b.graph()->add_initializer();
                     w->set_name("c.weight");
                     w->set_data_type(onnx::TensorProto::FLOAT);
                     w->add_dims(4);
                     w->add_dims(4);
                     w->add_dims(1);
                     w->add_dims(1);
                     w->set_data_location(onnx::TensorProto::EXTERNAL);
                     b.Node("Conv", {"x", "c.weight"}, "c");
                     Head(b, "c");
                   },
                   {"'c' (Conv): the weight ('c.weight') keeps its data in an external file"}});
  cases.push_back({"too little data", [](OnnxBuilder& b) {
                     b.Floats("c.weight", {4, 4, 1, 1}, {1, 2, 3});
                     b.Node("Conv", {"x", "c.weight"}, "c");
                     Head(b, "c");
                   },
                   {"'c' (Conv): the weight ('c.weight') holds too few or too many elements"}});
  cases.push_back({"not in topological order", [](OnnxBuilder& b) {
                     b.Node("Relu", {"later"}, "r");
                     b.Node("Relu", {"x"}, "later");
                     Head(b, "r");
                   },
                   {"'r' (Relu): input 0 ('later') is not produced by an earlier node"}});
  cases.push_back({"a node without a name", [](OnnxBuilder& b) {
                     b.Node("Erf", {"x"}, "e", "");
                     Head(b, "e");
                   },
                   {"ONNX node #0 (output 'e') (Erf): unsupported op"}});
  // Corrupt headers that would overflow counts.
  cases.push_back({"a weight whose dims overflow", [](OnnxBuilder& b) {
                     Head(b, "x");
                     b.graph()->mutable_node(1)->set_output(0, "f");
                     onnx::TensorProto* w = b.graph()->add_initializer();
                     w->set_name("fc.weight");
                     w->set_data_type(onnx::TensorProto::FLOAT);
                     w->add_dims(int64_t{1} << 62);
                     w->add_dims(4);
                     w->set_raw_data("");
                     b.Node("Gemm", {"f", "fc.weight"}, "y").Int("transB", 1);
                   },
                   {"'y' (Gemm): the weight ('fc.weight') has more elements than an ONNX file "
                    "can hold"}});
  cases.push_back({"a huge group", [](OnnxBuilder& b) {
                     b.Node("Conv", {"x", b.Weight("c.weight", {4, 1, 1, 1})}, "c")
                         .Int("group", int64_t{1} << 62);
                     Head(b, "c");
                   },
                   {"'c' (Conv): the weight [4, 1, 1, 1] with group 4611686018427387904"}});
  cases.push_back({"unsqueeze of one axis twice", [](OnnxBuilder& b) {
                     b.Node("Shape", {"x"}, "s");
                     b.Node("Gather", {"s", b.Ints("i", {}, {0})}, "n");
                     b.Node("Unsqueeze", {"n", b.Ints("axes", {2}, {0, 0})}, "n1");
                     b.Node("Concat", {"n1", b.Ints("rest", {1}, {-1})}, "shape").Int("axis", 0);
                     b.Node("Reshape", {"x", "shape"}, "y");
                   },
                   {"'n1' (Unsqueeze): axes name one axis twice"}});
  cases.push_back({"hardsigmoid with a NaN alpha", [](OnnxBuilder& b) {
                     b.Node("HardSigmoid", {"x"}, "h").Float("alpha", std::nanf(""));
                     Head(b, "h");
                   },
                   {"'h' (HardSigmoid): alpha nan"}});
  // The graph itself.
  cases.push_back({"two inputs", [](OnnxBuilder& b) {
                     onnx::ValueInfoProto* second = b.graph()->add_input();
                     *second = b.graph()->input(0);
                     second->set_name("x2");
                     b.Node("Add", {"x", "x2"}, "a");
                     Head(b, "a");
                   },
                   {"ONNX graph: 2 inputs (x, x2)", "one input"}});
  cases.push_back({"two outputs", [](OnnxBuilder& b) {
                     Head(b, "x");
                     b.graph()->add_output()->set_name("head.pool");
                   },
                   {"ONNX graph: 2 outputs", "[batch, classes]"}});
  cases.push_back({"a 3-D input", [](OnnxBuilder& b) { b.Node("Flatten", {"x"}, "y"); },
                   {"ONNX graph: input 'x' has 3 dimensions", "[batch, C, H, W]"},
                   {1, 4, 8}});
  cases.push_back({"symbolic channels", [](OnnxBuilder& b) { Head(b, "x"); },
                   {"ONNX graph: input 'x' has 'channels' channels"},
                   {1, -1, 8, 8}});
  cases.push_back({"an integer input", [](OnnxBuilder& b) {
                     b.graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()
                         ->set_elem_type(onnx::TensorProto::INT64);
                     Head(b, "x");
                   },
                   {"ONNX graph: input 'x' is not a float32 tensor"}});
  cases.push_back({"an output that is no classifier's", [](OnnxBuilder& b) {
                     b.Node("Relu", {"x"}, "r");
                     b.Node("Relu", {"r"}, "y");
                   },
                   {"ONNX graph: the output 'y' is [batch, 4, 8, 8]", "[batch, classes]"}});
  cases.push_back({"an output that is the input", [](OnnxBuilder& b) {
                     b.Node("Identity", {"x"}, "y");
                   },
                   {"ONNX graph: the output is the input"}});
  cases.push_back({"a constant output", [](OnnxBuilder& b) {
                     b.Node("Constant", {}, "y").Float("value_float", 1);
                   },
                   {"ONNX graph: the output 'y' is not computed from the input"}});
  return cases;
}

TEST(OnnxImportTest, RefusalsNameTheNodeAndImportNothing) {
  for (const Refusal& c : Refusals()) {
    SCOPED_TRACE(c.name);
    OnnxBuilder b(c.input);
    c.build(b);
    absl::StatusOr<OnnxModel> model = ImportOnnx(b.Bytes("y"));
    ASSERT_FALSE(model.ok()) << Json(model->def);
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument)
        << model.status().message();
    for (const std::string& part : c.message) {
      EXPECT_THAT(std::string(model.status().message()), HasSubstr(part));
    }
  }
}

TEST(OnnxImportTest, RefusesWhatIsNotAnOnnxModel) {
  EXPECT_THAT(ImportOnnx("NACKPT\0\1 a checkpoint").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an ONNX model")));
  EXPECT_THAT(ImportOnnx("").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an ONNX model")));
}

TEST(OnnxImportTest, SupportedOpsListsEveryOp) {
  for (const char* op : {"Conv", "BatchNormalization", "Relu", "Clip", "Sigmoid", "HardSigmoid",
                         "HardSwish", "Mul", "Add", "Concat", "MaxPool", "AveragePool",
                         "GlobalAveragePool", "Resize", "Pad", "Flatten", "Reshape", "Gemm", "MatMul", "Dropout",
                         "Identity", "Constant", "Shape", "Gather", "Unsqueeze"}) {
    EXPECT_THAT(std::string(OnnxSupportedOps()), HasSubstr(op));
  }
}

}  // namespace
}  // namespace netadapt::common
