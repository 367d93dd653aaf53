#include "common/network_def.h"

#include <array>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

constexpr std::array<std::pair<LayerOp, absl::string_view>, 16> kOpNames = {{
    {LayerOp::kConv2d, "conv2d"},
    {LayerOp::kLinear, "linear"},
    {LayerOp::kBatchNorm2d, "batchnorm2d"},
    {LayerOp::kRelu, "relu"},
    {LayerOp::kRelu6, "relu6"},
    {LayerOp::kMaxPool2d, "maxpool2d"},
    {LayerOp::kAvgPool2d, "avgpool2d"},
    {LayerOp::kAdaptiveAvgPool2d, "adaptive_avgpool2d"},
    {LayerOp::kFlatten, "flatten"},
    {LayerOp::kDropout, "dropout"},
    {LayerOp::kAdd, "add"},
    {LayerOp::kConcat, "concat"},
    {LayerOp::kMul, "mul"},
    {LayerOp::kSigmoid, "sigmoid"},
    {LayerOp::kHardsigmoid, "hardsigmoid"},
    {LayerOp::kHardswish, "hardswish"},
}};

// Builds "layers[i] (name): <field> <problem>" errors.
class LayerErrors {
 public:
  LayerErrors(int index, const Layer& layer) : index_(index), layer_(layer) {}

  absl::Status Error(absl::string_view field, absl::string_view problem) const {
    return absl::InvalidArgumentError(
        absl::StrCat("layers[", index_, "] (", layer_.name.empty() ? "<unnamed>" : layer_.name,
                     ", ", LayerOpName(layer_.op), "): ", field, " ", problem));
  }
  absl::Status RequirePositive(absl::string_view field, int value) const {
    if (value > 0) return absl::OkStatus();
    return Error(field, absl::StrCat("must be positive, got ", value));
  }
  absl::Status RequirePositive(absl::string_view field, Pair value) const {
    if (value.h > 0 && value.w > 0) return absl::OkStatus();
    return Error(field, absl::StrCat("must be positive, got [", value.h, ", ", value.w, "]"));
  }
  absl::Status RequireNonNegative(absl::string_view field, Pair value) const {
    if (value.h >= 0 && value.w >= 0) return absl::OkStatus();
    return Error(field,
                 absl::StrCat("must not be negative, got [", value.h, ", ", value.w, "]"));
  }
  absl::Status RequireInputChannels(absl::string_view field, int declared,
                                    const TensorShape& in) const {
    if (declared == in.channels) return absl::OkStatus();
    // Built only on error: shape inference runs in the linear search's inner loop.
    const std::string source = layer_.inputs.empty()
                                   ? std::string("the previous layer")
                                   : absl::StrCat("its input '", layer_.inputs[0], "'");
    return Error(field, absl::StrCat("is ", declared, " but ", source, " outputs ", in.channels,
                                     " channels"));
  }
  absl::Status RequireNonEmptyOutput(const TensorShape& out) const {
    if (out.channels > 0 && out.height > 0 && out.width > 0) return absl::OkStatus();
    return Error("output", absl::StrCat("shape goes to zero: [", out.channels, ", ", out.height,
                                        ", ", out.width, "]; the input is too small"));
  }

 private:
  int index_;
  const Layer& layer_;
};

// Output size of a sliding window along one axis, as PyTorch computes it.
int WindowOutput(int in, int kernel, int stride, int padding, bool ceil_mode) {
  const int span = in + 2 * padding - kernel;
  if (span < 0) return 0;
  int out = span / stride + 1;
  if (ceil_mode) {
    out = (span + stride - 1) / stride + 1;
    // The last window must start inside the input or the left padding.
    if ((out - 1) * stride >= in + padding) --out;
  }
  return out;
}

