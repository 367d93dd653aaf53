#pragma once
// ONNX import without LibTorch: an onnx.ModelProto (what torch.onnx.export writes) becomes a
// NetworkDef in graph form plus its weights as checkpoint tensors under state_dict names, so
// that a user's own model can be adapted (`netadapt import`, `netadapt submit --onnx`).
//
// What is imported: a single-input image classifier, input float [batch, C, H, W], output
// [batch, classes]. Nodes map to layers (an ONNX value read by several nodes becomes a layer
// named in several `inputs`):
//   Conv                 conv2d (strides, symmetric pads or auto_pad, groups; dilation 1 only)
//   BatchNormalization   batchnorm2d (its running statistics: an export in training mode
//                        imports as the same network in eval form)
//   Relu, Sigmoid        relu, sigmoid
//   Clip                 relu6 when min 0 and max 6 (attributes before opset 11, inputs from
//                        initializers or Constant nodes after); relu when min 0 and no max
//   HardSigmoid          hardsigmoid (alpha 1/6, beta 0.5: PyTorch's; ONNX's default alpha
//                        is 0.2 and is refused)
//   HardSwish            hardswish; also HardSigmoid(x) followed by Mul(x, .) when the Mul
//                        is the HardSigmoid's only reader (opset 13's form)
//   Mul                  mul: equal shapes, or a [C, 1, 1] channel gate (squeeze-excite)
//   Add                  add of two activations; Add of a constant folds into the bias of the
//                        MatMul, Gemm or Conv before it when that layer has none and the Add
//                        is its only reader
//   Concat               concat (axis 1)
//   MaxPool, AveragePool maxpool2d, avgpool2d (symmetric pads; ceil_mode where PyTorch and
//                        ONNX agree on the size; avg: count_include_pad 1 or no padding)
//   Pad                  zeros (mode constant, value 0) on both sides of H and W, folded
//                        into the padding of the Conv or AveragePool that reads it (PyTorch
//                        writes AvgPool2d as Pad then AveragePool)
//   GlobalAveragePool    adaptive_avgpool2d 1x1
//   Resize               adaptive_avgpool2d, for an integer nearest upsampling (mode nearest,
//                        asymmetric, floor: nn.Upsample(scale_factor=k)); after an AveragePool
//                        that tiles its input and that only it reads, both are one adaptive
//                        pool (our exporter's form of a non-global adaptive_avgpool2d)
//   Flatten (axis 1), Reshape to [batch, -1] or [batch, C*H*W]   flatten
//   Gemm                 linear (transA 0; transB 1, or 0 with the weight transposed; alpha
//                        and beta fold into the weight and bias)
//   MatMul               linear (the constant [in, out] operand transposed), bias-free unless
//                        an Add follows (above)
//   Dropout              dropout (its ratio)
//   Identity             nothing (an alias)
//   Constant, and Shape / Gather / Unsqueeze / Concat on shapes: evaluated at import time,
//                        so that `x.view(x.size(0), -1)` with a dynamic batch is a flatten
// Weights come only from initializers and Constant nodes (through Identity); float32 or
// float64 data, in the file (not external data).
//
// Names: a conv, linear or batchnorm layer is named after its weight initializer
// ("layer1.0.conv1.weight" -> "layer1.0.conv1"), which PyTorch's exporter names after the
// module; otherwise (batchnorm folded into the conv, whose weights are then "onnx::Conv_193")
// after the node: PyTorch >= 1.13 names nodes by module scope, "/layer1/layer1.0/conv1/Conv"
// -> "layer1.0.conv1", and functional ops by their module and op, "/layer1/layer1.0/Add" ->
// "layer1.0" when it is the module's only layer, "layer1.0.add" otherwise; other node names
// are kept as they are. Names are made unique with a suffix ("_1"); the reserved "input" is
// never a layer's. So LUT entries, widths and exports map back to the user's modules.
//
// Layers that take the previous layer's output name no `inputs` (the JSON stays readable);
// adds, concats and muls always name theirs.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/checkpoint_format.h"
#include "common/network_def.h"

namespace netadapt::common {

struct OnnxImportOptions {
  // The network's name; "" = the ONNX graph's name (or "onnx" when it has none).
  std::string name;
  // The input's height and width; 0 = the model's own. Required where the model's are
  // symbolic (exported with dynamic axes); where they are numbers, a different value is
  // refused (the graph may depend on them, e.g. a Reshape to C*H*W).
  int input_height = 0;
  int input_width = 0;
};

// An imported model. `tensors` are exactly common::NetworkTensors(def), in that order
// (EncodeCheckpoint writes them as they are); a batchnorm's num_batches_tracked, which ONNX
// does not carry, is 0. Their `data` views point into `storage`, shared by copies of this
// struct, so the views stay valid as long as any copy lives.
struct OnnxModel {
  NetworkDef def;
  std::vector<CheckpointTensor> tensors;
  std::shared_ptr<const std::string> storage;
};

// The ops ImportOnnx reads, for messages and help texts: "Conv, BatchNormalization, ...".
absl::string_view OnnxSupportedOps();

// Imports the serialised onnx.ModelProto `bytes`. The result validates (InferShapes) and its
// tensors match it. Everything or nothing: InvalidArgument, and no model, when
//   - the bytes are not an ONNX model, or the graph is not a single-input image classifier
//     (several inputs or outputs, an input that is not float [batch, C, H, W], an output that
//     is not [batch, classes]);
//   - a node has an op or a form outside the list above ("ONNX node '/fc/Gemm' (Gemm):
//     transA 1 is not supported; ...": the node's name, or its index and output where it
//     has none, its op type, and what is supported);
//   - a shape cannot be resolved for the input size (symbolic height or width without
//     `options`, a Reshape to a size that is not a flatten);
//   - a weight is not a constant (computed from the input), is external data, or has a
//     data type other than float32 / float64 (int64 / int32 for shapes).
// Only nodes the output depends on are read (a dead branch with an unsupported op is
// ignored). Thread-safe (no shared state); reads `bytes` during the call only.
absl::StatusOr<OnnxModel> ImportOnnx(absl::string_view bytes,
                                     const OnnxImportOptions& options = {});

}  // namespace netadapt::common
