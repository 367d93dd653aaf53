#pragma once

#include "absl/status/statusor.h"
#include "common/latency_table.h"
#include "common/layer_shape.h"

namespace netadapt::common {

// A guess at a layer's latency from what a measured table already holds, without the device:
// the table's entry when there is one; otherwise linear in MACs between the family's measured
// entries with the nearest MACs below and above the shape's (ties: nearest in channels), or
// proportional to MACs from the nearest one when the shape lies beyond all of them. Good enough
// to point a search at the candidates worth measuring (CertifiedSimplifyBlock), never used as a
// latency: a search certifies its answer with measurements. O(entries of the family).
// NotFound when the table has no entry of the shape's family.
absl::StatusOr<double> EstimateLatencyMs(const LatencyTable& table, const LayerShape& shape);

}  // namespace netadapt::common