absl::StatusOr<TensorShape> ConvOutput(const LayerErrors& err, const Layer& l,
                                       const TensorShape& in) {
  if (auto s = err.RequirePositive("in_channels", l.in_channels); !s.ok()) return s;
  if (auto s = err.RequirePositive("out_channels", l.out_channels); !s.ok()) return s;
  if (auto s = err.RequirePositive("kernel_size", l.kernel); !s.ok()) return s;
  if (auto s = err.RequirePositive("stride", l.stride); !s.ok()) return s;
  if (auto s = err.RequireNonNegative("padding", l.padding); !s.ok()) return s;
  if (auto s = err.RequirePositive("groups", l.groups); !s.ok()) return s;
  if (l.in_channels % l.groups != 0 || l.out_channels % l.groups != 0) {
    return err.Error("groups", absl::StrCat("(", l.groups, ") must divide in_channels (",
                                            l.in_channels, ") and out_channels (",
                                            l.out_channels, ")"));
  }
  if (auto s = err.RequireInputChannels("in_channels", l.in_channels, in); !s.ok()) return s;
  return TensorShape{l.out_channels,
                     WindowOutput(in.height, l.kernel.h, l.stride.h, l.padding.h, false),
                     WindowOutput(in.width, l.kernel.w, l.stride.w, l.padding.w, false)};
}

absl::StatusOr<TensorShape> PoolOutput(const LayerErrors& err, const Layer& l,
                                       const TensorShape& in) {
  if (auto s = err.RequirePositive("kernel_size", l.kernel); !s.ok()) return s;
  if (auto s = err.RequirePositive("stride", l.stride); !s.ok()) return s;
  if (auto s = err.RequireNonNegative("padding", l.padding); !s.ok()) return s;
  if (2 * l.padding.h > l.kernel.h || 2 * l.padding.w > l.kernel.w) {
    return err.Error("padding", "must be at most half of kernel_size");
  }
  return TensorShape{in.channels,
                     WindowOutput(in.height, l.kernel.h, l.stride.h, l.padding.h, l.ceil_mode),
                     WindowOutput(in.width, l.kernel.w, l.stride.w, l.padding.w, l.ceil_mode)};
}

// `flattened`: a flatten came earlier, so the tensor is [batch, features]. Spatial ops need
// [batch, C, H, W] and linear needs [batch, features], as PyTorch's modules do.
absl::StatusOr<TensorShape> LayerOutput(const LayerErrors& err, const Layer& l,
                                        const TensorShape& in, bool flattened) {
  const bool spatial = l.op == LayerOp::kConv2d || l.op == LayerOp::kBatchNorm2d ||
                       l.op == LayerOp::kMaxPool2d || l.op == LayerOp::kAvgPool2d ||
                       l.op == LayerOp::kAdaptiveAvgPool2d || l.op == LayerOp::kFlatten;
  if (spatial && flattened) {
    return err.Error("op", "needs a [C, H, W] input but comes after flatten");
  }
  if (l.op == LayerOp::kLinear && !flattened) {
    return err.Error("input", absl::StrCat("is [", in.channels, ", ", in.height, ", ", in.width,
                                           "]; add a flatten layer before linear"));
  }
  switch (l.op) {
    case LayerOp::kConv2d:
      return ConvOutput(err, l, in);
    case LayerOp::kLinear:
      if (auto s = err.RequirePositive("in_channels", l.in_channels); !s.ok()) return s;
      if (auto s = err.RequirePositive("out_channels", l.out_channels); !s.ok()) return s;
      if (auto s = err.RequireInputChannels("in_channels", l.in_channels, in); !s.ok()) return s;
      return TensorShape{l.out_channels, 1, 1};
    case LayerOp::kBatchNorm2d:
      if (auto s = err.RequirePositive("num_features", l.num_features); !s.ok()) return s;
      if (!(l.eps > 0)) return err.Error("eps", "must be positive");
      if (auto s = err.RequireInputChannels("num_features", l.num_features, in); !s.ok()) {
        return s;
      }
      return in;
    case LayerOp::kRelu:
    case LayerOp::kRelu6:
    case LayerOp::kSigmoid:
    case LayerOp::kHardsigmoid:
    case LayerOp::kHardswish:
      return in;
    case LayerOp::kAdd:
    case LayerOp::kConcat:
    case LayerOp::kMul:
      break;  // several inputs: MergeOutput
    case LayerOp::kDropout:
      if (!(l.p >= 0 && l.p < 1)) return err.Error("p", "must be in [0, 1)");
      return in;
    case LayerOp::kMaxPool2d:
    case LayerOp::kAvgPool2d:
      return PoolOutput(err, l, in);
    case LayerOp::kAdaptiveAvgPool2d:
      if (auto s = err.RequirePositive("output_size", l.output_size); !s.ok()) return s;
      return TensorShape{in.channels, l.output_size.h, l.output_size.w};
    case LayerOp::kFlatten:
      return TensorShape{static_cast<int>(in.Elements()), 1, 1};
  }
  return err.Error("op", "is not supported");
}

