#include "common/image_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

// A smooth colour picture (JPEG keeps it within a few levels) with distinct channels.
Image Gradient(int width, int height, int channels) {
  Image image;
  image.width = width;
  image.height = height;
  image.channels = channels;
  image.pixels.resize(static_cast<size_t>(width) * height * channels);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = image.Pixel(x, y);
      p[0] = static_cast<uint8_t>(255 * x / std::max(width - 1, 1));
      if (channels == 3) {
        p[1] = static_cast<uint8_t>(255 * y / std::max(height - 1, 1));
        p[2] = static_cast<uint8_t>(128 + 100 * std::sin(0.05 * (x + y)));
      }
    }
  }
  return image;
}

// Mean absolute difference of two images of one shape.
double MeanAbsDiff(const Image& a, const Image& b) {
  EXPECT_EQ(a.pixels.size(), b.pixels.size());
  double sum = 0;
  for (size_t i = 0; i < a.pixels.size() && i < b.pixels.size(); ++i) {
    sum += std::abs(static_cast<int>(a.pixels[i]) - static_cast<int>(b.pixels[i]));
  }
  return a.pixels.empty() ? 0 : sum / a.pixels.size();
}

TEST(ImageCodecTest, SniffsFormatFromBytesNotName) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string png, EncodePng(Gradient(4, 3, 1)));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string jpeg, EncodeJpeg(Gradient(4, 3, 3)));
  EXPECT_EQ(SniffImageFormat(png), ImageFormat::kPng);
  EXPECT_EQ(SniffImageFormat(jpeg), ImageFormat::kJpeg);
  EXPECT_EQ(SniffImageFormat("GIF89a..."), ImageFormat::kUnknown);
  EXPECT_EQ(SniffImageFormat(""), ImageFormat::kUnknown);
}

TEST(ImageCodecTest, PngRoundTripIsExact) {
  for (const int channels : {1, 3}) {
    const Image image = Gradient(37, 23, channels);
    NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string png, EncodePng(image));
    DecodeOptions options;
    options.channels = channels;
    NETADAPT_ASSERT_OK_AND_ASSIGN(const DecodedImage decoded, DecodeImage(png, "a.png", options));
    EXPECT_EQ(decoded.full_width, 37);
    EXPECT_EQ(decoded.full_height, 23);
    EXPECT_EQ(decoded.scale, 1);
    EXPECT_EQ(decoded.image.width, 37);
    EXPECT_EQ(decoded.image.height, 23);
    EXPECT_EQ(decoded.image.channels, channels);
    EXPECT_EQ(decoded.image.pixels, image.pixels) << channels << " channels";
  }
}

TEST(ImageCodecTest, JpegRoundTripIsClose) {
  for (const int channels : {1, 3}) {
    const Image image = Gradient(64, 48, channels);
    NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string jpeg, EncodeJpeg(image, 95));
    DecodeOptions options;
    options.channels = channels;
    NETADAPT_ASSERT_OK_AND_ASSIGN(const DecodedImage decoded, DecodeImage(jpeg, "a.jpg", options));
    ASSERT_EQ(decoded.image.width, 64);
    ASSERT_EQ(decoded.image.height, 48);
    EXPECT_LT(MeanAbsDiff(decoded.image, image), 2.0) << channels << " channels";
  }
}

TEST(ImageCodecTest, ReadsHeaders) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string png, EncodePng(Gradient(7, 5, 3)));
  NETADAPT_ASSERT_OK_AND_ASSIGN(ImageHeader header, ReadImageHeader(png, "a.png"));
  EXPECT_EQ(header.format, ImageFormat::kPng);
  EXPECT_EQ(header.width, 7);
  EXPECT_EQ(header.height, 5);
  EXPECT_EQ(header.channels, 3);
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string jpeg, EncodeJpeg(Gradient(9, 11, 1)));
  NETADAPT_ASSERT_OK_AND_ASSIGN(header, ReadImageHeader(jpeg, "a.jpg"));
  EXPECT_EQ(header.format, ImageFormat::kJpeg);
  EXPECT_EQ(header.width, 9);
  EXPECT_EQ(header.height, 11);
  EXPECT_EQ(header.channels, 1);
}

