#pragma once
// Internal to common/torch: included only by its .cc files and the torch tests.

#include <c10/core/Device.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace netadapt::engine::internal {

// CheckDevice, then the c10::Device it names.
absl::StatusOr<c10::Device> ParseDevice(absl::string_view device);

}  // namespace netadapt::engine::internal
