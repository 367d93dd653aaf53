#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/network_def.h"

namespace netadapt::common {

// What a tensor of a network is for. Parameters are trained; buffers are running statistics.
enum class TensorRole { kParameter, kBuffer };
enum class TensorDtype { kFloat32, kInt64 };

// One named tensor a network with weights holds, named as PyTorch's state_dict() names it:
// "<layer name>.<weight|bias|running_mean|running_var|num_batches_tracked>".
struct TensorSpec {
  std::string name;
  int layer_index = -1;
  std::string field;  // "weight", "bias", "running_mean", "running_var", "num_batches_tracked"
  std::vector<int64_t> shape;
  TensorRole role = TensorRole::kParameter;
  TensorDtype dtype = TensorDtype::kFloat32;
};

// Every tensor of `network` in layer order, PyTorch's state_dict() order:
//   conv2d      weight [out, in/groups, kh, kw], bias [out] (when bias)
//   linear      weight [out, in], bias [out] (when bias)
//   batchnorm2d weight, bias, running_mean, running_var [features], num_batches_tracked []
// InvalidArgument when the network does not validate.
absl::StatusOr<std::vector<TensorSpec>> NetworkTensors(const NetworkDef& network);

// "[64, 3, 11, 11]", for error messages.
std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace netadapt::common