TEST(ImageCodecTest, ConvertsGreyAndColour) {
  const Image colour = Gradient(16, 8, 3);
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string png, EncodePng(colour));
  DecodeOptions grey;
  grey.channels = 1;
  NETADAPT_ASSERT_OK_AND_ASSIGN(const DecodedImage luma, DecodeImage(png, "c.png", grey));
  ASSERT_EQ(luma.image.channels, 1);
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 16; ++x) {
      const uint8_t* p = colour.Pixel(x, y);
      const double expected = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
      EXPECT_NEAR(luma.image.Pixel(x, y)[0], expected, 1.0) << x << "," << y;
    }
  }
  // A grey JPEG decoded as RGB repeats its value in every channel.
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string jpeg, EncodeJpeg(Gradient(16, 8, 1), 95));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const DecodedImage rgb, DecodeImage(jpeg, "g.jpg"));
  ASSERT_EQ(rgb.image.channels, 3);
  for (size_t i = 0; i < rgb.image.pixels.size(); i += 3) {
    EXPECT_EQ(rgb.image.pixels[i], rgb.image.pixels[i + 1]);
    EXPECT_EQ(rgb.image.pixels[i], rgb.image.pixels[i + 2]);
  }
  // A colour JPEG as grey: its luma.
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string colour_jpeg, EncodeJpeg(colour, 95));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const DecodedImage jpeg_luma,
                                DecodeImage(colour_jpeg, "c.jpg", grey));
  EXPECT_LT(MeanAbsDiff(jpeg_luma.image, luma.image), 2.0);
}

TEST(ImageCodecTest, JpegScaledDecodingKeepsTheRegionAtLeastTheMinimum) {
  const Image image = Gradient(400, 300, 3);
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string jpeg, EncodeJpeg(image, 95));
  DecodeOptions options;
  options.min_width = 100;
  options.min_height = 60;
  NETADAPT_ASSERT_OK_AND_ASSIGN(const DecodedImage decoded, DecodeImage(jpeg, "a.jpg", options));
  // 400 * 2/8 = 100 >= 100 and 300 * 2/8 = 75 >= 60; 1/8 would be too small.
  EXPECT_EQ(decoded.scale, 0.25);
  EXPECT_EQ(decoded.image.width, 100);
  EXPECT_EQ(decoded.image.height, 75);
  // The quarter-size picture is the gradient at a quarter of the size.
  for (int x = 0; x < 100; x += 11) {
    EXPECT_NEAR(decoded.image.Pixel(x, 40)[0], 255.0 * (4 * x + 1.5) / 399, 4) << x;
  }
  // No minimum: full size.
  NETADAPT_ASSERT_OK_AND_ASSIGN(const DecodedImage full, DecodeImage(jpeg, "a.jpg"));
  EXPECT_EQ(full.scale, 1);
  EXPECT_EQ(full.image.width, 400);
}

TEST(ImageCodecTest, JpegRegionMatchesTheFullDecode) {
  const Image image = Gradient(320, 240, 3);
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string jpeg, EncodeJpeg(image, 90));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const DecodedImage full, DecodeImage(jpeg, "a.jpg"));
  DecodeOptions options;
  options.region_x = 101;
  options.region_y = 77;
  options.region_width = 90;
  options.region_height = 50;
  NETADAPT_ASSERT_OK_AND_ASSIGN(const DecodedImage part, DecodeImage(jpeg, "a.jpg", options));
  EXPECT_EQ(part.scale, 1);
  // The part covers the region (widened to block boundaries), and less than the image.
  EXPECT_LE(part.offset_x, 101);
  EXPECT_LE(part.offset_y, 77);
  EXPECT_GE(part.offset_x + part.image.width, 191);
  EXPECT_GE(part.offset_y + part.image.height, 127);
  EXPECT_LT(part.image.width, 320);
  EXPECT_LT(part.image.height, 240);
  int differences = 0;
  for (int y = 77; y < 127; ++y) {
    for (int x = 101; x < 191; ++x) {
      for (int c = 0; c < 3; ++c) {
        differences +=
            part.image.Pixel(x - part.offset_x, y - part.offset_y)[c] != full.image.Pixel(x, y)[c];
      }
    }
  }
  EXPECT_EQ(differences, 0);
}

