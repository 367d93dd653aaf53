#pragma once
// Internal to common/torch: included only by its .cc files and the torch tests.

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/network_def.h"
#include "common/torch/model.h"

namespace netadapt::engine::internal {

// Tensors by state_dict name. Ordered so that iteration (and files written from it) is
// deterministic.
using NamedTensors = std::map<std::string, at::Tensor>;

struct ModelState {
  common::NetworkDef def;
  // common::InputIndices(def), resolved once: the forward pass follows it.
  std::vector<std::vector<int>> inputs;
  c10::Device device = c10::Device(c10::kCPU);
  NamedTensors tensors;
};

// The model `def` describes, holding `tensors` (moved to `device`, made contiguous, parameters
// set to require grad). Every tensor of common::NetworkTensors(def) must be present with its
// exact shape and dtype, and no other: InvalidArgument names the tensor and both shapes, or
// the missing/unexpected names. `source` prefixes messages, e.g. "checkpoint model.ckpt".
absl::StatusOr<Model> MakeModel(const common::NetworkDef& def, NamedTensors tensors,
                                c10::Device device, absl::string_view source);

// Runs the network on `input` [N, C, H, W]. In training mode batchnorm uses batch statistics
// and updates its running ones, and dropout is active; otherwise both are deterministic.
// Dropout masks on the CPU draw from `dropout_generator` when given (reproducible runs);
// otherwise, and on CUDA, from the device's default generator.
at::Tensor Forward(const ModelState& model, const at::Tensor& input, bool training,
                   at::Generator* dropout_generator = nullptr);

}  // namespace netadapt::engine::internal
