#include "common/lut_fit_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/file_util.h"
#include "common/lut_latency_model.h"
#include "tests/testing/scratch_directory.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

std::vector<ChannelPoint> Table(double scale = 1) {
  std::vector<ChannelPoint> points;
  for (int in : {64, 128, 192, 256}) {
    for (int out : {64, 128, 192}) {
      points.push_back({in, out, scale * (0.01 + 1e-6 * in * out + 1e-3 * ((in + out) % 7))});
    }
  }
  return points;
}

LayerShape Linear(int in, int out) {
  LayerShape shape;
  shape.op = LayerOp::kLinear;
  shape.in_channels = in;
  shape.out_channels = out;
  return shape;
}

LatencyTable AsLatencyTable(const std::vector<ChannelPoint>& points) {
  LatencyTable table;
  for (const ChannelPoint& p : points)
    table.Insert(Linear(p.in_channels, p.out_channels), p.latency_ms);
  return table;
}

class LutFitCacheTest : public ::netadapt::testing::ScratchDirectoryTest {
 protected:
  std::string Cache() const { return (dir_ / "fits").string(); }
};

TEST_F(LutFitCacheTest, RoundTripsWhateverTheInsertionOrder) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(RbfCubicFit fit, FitRbfCubic(Table()));
  LutFitCache cache(Cache());
  EXPECT_THAT(cache.Load(Table()), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(cache.Store(fit), IsOk());
  std::vector<ChannelPoint> shuffled = Table();
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(3));
  EXPECT_EQ(cache.PathFor(shuffled), cache.PathFor(Table()));
  NETADAPT_ASSERT_OK_AND_ASSIGN(RbfCubicFit loaded, cache.Load(shuffled));
  EXPECT_EQ(loaded.weights, fit.weights);  // bit-exact
  // Another latency anywhere is another key.
  std::vector<ChannelPoint> changed = Table();
  changed[5].latency_ms *= 1.0000001;
  EXPECT_NE(cache.PathFor(changed), cache.PathFor(Table()));
  EXPECT_THAT(cache.Load(changed), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(LutFitCacheTest, DamagedOrForeignFilesAreDataLossNeverTrusted) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(RbfCubicFit fit, FitRbfCubic(Table()));
  LutFitCache cache(Cache());
  ASSERT_THAT(cache.Store(fit), IsOk());
  const std::string path = cache.PathFor(Table());
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string good, ReadFile(path));
  auto load_with = [&](const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    return cache.Load(Table()).status();
  };
  std::string flipped = good;
  flipped[60] ^= 0x10;  // a weight's byte
  EXPECT_THAT(load_with(flipped), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("CRC")));
  EXPECT_THAT(load_with(good.substr(0, good.size() - 9)), StatusIs(absl::StatusCode::kDataLoss));
  std::string version2 = good;
  version2[7] = '\2';
  EXPECT_THAT(load_with(version2), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("version")));
  EXPECT_THAT(load_with(""), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("truncated")));
  // A whole, valid file of other points under this fit's name.
  NETADAPT_ASSERT_OK_AND_ASSIGN(RbfCubicFit other, FitRbfCubic(Table(2)));
  ASSERT_THAT(cache.Store(other), IsOk());
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string foreign, ReadFile(cache.PathFor(Table(2))));
  EXPECT_THAT(load_with(foreign), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("other points")));
  EXPECT_THAT(load_with(good), IsOk());
}

TEST_F(LutFitCacheTest, ASecondModelLoadsTheFitInsteadOfSolving) {
  const MissPolicy policy = MissPolicy::Interpolate(Interpolation::kRbfCubic, Cache());
  LutLatencyModel first(AsLatencyTable(Table()), policy);
  NETADAPT_ASSERT_OK_AND_ASSIGN(double fitted, first.LayerCost(Linear(100, 100)));
  EXPECT_EQ(first.fit_stats().families, 1);
  EXPECT_EQ(first.fit_stats().loaded, 0);
  EXPECT_TRUE(std::filesystem::exists(LutFitCache(Cache()).PathFor(Table())));

  LutLatencyModel second(AsLatencyTable(Table()), policy);
  NETADAPT_ASSERT_OK_AND_ASSIGN(double loaded, second.LayerCost(Linear(100, 100)));
  EXPECT_EQ(second.fit_stats().families, 1);
  EXPECT_EQ(second.fit_stats().loaded, 1);  // not solved again
  EXPECT_EQ(loaded, fitted);

  // Without a cache directory every model solves.
  LutLatencyModel uncached(AsLatencyTable(Table()),
                           MissPolicy::Interpolate(Interpolation::kRbfCubic));
  NETADAPT_ASSERT_OK_AND_ASSIGN(double solved, uncached.LayerCost(Linear(100, 100)));
  EXPECT_EQ(uncached.fit_stats().loaded, 0);
  EXPECT_EQ(solved, fitted);
}

TEST_F(LutFitCacheTest, ACorruptStoredFitIsIgnoredRefittedAndReplaced) {
  const MissPolicy policy = MissPolicy::Interpolate(Interpolation::kRbfCubic, Cache());
  LutLatencyModel first(AsLatencyTable(Table()), policy);
  NETADAPT_ASSERT_OK_AND_ASSIGN(double fitted, first.LayerCost(Linear(100, 100)));
  const std::string path = LutFitCache(Cache()).PathFor(Table());
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFile(path));
  bytes[bytes.size() / 2] ^= 0x40;
  ASSERT_THAT(WriteFileAtomically(path, bytes), IsOk());

  LutLatencyModel second(AsLatencyTable(Table()), policy);
  NETADAPT_ASSERT_OK_AND_ASSIGN(double refitted, second.LayerCost(Linear(100, 100)));
  EXPECT_EQ(second.fit_stats().loaded, 0);  // the damaged file was not used
  EXPECT_EQ(refitted, fitted);
  EXPECT_THAT(LutFitCache(Cache()).Load(Table()), IsOk());  // and was replaced

  LutLatencyModel third(AsLatencyTable(Table()), policy);
  NETADAPT_ASSERT_OK_AND_ASSIGN(double loaded, third.LayerCost(Linear(100, 100)));
  EXPECT_EQ(third.fit_stats().loaded, 1);
  EXPECT_EQ(loaded, fitted);
}

TEST_F(LutFitCacheTest, AFamilyRbfCannotFitFallsBackToBilinear) {
  // A NaN latency (a broken measurement) at the table's corner: no rbf-cubic system can be solved,
  // so the family is interpolated bilinearly, which stays finite away from it.
  std::vector<ChannelPoint> points = Table();
  points.back().latency_ms = std::nan("");
  LutLatencyModel rbf(AsLatencyTable(points),
                      MissPolicy::Interpolate(Interpolation::kRbfCubic, Cache()));
  LutLatencyModel bilinear(AsLatencyTable(points),
                           MissPolicy::Interpolate(Interpolation::kBilinear));
  NETADAPT_ASSERT_OK_AND_ASSIGN(double estimate, rbf.LayerCost(Linear(100, 100)));
  EXPECT_TRUE(std::isfinite(estimate));
  EXPECT_EQ(estimate, *bilinear.LayerCost(Linear(100, 100)));
  EXPECT_EQ(rbf.fit_stats().families, 1);
  EXPECT_EQ(rbf.fit_stats().fallbacks, 1);
  EXPECT_FALSE(std::filesystem::exists(Cache()));  // nothing persisted
}

}  // namespace
}  // namespace netadapt::common
