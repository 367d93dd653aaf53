// ONNX export (graph described in onnx_export.h). The ModelProto is built with the classes
// Debian's libonnx-dev generates from onnx-ml.proto (target onnx_proto), so the bytes follow
// the schema the ONNX checker reads.
#include "common/onnx_export.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/onnx_pb.h>

#include <array>
#include <climits>
#include <cstring>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/network_def_json.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

constexpr char kInputName[] = "input";
constexpr char kOutputName[] = "logits";
constexpr char kBatchDim[] = "batch";

// Appends nodes and initializers to the graph; weights come from the checkpoint tensors.
class GraphBuilder {
 public:
  GraphBuilder(onnx::GraphProto* graph, const std::map<std::string, const CheckpointTensor*>& w)
      : graph_(graph), weights_(w) {}

  onnx::NodeProto* AddNode(absl::string_view op_type, const std::string& name,
                           std::vector<std::string> inputs, const std::string& output) {
    onnx::NodeProto* node = graph_->add_node();
    node->set_op_type(std::string(op_type));
    node->set_name(name);
    for (std::string& input : inputs) node->add_input(std::move(input));
    node->add_output(output);
    return node;
  }

  // The state_dict tensor `name` as an initializer; returns its name.
  std::string AddWeight(const std::string& name) {
    const CheckpointTensor& tensor = *weights_.at(name);
    onnx::TensorProto* init = graph_->add_initializer();
    init->set_name(name);
    init->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t size : tensor.shape) init->add_dims(size);
    // raw_data is little-endian, as the checkpoint's data.
    init->set_raw_data(tensor.data.data(), tensor.data.size());
    return name;
  }

  // A scalar float initializer (Clip's bounds); returns its name.
  std::string AddScalar(const std::string& name, float value) {
    onnx::TensorProto* init = graph_->add_initializer();
    init->set_name(name);
    init->set_data_type(onnx::TensorProto::FLOAT);
    init->add_float_data(value);
    return name;
  }

  // A 1-D float initializer (Resize's scales); returns its name.
  std::string AddFloats(const std::string& name, const std::vector<float>& values) {
    onnx::TensorProto* init = graph_->add_initializer();
    init->set_name(name);
    init->set_data_type(onnx::TensorProto::FLOAT);
    init->add_dims(static_cast<int64_t>(values.size()));
    for (float v : values) init->add_float_data(v);
    return name;
  }

 private:
  onnx::GraphProto* graph_;
  const std::map<std::string, const CheckpointTensor*>& weights_;
};