std::string ShapeText(const TensorShape& s) {
  return absl::StrCat("[", s.channels, ", ", s.height, ", ", s.width, "]");
}

// The output of add, concat and mul. `inputs` are the input shapes, `flattened` whether they
// are [batch, features] (all inputs must agree).
absl::StatusOr<TensorShape> MergeOutput(const LayerErrors& err, const Layer& l,
                                        const std::vector<TensorShape>& inputs) {
  const TensorShape& first = inputs[0];
  switch (l.op) {
    case LayerOp::kAdd:
      for (size_t k = 1; k < inputs.size(); ++k) {
        if (!(inputs[k] == first)) {
          return err.Error("inputs", absl::StrCat("must all have one shape: '", l.inputs[0],
                                                  "' is ", ShapeText(first), " but '",
                                                  l.inputs[k], "' is ", ShapeText(inputs[k])));
        }
      }
      return first;
    case LayerOp::kConcat: {
      TensorShape out = first;
      for (size_t k = 1; k < inputs.size(); ++k) {
        if (inputs[k].height != first.height || inputs[k].width != first.width) {
          return err.Error("inputs", absl::StrCat("must have one spatial size: '", l.inputs[0],
                                                  "' is ", ShapeText(first), " but '",
                                                  l.inputs[k], "' is ", ShapeText(inputs[k])));
        }
        out.channels += inputs[k].channels;
      }
      return out;
    }
    case LayerOp::kMul: {
      const TensorShape& a = inputs[0];
      const TensorShape& b = inputs[1];
      const bool gate_a = a.height == 1 && a.width == 1;
      const bool gate_b = b.height == 1 && b.width == 1;
      if (a.channels == b.channels && (a == b || gate_a || gate_b)) {
        return gate_a ? b : a;
      }
      return err.Error("inputs",
                       absl::StrCat("must have one shape, or one must be a [C, 1, 1] gate of the "
                                    "other's channels: '", l.inputs[0], "' is ", ShapeText(a),
                                    " but '", l.inputs[1], "' is ", ShapeText(b)));
    }
    default:
      break;
  }
  return err.Error("op", "is not supported");
}

}  // namespace

InputArity ArityOf(LayerOp op) {
  switch (op) {
    case LayerOp::kAdd:
    case LayerOp::kConcat:
      return {2, 1 << 20};
    case LayerOp::kMul:
      return {2, 2};
    default:
      return {1, 1};
  }
}

bool IsChannelWise(LayerOp op) {
  switch (op) {
    case LayerOp::kBatchNorm2d:
    case LayerOp::kRelu:
    case LayerOp::kRelu6:
    case LayerOp::kSigmoid:
    case LayerOp::kHardsigmoid:
    case LayerOp::kHardswish:
    case LayerOp::kMaxPool2d:
    case LayerOp::kAvgPool2d:
    case LayerOp::kAdaptiveAvgPool2d:
    case LayerOp::kDropout:
      return true;
    default:
      return false;
  }
}

absl::string_view LayerOpName(LayerOp op) {
  for (const auto& [candidate, name] : kOpNames) {
    if (candidate == op) return name;
  }
  return "unknown";
}

absl::StatusOr<LayerOp> ParseLayerOp(absl::string_view name) {
  for (const auto& [op, candidate] : kOpNames) {
    if (candidate == name) return op;
  }
  std::vector<absl::string_view> known;
  for (const auto& entry : kOpNames) known.push_back(entry.second);
  return absl::InvalidArgumentError(absl::StrCat("unknown op '", name, "' (expected one of ",
                                                 absl::StrJoin(known, ", "), ")"));
}

Layer Layer::Conv2d(std::string name, int in, int out, Pair kernel, Pair stride, Pair padding,
                    int groups, bool bias) {
  Layer l;
  l.name = std::move(name);
  l.op = LayerOp::kConv2d;
  l.in_channels = in;
  l.out_channels = out;
  l.kernel = kernel;
  l.stride = stride;
  l.padding = padding;
  l.groups = groups;
  l.bias = bias;
  return l;
}

