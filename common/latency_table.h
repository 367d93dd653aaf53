#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/latency_stats.h"
#include "common/layer_shape.h"
#include "netadapt/v1/latency.pb.h"

namespace netadapt::common {

// One point of a family's (in, out) table.
struct ChannelPoint {
  int in_channels = 0;
  int out_channels = 0;
  double latency_ms = 0;
};

// A latency look-up table: measured layer latencies on one device, keyed by the full layer
// shape. Each entry keeps what the profiler measured (median, p10, p90, mean, stddev, runs
// and the host's load, see LatencyStats); resource computations use the median. Not
// thread-safe; LutLatencyModel guards the table it owns.
class LatencyTable {
 public:
  explicit LatencyTable(v1::DeviceFingerprint device = {}) : device_(std::move(device)) {}

  const v1::DeviceFingerprint& device() const { return device_; }
  size_t size() const { return entries_.size(); }

  // Adds or replaces the latency of `shape`: a bare number (no statistics), or a measurement.
  void Insert(const LayerShape& shape, double latency_ms);
  void Insert(const LayerShape& shape, const LatencyStats& stats);
  // Removes `shape`'s entry; false when there was none.
  bool Erase(const LayerShape& shape);
  // The latency (the median) of `shape`; nullopt when absent.
  std::optional<double> Find(const LayerShape& shape) const;
  // Everything known of `shape`'s measurement; nullptr when absent. Valid until the next
  // Insert.
  const LatencyStats* FindStats(const LayerShape& shape) const;
  // The (in, out) points of `family`, in insertion order; empty when none.
  const std::vector<ChannelPoint>& FamilyPoints(const LayerFamily& family) const;
  // Calls `visit` for every entry, in no particular order.
  template <typename Visit>
  void ForEach(Visit visit) const {
    for (const auto& [shape, stats] : entries_) visit(shape, stats);
  }

  // Checks every entry: InvalidArgument naming "entries[i]" and its shape for an unknown op,
  // non-positive sizes ("entries[i].shape.<field>"), a non-finite or negative latency or
  // statistic, statistics without samples or out of order (p10 <= latency <= p90), and a
  // shape given twice with different values (the same shape with equal values, as
  // concatenated tables give, is kept once).
  static absl::StatusOr<LatencyTable> FromProto(const v1::LatencyTable& proto);
  // Entries sorted by shape, so equal tables serialise to equal bytes.
  v1::LatencyTable ToProto() const;

 private:
  v1::DeviceFingerprint device_;
  absl::flat_hash_map<LayerShape, LatencyStats> entries_;
  absl::flat_hash_map<LayerFamily, std::vector<ChannelPoint>> families_;
};

v1::MeasurementConditions MeasurementConditionsToProto(const MeasurementConditions& conditions);
MeasurementConditions MeasurementConditionsFromProto(const v1::MeasurementConditions& proto);

// Whether two fingerprints name the same device and runtime (every field equal): LUTs of
// different devices are never mixed.
bool SameDevice(const v1::DeviceFingerprint& a, const v1::DeviceFingerprint& b);

v1::LayerShape LayerShapeToProto(const LayerShape& shape);
// InvalidArgument naming `field_prefix`.<field> when the shape is not a valid LUT key.
absl::StatusOr<LayerShape> LayerShapeFromProto(const v1::LayerShape& proto,
                                               absl::string_view field_prefix = "shape");

enum class LatencyTableFormat {
  kBinary,  // framed protobuf: magic, length, payload, CRC-32C
  kJson,    // protobuf's JSON mapping of v1::LatencyTable, for inspection and other tools
};

// Writes atomically (see WriteFileAtomically).
absl::Status WriteLatencyTable(const LatencyTable& table, const std::string& path,
                               LatencyTableFormat format);
// Reads either format (told apart by the binary magic). A truncated or corrupted file is
// DataLoss naming the path and the problem; an invalid entry is InvalidArgument; nothing is
// returned partially.
absl::StatusOr<LatencyTable> ReadLatencyTable(const std::string& path);

// Serialised forms, for callers that move tables over the wire or test the framing.
std::string SerializeLatencyTable(const LatencyTable& table, LatencyTableFormat format);
absl::StatusOr<LatencyTable> ParseLatencyTable(absl::string_view bytes,
                                               absl::string_view source = "latency table");

}  // namespace netadapt::common
