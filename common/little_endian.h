#pragma once
// Fixed-width little-endian integers in byte strings: the framing of netadapt's file formats
// (checkpoints, LUTs), written the same on every host.

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace netadapt::common {

// Appends the low `bytes` bytes of `value`, least significant first.
inline void AppendLittleEndian(std::string* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

// The unsigned integer in the first `bytes` bytes of `in` (the caller checks the size).
inline uint64_t ReadLittleEndian(absl::string_view in, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return value;
}

}  // namespace netadapt::common
