#include "common/layer_shape.h"

#include <tuple>

#include "absl/strings/str_format.h"
#include "common/status_macros.h"

namespace netadapt::common {

bool operator==(const LayerShape& a, const LayerShape& b) {
  auto tie = [](const LayerShape& s) {
    return std::tie(s.op, s.in_channels, s.out_channels, s.kernel.h, s.kernel.w, s.stride.h,
                    s.stride.w, s.padding.h, s.padding.w, s.groups, s.input_h, s.input_w, s.batch,
                    s.dtype, s.bias);
  };
  return tie(a) == tie(b);
}

Pair LayerShape::Output() const {
  auto axis = [](int in, int k, int s, int p) {
    const int span = in + 2 * p - k;
    return span < 0 ? 0 : span / s + 1;
  };
  return {axis(input_h, kernel.h, stride.h, padding.h),
          axis(input_w, kernel.w, stride.w, padding.w)};
}

int64_t LayerShape::Weights() const {
  const int g = groups > 0 ? groups : 1;
  return int64_t{out_channels} / g * in_channels * kernel.h * kernel.w;
}

int64_t LayerShape::Macs() const {
  const Pair out = Output();
  return Weights() * out.h * out.w * batch;
}

std::string LayerShape::DebugString() const {
  return absl::StrFormat("%s %d->%d k%dx%d s%dx%d p%dx%d g%d in%dx%d b%d %s%s", LayerOpName(op),
                         in_channels, out_channels, kernel.h, kernel.w, stride.h, stride.w,
                         padding.h, padding.w, groups, input_h, input_w, batch, dtype,
                         bias ? "" : " nobias");
}

LayerFamily LayerFamily::Of(const LayerShape& shape) {
  LayerFamily family{shape};
  family.representative.in_channels = 0;
  family.representative.out_channels = 0;
  if (shape.IsDepthwise()) family.representative.groups = 0;
  return family;
}

LayerShape ShapeOf(const Layer& layer, const TensorShape& input, const CostContext& context) {
  LayerShape shape;
  shape.op = layer.op;
  shape.in_channels = layer.in_channels;
  shape.out_channels = layer.out_channels;
  shape.bias = layer.bias;
  shape.batch = context.batch;
  shape.dtype = context.dtype;
  if (layer.op == LayerOp::kConv2d) {
    shape.kernel = layer.kernel;
    shape.stride = layer.stride;
    shape.padding = layer.padding;
    shape.groups = layer.groups;
    shape.input_h = input.height;
    shape.input_w = input.width;
  }
  return shape;
}

absl::StatusOr<std::vector<CostedLayer>> CostedLayers(const NetworkDef& network,
                                                      const CostContext& context) {
  NETADAPT_ASSIGN_OR_RETURN(std::vector<TensorShape> shapes, InferShapes(network));
  return CostedLayers(network, shapes, context);
}

std::vector<CostedLayer> CostedLayers(const NetworkDef& network,
                                      const std::vector<TensorShape>& shapes,
                                      const CostContext& context) {
  std::vector<CostedLayer> costed;
  // A chain needs no name resolution (the linear search costs whole networks in its loop).
  const std::vector<std::vector<int>> inputs =
      IsGraph(network) ? InputIndices(network) : std::vector<std::vector<int>>();
  for (size_t i = 0; i < network.layers.size(); ++i) {
    const Layer& layer = network.layers[i];
    if (!layer.IsWeighted()) continue;
    const TensorShape& input = !inputs.empty() ? InputShape(network, shapes, inputs[i])
                               : i == 0        ? network.input
                                               : shapes[i - 1];
    costed.push_back({static_cast<int>(i), ShapeOf(layer, input, context)});
  }
  return costed;
}

}  // namespace netadapt::common
