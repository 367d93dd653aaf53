#include "common/latency_table.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/latency_table_summary.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;
using ::testing::StartsWith;

// Size of the binary frame's header (8-byte magic, 8-byte length) and trailer (CRC-32C).
constexpr size_t kHeaderSize = 16;
constexpr size_t kTrailerSize = 4;

LayerShape Conv(int in, int out, int input = 28) {
  LayerShape s;
  s.op = LayerOp::kConv2d;
  s.in_channels = in;
  s.out_channels = out;
  s.kernel = {3, 3};
  s.padding = {1, 1};
  s.input_h = input;
  s.input_w = input;
  return s;
}

LayerShape Depthwise(int channels) {
  LayerShape s = Conv(channels, channels);
  s.groups = channels;
  return s;
}

LayerShape Linear(int in, int out) {
  LayerShape s;
  s.op = LayerOp::kLinear;
  s.in_channels = in;
  s.out_channels = out;
  return s;
}

v1::DeviceFingerprint Device() {
  v1::DeviceFingerprint device;
  device.set_device_name("NVIDIA Jetson AGX Xavier");
  (*device.mutable_runtime_versions())["libtorch"] = "1.13.1";
  device.set_power_mode("MAXN");
  return device;
}

// A table with a latency for each kind of key: conv, depthwise, linear, and non-default
// stride, bias, batch and dtype.
std::vector<std::pair<LayerShape, double>> Entries() {
  LayerShape strided = Conv(64, 128, 56);
  strided.stride = {2, 1};
  strided.bias = false;
  LayerShape half = Linear(9216, 4096);
  half.dtype = "float16";
  half.batch = 8;
  return {{Conv(16, 32), 0.25},  {Conv(32, 64), 0.5}, {Depthwise(32), 0.125},
          {strided, 1.75},       {half, 3.0},         {Linear(4096, 10), 0.0}};
}

LatencyTable MakeTable(const std::vector<std::pair<LayerShape, double>>& entries) {
  LatencyTable table(Device());
  for (const auto& [shape, latency] : entries) table.Insert(shape, latency);
  return table;
}

// `actual` holds exactly the entries and device of `expected`.
void ExpectSameTable(const LatencyTable& expected, const LatencyTable& actual) {
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(expected.device(),
                                                                 actual.device()));
  EXPECT_EQ(actual.size(), expected.size());
  for (const auto& [shape, latency] : Entries()) {
    EXPECT_THAT(actual.Find(shape), Optional(latency)) << shape.DebugString();
  }
}

// A fresh directory per test: tests of this binary run as separate processes in parallel.
class LatencyTableFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("latency_table_test_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(std::filesystem::create_directories(dir_));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& file) const { return (dir_ / file).string(); }

  std::filesystem::path dir_;
};

TEST(LatencyTableTest, InsertFindAndReplace) {
  LatencyTable table;
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.Find(Conv(16, 32)), std::nullopt);

  table.Insert(Conv(16, 32), 1.5);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_THAT(table.Find(Conv(16, 32)), Optional(1.5));
  // Any other field makes a different key.
  EXPECT_EQ(table.Find(Conv(16, 64)), std::nullopt);
  EXPECT_EQ(table.Find(Conv(16, 32, /*input=*/14)), std::nullopt);
  LayerShape other_batch = Conv(16, 32);
  other_batch.batch = 2;
  EXPECT_EQ(table.Find(other_batch), std::nullopt);

  // Inserting the same shape again replaces its latency, in the family points too.
  table.Insert(Conv(16, 32), 2.0);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_THAT(table.Find(Conv(16, 32)), Optional(2.0));
  const std::vector<ChannelPoint>& points = table.FamilyPoints(LayerFamily::Of(Conv(1, 1)));
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].in_channels, 16);
  EXPECT_EQ(points[0].out_channels, 32);
  EXPECT_EQ(points[0].latency_ms, 2.0);
}

