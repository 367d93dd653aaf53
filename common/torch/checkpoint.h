#pragma once
// Checkpoints: a Model (its NetworkDef plus every named tensor) in one self-describing,
// checksummed file. Torch-free header.
//
// The file layout is documented, read and written torch-free in common/checkpoint_format.h
// (the CLI reads checkpoints without LibTorch).
// The same model gives the same bytes (the NetworkDef is serialised deterministically), so a
// checkpoint's digest (CheckpointDigest: the SHA-256 of the whole file, as `sha256sum` prints
// it) can address it as content.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/torch/model.h"

namespace netadapt::engine {

// The checkpoint bytes of `model` (its tensors are copied to the CPU first). Internal if
// LibTorch fails.
absl::StatusOr<std::string> SerializeCheckpoint(const Model& model);

// The model in `bytes`, with its tensors on `device`. Checks, in order: the frame (DataLoss
// when truncated or when the trailing SHA-256 does not match: corrupted), the magic
// (InvalidArgument: not a checkpoint, or a format version this build does not read), the
// header (DataLoss when malformed), the NetworkDef (InvalidArgument) and every tensor's name,
// shape and dtype against it (InvalidArgument naming the tensor). `source` (e.g. the path)
// prefixes every message. Never returns a partial model.
absl::StatusOr<Model> ParseCheckpoint(absl::string_view bytes, absl::string_view device,
                                      absl::string_view source = "checkpoint");

// Writes SerializeCheckpoint(model) to `path` atomically (common::WriteFileAtomically) and
// returns the file's digest (CheckpointDigest). Unavailable on I/O errors.
absl::StatusOr<std::string> SaveCheckpoint(const Model& model, const std::string& path);

// ParseCheckpoint of the file at `path` (NotFound when it does not exist).
absl::StatusOr<Model> LoadCheckpoint(const std::string& path, absl::string_view device);

// The digest that names checkpoint `bytes`: 64 lowercase hex digits of the SHA-256 of all the
// bytes (trailer included). Checks the frame and trailing checksum first (DataLoss, as
// ParseCheckpoint) without building tensors, so it is cheap and needs no device.
absl::StatusOr<std::string> CheckpointDigest(absl::string_view bytes);

// CheckpointDigest of the file at `path` (NotFound when it does not exist).
absl::StatusOr<std::string> CheckpointSha256(const std::string& path);

}  // namespace netadapt::engine
