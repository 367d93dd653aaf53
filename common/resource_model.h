#pragma once

#include <optional>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "common/layer_shape.h"
#include "common/network_def.h"

namespace netadapt::common {

// What NetAdapt budgets (the original implementation's resource_type).
enum class ResourceType { kLatency, kFlops, kWeights };
absl::string_view ResourceTypeName(ResourceType type);  // "LATENCY", "FLOPS", "WEIGHTS"
absl::StatusOr<ResourceType> ParseResourceType(absl::string_view name);

// The cost of one conv2d or linear layer; a network's resource is the sum over its layers.
// Implementations are thread-safe.
class ResourceModel {
 public:
  virtual ~ResourceModel() = default;

  // The layer's cost: milliseconds for latency, MACs for FLOPS, weights for WEIGHTS.
  // Errors: NotFound when a latency is missing and the model cannot fill it; Unavailable when
  // the source that fills misses (a profiler) cannot be reached.
  virtual absl::StatusOr<double> LayerCost(const LayerShape& shape) = 0;

  // A lower bound of LayerCost over every shape equal to `lo` except for its channel counts,
  // which lie between those of `lo` and `hi` (lo.in <= in <= hi.in, lo.out <= out <= hi.out;
  // groups follow the channels for depthwise layers). nullopt when the model cannot certify a
  // bound cheaply: callers must then evaluate the shapes. The exact filter-count search uses
  // this to skip ranges of candidates without evaluating them.
  virtual std::optional<double> LowerBound(const LayerShape& lo, const LayerShape& hi) {
    (void)lo;
    (void)hi;
    return std::nullopt;
  }
};

// MACs (FLOPS) or weights, computed from the shape: exact, monotone in every channel count.
class AnalyticResourceModel final : public ResourceModel {
 public:
  // `type` must be kFlops or kWeights.
  explicit AnalyticResourceModel(ResourceType type);
  absl::StatusOr<double> LayerCost(const LayerShape& shape) override;
  std::optional<double> LowerBound(const LayerShape& lo, const LayerShape& hi) override;

 private:
  ResourceType type_;
};

// Sum of the costs of the network's conv2d and linear layers, in layer order.
absl::StatusOr<double> NetworkResource(const NetworkDef& network, const CostContext& context,
                                       ResourceModel& model);

}  // namespace netadapt::common