// Shapes that differ only in channels share a family; their points come in insertion order.
TEST(LatencyTableTest, EraseRemovesTheEntryAndItsFamilyPoint) {
  LatencyTable table = MakeTable(Entries());
  const size_t before = table.size();
  const LayerFamily family = LayerFamily::Of(Conv(16, 32));
  ASSERT_EQ(table.FamilyPoints(family).size(), 2u);  // Conv(16, 32) and Conv(32, 64)
  EXPECT_TRUE(table.Erase(Conv(16, 32)));
  EXPECT_FALSE(table.Erase(Conv(16, 32)));
  EXPECT_EQ(table.size(), before - 1);
  EXPECT_EQ(table.Find(Conv(16, 32)), std::nullopt);
  ASSERT_EQ(table.FamilyPoints(family).size(), 1u);
  EXPECT_EQ(table.FamilyPoints(family)[0].in_channels, 32);
  EXPECT_TRUE(table.Erase(Conv(32, 64)));
  EXPECT_TRUE(table.FamilyPoints(family).empty());
  EXPECT_EQ(table.ToProto().entries_size(), static_cast<int>(before) - 2);
}

TEST(LatencyTableTest, FamilyPointsGroupShapesDifferingOnlyInChannels) {
  LatencyTable table;
  table.Insert(Conv(32, 64), 0.5);
  table.Insert(Conv(16, 32), 0.25);
  table.Insert(Conv(16, 32, /*input=*/14), 0.1);  // another input size: another family
  table.Insert(Linear(16, 32), 0.01);              // another op: another family

  const LayerFamily family = LayerFamily::Of(Conv(8, 8));
  EXPECT_FALSE(family.depthwise());
  EXPECT_TRUE(LayerFamily::Of(Conv(32, 64)) == family);
  const std::vector<ChannelPoint>& points = table.FamilyPoints(family);
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].in_channels, 32);
  EXPECT_EQ(points[0].out_channels, 64);
  EXPECT_EQ(points[0].latency_ms, 0.5);
  EXPECT_EQ(points[1].in_channels, 16);
  EXPECT_EQ(points[1].out_channels, 32);
  EXPECT_EQ(points[1].latency_ms, 0.25);

  EXPECT_EQ(table.FamilyPoints(LayerFamily::Of(Conv(8, 8, 14))).size(), 1u);
  EXPECT_EQ(table.FamilyPoints(LayerFamily::Of(Linear(1, 1))).size(), 1u);
  EXPECT_TRUE(table.FamilyPoints(LayerFamily::Of(Conv(8, 8, 7))).empty());
}

// Depthwise convs (groups = in = out) form one family across channel counts, separate from
// ordinary convs of the same kernel and input.
TEST(LatencyTableTest, DepthwiseShapesFormTheirOwnFamily) {
  LatencyTable table;
  table.Insert(Depthwise(32), 0.1);
  table.Insert(Depthwise(64), 0.2);
  table.Insert(Conv(32, 32), 0.9);

  const LayerFamily depthwise = LayerFamily::Of(Depthwise(16));
  EXPECT_TRUE(depthwise.depthwise());
  EXPECT_TRUE(LayerFamily::Of(Depthwise(64)) == depthwise);
  EXPECT_FALSE(LayerFamily::Of(Conv(32, 32)) == depthwise);

  const std::vector<ChannelPoint>& points = table.FamilyPoints(depthwise);
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].in_channels, 32);
  EXPECT_EQ(points[0].out_channels, 32);
  EXPECT_EQ(points[1].in_channels, 64);
  EXPECT_EQ(points[1].latency_ms, 0.2);
  EXPECT_EQ(table.FamilyPoints(LayerFamily::Of(Conv(1, 1))).size(), 1u);
}

TEST(LatencyTableTest, BinaryRoundTrip) {
  const LatencyTable table = MakeTable(Entries());
  const std::string bytes = SerializeLatencyTable(table, LatencyTableFormat::kBinary);
  EXPECT_THAT(bytes, StartsWith("NALUT"));
  NETADAPT_ASSERT_OK_AND_ASSIGN(LatencyTable parsed, ParseLatencyTable(bytes));
  ExpectSameTable(table, parsed);
  // The parsed table rebuilt its families.
  EXPECT_EQ(parsed.FamilyPoints(LayerFamily::Of(Conv(1, 1))).size(), 2u);
}

TEST(LatencyTableTest, JsonRoundTrip) {
  const LatencyTable table = MakeTable(Entries());
  const std::string json = SerializeLatencyTable(table, LatencyTableFormat::kJson);
  EXPECT_THAT(json, AllOf(StartsWith("{"), HasSubstr("\"device_name\""),
                          HasSubstr("\"in_channels\"")));
  NETADAPT_ASSERT_OK_AND_ASSIGN(LatencyTable parsed, ParseLatencyTable(json));
  ExpectSameTable(table, parsed);
}

