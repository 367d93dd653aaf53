// libFuzzer target: image files of an image folder (common/image_codec.h: libjpeg-turbo and
// libpng behind setjmp/longjmp error handling), decoded whole, as a scaled part, to grey and
// RGB, then resampled as the training transform does (common/image_transform.h).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/image_codec.h"
#include "common/image_transform.h"

namespace {

using netadapt::common::DecodedImage;
using netadapt::common::DecodeOptions;

void Resample(const DecodedImage& decoded, std::mt19937_64& rng) {
  const int out = 16;
  absl::StatusOr<netadapt::common::Normalization> norm =
      netadapt::common::MakeNormalization(std::vector<float>(decoded.image.channels, 0.5f),
                                          std::vector<float>(decoded.image.channels, 0.25f));
  if (!norm.ok()) return;
  const netadapt::common::CropBox box =
      netadapt::common::RandomResizedCropBox(decoded.full_width, decoded.full_height, 0.08, rng);
  std::vector<float> tensor(static_cast<size_t>(decoded.image.channels) * out * out);
  (void)netadapt::common::ResampleToTensor(decoded, box, out, out, true, *norm,
                                           absl::MakeSpan(tensor));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<netadapt::common::ImageHeader> header =
      netadapt::common::ReadImageHeader(bytes, "fuzz");
  // Keep the decoder to small images: a forged header may declare 65535x65535.
  if (!header.ok() || int64_t{header->width} * header->height > (1 << 20)) return 0;
  std::mt19937_64 rng(size);
  for (const int channels : {1, 3}) {
    DecodeOptions whole;
    whole.channels = channels;
    absl::StatusOr<DecodedImage> decoded = netadapt::common::DecodeImage(bytes, "fuzz", whole);
    if (decoded.ok()) Resample(*decoded, rng);
    // The lower right quarter at the smallest scale keeping 8x8 pixels of it.
    DecodeOptions part = whole;
    part.region_x = header->width / 2;
    part.region_y = header->height / 2;
    part.region_width = std::max(1, header->width - part.region_x);
    part.region_height = std::max(1, header->height - part.region_y);
    part.min_width = 8;
    part.min_height = 8;
    decoded = netadapt::common::DecodeImage(bytes, "fuzz", part);
    if (decoded.ok()) Resample(*decoded, rng);
  }
  return 0;
}
