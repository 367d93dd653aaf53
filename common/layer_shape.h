#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/network_def.h"

namespace netadapt::common {

// The full shape of a conv2d or linear layer as it runs on the device: the key of the latency
// look-up table. Linear layers have kernel, stride 1 x 1, padding 0 and input 1 x 1.
struct LayerShape {
  LayerOp op = LayerOp::kConv2d;
  int in_channels = 0;
  int out_channels = 0;
  Pair kernel{1, 1};
  Pair stride{1, 1};
  Pair padding{0, 0};
  int groups = 1;
  int input_h = 1;
  int input_w = 1;
  int batch = 1;
  std::string dtype = "float32";
  bool bias = true;

  bool IsDepthwise() const { return IsDepthwiseConv(op, in_channels, out_channels, groups); }
  // Output spatial size (PyTorch's rule, dilation 1).
  Pair Output() const;
  // Multiply-accumulates of one forward pass at this batch.
  int64_t Macs() const;
  // Number of weights (bias excluded, as the original implementation counts them).
  int64_t Weights() const;
  // Human-readable, e.g. "conv2d 64->192 k5x5 s1x1 p2x2 g1 in27x27 b128 float32".
  std::string DebugString() const;

  friend bool operator==(const LayerShape& a, const LayerShape& b);
  friend bool operator!=(const LayerShape& a, const LayerShape& b) { return !(a == b); }
  // dtype takes part in equality but not in the hash: a LUT holds one dtype (or a few), and
  // hashing the string costs the filter search's hot path more than the rare collision. The
  // other fields are packed into four words first (channels and sizes fit in 16 bits in
  // practice; larger values only collide more): each word is one mixing step.
  template <typename H>
  friend H AbslHashValue(H h, const LayerShape& s) {
    auto pack = [](uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
      return (a & 0xffff) | (b & 0xffff) << 16 | (c & 0xffff) << 32 | (d & 0xffff) << 48;
    };
    return H::combine(std::move(h),
                      (static_cast<uint64_t>(s.in_channels) << 32) |
                          static_cast<uint32_t>(s.out_channels),
                      pack(s.kernel.h, s.kernel.w, s.stride.h, s.stride.w),
                      pack(s.padding.h, s.padding.w, s.input_h, s.input_w),
                      pack(static_cast<uint64_t>(s.op), s.groups, s.batch, s.bias));
  }
};

// Shapes that differ only in their channel counts belong to one family; a family's LUT
// entries form the (in, out) table that interpolation works on. Depthwise convs (in = out =
// groups) form families of their own, with groups folded into the channel count.
struct LayerFamily {
  LayerShape representative;  // channels and (for depthwise) groups zeroed

  static LayerFamily Of(const LayerShape& shape);
  bool depthwise() const { return representative.groups == 0; }
  friend bool operator==(const LayerFamily& a, const LayerFamily& b) {
    return a.representative == b.representative;
  }
  template <typename H>
  friend H AbslHashValue(H h, const LayerFamily& f) {
    return H::combine(std::move(h), f.representative);
  }
};

// How layers are run when their cost is measured.
struct CostContext {
  int batch = 1;
  std::string dtype = "float32";
};

// A weighted layer of a network and its shape.
struct CostedLayer {
  int layer_index = 0;
  LayerShape shape;
};

// The conv2d and linear layers of `network` with their shapes, in layer order: the layers a
// network's resource is summed over (as in the original implementation, batchnorm, activations
// and pools cost nothing: they are fused or negligible next to convs on the device).
// InvalidArgument when `network` is not valid.
absl::StatusOr<std::vector<CostedLayer>> CostedLayers(const NetworkDef& network,
                                                      const CostContext& context);
// CostedLayers with the output shapes InferShapes(network) returned, for callers that have
// them already (the filter search analyses a network once per iteration).
std::vector<CostedLayer> CostedLayers(const NetworkDef& network,
                                      const std::vector<TensorShape>& shapes,
                                      const CostContext& context);

// The shape of weighted layer `layer` when its input is `input`.
LayerShape ShapeOf(const Layer& layer, const TensorShape& input, const CostContext& context);

}  // namespace netadapt::common