TEST(LatencyTableTest, EmptyTableRoundTrips) {
  const LatencyTable empty(Device());
  for (LatencyTableFormat format : {LatencyTableFormat::kBinary, LatencyTableFormat::kJson}) {
    NETADAPT_ASSERT_OK_AND_ASSIGN(LatencyTable parsed,
                                  ParseLatencyTable(SerializeLatencyTable(empty, format)));
    EXPECT_EQ(parsed.size(), 0u);
    EXPECT_EQ(parsed.device().device_name(), "NVIDIA Jetson AGX Xavier");
  }
}

// Equal tables give equal bytes whatever order their entries were inserted in.
TEST(LatencyTableTest, SerialisationIsDeterministic) {
  std::vector<std::pair<LayerShape, double>> entries = Entries();
  const LatencyTable forward = MakeTable(entries);
  std::vector<std::pair<LayerShape, double>> reversed(entries.rbegin(), entries.rend());
  const LatencyTable backward = MakeTable(reversed);
  for (LatencyTableFormat format : {LatencyTableFormat::kBinary, LatencyTableFormat::kJson}) {
    EXPECT_EQ(SerializeLatencyTable(forward, format), SerializeLatencyTable(backward, format));
  }
}

// Fingerprint maps with many keys, inserted in opposite orders, still give equal bytes (map
// order in protobuf's default serialisation varies from run to run).
TEST(LatencyTableTest, SerialisationIsDeterministicWithManyFingerprintKeys) {
  v1::DeviceFingerprint up = Device();
  v1::DeviceFingerprint down = Device();
  for (int i = 0; i < 10; ++i) {
    (*up.mutable_extra())[absl::StrCat("k", i)] = absl::StrCat(i);
    (*down.mutable_extra())[absl::StrCat("k", 9 - i)] = absl::StrCat(9 - i);
  }
  LatencyTable a(up);
  LatencyTable b(down);
  for (const auto& [shape, latency] : Entries()) {
    a.Insert(shape, latency);
    b.Insert(shape, latency);
  }
  for (int trial = 0; trial < 20; ++trial) {
    for (LatencyTableFormat format : {LatencyTableFormat::kBinary, LatencyTableFormat::kJson}) {
      EXPECT_EQ(SerializeLatencyTable(a, format), SerializeLatencyTable(b, format));
    }
  }
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      LatencyTable parsed,
      ParseLatencyTable(SerializeLatencyTable(a, LatencyTableFormat::kJson)));
  EXPECT_EQ(parsed.device().extra().size(), 10u);
}

// Every prefix of a binary table is rejected; none is mistaken for a (smaller) table.
TEST(LatencyTableTest, EveryTruncationOfBinaryFails) {
  const std::string bytes =
      SerializeLatencyTable(MakeTable(Entries()), LatencyTableFormat::kBinary);
  ASSERT_GT(bytes.size(), kHeaderSize + kTrailerSize);
  for (size_t length = 0; length < bytes.size(); ++length) {
    absl::StatusOr<LatencyTable> parsed = ParseLatencyTable(bytes.substr(0, length));
    if (length >= 5) {
      // Starts with the magic: a truncated frame.
      EXPECT_THAT(parsed, StatusIs(absl::StatusCode::kDataLoss)) << "length " << length;
    } else {
      // Too short to recognise the magic: read as (invalid) JSON.
      EXPECT_THAT(parsed, AnyOf(StatusIs(absl::StatusCode::kDataLoss),
                                StatusIs(absl::StatusCode::kInvalidArgument)))
          << "length " << length;
    }
  }
  // Extra bytes after the frame are rejected too.
  EXPECT_THAT(ParseLatencyTable(bytes + "x"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("trailing bytes")));
}

// A flipped byte in the payload or its checksum is caught by the CRC.
TEST(LatencyTableTest, FlippedPayloadByteFailsChecksum) {
  const std::string bytes =
      SerializeLatencyTable(MakeTable(Entries()), LatencyTableFormat::kBinary);
  for (size_t i = kHeaderSize; i < bytes.size(); ++i) {
    std::string corrupted = bytes;
    corrupted[i] = static_cast<char>(corrupted[i] ^ 0x01);
    EXPECT_THAT(ParseLatencyTable(corrupted, "lut.bin"),
                StatusIs(absl::StatusCode::kDataLoss,
                         AllOf(HasSubstr("lut.bin"), HasSubstr("checksum"))))
        << "byte " << i;
  }
}

