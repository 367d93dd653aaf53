#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace netadapt::common {

// JPEG and PNG decoding and encoding through Debian's libjpeg-turbo and libpng (no codec of
// our own). Part of netadapt_images, the only target that links them. Every function is
// thread-safe (no shared state) and reports bad input as InvalidArgument whose message starts
// with "image <name>: ", never by crashing or by returning a partly decoded image.

enum class ImageFormat { kUnknown, kJpeg, kPng };

// The format from the first bytes (JPEG's SOI marker FF D8 FF, PNG's 8-byte signature),
// whatever the file is called.
ImageFormat SniffImageFormat(absl::string_view bytes);

// What an image file declares, read from its header only.
struct ImageHeader {
  ImageFormat format = ImageFormat::kUnknown;
  int width = 0;
  int height = 0;
  // Colour channels in the file: 1 (grey), 3 (colour) or 4 (CMYK JPEG); a PNG's alpha and a
  // palette do not count (a palette PNG has 3).
  int channels = 0;
};

// InvalidArgument when `bytes` is neither a JPEG nor a PNG, or its header is corrupt.
absl::StatusOr<ImageHeader> ReadImageHeader(absl::string_view bytes, absl::string_view name);

// An 8-bit image: `height` rows of `width` pixels of `channels` interleaved values (HWC).
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;

  uint8_t* Pixel(int x, int y) {
    return pixels.data() + (static_cast<size_t>(y) * width + x) * channels;
  }
  const uint8_t* Pixel(int x, int y) const {
    return pixels.data() + (static_cast<size_t>(y) * width + x) * channels;
  }
};

// Which part of an image to decode, how many channels, and how small it may come out.
struct DecodeOptions {
  // 1: grey, the luma Y = 0.299 R + 0.587 G + 0.114 B (PIL's convert("L"); for a YCbCr JPEG
  // its Y plane as stored). 3: RGB (a grey image replicated). Alpha is dropped, as PIL's
  // convert("RGB") does. A CMYK JPEG is converted to RGB (Adobe's inverted CMYK).
  int channels = 3;
  // The part of the image the caller will read, in full-resolution pixels; a zero width or
  // height means the whole image. The result may hold more than the region (it is widened
  // to the codec's block boundaries and by a margin for resampling filters) but never less.
  int region_x = 0;
  int region_y = 0;
  int region_width = 0;
  int region_height = 0;
  // JPEG only: decode at the smallest of libjpeg's scales M/8 (M = 1..8) at which the region
  // keeps at least min_width x min_height pixels: the DCT scaling is much cheaper than
  // decoding every pixel and resampling. 0 decodes at full resolution.
  int min_width = 0;
  int min_height = 0;
};

// Pixels of an image, possibly a scaled part of it.
struct DecodedImage {
  Image image;
  int full_width = 0;  // The file's size.
  int full_height = 0;
  // Full-resolution position (u, v) (in pixels, continuous: pixel (i, j) covers
  // [i, i + 1) x [j, j + 1)) is position (u * scale - offset_x, v * scale - offset_y) of
  // `image`.
  double scale = 1;
  int offset_x = 0;
  int offset_y = 0;
};

// Decodes a JPEG or PNG. InvalidArgument naming `name` for an unknown format, a corrupt or
// truncated file (libjpeg's "Premature end of JPEG file" and corrupt-data warnings count as
// errors, as PIL raises for truncated images; a PNG must reach its IEND chunk with valid
// CRCs), channels other than 1 or 3, or a region outside the image.
absl::StatusOr<DecodedImage> DecodeImage(absl::string_view bytes, absl::string_view name,
                                         const DecodeOptions& options = {});

// Baseline JPEG (4:2:0 chroma for 3 channels) of a 1- or 3-channel image at `quality`
// (1..100), and a PNG (8-bit grey or RGB). For tests and benchmarks that make image folders.
// InvalidArgument for an empty image, other channel counts or pixels of the wrong size.
absl::StatusOr<std::string> EncodeJpeg(const Image& image, int quality = 90);
absl::StatusOr<std::string> EncodePng(const Image& image);

}  // namespace netadapt::common
