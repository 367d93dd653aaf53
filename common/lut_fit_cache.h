#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/latency_table.h"
#include "common/lut_interpolation.h"

namespace netadapt::common {

// Fitted rbf-cubic surfaces kept on disk, so that a LUT's family is solved once (seconds to
// minutes: O(n^3)) and every later job or process interpolating the same table loads its weights
// instead (milliseconds). LutLatencyModel uses it when MissPolicy::fit_cache_dir is set: the
// master's is <state_dir>/artifacts/lut-fits, beside the LUTs it stores.
//
// One file per fit, <directory>/rbf-cubic-<key>.fit. The key is the SHA-256 of what the fit depends
// on: the method and format version, and the family's points as the fit uses them (RbfCubicPoints:
// sorted, duplicates merged), bit-exact. So a fit is found again whatever the LUT's file, format or
// insertion order, and any change to one of the family's entries is another key (the LUT's other
// families do not matter). The solver is not part of the key: every solver's weights pass the same
// residual check.
//
// Format, version 1 (integers little-endian): magic "NARBF\0\0\1" (8 bytes), the key (32 raw
// bytes), n (8), n weights (IEEE-754 binary64, 8 bytes each), the CRC-32C of everything before it
// (4).
//
// Files are replaced atomically (a unique temporary file, fsynced, renamed), so concurrent writers
// of one fit leave one whole file. Thread-safe (no state but the directory).
class LutFitCache {
 public:
  explicit LutFitCache(std::string directory);

  // The fit stored for `points` (a family's points, in any order). NotFound when none is stored;
  // DataLoss naming the file and the problem when it is damaged (truncated, CRC), of another format
  // version, or for other points: the caller fits again and Stores, which replaces it. Never
  // returns weights that fail these checks.
  absl::StatusOr<RbfCubicFit> Load(const std::vector<ChannelPoint>& points) const;

  // Writes `fit` (FitRbfCubic's result; a single-point fit needs no file and is skipped), creating
  // the directory. Errors as WriteFileAtomically.
  absl::Status Store(const RbfCubicFit& fit) const;

  // The file a fit of `points` is stored in.
  std::string PathFor(const std::vector<ChannelPoint>& points) const;

 private:
  std::string directory_;
};

}  // namespace netadapt::common
