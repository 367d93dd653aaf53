#pragma once
// Imports weights trained in PyTorch. Torch-free header. docs/STATE_DICT.md shows, for every zoo
// model, the Python module definition whose state_dict() names match ours.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/network_def.h"
#include "common/torch/model.h"

namespace netadapt::engine {

// The model `def` describes, with the weights of the file at `path`, on `device`.
//
// The file is what `torch.save(model.state_dict(), path)` writes with torch >= 1.6 (its default
// zip format): an OrderedDict or plain dict of tensors. A dict holding such a dict under
// "state_dict" or "model" (a common training-checkpoint shape) is accepted too; any other
// entries beside it are ignored. Tensors may be views (any offset/stride) and share storages.
//
// Conversions: floating tensors (float64, float16, bfloat16) become float32, the engine's only
// float type (float64 rounds, so logits match to float32 precision); integer
// num_batches_tracked becomes int64. A batchnorm's num_batches_tracked may be absent (models
// saved before PyTorch 0.4.1 lack it): it is filled with 0. Nothing else is filled in or
// dropped: every tensor of common::NetworkTensors(def) must be present with its exact shape,
// and no other.
//
// Errors: NotFound when `path` does not exist; InvalidArgument when it is not a torch.save zip
// (the message says to re-save legacy files with torch >= 1.6's default format), holds
// something other than tensors in a dict (pickled modules, TorchScript), a tensor whose
// storage record is missing or too small, or tensors that do not match `def` (missing,
// unexpected, wrong shape: messages as internal::MakeModel's, prefixed with the path);
// FailedPrecondition/InvalidArgument for an unusable device. Never returns a partial model.
absl::StatusOr<Model> ImportStateDict(const common::NetworkDef& def, const std::string& path,
                                      absl::string_view device);

}  // namespace netadapt::engine
