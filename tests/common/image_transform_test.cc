#include "common/image_transform.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;

DecodedImage Decoded(Image image) {
  DecodedImage decoded;
  decoded.full_width = image.width;
  decoded.full_height = image.height;
  decoded.image = std::move(image);
  return decoded;
}

// Value x + 10 * y in channel 0, 200 - x in channel 1, 7 in channel 2.
Image Ramp(int width, int height) {
  Image image;
  image.width = width;
  image.height = height;
  image.channels = 3;
  image.pixels.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      image.Pixel(x, y)[0] = static_cast<uint8_t>(x + 10 * y);
      image.Pixel(x, y)[1] = static_cast<uint8_t>(200 - x);
      image.Pixel(x, y)[2] = 7;
    }
  }
  return image;
}

// Identity normalisation: out = v (mean 0, std 1/255) for `channels` channels.
Normalization Raw(int channels) {
  absl::StatusOr<Normalization> norm = MakeNormalization(std::vector<float>(channels, 0.0f),
                                                         std::vector<float>(channels, 1 / 255.0f));
  EXPECT_TRUE(norm.ok());
  return *norm;
}

TEST(ImageTransformTest, RandomResizedCropFollowsTorchvisionsRules) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 2000; ++i) {
    const CropBox box = RandomResizedCropBox(500, 375, 0.08, rng);
    ASSERT_EQ(box.x, std::floor(box.x));
    ASSERT_GE(box.x, 0);
    ASSERT_GE(box.y, 0);
    ASSERT_LE(box.x + box.width, 500);
    ASSERT_LE(box.y + box.height, 375);
    const double area = box.width * box.height / (500.0 * 375.0);
    const double ratio = box.width / box.height;
    // Rounding to whole pixels moves both a little.
    EXPECT_GE(area, 0.075);
    EXPECT_LE(area, 1.0);
    EXPECT_GE(ratio, 0.73);
    EXPECT_LE(ratio, 1.37);
  }
  // Same seed, same boxes; another seed, other boxes.
  std::mt19937_64 a(5), b(5), c(6);
  const CropBox box_a = RandomResizedCropBox(500, 375, 0.08, a);
  const CropBox box_b = RandomResizedCropBox(500, 375, 0.08, b);
  const CropBox box_c = RandomResizedCropBox(500, 375, 0.08, c);
  EXPECT_EQ(box_a.x, box_b.x);
  EXPECT_EQ(box_a.width, box_b.width);
  EXPECT_FALSE(box_a.x == box_c.x && box_a.y == box_c.y && box_a.width == box_c.width);
}

TEST(ImageTransformTest, RandomResizedCropFallsBackToACentralCrop) {
  // No box of ratio 3/4..4/3 fits a 1000x10 strip: the central crop at ratio 4/3.
  std::mt19937_64 rng(1);
  const CropBox box = RandomResizedCropBox(1000, 10, 0.5, rng);
  EXPECT_EQ(box.height, 10);
  EXPECT_EQ(box.width, 13);
  EXPECT_EQ(box.x, (1000 - 13) / 2);
  EXPECT_EQ(box.y, 0);
}

TEST(ImageTransformTest, CenterCropBoxIsResizeThenCenterCrop) {
  // 500x375 -> Resize(256) -> 341.33x256 -> CenterCrop(224): a 224/256 part of the shorter side.
  const CropBox box = CenterCropBox(500, 375, 256, 224);
  EXPECT_DOUBLE_EQ(box.width, 375.0 * 224 / 256);
  EXPECT_DOUBLE_EQ(box.height, 375.0 * 224 / 256);
  EXPECT_DOUBLE_EQ(box.x, (500 - box.width) / 2);
  EXPECT_DOUBLE_EQ(box.y, (375 - box.height) / 2);
}

TEST(ImageTransformTest, SameSizeIsAnExactCopyNormalised) {
  const DecodedImage image = Decoded(Ramp(6, 4));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const Normalization norm,
                                MakeNormalization(std::vector<float>{0.5f, 0.25f, 0.0f},
                                                  std::vector<float>{0.5f, 1.0f, 2.0f}));
  std::vector<float> out(3 * 4 * 6);
  ASSERT_THAT(ResampleToTensor(image, CropBox{0, 0, 6, 4}, 6, 4, false, norm, absl::MakeSpan(out)),
              IsOk());
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 6; ++x) {
      EXPECT_FLOAT_EQ(out[0 * 24 + y * 6 + x], ((x + 10 * y) / 255.0f - 0.5f) / 0.5f);
      EXPECT_FLOAT_EQ(out[1 * 24 + y * 6 + x], ((200 - x) / 255.0f - 0.25f) / 1.0f);
      EXPECT_FLOAT_EQ(out[2 * 24 + y * 6 + x], (7 / 255.0f) / 2.0f);
    }
  }
  // Flipped: column x reads source column 5 - x.
  ASSERT_THAT(ResampleToTensor(image, CropBox{0, 0, 6, 4}, 6, 4, true, Raw(3), absl::MakeSpan(out)),
              IsOk());
  for (int x = 0; x < 6; ++x) EXPECT_FLOAT_EQ(out[1 * 24 + 2 * 6 + x], 200 - (5 - x));
  // A sub-box on whole pixels is also copied: rows 1..2, columns 2..4.
  std::vector<float> part(3 * 2 * 3);
  ASSERT_THAT(
      ResampleToTensor(image, CropBox{2, 1, 3, 2}, 3, 2, false, Raw(3), absl::MakeSpan(part)),
      IsOk());
  EXPECT_FLOAT_EQ(part[0], 2 + 10);
  EXPECT_FLOAT_EQ(part[5], 4 + 20);
}

