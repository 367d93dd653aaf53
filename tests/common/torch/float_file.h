#pragma once
// Raw little-endian float32 files the Python reference scripts write (inputs, logits).

#include <ATen/ops/from_blob.h>

#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/status_macros.h"

namespace netadapt::engine {

// The tensor of `shape` in `path`; dies when the file is missing or has the wrong size (the
// script that wrote it and the test disagree: a bug in the test).
inline at::Tensor ReadFloats(const std::string& path, std::vector<int64_t> shape) {
  absl::StatusOr<std::string> bytes = common::ReadFile(path);
  NETADAPT_CHECK(bytes.ok());
  int64_t numel = 1;
  for (int64_t size : shape) numel *= size;
  NETADAPT_CHECK(bytes->size() == static_cast<size_t>(numel) * sizeof(float));
  return at::from_blob(bytes->data(), shape, at::TensorOptions().dtype(c10::kFloat)).clone();
}

}  // namespace netadapt::engine
