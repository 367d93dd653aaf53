#pragma once

#include <cstdint>
#include "absl/strings/string_view.h"

namespace netadapt::common {

// CRC-32C (Castagnoli) of `data`, continuing from `crc` (0 to start). Used to frame files
// (LUTs now, the master's journal later) so truncation and corruption are detected.
uint32_t Crc32c(absl::string_view data, uint32_t crc = 0);

}  // namespace netadapt::common
