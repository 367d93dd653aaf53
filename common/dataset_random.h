#pragma once

#include <cstdint>
#include <random>

#include "absl/types/span.h"

namespace netadapt::common {

// Random helpers whose results are the same with every standard library. The output of
// std::mt19937_64 is fixed by the C++ standard, but std::uniform_int_distribution and
// std::shuffle are not, so data order, held-out splits and augmentation would differ
// between libstdc++ and libc++ if we used them.

// A value in [0, n), unbiased (rejection sampling). n must be > 0.
uint64_t UniformIndex(std::mt19937_64& rng, uint64_t n);

// A value in [0, 1) from the top 53 bits of one draw (std::uniform_real_distribution is not
// the same on every standard library).
double UniformUnit(std::mt19937_64& rng);

// Fisher-Yates shuffle of `values` in place, drawing with UniformIndex.
void ShuffleInPlace(absl::Span<int64_t> values, std::mt19937_64& rng);

// A seed for an independent stream `stream` derived from `seed` (SplitMix64 finaliser), so
// e.g. epoch 7's order does not depend on how many numbers epochs 0..6 drew.
uint64_t DeriveSeed(uint64_t seed, uint64_t stream);

}  // namespace netadapt::common
