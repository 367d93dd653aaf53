#pragma once

#include "absl/status/statusor.h"
#include "common/resource_model.h"
#include "netadapt/v1/resources.pb.h"

namespace netadapt::common {

// The resource a job's budget counts, from its wire enum; the one mapping the master (the job's
// resource model) and the worker (a Simplify task's) share. RESOURCE_TYPE_UNSPECIFIED is
// LATENCY, the proto's default. kFlops and kWeights have an AnalyticResourceModel; kLatency's
// model (a LUT, the master's table) is the caller's. Returns InvalidArgument for a value this
// build does not know.
absl::StatusOr<ResourceType> ResourceTypeFromProto(v1::ResourceType type);

}  // namespace netadapt::common
