#pragma once
// ONNX export of a network with weights, without LibTorch: a NetworkDef plus its named tensors
// (e.g. read from a checkpoint with common/checkpoint_format.h) become a serialised
// onnx.ModelProto that TensorRT, ONNX Runtime and friends load.
//
// Target: ONNX opset 13 (default domain), IR version 7. Opset 13 is what TensorRT 8 (JetPack
// 4.6 and 5) parses fully and what every ONNX Runtime since 1.6 runs.
//
// The graph, for inference (batchnorm uses its running statistics, dropout is left out):
//   input   "input"  float [batch, C, H, W], `batch` a symbolic dimension
//   output  "logits" float [batch, features] after a flatten, else [batch, C', H', W']
//   nodes   in layer order, one per layer unless noted, named after the layer (PyTorch's module
//           name) and reading the values of the layer's `inputs`:
//     conv2d             Conv (kernel_shape, strides, pads, group, dilations 1)
//     linear             Gemm (transB = 1)
//     batchnorm2d        BatchNormalization (epsilon)
//     relu               Relu
//     relu6              Clip with min 0 and max 6 (opset 13 takes them as inputs: the
//                        scalar initializers "<layer>.clip_min" / "<layer>.clip_max")
//     maxpool2d          MaxPool (ceil_mode only where it changes the output size, since
//                        PyTorch drops a last window that would start in the right padding)
//     avgpool2d          AveragePool (count_include_pad = 1, PyTorch's default)
//     adaptive_avgpool2d GlobalAveragePool for a 1x1 output; otherwise AveragePool with
//                        kernel = stride = input / output where the input is a multiple of
//                        the output, then Resize (nearest, asymmetric, floor: PyTorch's bins)
//                        where the output is a multiple of the input
//     flatten            Flatten (axis 1)
//     dropout            nothing (the layers reading it read its input's value)
//     sigmoid            Sigmoid
//     hardsigmoid        HardSigmoid with alpha 1/6 and beta 0.5 (PyTorch's relu6(x + 3) / 6;
//                        ONNX's default alpha is 0.2)
//     hardswish          HardSigmoid "<layer>.gate" as above, then Mul (x, gate): HardSwish is
//                        an ONNX op only from opset 14
//     add                Add; with k > 2 inputs a chain of k - 1 Adds, "<layer>.partial1", ...,
//                        the last named after the layer, summing left to right as LibTorch does
//     mul                Mul (broadcasts a [batch, C, 1, 1] gate)
//     concat             Concat (axis 1)
//   The last node outputs "logits" (an Identity when no layer adds a node).
//   initializers: the float tensors under their state_dict names ("features.0.weight", ...);
//   num_batches_tracked is training state and is left out.
//   metadata_props: "netadapt.network_def" holds the NetworkDef as JSON.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/checkpoint_format.h"
#include "common/network_def.h"

namespace netadapt::common {

inline constexpr int kOnnxOpsetVersion = 13;
inline constexpr int kOnnxIrVersion = 7;

// The serialised ONNX model (onnx.ModelProto bytes) of `def` with weights `tensors`, which
// must be exactly common::NetworkTensors(def) (checked with CheckTensorsMatch). Reads the
// tensors' data during the call only. InvalidArgument, naming the layer, for a network that
// does not validate or that ONNX cannot express exactly: an adaptive_avgpool2d whose input and
// output sizes are not multiples of one another, an avgpool2d whose ceil_mode adds a partial
// window (runtimes disagree on its divisor). Deterministic: same inputs, same bytes.
absl::StatusOr<std::string> ExportOnnx(const NetworkDef& def,
                                       const std::vector<CheckpointTensor>& tensors);

// ExportOnnx of the model in checkpoint `bytes`; errors as DecodeCheckpoint and ExportOnnx,
// prefixed by `source`.
absl::StatusOr<std::string> CheckpointToOnnx(absl::string_view bytes,
                                             absl::string_view source = "checkpoint");

}  // namespace netadapt::common
