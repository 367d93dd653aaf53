#include "common/resource_model.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace netadapt::common {

absl::string_view ResourceTypeName(ResourceType type) {
  switch (type) {
    case ResourceType::kLatency:
      return "LATENCY";
    case ResourceType::kFlops:
      return "FLOPS";
    case ResourceType::kWeights:
      return "WEIGHTS";
  }
  return "UNKNOWN";
}

absl::StatusOr<ResourceType> ParseResourceType(absl::string_view name) {
  for (ResourceType type :
       {ResourceType::kLatency, ResourceType::kFlops, ResourceType::kWeights}) {
    if (name == ResourceTypeName(type)) return type;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown resource type '", name, "' (expected LATENCY, FLOPS or WEIGHTS)"));
}

AnalyticResourceModel::AnalyticResourceModel(ResourceType type) : type_(type) {
  NETADAPT_CHECK(type == ResourceType::kFlops || type == ResourceType::kWeights);
}

absl::StatusOr<double> AnalyticResourceModel::LayerCost(const LayerShape& shape) {
  return static_cast<double>(type_ == ResourceType::kFlops ? shape.Macs() : shape.Weights());
}

std::optional<double> AnalyticResourceModel::LowerBound(const LayerShape& lo,
                                                        const LayerShape& hi) {
  (void)hi;
  // Weights and MACs grow with every channel count (for depthwise layers in = out = groups
  // grow together, and the cost is linear in the channel count), so the minimum is at `lo`.
  return static_cast<double>(type_ == ResourceType::kFlops ? lo.Macs() : lo.Weights());
}

absl::StatusOr<double> NetworkResource(const NetworkDef& network, const CostContext& context,
                                       ResourceModel& model) {
  NETADAPT_ASSIGN_OR_RETURN(std::vector<CostedLayer> layers, CostedLayers(network, context));
  double total = 0;
  for (const CostedLayer& layer : layers) {
    NETADAPT_ASSIGN_OR_RETURN(double cost, model.LayerCost(layer.shape));
    total += cost;
  }
  return total;
}

}  // namespace netadapt::common
