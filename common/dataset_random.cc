#include "common/dataset_random.h"

#include <utility>

namespace netadapt::common {

uint64_t UniformIndex(std::mt19937_64& rng, uint64_t n) {
  // Reject the lowest (2^64 mod n) values so every residue is equally likely.
  const uint64_t threshold = (0 - n) % n;
  while (true) {
    const uint64_t r = rng();
    if (r >= threshold) return r % n;
  }
}

double UniformUnit(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

void ShuffleInPlace(absl::Span<int64_t> values, std::mt19937_64& rng) {
  for (size_t i = values.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(UniformIndex(rng, i));
    std::swap(values[i - 1], values[j]);
  }
}

uint64_t DeriveSeed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace netadapt::common
