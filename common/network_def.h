#pragma once

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace netadapt::common {

// The operations a network may contain.
enum class LayerOp {
  kConv2d,
  kLinear,
  kBatchNorm2d,
  kRelu,
  kRelu6,
  kMaxPool2d,
  kAvgPool2d,
  kAdaptiveAvgPool2d,
  kFlatten,
  kDropout,
  // Graph ops (residual and concatenating networks, squeeze-excite).
  kAdd,          // element-wise sum of two or more inputs of one shape
  kConcat,       // inputs joined along the channel axis (equal spatial sizes)
  kMul,          // element-wise product of two inputs; one may be a [C, 1, 1] channel gate
  kSigmoid,
  kHardsigmoid,  // PyTorch's: relu6(x + 3) / 6
  kHardswish,    // x * hardsigmoid(x)
};

// How many inputs an op takes: at least `min`, at most `max`.
struct InputArity {
  int min = 1;
  int max = 1;
};
InputArity ArityOf(LayerOp op);

// Ops that map each channel of their input to the same channel of their output (activations,
// batchnorm, pools, dropout): a channel count passes through them unchanged.
bool IsChannelWise(LayerOp op);

// The op's name in JSON and in messages: "conv2d", "batchnorm2d", ...
absl::string_view LayerOpName(LayerOp op);
// Parses an op name; InvalidArgument listing the known ops when `name` is none of them.
absl::StatusOr<LayerOp> ParseLayerOp(absl::string_view name);

// A conv with one filter per input channel (groups == in == out > 1). Its width is tied to the
// previous layer's output, so it is never a block of its own.
inline bool IsDepthwiseConv(LayerOp op, int in_channels, int out_channels, int groups) {
  return op == LayerOp::kConv2d && groups > 1 && groups == in_channels &&
         out_channels == in_channels;
}

// A (height, width) pair: kernel sizes, strides, paddings, output sizes.
struct Pair {
  int h = 0;
  int w = 0;
  friend bool operator==(const Pair& a, const Pair& b) { return a.h == b.h && a.w == b.w; }
  friend bool operator!=(const Pair& a, const Pair& b) { return !(a == b); }
};

// Shape of one sample (no batch). After `flatten`, channels = features and h = w = 1.
struct TensorShape {
  int channels = 0;
  int height = 0;
  int width = 0;
  int64_t Elements() const { return int64_t{channels} * height * width; }
  friend bool operator==(const TensorShape& a, const TensorShape& b) {
    return a.channels == b.channels && a.height == b.height && a.width == b.width;
  }
};

// The name by which a layer's `inputs` refer to the network input. No layer may have it.
inline constexpr absl::string_view kNetworkInputName = "input";
// InputIndices' index for the network input.
inline constexpr int kNetworkInput = -1;

// One layer: plain metadata, no weights. Only the fields of its op are meaningful.
struct Layer {
  std::string name;  // PyTorch module name, e.g. "features.0"; unique in a network.
  LayerOp op = LayerOp::kRelu;
  // Names of the layers whose outputs this layer takes, in order (kNetworkInputName for the
  // network input). Empty: the previous layer's output (the network input for the first
  // layer), so a sequential network needs none. Inputs must come earlier in `layers`: the list
  // is in topological order, which rules out cycles.
  std::vector<std::string> inputs;

  // conv2d and linear (in/out features for linear).
  int in_channels = 0;
  int out_channels = 0;
  bool bias = true;
  // conv2d and pools.
  Pair kernel;
  Pair stride{1, 1};
  Pair padding;
  // conv2d.
  int groups = 1;
  // batchnorm2d.
  int num_features = 0;
  double eps = 1e-5;
  // maxpool2d / avgpool2d.
  bool ceil_mode = false;
  // adaptive_avgpool2d.
  Pair output_size;
  // dropout.
  double p = 0.5;

  bool IsDepthwise() const { return IsDepthwiseConv(op, in_channels, out_channels, groups); }
  // Layers that have weights and a latency of their own: conv2d and linear.
  bool IsWeighted() const { return op == LayerOp::kConv2d || op == LayerOp::kLinear; }

  // Layer factories with PyTorch's defaults.
  static Layer Conv2d(std::string name, int in, int out, Pair kernel, Pair stride = {1, 1},
                      Pair padding = {0, 0}, int groups = 1, bool bias = true);
  static Layer Linear(std::string name, int in, int out, bool bias = true);
  static Layer BatchNorm2d(std::string name, int features);
  static Layer Relu(std::string name);
  static Layer Relu6(std::string name);
  static Layer MaxPool2d(std::string name, Pair kernel, Pair stride, Pair padding = {0, 0});
  static Layer AvgPool2d(std::string name, Pair kernel, Pair stride, Pair padding = {0, 0});
  static Layer AdaptiveAvgPool2d(std::string name, Pair output_size);
  static Layer Flatten(std::string name);
  static Layer Dropout(std::string name, double p = 0.5);
  // An op without fields (relu, relu6, flatten, sigmoid, hardsigmoid, hardswish, add, concat,
  // mul) taking `inputs` (empty: the previous layer).
  static Layer Op(std::string name, LayerOp op, std::vector<std::string> inputs = {});
};

// A network definition: input shape plus layers in topological order; the last layer's output
// is the network's output. Value type, cheap to copy for the network sizes NetAdapt handles
// (tens to a few hundred layers).
struct NetworkDef {
  std::string name;
  TensorShape input;
  std::vector<Layer> layers;

  // Index of the layer called `name`, or -1.
  int FindLayer(absl::string_view layer_name) const;
};

// Checks every layer and computes each layer's output shape (result[i] is the output of
// layers[i]). InvalidArgument names the layer index, its name, the field and the problem, e.g.
// "layers[3] (features.3, conv2d): in_channels is 32 but its input outputs 64 channels".
// Rejected: an empty network, unknown or duplicate names, non-positive sizes, mismatched
// channels, groups that do not divide the channels, a shape that goes to zero, a linear layer
// before flatten and a spatial layer (conv, batchnorm, pool, flatten) after it; in graph form,
// an unknown input, an input that is not an earlier layer (a cycle), the wrong number of
// inputs for the op, an add of different shapes, a concat of different spatial sizes, a mul
// whose operands neither match nor broadcast as a channel gate, and a layer whose output
// nothing uses (only the last layer is the network output).
absl::StatusOr<std::vector<TensorShape>> InferShapes(const NetworkDef& network);

// The indices of each layer's inputs (kNetworkInput for the network input), resolved from
// `inputs` and the sequential default. `network` must be valid (InferShapes succeeded).
std::vector<std::vector<int>> InputIndices(const NetworkDef& network);

// The shape of input `k` of a layer, given its resolved input indices and the shapes
// InferShapes returned.
inline const TensorShape& InputShape(const NetworkDef& network,
                                     const std::vector<TensorShape>& shapes,
                                     const std::vector<int>& inputs, size_t k = 0) {
  return inputs[k] == kNetworkInput ? network.input : shapes[inputs[k]];
}

// Whether any layer names its inputs (the network is a graph, not a chain).
bool IsGraph(const NetworkDef& network);

// InferShapes, for callers that only need the verdict.
absl::Status Validate(const NetworkDef& network);

// The output widths of the conv and linear layers, in order: what a ModelResult's widths hold.
std::vector<int32_t> Widths(const NetworkDef& network);

// The output widths of the weighted layers, e.g. "64 192 384 256 256 4096 4096 10".
std::string WidthsString(const NetworkDef& network);

}  // namespace netadapt::common