Layer Layer::Linear(std::string name, int in, int out, bool bias) {
  Layer l;
  l.name = std::move(name);
  l.op = LayerOp::kLinear;
  l.in_channels = in;
  l.out_channels = out;
  l.bias = bias;
  return l;
}

Layer Layer::BatchNorm2d(std::string name, int features) {
  Layer l;
  l.name = std::move(name);
  l.op = LayerOp::kBatchNorm2d;
  l.num_features = features;
  return l;
}

Layer Layer::Relu(std::string name) {
  Layer l;
  l.name = std::move(name);
  l.op = LayerOp::kRelu;
  return l;
}

Layer Layer::Relu6(std::string name) {
  Layer l = Relu(std::move(name));
  l.op = LayerOp::kRelu6;
  return l;
}

Layer Layer::MaxPool2d(std::string name, Pair kernel, Pair stride, Pair padding) {
  Layer l;
  l.name = std::move(name);
  l.op = LayerOp::kMaxPool2d;
  l.kernel = kernel;
  l.stride = stride;
  l.padding = padding;
  return l;
}

Layer Layer::AvgPool2d(std::string name, Pair kernel, Pair stride, Pair padding) {
  Layer l = MaxPool2d(std::move(name), kernel, stride, padding);
  l.op = LayerOp::kAvgPool2d;
  return l;
}

Layer Layer::AdaptiveAvgPool2d(std::string name, Pair output_size) {
  Layer l;
  l.name = std::move(name);
  l.op = LayerOp::kAdaptiveAvgPool2d;
  l.output_size = output_size;
  return l;
}

Layer Layer::Flatten(std::string name) {
  Layer l;
  l.name = std::move(name);
  l.op = LayerOp::kFlatten;
  return l;
}

Layer Layer::Dropout(std::string name, double p) {
  Layer l;
  l.name = std::move(name);
  l.op = LayerOp::kDropout;
  l.p = p;
  return l;
}

Layer Layer::Op(std::string name, LayerOp op, std::vector<std::string> inputs) {
  Layer l;
  l.name = std::move(name);
  l.op = op;
  l.inputs = std::move(inputs);
  return l;
}

int NetworkDef::FindLayer(absl::string_view layer_name) const {
  for (size_t i = 0; i < layers.size(); ++i) {
    if (layers[i].name == layer_name) return static_cast<int>(i);
  }
  return -1;
}

