#pragma once

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/time/time.h"

namespace netadapt::common {

// Full-jitter exponential backoff: the wait before retry `retry` (0-based) is uniform in
// [0, min(cap, initial * multiplier^retry)], so that callers who failed together (the tasks
// of a dead worker, the lookups of a down profiler) do not all come back at the same instant.
inline absl::Duration FullJitterBackoff(absl::Duration initial, absl::Duration cap,
                                        double multiplier, int retry, std::mt19937_64& random) {
  // The ceiling in doubles, the exponent bounded: no overflow for a large retry count.
  const double ceiling_s =
      std::min(absl::ToDoubleSeconds(cap),
               absl::ToDoubleSeconds(initial) *
                   std::pow(std::max(1.0, multiplier), std::min(std::max(retry, 0), 64)));
  std::uniform_real_distribution<double> uniform(0.0, std::max(0.0, ceiling_s));
  return absl::Seconds(uniform(random));
}

}  // namespace netadapt::common
