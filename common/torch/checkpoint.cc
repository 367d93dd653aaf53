// Checkpoint files: Models to and from the torch-free format of common/checkpoint_format.h,
// which checks the frame and the header; here only the tensors are built and checked against
// the network definition (internal::MakeModel).
#include "common/torch/checkpoint.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/core/GradMode.h>

#include <cstring>
#include <exception>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/checkpoint_format.h"
#include "common/file_util.h"
#include "common/network_tensors.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/torch/internal/model_state.h"
#include "common/torch/internal/torch_device.h"

namespace netadapt::engine {
namespace {

// The tensors of `contents` as LibTorch tensors (copies: `contents` views the file's bytes).
absl::StatusOr<internal::NamedTensors> ToTorch(const common::CheckpointContents& contents,
                                               absl::string_view source) {
  internal::NamedTensors tensors;
  for (const common::CheckpointTensor& entry : contents.tensors) {
    try {
      at::Tensor tensor = at::empty(
          entry.shape, at::TensorOptions().dtype(
                           entry.dtype == common::TensorDtype::kInt64 ? c10::kLong : c10::kFloat));
      if (!entry.data.empty()) std::memcpy(tensor.data_ptr(), entry.data.data(), entry.data.size());
      tensors.emplace(entry.name, std::move(tensor));
    } catch (const std::exception& e) {
      return absl::ResourceExhaustedError(
          absl::StrCat(source, ": cannot allocate tensor ", entry.name, ": ", e.what()));
    }
  }
  return tensors;
}

}  // namespace

absl::StatusOr<std::string> SerializeCheckpoint(const Model& model) {
  const internal::ModelState& state = model.state();
  NETADAPT_ASSIGN_OR_RETURN(std::vector<common::TensorSpec> specs,
                            common::NetworkTensors(state.def));
  // CPU copies, kept alive while the encoder reads the views into them.
  std::vector<at::Tensor> cpu;
  std::vector<common::CheckpointTensor> entries;
  try {
    c10::NoGradGuard no_grad;
    for (const common::TensorSpec& spec : specs) {
      auto it = state.tensors.find(spec.name);
      if (it == state.tensors.end()) {
        return absl::InternalError(absl::StrCat("model lacks tensor ", spec.name));
      }
      at::Tensor tensor = it->second.detach().to(c10::kCPU).contiguous();
      const bool is_long = tensor.scalar_type() == c10::kLong;
      if (!is_long && tensor.scalar_type() != c10::kFloat) {
        return absl::InternalError(absl::StrCat("tensor ", spec.name, " has dtype ",
                                                c10::toString(tensor.scalar_type())));
      }
      common::CheckpointTensor& entry = entries.emplace_back();
      entry.name = spec.name;
      entry.dtype = is_long ? common::TensorDtype::kInt64 : common::TensorDtype::kFloat32;
      entry.shape.assign(tensor.sizes().begin(), tensor.sizes().end());
      entry.data = absl::string_view(static_cast<const char*>(tensor.data_ptr()),
                                     tensor.numel() * tensor.element_size());
      cpu.push_back(std::move(tensor));
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot copy the model to the CPU: ", e.what()));
  }
  absl::StatusOr<std::string> bytes = common::EncodeCheckpoint(state.def, entries);
  if (!bytes.ok()) return absl::InternalError(bytes.status().message());
  return bytes;
}

absl::StatusOr<Model> ParseCheckpoint(absl::string_view bytes, absl::string_view device,
                                      absl::string_view source) {
  NETADAPT_ASSIGN_OR_RETURN(c10::Device target, internal::ParseDevice(device));
  NETADAPT_ASSIGN_OR_RETURN(common::CheckpointContents contents,
                            common::DecodeCheckpoint(bytes, source));
  NETADAPT_ASSIGN_OR_RETURN(internal::NamedTensors tensors, ToTorch(contents, source));
  try {
    return internal::MakeModel(contents.def, std::move(tensors), target, source);
  } catch (const std::exception& e) {
    // MakeModel's move to the device is the only part that may throw (e.g. out of memory).
    return absl::InternalError(absl::StrCat(source, ": cannot load the checkpoint: ", e.what()));
  }
}

absl::StatusOr<std::string> SaveCheckpoint(const Model& model, const std::string& path) {
  NETADAPT_ASSIGN_OR_RETURN(std::string bytes, SerializeCheckpoint(model));
  NETADAPT_RETURN_IF_ERROR(common::WriteFileAtomically(path, bytes));
  return common::Sha256Hex(bytes);
}

absl::StatusOr<Model> LoadCheckpoint(const std::string& path, absl::string_view device) {
  NETADAPT_ASSIGN_OR_RETURN(std::string bytes, common::ReadFile(path));
  return ParseCheckpoint(bytes, device, path);
}

absl::StatusOr<std::string> CheckpointDigest(absl::string_view bytes) {
  NETADAPT_RETURN_IF_ERROR(common::CheckCheckpointFrame(bytes, "checkpoint"));
  return common::Sha256Hex(bytes);
}

absl::StatusOr<std::string> CheckpointSha256(const std::string& path) {
  NETADAPT_ASSIGN_OR_RETURN(std::string bytes, common::ReadFile(path));
  NETADAPT_RETURN_IF_ERROR(common::CheckCheckpointFrame(bytes, path));
  return common::Sha256Hex(bytes);
}

}  // namespace netadapt::engine
