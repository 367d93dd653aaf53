#include "common/network_def.h"

#include <array>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace netadapt::common {
namespace {

constexpr std::array<std::pair<LayerOp, absl::string_view>, 10> kOpNames = {{
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
    return Error(field, absl::StrCat("is ", declared, " but the previous layer outputs ",
                                     in.channels, " channels"));
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
      return in;
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

}  // namespace

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

  std::vector<TensorShape> shapes;
  shapes.reserve(network.layers.size());
  absl::flat_hash_set<absl::string_view> names;
  names.reserve(network.layers.size());
  TensorShape current = input;
  bool flattened = false;
  for (size_t i = 0; i < network.layers.size(); ++i) {
    const Layer& layer = network.layers[i];
    const LayerErrors err(static_cast<int>(i), layer);
    if (layer.name.empty()) return err.Error("name", "must not be empty");
    if (!names.insert(layer.name).second) {
      return err.Error("name", absl::StrCat("'", layer.name, "' is used by an earlier layer"));
    }
    absl::StatusOr<TensorShape> out = LayerOutput(err, layer, current, flattened);
    if (!out.ok()) return out.status();
    flattened |= layer.op == LayerOp::kFlatten;
    if (auto s = err.RequireNonEmptyOutput(*out); !s.ok()) return s;
    current = *out;
    shapes.push_back(current);
  }
  return shapes;
}

absl::Status Validate(const NetworkDef& network) { return InferShapes(network).status(); }

std::string WidthsString(const NetworkDef& network) {
  std::vector<int> widths;
  for (const Layer& layer : network.layers) {
    if (layer.IsWeighted()) widths.push_back(layer.out_channels);
  }
  return absl::StrJoin(widths, " ");
}

}  // namespace netadapt::common