TEST(ImageCodecTest, TruncatedJpegFailsNamingTheFile) {
  const Image image = Gradient(200, 150, 3);
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string jpeg, EncodeJpeg(image, 90));
  const std::string truncated = jpeg.substr(0, jpeg.size() * 2 / 3);
  EXPECT_THAT(DecodeImage(truncated, "/data/cat/1.jpg"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("/data/cat/1.jpg"), HasSubstr("truncated"))));
  // Even when the region asked for ends before the cut: the tail is still read.
  DecodeOptions top;
  top.region_width = 50;
  top.region_height = 20;
  EXPECT_THAT(DecodeImage(truncated, "t.jpg", top), StatusIs(absl::StatusCode::kInvalidArgument));
  // Cut inside the header.
  EXPECT_THAT(DecodeImage(jpeg.substr(0, 40), "h.jpg"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("h.jpg")));
  EXPECT_THAT(ReadImageHeader(jpeg.substr(0, 40), "h.jpg"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("h.jpg")));
}

TEST(ImageCodecTest, TruncatedOrCorruptPngFails) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string png, EncodePng(Gradient(100, 80, 3)));
  for (const size_t keep : {png.size() / 2, png.size() - 6, size_t{20}}) {
    EXPECT_THAT(DecodeImage(png.substr(0, keep), "/data/dog/2.png"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("/data/dog/2.png")))
        << keep;
  }
  std::string corrupt = png;
  corrupt[png.size() / 2] = static_cast<char>(corrupt[png.size() / 2] ^ 0x5a);  // Bad CRC.
  EXPECT_THAT(DecodeImage(corrupt, "c.png"), StatusIs(absl::StatusCode::kInvalidArgument));
}

// The image fuzzer's seeds (tests/fuzz/corpus/image_decode_fuzzer), written with libjpeg and
// libpng in forms our encoders do not make; the pixels are Seed(w, h, c): value
// x * 13 + y * 7 + k * 50 (mod 256) for channel k.
std::string SeedFile(const std::string& name) {
  std::ifstream in(std::string(NETADAPT_IMAGE_SEEDS) + "/" + name, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

uint8_t Seed(int x, int y, int k) { return static_cast<uint8_t>(x * 13 + y * 7 + k * 50); }

TEST(ImageCodecTest, DecodesPaletteAlphaSixteenBitAndInterlacedPngs) {
  // Palette (with a tRNS entry, dropped with the alpha): red, green, blue, (9, 9, 9).
  NETADAPT_ASSERT_OK_AND_ASSIGN(DecodedImage decoded, DecodeImage(SeedFile("palette.png"), "p"));
  const uint8_t palette[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {9, 9, 9}};
  ASSERT_EQ(decoded.image.width, 6);
  for (int i = 0; i < 30; ++i) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(decoded.image.pixels[3 * i + c], palette[i % 4][c]);
  }
  // RGBA, Adam7-interlaced: the colour, alpha dropped.
  NETADAPT_ASSERT_OK_AND_ASSIGN(decoded, DecodeImage(SeedFile("rgba_interlaced.png"), "i"));
  ASSERT_EQ(decoded.image.width, 9);
  for (int y = 0; y < 9; ++y) {
    for (int x = 0; x < 9; ++x) {
      for (int c = 0; c < 3; ++c) EXPECT_EQ(decoded.image.Pixel(x, y)[c], Seed(x, y, c));
    }
  }
  // 16-bit RGB, written from the bytes of a 6-value-per-pixel picture: the high bytes stay.
  NETADAPT_ASSERT_OK_AND_ASSIGN(decoded, DecodeImage(SeedFile("rgb16.png"), "s"));
  ASSERT_EQ(decoded.image.width, 4);
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 4; ++x) {
      for (int c = 0; c < 3; ++c) EXPECT_EQ(decoded.image.Pixel(x, y)[c], Seed(x, y, 2 * c));
    }
  }
  // Grey with alpha, as RGB: the grey value thrice.
  NETADAPT_ASSERT_OK_AND_ASSIGN(decoded, DecodeImage(SeedFile("grey_alpha.png"), "g"));
  ASSERT_EQ(decoded.image.width, 5);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(decoded.image.Pixel(3, 2)[c], Seed(3, 2, 0));
}