absl::StatusOr<std::vector<TensorShape>> InferShapes(const NetworkDef& network) {
  const TensorShape& input = network.input;
  if (input.channels <= 0 || input.height <= 0 || input.width <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("input: channels, height and width must be positive, got [",
                     input.channels, ", ", input.height, ", ", input.width, "]"));
  }
  if (network.layers.empty()) return absl::InvalidArgumentError("layers: must not be empty");

  const size_t n = network.layers.size();
  std::vector<TensorShape> shapes;
  shapes.reserve(n);
  std::vector<bool> flattened;  // per layer output: [batch, features]
  flattened.reserve(n);
  std::vector<bool> used(n, false);
  absl::flat_hash_map<absl::string_view, int> index_of;
  index_of.reserve(n);
  std::vector<TensorShape> in_shapes;
  for (size_t i = 0; i < n; ++i) {
    const Layer& layer = network.layers[i];
    const LayerErrors err(static_cast<int>(i), layer);
    if (layer.name.empty()) return err.Error("name", "must not be empty");
    if (layer.name == kNetworkInputName) {
      return err.Error("name", absl::StrCat("'", kNetworkInputName,
                                            "' is reserved for the network input"));
    }
    // Inputs: the previous layer unless named; named ones must be earlier layers.
    const InputArity arity = ArityOf(layer.op);
    const int given = static_cast<int>(layer.inputs.size());
    if (given == 0 && arity.min > 1) {
      return err.Error("inputs", absl::StrCat("must name at least ", arity.min,
                                              " layers for ", LayerOpName(layer.op)));
    }
    if (given > 0 && (given < arity.min || given > arity.max)) {
      return err.Error(
          "inputs",
          arity.min == arity.max
              ? absl::StrCat("must name exactly ", arity.min, " layer", arity.min > 1 ? "s" : "",
                             " for ", LayerOpName(layer.op), ", got ", given)
              : absl::StrCat("must name at least ", arity.min, " layers for ",
                             LayerOpName(layer.op), ", got ", given));
    }
    in_shapes.clear();
    bool in_flattened = false;
    if (given == 0) {
      if (i > 0) used[i - 1] = true;
      in_shapes.push_back(i == 0 ? input : shapes[i - 1]);
      in_flattened = i > 0 && flattened[i - 1];
    } else {
      for (int k = 0; k < given; ++k) {
        const std::string& name = layer.inputs[k];
        bool this_flattened = false;
        if (name == kNetworkInputName) {
          in_shapes.push_back(input);
        } else {
          auto it = index_of.find(name);
          if (it == index_of.end()) {
            const int later = network.FindLayer(name);
            if (later < 0) {
              return err.Error(absl::StrCat("inputs[", k, "]"),
                               absl::StrCat("'", name, "' is not a layer of the network"));
            }
            return err.Error(absl::StrCat("inputs[", k, "]"),
                             absl::StrCat("'", name, "' is layers[", later,
                                          "], not an earlier layer: inputs must come before "
                                          "the layer (layers are in topological order; a "
                                          "later input would make a cycle)"));
          }
          used[it->second] = true;
          in_shapes.push_back(shapes[it->second]);
          this_flattened = flattened[it->second];
        }
        if (k > 0 && this_flattened != in_flattened) {
          return err.Error("inputs", "mix [C, H, W] tensors and flattened [features] tensors");
        }
        in_flattened = this_flattened;
      }
    }
    if (!index_of.emplace(layer.name, static_cast<int>(i)).second) {
      return err.Error("name", absl::StrCat("'", layer.name, "' is used by an earlier layer"));
    }
    absl::StatusOr<TensorShape> out =
        ArityOf(layer.op).max > 1 ? MergeOutput(err, layer, in_shapes)
                                  : LayerOutput(err, layer, in_shapes[0], in_flattened);
    if (!out.ok()) return out.status();
    if (auto s = err.RequireNonEmptyOutput(*out); !s.ok()) return s;
    shapes.push_back(*out);
    flattened.push_back(in_flattened || layer.op == LayerOp::kFlatten);
  }
  for (size_t i = 0; i + 1 < n; ++i) {
    if (used[i]) continue;
    return LayerErrors(static_cast<int>(i), network.layers[i])
        .Error("output", absl::StrCat("is used by no later layer; only the last layer (",
                                      network.layers.back().name,
                                      ") is the network output. Name it in a later layer's "
                                      "inputs or remove it"));
  }
  return shapes;
}

std::vector<std::vector<int>> InputIndices(const NetworkDef& network) {
  std::vector<std::vector<int>> result(network.layers.size());
  absl::flat_hash_map<absl::string_view, int> index_of;
  index_of.reserve(network.layers.size());
  for (size_t i = 0; i < network.layers.size(); ++i) {
    const Layer& layer = network.layers[i];
    if (layer.inputs.empty()) {
      result[i].push_back(i == 0 ? kNetworkInput : static_cast<int>(i) - 1);
    } else {
      for (const std::string& name : layer.inputs) {
        if (name == kNetworkInputName) {
          result[i].push_back(kNetworkInput);
        } else {
          auto it = index_of.find(name);
          NETADAPT_CHECK(it != index_of.end());
          result[i].push_back(it->second);
        }
      }
    }
    index_of.emplace(layer.name, static_cast<int>(i));
  }
  return result;
}

bool IsGraph(const NetworkDef& network) {
  for (const Layer& layer : network.layers) {
    if (!layer.inputs.empty()) return true;
  }
  return false;
}

absl::Status Validate(const NetworkDef& network) { return InferShapes(network).status(); }

std::vector<int32_t> Widths(const NetworkDef& network) {
  std::vector<int32_t> widths;
  for (const Layer& layer : network.layers) {
    if (layer.IsWeighted()) widths.push_back(layer.out_channels);
  }
  return widths;
}

std::string WidthsString(const NetworkDef& network) { return absl::StrJoin(Widths(network), " "); }

}  // namespace netadapt::common
