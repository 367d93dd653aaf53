#pragma once
// The netadapt checkpoint file format without LibTorch: the frame, the header and the tensor
// table as plain bytes. common/torch/checkpoint.{h,cc} builds Models on top of it; torch-free
// readers (the CLI's `export --format onnx|json`) use it directly.
//
// Layout, version 1 (integers little-endian):
//   magic            8 bytes  "NACKPT\0\1" (the last two bytes: the format version, big-endian)
//   header_length    u64
//   header           header_length bytes:
//     def_length     u64, then def_length bytes: the serialised netadapt.v1.NetworkDef
//     tensor_count   u32, then per tensor, in common::NetworkTensors order:
//       name_length u32, name (UTF-8), dtype u8 (0 float32, 1 int64), rank u32,
//       rank x i64 sizes, data_offset u64 (from the start of the data section),
//       data_length u64 (= elements x element size; tensors are packed back to back)
//   data_length      u64
//   data             data_length bytes: each tensor's elements, contiguous (row-major)
//   sha256           32 bytes: SHA-256 of every byte before it
// The same model gives the same bytes (the NetworkDef is serialised deterministically), so a
// checkpoint's digest (the SHA-256 of the whole file, as `sha256sum` prints it) can address it
// as content.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/network_def.h"
#include "common/network_tensors.h"

namespace netadapt::common {

// One tensor of a checkpoint: its state_dict name, element type, sizes and raw elements
// (row-major, little-endian, Elements(shape) x 4 or 8 bytes). `data` is a view: it does not
// own the bytes (see EncodeCheckpoint and DecodeCheckpoint for whose bytes they are).
struct CheckpointTensor {
  std::string name;
  TensorDtype dtype = TensorDtype::kFloat32;
  std::vector<int64_t> shape;
  absl::string_view data;
};

// A checkpoint's contents: the network and its tensors in file order.
struct CheckpointContents {
  NetworkDef def;
  std::vector<CheckpointTensor> tensors;

  // The tensor called `name`, or nullptr.
  const CheckpointTensor* Find(absl::string_view name) const;
};

// Bytes per element of `dtype`: 4 or 8.
int ElementSize(TensorDtype dtype);

// The checkpoint bytes of `def` and `tensors`, written in the order given (callers pass
// common::NetworkTensors order). Reads each tensor's `data` during the call only.
// InvalidArgument when a tensor's data length does not match its shape and dtype; the tensors
// are not checked against `def` (writers hold tensors that were).
absl::StatusOr<std::string> EncodeCheckpoint(const NetworkDef& def,
                                             const std::vector<CheckpointTensor>& tensors);

// Checks the frame of checkpoint `bytes` without parsing the header: DataLoss when truncated,
// carrying trailing bytes or when the trailing SHA-256 does not match (corrupted),
// InvalidArgument when the magic is not ours or names a format version this build does not
// read. `source` (e.g. the path) prefixes every message.
absl::Status CheckCheckpointFrame(absl::string_view bytes, absl::string_view source);

// The contents of checkpoint `bytes`. Checks, in order: the frame (as CheckCheckpointFrame),
// the header (DataLoss when malformed: lengths out of bounds, unknown dtype codes, repeated
// names, data not packed back to back) and the NetworkDef (InvalidArgument when it does not
// validate). The tensors are NOT checked against the NetworkDef (see CheckTensorsMatch).
// The returned tensors' `data` point into `bytes`, which must outlive them.
absl::StatusOr<CheckpointContents> DecodeCheckpoint(absl::string_view bytes,
                                                    absl::string_view source = "checkpoint");

// Checks that `tensors` are exactly common::NetworkTensors(def): every one present with its
// shape and dtype, and no other. InvalidArgument names the tensor and both shapes (or the
// missing / unexpected names), prefixed by `source`.
absl::Status CheckTensorsMatch(const NetworkDef& def,
                               const std::vector<CheckpointTensor>& tensors,
                               absl::string_view source);

}  // namespace netadapt::common