TEST(ImageCodecTest, DecodesCmykAndProgressiveJpegs) {
  // CMYK as libjpeg writes it (with an Adobe marker: values read as Adobe's inverted ones),
  // from Seed(16, 8, 4) as (C, M, Y, K): R = C * K / 255, and so on.
  const std::string cmyk = SeedFile("cmyk.jpg");
  NETADAPT_ASSERT_OK_AND_ASSIGN(ImageHeader header, ReadImageHeader(cmyk, "c"));
  EXPECT_EQ(header.channels, 4);
  NETADAPT_ASSERT_OK_AND_ASSIGN(DecodedImage decoded, DecodeImage(cmyk, "c"));
  ASSERT_EQ(decoded.image.channels, 3);
  double error = 0;
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 16; ++x) {
      for (int c = 0; c < 3; ++c) {
        error += std::abs(decoded.image.Pixel(x, y)[c] - Seed(x, y, c) * Seed(x, y, 3) / 255.0);
      }
    }
  }
  EXPECT_LT(error / (16 * 8 * 3), 12);  // quality 80 on a sharp pattern
  DecodeOptions grey;
  grey.channels = 1;
  EXPECT_THAT(DecodeImage(cmyk, "c", grey), IsOk());
  // Progressive RGB at quality 80: the same coefficients as a baseline JPEG of the picture at
  // that quality, so the same pixels.
  NETADAPT_ASSERT_OK_AND_ASSIGN(decoded, DecodeImage(SeedFile("progressive.jpg"), "p"));
  ASSERT_EQ(decoded.image.width, 20);
  ASSERT_EQ(decoded.image.height, 12);
  Image picture;
  picture.width = 20;
  picture.height = 12;
  picture.channels = 3;
  for (int y = 0; y < 12; ++y) {
    for (int x = 0; x < 20; ++x) {
      for (int c = 0; c < 3; ++c) picture.pixels.push_back(Seed(x, y, c));
    }
  }
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string baseline, EncodeJpeg(picture, 80));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const DecodedImage expected, DecodeImage(baseline, "b"));
  EXPECT_LT(MeanAbsDiff(decoded.image, expected.image), 0.5);
  DecodeOptions part;
  part.region_x = 10;
  part.region_y = 6;
  part.region_width = 10;
  part.region_height = 6;
  part.min_width = 5;
  part.min_height = 3;
  EXPECT_THAT(DecodeImage(SeedFile("progressive.jpg"), "p", part), IsOk());
}

TEST(ImageCodecTest, RefusesOtherFormatsAndBadRequests) {
  EXPECT_THAT(DecodeImage("BM....", "x.bmp"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("x.bmp"), HasSubstr("not a JPEG or PNG"))));
  EXPECT_THAT(ReadImageHeader("", "empty.jpg"), StatusIs(absl::StatusCode::kInvalidArgument));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string jpeg, EncodeJpeg(Gradient(20, 10, 3)));
  DecodeOptions four;
  four.channels = 4;
  EXPECT_THAT(DecodeImage(jpeg, "a.jpg", four), StatusIs(absl::StatusCode::kInvalidArgument));
  DecodeOptions outside;
  outside.region_x = 15;
  outside.region_width = 10;
  outside.region_height = 5;
  EXPECT_THAT(DecodeImage(jpeg, "a.jpg", outside),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside")));
  Image bad = Gradient(4, 4, 3);
  bad.pixels.pop_back();
  EXPECT_THAT(EncodeJpeg(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(EncodePng(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(EncodeJpeg(Gradient(4, 4, 3), 0), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace netadapt::common