TEST(ImageTransformTest, DownscalingAveragesAndKeepsLinearRamps) {
  // Halving a linear ramp gives the ramp at the new pixel centres (the triangle filter is
  // symmetric), away from the clamped edges.
  Image ramp;
  ramp.width = 64;
  ramp.height = 8;
  ramp.channels = 1;
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 64; ++x) ramp.pixels.push_back(static_cast<uint8_t>(3 * x));
  }
  const DecodedImage image = Decoded(ramp);
  std::vector<float> out(32 * 4);
  ASSERT_THAT(
      ResampleToTensor(image, CropBox{0, 0, 64, 8}, 32, 4, false, Raw(1), absl::MakeSpan(out)),
      IsOk());
  for (int x = 2; x < 30; ++x) {
    // Output pixel x covers source [2x, 2x + 2): centre 2x + 1, value 3 * (2x + 0.5).
    EXPECT_NEAR(out[2 * 32 + x], 3 * (2 * x + 0.5), 1e-3) << x;
  }
  // A constant image stays constant at any scale, edges included.
  Image flat;
  flat.width = 50;
  flat.height = 30;
  flat.channels = 3;
  flat.pixels.assign(50 * 30 * 3, 99);
  std::vector<float> small(3 * 7 * 9);
  ASSERT_THAT(ResampleToTensor(Decoded(flat), CropBox{3.5, 2.25, 40, 25}, 9, 7, true, Raw(3),
                               absl::MakeSpan(small)),
              IsOk());
  for (const float v : small) EXPECT_NEAR(v, 99, 1e-3);
  std::vector<float> large(3 * 60 * 80);
  ASSERT_THAT(ResampleToTensor(Decoded(flat), CropBox{0, 0, 50, 30}, 80, 60, false, Raw(3),
                               absl::MakeSpan(large)),
              IsOk());
  for (const float v : large) EXPECT_NEAR(v, 99, 1e-3);
}

TEST(ImageTransformTest, MapsBoxesThroughTheDecodedScaleAndOffset) {
  // The same picture at full size, and at half size with an offset of (4, 2) decoded pixels:
  // a box in full-resolution coordinates reads the same place of both.
  Image full;
  full.width = 80;
  full.height = 40;
  full.channels = 1;
  for (int y = 0; y < 40; ++y) {
    for (int x = 0; x < 80; ++x) full.pixels.push_back(static_cast<uint8_t>(2 * x + y));
  }
  Image half;
  half.width = 30;
  half.height = 16;
  half.channels = 1;
  for (int y = 0; y < 16; ++y) {
    for (int x = 0; x < 30; ++x) {
      // Pixel (x, y) of the half-size image at offset (4, 2) covers full pixels
      // 2 (x + 4) .. 2 (x + 4) + 1: its mean.
      const double fx = 2 * (x + 4) + 0.5;
      const double fy = 2 * (y + 2) + 0.5;
      half.pixels.push_back(static_cast<uint8_t>(std::lround(2 * fx + fy)));
    }
  }
  DecodedImage scaled = Decoded(half);
  scaled.full_width = 80;
  scaled.full_height = 40;
  scaled.scale = 0.5;
  scaled.offset_x = 4;
  scaled.offset_y = 2;
  const CropBox box{20, 10, 32, 16};
  std::vector<float> from_full(8 * 4);
  std::vector<float> from_half(8 * 4);
  ASSERT_THAT(ResampleToTensor(Decoded(full), box, 8, 4, false, Raw(1), absl::MakeSpan(from_full)),
              IsOk());
  ASSERT_THAT(ResampleToTensor(scaled, box, 8, 4, false, Raw(1), absl::MakeSpan(from_half)),
              IsOk());
  for (size_t i = 0; i < from_full.size(); ++i) EXPECT_NEAR(from_half[i], from_full[i], 1.0) << i;
}

TEST(ImageTransformTest, RejectsBadArguments) {
  const DecodedImage image = Decoded(Ramp(6, 4));
  std::vector<float> out(3 * 4 * 6);
  EXPECT_THAT(
      ResampleToTensor(image, CropBox{0, 0, 6, 4}, 6, 3, false, Raw(3), absl::MakeSpan(out)),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      ResampleToTensor(image, CropBox{0, 0, 6, 4}, 6, 4, false, Raw(1), absl::MakeSpan(out)),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      ResampleToTensor(image, CropBox{0, 0, 0, 4}, 6, 4, false, Raw(3), absl::MakeSpan(out)),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MakeNormalization(std::vector<float>{0.5f}, std::vector<float>{0.0f}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MakeNormalization(std::vector<float>{0.5f, 0.5f}, std::vector<float>{1.0f}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace netadapt::common
