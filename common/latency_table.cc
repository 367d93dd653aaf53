#include "common/latency_table.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/type_resolver_util.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/little_endian.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

// "NALUT" + format version 1. Followed by the payload length (u64 LE), the payload (a
// serialised v1::LatencyTable) and its CRC-32C (u32 LE).
constexpr char kMagic[8] = {'N', 'A', 'L', 'U', 'T', '\0', '\0', '\1'};
constexpr size_t kHeaderSize = sizeof(kMagic) + 8;
constexpr size_t kTrailerSize = 4;

auto ShapeTie(const LayerShape& s) {
  return std::tie(s.op, s.dtype, s.batch, s.input_h, s.input_w, s.kernel.h, s.kernel.w,
                  s.stride.h, s.stride.w, s.padding.h, s.padding.w, s.groups, s.bias,
                  s.in_channels, s.out_channels);
}

// Prefixes an entry error with the file (or other source) it came from.
absl::StatusOr<LatencyTable> WithSource(absl::StatusOr<LatencyTable> table,
                                        absl::string_view source) {
  if (table.ok()) return table;
  return absl::Status(table.status().code(), absl::StrCat(source, ": ", table.status().message()));
}

absl::StatusOr<LatencyTable> ParseBinary(absl::string_view bytes, absl::string_view source) {
  if (bytes.size() < kHeaderSize + kTrailerSize) {
    return absl::DataLossError(absl::StrCat(source, ": truncated: ", bytes.size(),
                                            " bytes is shorter than the frame"));
  }
  const uint64_t length = ReadLittleEndian(bytes.substr(sizeof(kMagic)), 8);
  const uint64_t available = bytes.size() - kHeaderSize - kTrailerSize;
  if (length != available) {
    return absl::DataLossError(absl::StrCat(source, ": ",
                                            length > available ? "truncated" : "trailing bytes",
                                            ": the header announces ", length,
                                            " payload bytes, the file holds ", available));
  }
  const absl::string_view payload = bytes.substr(kHeaderSize, length);
  const uint32_t stored = static_cast<uint32_t>(ReadLittleEndian(bytes.substr(kHeaderSize + length), 4));
  if (Crc32c(payload) != stored) {
    return absl::DataLossError(absl::StrCat(source, ": checksum mismatch: the file is corrupted"));
  }
  v1::LatencyTable proto;
  if (!proto.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return absl::DataLossError(absl::StrCat(source, ": payload is not a LatencyTable"));
  }
  return WithSource(LatencyTable::FromProto(proto), source);
}

absl::StatusOr<LatencyTable> ParseJson(absl::string_view text, absl::string_view source) {
  v1::LatencyTable proto;
  google::protobuf::util::JsonParseOptions options;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(text.data(), text.size()), &proto, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": not a valid JSON LatencyTable: ", std::string(status.message())));
  }
  return WithSource(LatencyTable::FromProto(proto), source);
}

}  // namespace

void LatencyTable::Insert(const LayerShape& shape, double latency_ms) {
  Insert(shape, LatencyStats::Bare(latency_ms));
}

void LatencyTable::Insert(const LayerShape& shape, const LatencyStats& stats) {
  const double latency_ms = stats.median_ms;
  auto [it, inserted] = entries_.insert_or_assign(shape, stats);
  std::vector<ChannelPoint>& points = families_[LayerFamily::Of(shape)];
  if (inserted) {
    points.push_back({shape.in_channels, shape.out_channels, latency_ms});
    return;
  }
  for (ChannelPoint& point : points) {
    if (point.in_channels == shape.in_channels && point.out_channels == shape.out_channels) {
      point.latency_ms = latency_ms;
    }
  }
}

bool LatencyTable::Erase(const LayerShape& shape) {
  if (entries_.erase(shape) == 0) return false;
  const LayerFamily family = LayerFamily::Of(shape);
  std::vector<ChannelPoint>& points = families_[family];
  points.erase(std::remove_if(points.begin(), points.end(),
                              [&](const ChannelPoint& p) {
                                return p.in_channels == shape.in_channels &&
                                       p.out_channels == shape.out_channels;
                              }),
               points.end());
  if (points.empty()) families_.erase(family);
  return true;
}