// No single flipped byte anywhere in the file yields a table.
TEST(LatencyTableTest, FlippedHeaderByteFails) {
  const std::string bytes =
      SerializeLatencyTable(MakeTable(Entries()), LatencyTableFormat::kBinary);
  for (size_t i = 0; i < kHeaderSize; ++i) {
    std::string corrupted = bytes;
    corrupted[i] = static_cast<char>(corrupted[i] ^ 0x80);
    EXPECT_THAT(ParseLatencyTable(corrupted), Not(IsOk())) << "byte " << i;
  }
}

// An entry the table format cannot hold: a shape that is not conv2d or linear, a zero
// channel count, a negative latency, two entries for one shape.
TEST(LatencyTableTest, RejectsInvalidEntries) {
  const v1::LatencyTable valid = MakeTable({{Conv(16, 32), 0.5}}).ToProto();
  ASSERT_EQ(valid.entries_size(), 1);
  ASSERT_THAT(LatencyTable::FromProto(valid), IsOk());

  v1::LatencyTable relu = valid;
  *relu.add_entries() = valid.entries(0);
  relu.mutable_entries(1)->mutable_shape()->set_op("relu");
  EXPECT_THAT(LatencyTable::FromProto(relu),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("entries[1].shape.op")));

  v1::LatencyTable zero_in = valid;
  zero_in.mutable_entries(0)->mutable_shape()->set_in_channels(0);
  EXPECT_THAT(LatencyTable::FromProto(zero_in),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("entries[0].shape.in_channels must be positive, got 0")));

  v1::LatencyTable negative = valid;
  negative.mutable_entries(0)->set_latency_ms(-1);
  EXPECT_THAT(LatencyTable::FromProto(negative),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("entries[0] (conv2d 16->32 k3x3"),
                             HasSubstr("latency_ms must be a finite, non-negative number"))));

  v1::LatencyTable nan = valid;
  nan.mutable_entries(0)->set_latency_ms(std::nan(""));
  EXPECT_THAT(LatencyTable::FromProto(nan),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("entries[0] (conv2d"), HasSubstr("latency_ms"))));

  v1::LatencyTable duplicate = valid;
  *duplicate.add_entries() = valid.entries(0);
  duplicate.mutable_entries(1)->set_latency_ms(0.75);
  EXPECT_THAT(LatencyTable::FromProto(duplicate),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("entries[1] (conv2d 16->32"),
                             HasSubstr("already entries[0] with a different latency"))));

  v1::LatencyTable no_shape = valid;
  no_shape.mutable_entries(0)->clear_shape();
  EXPECT_THAT(LatencyTable::FromProto(no_shape),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("entries[0].shape")));
}

LatencyStats Measured(double p10, double median, double p90, int samples) {
  LatencyStats stats;
  stats.p10_ms = p10;
  stats.median_ms = median;
  stats.p90_ms = p90;
  stats.mean_ms = median * 1.01;
  stats.stddev_ms = (p90 - p10) / 2.5;
  stats.samples = samples;
  return stats;
}

// What the profiler measured survives both file formats: the median that Find returns, the
// spread, the runs and the host's load.
TEST(LatencyTableTest, StatisticsAndConditionsRoundTrip) {
  LatencyTable table(Device());
  LatencyStats measured = Measured(1.0, 1.1, 1.5, 37);
  measured.conditions = MeasurementConditions{2.5, 3, 2, 1, 4};
  table.Insert(Conv(16, 32), measured);
  table.Insert(Conv(32, 64), Measured(0.5, 0.5, 0.5, 10));  // no conditions
  table.Insert(Linear(16, 10), 0.25);                         // a bare number
  for (LatencyTableFormat format : {LatencyTableFormat::kBinary, LatencyTableFormat::kJson}) {
    NETADAPT_ASSERT_OK_AND_ASSIGN(LatencyTable read,
                                  ParseLatencyTable(SerializeLatencyTable(table, format)));
    EXPECT_THAT(read.Find(Conv(16, 32)), Optional(1.1));
    ASSERT_NE(read.FindStats(Conv(16, 32)), nullptr);
    EXPECT_EQ(*read.FindStats(Conv(16, 32)), measured);
    EXPECT_THAT(read.FindStats(Conv(16, 32))->Spread(), Optional(1.5));
    EXPECT_EQ(*read.FindStats(Conv(32, 64)), Measured(0.5, 0.5, 0.5, 10));
    EXPECT_FALSE(read.FindStats(Conv(32, 64))->conditions.has_value());
    EXPECT_EQ(*read.FindStats(Linear(16, 10)), LatencyStats::Bare(0.25));
    EXPECT_EQ(read.FindStats(Linear(16, 10))->Spread(), std::nullopt);
    EXPECT_EQ(read.FindStats(Conv(8, 8)), nullptr);
  }
}

