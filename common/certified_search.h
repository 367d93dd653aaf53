#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "common/filter_search.h"
#include "common/layer_shape.h"

namespace netadapt::common {

// Layer latencies for a search whose misses are measured on the target device, where every
// measurement costs device time (10 ms to a second on a Jetson) and every call a round trip.
// Implementations: the master's LatencyOracle, the worker's model that asks the master, the
// measurement bench's counting device.
class MeasuredLatencySource {
 public:
  virtual ~MeasuredLatencySource() = default;

  // The device's latency (ms) of every shape, in order: from the table where measured, measured
  // now otherwise, all in one call. Errors: the device's (Unavailable when it cannot be
  // reached).
  virtual absl::StatusOr<std::vector<double>> Measure(const std::vector<LayerShape>& shapes) = 0;

  // A guess at every shape's latency (ms), in order, measuring nothing: the table's value where
  // measured, else an estimate from the measured entries (EstimateLatencyMs). NotFound when a
  // shape's family has no measured entry.
  virtual absl::StatusOr<std::vector<double>> Estimate(const std::vector<LayerShape>& shapes) = 0;
};

struct CertifyOptions {
  // What is assumed of the device: its latency is within +-tolerance (relative) of a function
  // that never decreases as a layer's channel counts grow. A layer with more channels than a
  // measured one then costs at least (1 - tolerance) / (1 + tolerance) times as much, which is
  // what certifies unmeasured candidates. 0 assumes exact monotonicity (cheapest: the answer and
  // the next wider candidate are measured, no more); a device whose noise exceeds the tolerance
  // may get a narrower width than a fully measured table would give. In [0, 1).
  double tolerance = 0.03;
};

// SimplifyBlock's answer (linear's: the widest candidate whose whole-network latency is below
// `target`, else the narrowest) computed with few measurements:
//  1. the network's current layers are measured (one call; table hits in a job);
//  2. every candidate is estimated from the table without the device (one call);
//  3. rounds of measurements, one call each, until the answer is certified: the predicted
//     answer and the wider candidates needed to bound everything wider than it. A measured
//     candidate m bounds every wider one j: R(j) >= untouched + rho * touched(m), rho =
//     (1 - tolerance) / (1 + tolerance). Predictions use the estimates, rescaled by the nearest
//     measured candidate's ratio of measured to estimated latency.
// Under CertifyOptions' assumption the width and resource equal those of SimplifyBlock on a
// model that knows every shape's measured latency, to the last bit (layers are summed in layer
// order). Stats: resource_computations = candidates measured, layer_lookups = shapes asked of
// Measure, rounds = calls of Measure and Estimate.
// Errors: InvalidArgument for a block out of range, a non-finite target or a tolerance outside
// [0, 1); whatever `source` returns.
absl::StatusOr<SearchResult> CertifiedSimplifyBlock(const BlockSearch& search, int block,
                                                    double target,
                                                    MeasuredLatencySource& source,
                                                    const CertifyOptions& options = {});

}  // namespace netadapt::common
