#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
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
// shape. Not thread-safe; LutLatencyModel guards the table it owns.
class LatencyTable {
 public:
  explicit LatencyTable(v1::DeviceFingerprint device = {}) : device_(std::move(device)) {}

  const v1::DeviceFingerprint& device() const { return device_; }
  size_t size() const { return entries_.size(); }

  // Adds or replaces the latency of `shape`.
  void Insert(const LayerShape& shape, double latency_ms);
  std::optional<double> Find(const LayerShape& shape) const;
  // The (in, out) points of `family`, in insertion order; empty when none.
  const std::vector<ChannelPoint>& FamilyPoints(const LayerFamily& family) const;

  // Checks every entry: InvalidArgument naming "entries[i].shape.<field>" for an unknown op,
  // non-positive sizes or a non-finite or negative latency, and for duplicate shapes.
  static absl::StatusOr<LatencyTable> FromProto(const v1::LatencyTable& proto);
  // Entries sorted by shape, so equal tables serialise to equal bytes.
  v1::LatencyTable ToProto() const;

 private:
  v1::DeviceFingerprint device_;
  absl::flat_hash_map<LayerShape, double> entries_;
  absl::flat_hash_map<LayerFamily, std::vector<ChannelPoint>> families_;
};

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
