#include "common/resource_type_proto.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace netadapt::common {

absl::StatusOr<ResourceType> ResourceTypeFromProto(v1::ResourceType type) {
  switch (type) {
    case v1::RESOURCE_TYPE_UNSPECIFIED:
    case v1::RESOURCE_TYPE_LATENCY:
      return ResourceType::kLatency;
    case v1::RESOURCE_TYPE_FLOPS:
      return ResourceType::kFlops;
    case v1::RESOURCE_TYPE_WEIGHTS:
      return ResourceType::kWeights;
    default:
      // An enum value from a newer client arrives as its number.
      return absl::InvalidArgumentError(absl::StrCat("resource_type: unknown value ", type));
  }
}

}  // namespace netadapt::common