// Statistics that no measurement can produce are refused, naming the entry and its shape.
TEST(LatencyTableTest, RejectsImpossibleStatistics) {
  LatencyTable table;
  table.Insert(Conv(16, 32), Measured(1.0, 1.1, 1.5, 37));
  const v1::LatencyTable valid = table.ToProto();
  ASSERT_THAT(LatencyTable::FromProto(valid), IsOk());
  auto rejects = [&](const std::function<void(v1::LatencyEntry*)>& change,
                     const std::string& message) {
    v1::LatencyTable bad = valid;
    change(bad.mutable_entries(0));
    EXPECT_THAT(LatencyTable::FromProto(bad),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr("entries[0] (conv2d 16->32"), HasSubstr(message))))
        << message;
  };
  rejects([](v1::LatencyEntry* e) { e->set_p10_ms(-0.1); }, "p10_ms must be a finite");
  rejects([](v1::LatencyEntry* e) { e->set_p90_ms(INFINITY); }, "p90_ms must be a finite");
  rejects([](v1::LatencyEntry* e) { e->set_stddev_ms(std::nan("")); }, "stddev_ms");
  rejects([](v1::LatencyEntry* e) { e->set_samples(-3); }, "samples must not be negative");
  rejects([](v1::LatencyEntry* e) { e->set_samples(0); }, "p10_ms is 1 but samples is 0");
  rejects([](v1::LatencyEntry* e) { e->set_p10_ms(1.2); }, "p10_ms <= latency_ms <= p90_ms");
  rejects([](v1::LatencyEntry* e) { e->set_latency_ms(1.6); }, "p10_ms <= latency_ms <= p90_ms");
  rejects([](v1::LatencyEntry* e) { e->mutable_conditions()->set_load_avg_1m(-1); },
          "conditions must be finite");
}

// The same measurement twice (two tables concatenated) is kept once; the same shape with
// another value is refused, naming both entries.
TEST(LatencyTableTest, DuplicatesWithEqualValuesAreKeptOnce) {
  LatencyTable table;
  table.Insert(Conv(16, 32), Measured(1.0, 1.1, 1.5, 37));
  table.Insert(Conv(32, 64), 0.5);
  v1::LatencyTable proto = table.ToProto();
  *proto.add_entries() = proto.entries(0);
  *proto.add_entries() = proto.entries(1);
  NETADAPT_ASSERT_OK_AND_ASSIGN(LatencyTable read, LatencyTable::FromProto(proto));
  EXPECT_EQ(read.size(), 2u);
  EXPECT_THAT(read.Find(Conv(32, 64)), Optional(0.5));

  proto.mutable_entries(3)->set_samples(5);  // same median, other statistics
  proto.mutable_entries(3)->set_p10_ms(0.5);
  proto.mutable_entries(3)->set_p90_ms(0.5);
  EXPECT_THAT(LatencyTable::FromProto(proto),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("entries[3] (conv2d 32->64"),
                             HasSubstr("already entries[1] with a different latency"))));
}