std::optional<double> LatencyTable::Find(const LayerShape& shape) const {
  auto it = entries_.find(shape);
  if (it == entries_.end()) return std::nullopt;
  return it->second.median_ms;
}

const LatencyStats* LatencyTable::FindStats(const LayerShape& shape) const {
  auto it = entries_.find(shape);
  return it == entries_.end() ? nullptr : &it->second;
}

const std::vector<ChannelPoint>& LatencyTable::FamilyPoints(const LayerFamily& family) const {
  static const std::vector<ChannelPoint>* const kEmpty = new std::vector<ChannelPoint>();
  auto it = families_.find(family);
  return it == families_.end() ? *kEmpty : it->second;
}

v1::LayerShape LayerShapeToProto(const LayerShape& s) {
  v1::LayerShape proto;
  proto.set_op(std::string(LayerOpName(s.op)));
  proto.set_in_channels(s.in_channels);
  proto.set_out_channels(s.out_channels);
  proto.set_kernel_h(s.kernel.h);
  proto.set_kernel_w(s.kernel.w);
  proto.set_stride_h(s.stride.h);
  proto.set_stride_w(s.stride.w);
  proto.set_padding_h(s.padding.h);
  proto.set_padding_w(s.padding.w);
  proto.set_groups(s.groups);
  proto.set_input_h(s.input_h);
  proto.set_input_w(s.input_w);
  proto.set_batch(s.batch);
  proto.set_dtype(s.dtype);
  proto.set_bias(s.bias);
  return proto;
}

absl::StatusOr<LayerShape> LayerShapeFromProto(const v1::LayerShape& p,
                                               absl::string_view field_prefix) {
  auto error = [&](absl::string_view field, absl::string_view problem) {
    return absl::InvalidArgumentError(absl::StrCat(field_prefix, ".", field, " ", problem));
  };
  LayerShape s;
  absl::StatusOr<LayerOp> op = ParseLayerOp(p.op());
  if (!op.ok()) return error("op", op.status().message());
  if (*op != LayerOp::kConv2d && *op != LayerOp::kLinear) {
    return error("op", absl::StrCat("is '", p.op(), "'; a LUT holds conv2d and linear layers"));
  }
  s.op = *op;
  s.in_channels = p.in_channels();
  s.out_channels = p.out_channels();
  s.kernel = {p.kernel_h(), p.kernel_w()};
  s.stride = {p.stride_h(), p.stride_w()};
  s.padding = {p.padding_h(), p.padding_w()};
  s.groups = p.groups();
  s.input_h = p.input_h();
  s.input_w = p.input_w();
  s.batch = p.batch();
  s.dtype = p.dtype().empty() ? "float32" : p.dtype();
  s.bias = p.bias();
  const std::pair<absl::string_view, int> positive[] = {
      {"in_channels", s.in_channels}, {"out_channels", s.out_channels}, {"kernel_h", s.kernel.h},
      {"kernel_w", s.kernel.w},       {"stride_h", s.stride.h},         {"stride_w", s.stride.w},
      {"groups", s.groups},           {"input_h", s.input_h},           {"input_w", s.input_w},
      {"batch", s.batch}};
  for (const auto& [field, value] : positive) {
    if (value <= 0) return error(field, absl::StrCat("must be positive, got ", value));
  }
  if (s.padding.h < 0 || s.padding.w < 0) return error("padding", "must not be negative");
  if (s.in_channels % s.groups != 0 || s.out_channels % s.groups != 0) {
    return error("groups", "must divide in_channels and out_channels");
  }
  if (s.op == LayerOp::kConv2d) {
    const Pair out = s.Output();
    if (out.h <= 0 || out.w <= 0) return error("input_h", "is smaller than the kernel");
  } else if (s.kernel != Pair{1, 1} || s.stride != Pair{1, 1} || s.padding != Pair{0, 0} ||
             s.groups != 1 || s.input_h != 1 || s.input_w != 1) {
    return error("op", "linear layers have kernel, stride, groups and input 1, padding 0");
  }
  return s;
}

