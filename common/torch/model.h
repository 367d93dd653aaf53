#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/network_def.h"

namespace netadapt::engine {

namespace internal {
struct ModelState;
}  // namespace internal

struct ModelOptions {
  // "cpu", "cuda" or "cuda:N" (see device.h).
  std::string device = "cpu";
  // Initial weights are a function of the seed only (drawn on the CPU, then moved), so the
  // same seed gives the same model on every device.
  uint64_t seed = 0;
};

// A network with weights on a device: a NetworkDef plus one tensor per entry of
// common::NetworkTensors (PyTorch's state_dict names: "features.0.weight", ...).
// Torch-free handle; the tensors live behind internal::ModelState. Move-only.
class Model {
 public:
  // A freshly initialised model, with PyTorch's default initialisation: conv and linear
  // weights and biases uniform in +-1/sqrt(fan_in), batchnorm weight 1, bias 0, running
  // mean 0, running variance 1. InvalidArgument when `def` does not validate;
  // FailedPrecondition/InvalidArgument for a device this process cannot use.
  static absl::StatusOr<Model> Create(const common::NetworkDef& def, const ModelOptions& options);

  // Wraps state built by other torch code (checkpoint load, pruning, import).
  explicit Model(std::unique_ptr<internal::ModelState> state);
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const common::NetworkDef& def() const;
  // "cpu" or "cuda:N".
  std::string device() const;
  // Number of trainable scalars (weights and biases; not running statistics).
  int64_t ParameterCount() const;
  // A deep copy on `device`.
  absl::StatusOr<Model> CopyTo(absl::string_view device) const;

  internal::ModelState& state() { return *state_; }
  const internal::ModelState& state() const { return *state_; }

 private:
  std::unique_ptr<internal::ModelState> state_;
};

// The network's outputs for `input` in inference mode (batchnorm on its running statistics,
// no dropout): `input` holds `batch` samples of the definition's input shape, float32 and
// row-major ([N, C, H, W]); the result holds the N outputs the same way. For tools and tests
// that include no LibTorch header. InvalidArgument when the input's size does not match.
absl::StatusOr<std::vector<float>> Infer(const Model& model, const std::vector<float>& input,
                                         int batch);

}  // namespace netadapt::engine