TEST(LatencyTableSummaryTest, CountsSpreadAndConditions) {
  LatencyTable table(Device());
  LatencyStats quiet = Measured(1.0, 1.02, 1.05, 20);
  quiet.conditions = MeasurementConditions{0.5, 1, 2, 1, 0};
  LatencyStats loaded = Measured(1.0, 1.6, 2.0, 20);
  loaded.conditions = MeasurementConditions{3.25, 4, 2, 1, 12};
  table.Insert(Conv(16, 32), quiet);
  table.Insert(Conv(32, 64), loaded);
  table.Insert(Conv(64, 64), Measured(1.0, 1.1, 1.2, 20));
  table.Insert(Linear(16, 10), 0.25);
  const LatencyTableSummary summary = SummarizeLatencyTable(table, 1.25);
  EXPECT_EQ(summary.entries, 4);
  EXPECT_EQ(summary.with_stats, 3);
  EXPECT_EQ(summary.wide, 1);
  EXPECT_DOUBLE_EQ(summary.median_spread, 1.2);
  EXPECT_DOUBLE_EQ(summary.widest_spread, 2.0);
  EXPECT_EQ(summary.with_conditions, 2);
  EXPECT_DOUBLE_EQ(summary.max_load_avg_1m, 3.25);
  EXPECT_EQ(summary.max_runnable_tasks, 4);
  EXPECT_EQ(summary.cpus_allowed, 1);
  EXPECT_EQ(summary.cpus_online, 2);
  EXPECT_EQ(summary.preempted, 1);
  const std::string line = FormatLatencyTableSummary(summary, table.device());
  EXPECT_THAT(line, AllOf(HasSubstr("4 entries, 3 with statistics"),
                          HasSubstr("widest 2.00, 1 above 1.25"),
                          HasSubstr("agent on 1 of 2 CPUs, 1 of 2 entries preempted"),
                          HasSubstr("power mode 'MAXN'")));
  EXPECT_THAT(FormatLatencyTableSummary(SummarizeLatencyTable(LatencyTable(), 1.25), {}),
              HasSubstr("0 entries, 0 with statistics; measuring conditions not recorded"));
}

// Linear keys must have the 1x1 kernel, stride, groups and input they run with.
TEST(LatencyTableTest, RejectsLinearShapeWithConvFields) {
  LayerShape linear = Linear(16, 32);
  linear.input_h = 7;
  EXPECT_THAT(LayerShapeFromProto(LayerShapeToProto(linear)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shape.op")));
  NETADAPT_ASSERT_OK_AND_ASSIGN(LayerShape parsed,
                                LayerShapeFromProto(LayerShapeToProto(Linear(16, 32))));
  EXPECT_EQ(parsed, Linear(16, 32));
}

// Invalid entries are caught in both formats, not only in FromProto.
TEST(LatencyTableTest, ParseRejectsInvalidEntriesInEitherFormat) {
  LatencyTable table;
  table.Insert(Conv(16, 32), 0.5);
  v1::LatencyTable proto = table.ToProto();
  proto.mutable_entries(0)->set_latency_ms(-0.5);
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(proto, &json).ok());
  EXPECT_THAT(ParseLatencyTable(json, "lut.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("lut.json"), HasSubstr("entries[0] (conv2d"),
                             HasSubstr("latency_ms"))));
  EXPECT_THAT(ParseLatencyTable("{\"entries\": [{\"shape\": {\"op\": \"conv2d\"}}]}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("entries[0].shape.in_channels")));
  EXPECT_THAT(ParseLatencyTable("{\"entries\": 3}"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(LatencyTableFileTest, WriteAndReadBothFormats) {
  const LatencyTable table = MakeTable(Entries());
  for (LatencyTableFormat format : {LatencyTableFormat::kBinary, LatencyTableFormat::kJson}) {
    const std::string path =
        Path(format == LatencyTableFormat::kBinary ? "lut.bin" : "lut.json");
    ASSERT_THAT(WriteLatencyTable(table, path, format), IsOk());
    NETADAPT_ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFile(path));
    EXPECT_EQ(bytes, SerializeLatencyTable(table, format));
    NETADAPT_ASSERT_OK_AND_ASSIGN(LatencyTable read, ReadLatencyTable(path));
    ExpectSameTable(table, read);
  }
}

TEST_F(LatencyTableFileTest, CorruptFileIsDataLossNamingThePath) {
  const std::string path = Path("lut.bin");
  std::string bytes = SerializeLatencyTable(MakeTable(Entries()), LatencyTableFormat::kBinary);
  bytes.resize(bytes.size() - 1);
  ASSERT_THAT(WriteFileAtomically(path, bytes), IsOk());
  EXPECT_THAT(ReadLatencyTable(path),
              StatusIs(absl::StatusCode::kDataLoss, AllOf(HasSubstr(path),
                                                          HasSubstr("truncated"))));
}

TEST_F(LatencyTableFileTest, MissingFileIsNotFound) {
  EXPECT_THAT(ReadLatencyTable(Path("missing.bin")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.bin")));
}

}  // namespace
}  // namespace netadapt::common