v1::MeasurementConditions MeasurementConditionsToProto(const MeasurementConditions& c) {
  v1::MeasurementConditions proto;
  proto.set_load_avg_1m(c.load_avg_1m);
  proto.set_runnable_tasks(c.runnable_tasks);
  proto.set_cpus_online(c.cpus_online);
  proto.set_cpus_allowed(c.cpus_allowed);
  proto.set_involuntary_switches(c.involuntary_switches);
  return proto;
}

MeasurementConditions MeasurementConditionsFromProto(const v1::MeasurementConditions& proto) {
  MeasurementConditions c;
  c.load_avg_1m = proto.load_avg_1m();
  c.runnable_tasks = proto.runnable_tasks();
  c.cpus_online = proto.cpus_online();
  c.cpus_allowed = proto.cpus_allowed();
  c.involuntary_switches = proto.involuntary_switches();
  return c;
}

namespace {

// The statistics of `entry`, or InvalidArgument naming the field after `prefix` (e.g.
// "entries[3] (conv2d 16->32 ...)").
absl::StatusOr<LatencyStats> EntryStats(const v1::LatencyEntry& entry, absl::string_view prefix) {
  const std::pair<absl::string_view, double> values[] = {
      {"latency_ms", entry.latency_ms()}, {"p10_ms", entry.p10_ms()},
      {"p90_ms", entry.p90_ms()},         {"mean_ms", entry.mean_ms()},
      {"stddev_ms", entry.stddev_ms()}};
  for (const auto& [field, value] : values) {
    if (!std::isfinite(value) || value < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          prefix, ": ", field, " must be a finite, non-negative number, got ", value));
    }
  }
  LatencyStats stats;
  stats.median_ms = entry.latency_ms();
  stats.p10_ms = entry.p10_ms();
  stats.p90_ms = entry.p90_ms();
  stats.mean_ms = entry.mean_ms();
  stats.stddev_ms = entry.stddev_ms();
  stats.samples = entry.samples();
  if (entry.samples() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, ": samples must not be negative, got ", entry.samples()));
  }
  if (entry.samples() == 0) {
    // A bare number: statistics without the runs they came from would be made up.
    for (const auto& [field, value] : values) {
      if (field != "latency_ms" && value != 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(prefix, ": ", field, " is ", value, " but samples is 0"));
      }
    }
  } else if (!(stats.p10_ms <= stats.median_ms && stats.median_ms <= stats.p90_ms)) {
    return absl::InvalidArgumentError(absl::StrCat(
        prefix, ": p10_ms <= latency_ms <= p90_ms does not hold: ", stats.p10_ms, ", ",
        stats.median_ms, ", ", stats.p90_ms));
  }
  if (entry.has_conditions()) {
    stats.conditions = MeasurementConditionsFromProto(entry.conditions());
    const MeasurementConditions& c = *stats.conditions;
    if (!std::isfinite(c.load_avg_1m) || c.load_avg_1m < 0 || c.runnable_tasks < 0 ||
        c.cpus_online < 0 || c.cpus_allowed < 0 || c.involuntary_switches < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(prefix, ": conditions must be finite and non-negative"));
    }
  }
  return stats;
}

}  // namespace