void SetInt(onnx::NodeProto* node, const char* name, int64_t value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void SetInts(onnx::NodeProto* node, const char* name, const std::vector<int64_t>& values) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

void SetFloat(onnx::NodeProto* node, const char* name, float value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

void SetString(onnx::NodeProto* node, const char* name, const char* value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
}

// kernel_shape, strides and pads (ONNX orders pads as h_begin, w_begin, h_end, w_end).
void SetWindow(onnx::NodeProto* node, const Layer& layer) {
  SetInts(node, "kernel_shape", {layer.kernel.h, layer.kernel.w});
  SetInts(node, "strides", {layer.stride.h, layer.stride.w});
  SetInts(node, "pads", {layer.padding.h, layer.padding.w, layer.padding.h, layer.padding.w});
}

void SetValueInfo(onnx::ValueInfoProto* info, const std::string& name,
                  const std::vector<int64_t>& dims) {
  info->set_name(name);
  onnx::TypeProto::Tensor* type = info->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto* shape = type->mutable_shape();
  shape->add_dim()->set_dim_param(kBatchDim);
  for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

int FloorWindows(int in, int kernel, int stride, int padding) {
  return (in + 2 * padding - kernel) / stride + 1;
}

int CeilWindows(int in, int kernel, int stride, int padding) {
  return (in + 2 * padding - kernel + stride - 1) / stride + 1;
}

}  // namespace

absl::StatusOr<std::string> ExportOnnx(const NetworkDef& def,
                                       const std::vector<CheckpointTensor>& tensors) {
  NETADAPT_ASSIGN_OR_RETURN(std::vector<TensorShape> shapes, InferShapes(def));
  NETADAPT_RETURN_IF_ERROR(CheckTensorsMatch(def, tensors, "ONNX export"));
  std::map<std::string, const CheckpointTensor*> weights;
  for (const CheckpointTensor& tensor : tensors) weights[tensor.name] = &tensor;

  onnx::ModelProto model;
  model.set_ir_version(kOnnxIrVersion);
  model.set_producer_name("netadapt");
  onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpsetVersion);
  onnx::StringStringEntryProto* meta = model.add_metadata_props();
  meta->set_key("netadapt.network_def");
  meta->set_value(NetworkDefToJson(def));

  onnx::GraphProto* graph = model.mutable_graph();
  graph->set_name(def.name.empty() ? "netadapt" : def.name);
  SetValueInfo(graph->add_input(), kInputName,
               {def.input.channels, def.input.height, def.input.width});
  GraphBuilder g(graph, weights);

  // The ONNX value that holds each layer's output: the layer's name, or its input's value for
  // layers that add no node (dropout, an adaptive pool that changes nothing).
  const std::vector<std::vector<int>> input_indices = InputIndices(def);
  std::vector<std::string> values(def.layers.size());
  std::vector<bool> flattened_after(def.layers.size(), false);
  auto value_of = [&](int index) -> const std::string& {
    static const std::string input_name(kInputName);
    return index == kNetworkInput ? input_name : values[index];
  };
  for (size_t i = 0; i < def.layers.size(); ++i) {
    const Layer& layer = def.layers[i];
    const std::vector<int>& sources = input_indices[i];
    std::string x = value_of(sources[0]);
    const TensorShape& in = InputShape(def, shapes, sources);
    const TensorShape& out = shapes[i];
    flattened_after[i] = sources[0] != kNetworkInput && flattened_after[sources[0]];
    std::vector<std::string> operands;
    for (int k : sources) operands.push_back(value_of(k));
    auto refuse = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("layers[", i, "] (", layer.name, ", ",
                                                     LayerOpName(layer.op), "): ", why));
    };
    const std::string& y = layer.name;
    auto weight = [&](const char* field) {
      return g.AddWeight(absl::StrCat(layer.name, ".", field));
    };
    switch (layer.op) {
      case LayerOp::kConv2d: {
        std::vector<std::string> inputs = {x, weight("weight")};
        if (layer.bias) inputs.push_back(weight("bias"));
        onnx::NodeProto* node = g.AddNode("Conv", layer.name, std::move(inputs), y);
        SetWindow(node, layer);
        SetInts(node, "dilations", {1, 1});
        SetInt(node, "group", layer.groups);
        x = y;
        break;
      }
      case LayerOp::kLinear: {
        std::vector<std::string> inputs = {x, weight("weight")};
        if (layer.bias) inputs.push_back(weight("bias"));
        onnx::NodeProto* node = g.AddNode("Gemm", layer.name, std::move(inputs), y);
        SetInt(node, "transB", 1);
        x = y;
        break;
      }
      case LayerOp::kBatchNorm2d: {
        std::vector<std::string> inputs = {x, weight("weight"), weight("bias"),
                                           weight("running_mean"), weight("running_var")};
        onnx::NodeProto* node =
            g.AddNode("BatchNormalization", layer.name, std::move(inputs), y);
        SetFloat(node, "epsilon", static_cast<float>(layer.eps));
        x = y;
        break;
      }
      case LayerOp::kRelu:
        g.AddNode("Relu", layer.name, {x}, y);
        x = y;
        break;
      case LayerOp::kRelu6:
        g.AddNode("Clip", layer.name,
                  {x, g.AddScalar(layer.name + ".clip_min", 0.0f),
                   g.AddScalar(layer.name + ".clip_max", 6.0f)},
                  y);
        x = y;
        break;
      case LayerOp::kMaxPool2d:
      case LayerOp::kAvgPool2d: {
        const bool max = layer.op == LayerOp::kMaxPool2d;
        // ONNX's ceil_mode keeps a last window that starts in the right padding; PyTorch
        // drops it. Where PyTorch's size equals the floor size, ceil_mode 0 is exact.
        bool ceil = false;
        for (auto [size, k, s, p, want] :
             {std::array<int, 5>{in.height, layer.kernel.h, layer.stride.h, layer.padding.h,
                                 out.height},
              std::array<int, 5>{in.width, layer.kernel.w, layer.stride.w, layer.padding.w,
                                 out.width}}) {
          if (want == FloorWindows(size, k, s, p)) continue;
          if (want != CeilWindows(size, k, s, p)) {
            return refuse("ceil_mode output size has no ONNX equivalent");
          }
          ceil = true;
        }
        if (ceil && !max) {
          return refuse(
              "ceil_mode adds a partial last window, whose divisor ONNX runtimes do not agree "
              "on; use ceil_mode false or an input size the window tiles");
        }
        onnx::NodeProto* node = g.AddNode(max ? "MaxPool" : "AveragePool", layer.name, {x}, y);
        SetWindow(node, layer);
        SetInt(node, "ceil_mode", ceil ? 1 : 0);
        if (!max) SetInt(node, "count_include_pad", 1);
        x = y;
        break;
      }
      case LayerOp::kAdaptiveAvgPool2d: {
        if (out.height == 1 && out.width == 1) {
          g.AddNode("GlobalAveragePool", layer.name, {x}, y);
          x = y;
          break;
        }
        // PyTorch's bin i covers [floor(i*in/out), ceil((i+1)*in/out)): a plain pool when
        // the input is a multiple of the output, a nearest (floor) upsampling when the output
        // is a multiple of the input.
        int64_t kernel[2] = {1, 1};
        float scale[2] = {1, 1};
        const int ins[2] = {in.height, in.width};
        const int outs[2] = {out.height, out.width};
        for (int d = 0; d < 2; ++d) {
          if (ins[d] % outs[d] == 0) {
            kernel[d] = ins[d] / outs[d];
          } else if (outs[d] % ins[d] == 0) {
            scale[d] = static_cast<float>(outs[d] / ins[d]);
          } else {
            return refuse(absl::StrCat("input ", in.height, "x", in.width, " and output ",
                                       out.height, "x", out.width,
                                       " are not multiples of one another, which ONNX pooling "
                                       "cannot express; change output_size or the input size"));
          }
        }
        const bool pool = kernel[0] > 1 || kernel[1] > 1;
        const bool resize = scale[0] > 1 || scale[1] > 1;
        if (pool) {
          const std::string pooled = resize ? layer.name + ".pool" : y;
          onnx::NodeProto* node = g.AddNode("AveragePool", pooled, {x}, pooled);
          SetInts(node, "kernel_shape", {kernel[0], kernel[1]});
          SetInts(node, "strides", {kernel[0], kernel[1]});
          x = pooled;
        }
        if (resize) {
          onnx::NodeProto* node = g.AddNode(
              "Resize", layer.name,
              {x, /*roi=*/"", g.AddFloats(layer.name + ".scales", {1, 1, scale[0], scale[1]})},
              y);
          SetString(node, "mode", "nearest");
          SetString(node, "coordinate_transformation_mode", "asymmetric");
          SetString(node, "nearest_mode", "floor");
          x = y;
        }
        break;  // neither: input == output, nothing to do
      }
      case LayerOp::kFlatten: {
        onnx::NodeProto* node = g.AddNode("Flatten", layer.name, {x}, y);
        SetInt(node, "axis", 1);
        flattened_after[i] = true;
        x = y;
        break;
      }
      case LayerOp::kDropout:
        break;  // inference: the identity
      case LayerOp::kSigmoid:
        g.AddNode("Sigmoid", layer.name, {x}, y);
        x = y;
        break;
      case LayerOp::kHardsigmoid: {
        // PyTorch's relu6(x + 3) / 6; ONNX's default alpha is 0.2, so it is set.
        onnx::NodeProto* node = g.AddNode("HardSigmoid", layer.name, {x}, y);
        SetFloat(node, "alpha", 1.0f / 6.0f);
        SetFloat(node, "beta", 0.5f);
        x = y;
        break;
      }
      case LayerOp::kHardswish: {
        // HardSwish is an ONNX op from opset 14; at 13 it is x * HardSigmoid(x), as PyTorch's
        // exporter writes it.
        const std::string gate = layer.name + ".gate";
        onnx::NodeProto* node = g.AddNode("HardSigmoid", gate, {x}, gate);
        SetFloat(node, "alpha", 1.0f / 6.0f);
        SetFloat(node, "beta", 0.5f);
        g.AddNode("Mul", layer.name, {x, gate}, y);
        x = y;
        break;
      }
      case LayerOp::kAdd: {
        // ONNX's Add takes two operands: a chain for more, the last named after the layer.
        std::string sum = operands[0];
        for (size_t k = 1; k < operands.size(); ++k) {
          const std::string name =
              k + 1 == operands.size() ? y : absl::StrCat(layer.name, ".partial", k);
          g.AddNode("Add", name, {sum, operands[k]}, name);
          sum = name;
        }
        x = y;
        break;
      }
      case LayerOp::kMul:
        g.AddNode("Mul", layer.name, operands, y);  // broadcasts a [N, C, 1, 1] gate
        x = y;
        break;
      case LayerOp::kConcat: {
        onnx::NodeProto* node = g.AddNode("Concat", layer.name, operands, y);
        SetInt(node, "axis", 1);
        x = y;
        break;
      }
    }
    values[i] = x;
  }
  // The network's output becomes "logits": the last node's output is renamed when that node
  // makes it and nothing else reads it, otherwise an Identity copies it.
  const std::string& result = values.back();
  bool rename = graph->node_size() > 0 &&
                graph->node(graph->node_size() - 1).output(0) == result;
  for (const onnx::NodeProto& node : graph->node()) {
    for (const std::string& operand : node.input()) rename &= operand != result;
  }
  if (rename) {
    graph->mutable_node(graph->node_size() - 1)->set_output(0, kOutputName);
  } else {
    g.AddNode("Identity", absl::StrCat(def.layers.back().name, ".output"), {result},
              kOutputName);
  }
  const TensorShape& last = shapes.back();
  if (flattened_after.back()) {
    SetValueInfo(graph->add_output(), kOutputName, {last.channels});
  } else {
    SetValueInfo(graph->add_output(), kOutputName, {last.channels, last.height, last.width});
  }

  // Value names must be unique in a graph (SSA); layer names are, but a layer called like
  // another's tensor ("a.weight") would clash.
  std::set<std::string> names = {kInputName};
  for (const onnx::TensorProto& init : graph->initializer()) {
    if (!names.insert(init.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("ONNX export: the name ", init.name(), " is used twice"));
    }
  }
  for (const onnx::NodeProto& node : graph->node()) {
    if (!names.insert(node.output(0)).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ONNX export: layer ", node.name(), " outputs ", node.output(0),
          ", a name already used by a tensor or an earlier layer"));
    }
  }

  if (model.ByteSizeLong() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ONNX export: ", def.name, " is ", model.ByteSizeLong(),
                     " bytes, over the 2 GiB a single ONNX file can hold"));
  }
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    model.SerializeToCodedStream(&coded);
  }
  return bytes;
}

absl::StatusOr<std::string> CheckpointToOnnx(absl::string_view bytes, absl::string_view source) {
  NETADAPT_ASSIGN_OR_RETURN(CheckpointContents contents, DecodeCheckpoint(bytes, source));
  absl::StatusOr<std::string> onnx = ExportOnnx(contents.def, contents.tensors);
  if (!onnx.ok()) {
    return absl::Status(onnx.status().code(),
                        absl::StrCat(source, ": ", onnx.status().message()));
  }
  return onnx;
}

}  // namespace netadapt::common