absl::StatusOr<LatencyTable> LatencyTable::FromProto(const v1::LatencyTable& proto) {
  LatencyTable table(proto.device());
  absl::flat_hash_map<LayerShape, int> first_index;
  for (int i = 0; i < proto.entries_size(); ++i) {
    const v1::LatencyEntry& entry = proto.entries(i);
    const std::string index = absl::StrCat("entries[", i, "]");
    if (!entry.has_shape()) {
      return absl::InvalidArgumentError(absl::StrCat(index, ".shape is missing"));
    }
    NETADAPT_ASSIGN_OR_RETURN(LayerShape shape,
                              LayerShapeFromProto(entry.shape(), index + ".shape"));
    const std::string prefix = absl::StrCat(index, " (", shape.DebugString(), ")");
    NETADAPT_ASSIGN_OR_RETURN(LatencyStats stats, EntryStats(entry, prefix));
    auto [earlier, first] = first_index.try_emplace(shape, i);
    if (!first) {
      if (*table.FindStats(shape) == stats) continue;  // the same measurement twice
      return absl::InvalidArgumentError(absl::StrCat(
          prefix, ": the shape is already entries[", earlier->second,
          "] with a different latency (", table.FindStats(shape)->median_ms, " vs ",
          stats.median_ms, " ms)"));
    }
    table.Insert(shape, stats);
  }
  return table;
}

v1::LatencyTable LatencyTable::ToProto() const {
  std::vector<std::pair<LayerShape, LatencyStats>> sorted(entries_.begin(), entries_.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return ShapeTie(a.first) < ShapeTie(b.first);
  });
  v1::LatencyTable proto;
  *proto.mutable_device() = device_;
  for (const auto& [shape, stats] : sorted) {
    v1::LatencyEntry* entry = proto.add_entries();
    *entry->mutable_shape() = LayerShapeToProto(shape);
    entry->set_latency_ms(stats.median_ms);
    entry->set_p10_ms(stats.p10_ms);
    entry->set_p90_ms(stats.p90_ms);
    entry->set_samples(stats.samples);
    entry->set_mean_ms(stats.mean_ms);
    entry->set_stddev_ms(stats.stddev_ms);
    if (stats.conditions) {
      *entry->mutable_conditions() = MeasurementConditionsToProto(*stats.conditions);
    }
  }
  return proto;
}

std::string SerializeLatencyTable(const LatencyTable& table, LatencyTableFormat format) {
  const v1::LatencyTable proto = table.ToProto();
  // Deterministic: map fields (the fingerprint's) are written in key order, so equal tables
  // give equal bytes. Plain SerializeToString and MessageToJsonString do not promise that.
  std::string payload;
  {
    google::protobuf::io::StringOutputStream stream(&payload);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    proto.SerializeToCodedStream(&coded);
  }
  if (format == LatencyTableFormat::kJson) {
    static google::protobuf::util::TypeResolver* const resolver =
        google::protobuf::util::NewTypeResolverForDescriptorPool(
            "type.googleapis.com", google::protobuf::DescriptorPool::generated_pool());
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.preserve_proto_field_names = true;
    // Cannot fail: the payload was just serialised from this very message type.
    (void)google::protobuf::util::BinaryToJsonString(
        resolver, "type.googleapis.com/" + v1::LatencyTable::descriptor()->full_name(), payload,
        &json, options);
    return json;
  }
  std::string out(kMagic, sizeof(kMagic));
  AppendLittleEndian(&out, payload.size(), 8);
  out += payload;
  AppendLittleEndian(&out, Crc32c(payload), 4);
  return out;
}

absl::StatusOr<LatencyTable> ParseLatencyTable(absl::string_view bytes, absl::string_view source) {
  if (bytes.size() >= 5 && std::memcmp(bytes.data(), kMagic, 5) == 0) {
    if (bytes.size() < sizeof(kMagic) ||
        std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
      return absl::DataLossError(
          absl::StrCat(source, ": unsupported LUT format version or truncated header"));
    }
    return ParseBinary(bytes, source);
  }
  return ParseJson(bytes, source);
}

absl::Status WriteLatencyTable(const LatencyTable& table, const std::string& path,
                               LatencyTableFormat format) {
  return WriteFileAtomically(path, SerializeLatencyTable(table, format));
}

bool SameDevice(const v1::DeviceFingerprint& a, const v1::DeviceFingerprint& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

absl::StatusOr<LatencyTable> ReadLatencyTable(const std::string& path) {
  NETADAPT_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  return ParseLatencyTable(bytes, path);
}

}  // namespace netadapt::common
