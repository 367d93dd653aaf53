// libjpeg and libpng report errors through a callback that must not return: the usual
// setjmp/longjmp. To keep that well defined in C++, the function that calls setjmp keeps
// all its state in a struct owned by its caller (objects changed between setjmp and longjmp
// and read afterwards must not be locals of that function), and only C frames of the
// libraries lie between the longjmp and the setjmp, so no destructor is skipped.
#include "common/image_codec.h"

// clang-format off: jpeglib.h needs <cstdio> (FILE) first.
#include <jerror.h>
#include <jpeglib.h>

#include <cstdio>
// clang-format on
#include <png.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

namespace netadapt::common {
namespace {

// Images past this many pixels are refused rather than decoded: 256 Mpixel is 768 MB of RGB.
constexpr int64_t kMaxPixels = int64_t{1} << 28;

absl::Status ImageError(absl::string_view name, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("image ", name, ": ", problem));
}

// ---------------------------------------------------------------------------------------
// libjpeg

struct JpegError {
  jpeg_error_mgr manager;  // First, so libjpeg's cinfo->err points at the whole struct.
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void JpegErrorExit(j_common_ptr cinfo) {
  auto* error = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, error->message);
  std::longjmp(error->jump, 1);
}

// libjpeg only warns about a truncated file (and pads it with grey) or corrupt entropy data;
// PIL refuses such files, and training on grey padding would be silent damage: fail them.
// Other warnings (extraneous bytes between markers, odd Adobe markers) are harmless.
void JpegEmitMessage(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // Trace messages.
  const int code = cinfo->err->msg_code;
  if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_MUST_RESYNC) {
    auto* error = reinterpret_cast<JpegError*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, error->message);
    std::longjmp(error->jump, 1);
  }
  ++cinfo->err->num_warnings;
}

struct JpegDecodeState {
  // Inputs.
  absl::string_view bytes;
  const DecodeOptions* options = nullptr;
  bool header_only = false;
  // Outputs.
  ImageHeader header;
  DecodedImage result;
  std::string problem;  // Set for a request that does not fit the image (not a libjpeg error).
  // Working state.
  std::vector<uint8_t> cmyk_row;
  std::vector<uint8_t> last_row;
  JpegError error;
  jpeg_decompress_struct cinfo;
};

// Adobe's CMYK JPEGs store inverted values: R = C * K / 255 with the stored C and K.
void CmykToRgb(const uint8_t* cmyk, int width, bool inverted, uint8_t* rgb) {
  for (int x = 0; x < width; ++x, cmyk += 4, rgb += 3) {
    int c = cmyk[0], m = cmyk[1], y = cmyk[2], k = cmyk[3];
    if (!inverted) {
      c = 255 - c;
      m = 255 - m;
      y = 255 - y;
      k = 255 - k;
    }
    rgb[0] = static_cast<uint8_t>((c * k + 127) / 255);
    rgb[1] = static_cast<uint8_t>((m * k + 127) / 255);
    rgb[2] = static_cast<uint8_t>((y * k + 127) / 255);
  }
}

uint8_t Luma(int r, int g, int b) {
  // ITU-R 601-2, as PIL and libjpeg's own RGB->Y conversion, rounded.
  return static_cast<uint8_t>((r * 19595 + g * 38470 + b * 7471 + 32768) >> 16);
}

// The smallest M in 1..8 at which `size` * M / 8 >= `min` (8 when none is).
int JpegScale(int region_width, int region_height, int min_width, int min_height) {
  if (min_width <= 0 && min_height <= 0) return 8;
  for (int m = 1; m < 8; ++m) {
    if (int64_t{region_width} * m / 8 >= min_width &&
        int64_t{region_height} * m / 8 >= min_height) {
      return m;
    }
  }
  return 8;
}

// False after a libjpeg error (message in state->error) or a bad request (state->problem).
bool RunJpegDecode(JpegDecodeState* s) {
  jpeg_decompress_struct* cinfo = &s->cinfo;
  std::memset(cinfo, 0, sizeof(*cinfo));
  cinfo->err = jpeg_std_error(&s->error.manager);
  s->error.manager.error_exit = JpegErrorExit;
  s->error.manager.emit_message = JpegEmitMessage;
  if (setjmp(s->error.jump)) {
    jpeg_destroy_decompress(cinfo);
    return false;
  }
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, reinterpret_cast<const unsigned char*>(s->bytes.data()),
               static_cast<unsigned long>(s->bytes.size()));
  jpeg_read_header(cinfo, TRUE);
  s->header.format = ImageFormat::kJpeg;
  s->header.width = static_cast<int>(cinfo->image_width);
  s->header.height = static_cast<int>(cinfo->image_height);
  s->header.channels = cinfo->num_components;
  if (s->header_only) {
    jpeg_destroy_decompress(cinfo);
    return true;
  }
  const DecodeOptions& options = *s->options;
  const int width = s->header.width;
  const int height = s->header.height;
  if (int64_t{width} * height > kMaxPixels) {
    s->problem = absl::StrCat(width, "x", height, " is over ", kMaxPixels, " pixels");
    jpeg_destroy_decompress(cinfo);
    return false;
  }
  int rx = options.region_x, ry = options.region_y;
  int rw = options.region_width, rh = options.region_height;
  if (rw <= 0 || rh <= 0) {
    rx = 0;
    ry = 0;
    rw = width;
    rh = height;
  }
  if (rx < 0 || ry < 0 || int64_t{rx} + rw > width || int64_t{ry} + rh > height) {
    s->problem = absl::StrCat("region ", rw, "x", rh, "+", rx, "+", ry, " is outside the ", width,
                              "x", height, " image");
    jpeg_destroy_decompress(cinfo);
    return false;
  }

  const bool cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
  if (cmyk) {
    cinfo->out_color_space = JCS_CMYK;
  } else {
    cinfo->out_color_space = options.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  }
  const int m = JpegScale(rw, rh, options.min_width, options.min_height);
  cinfo->scale_num = static_cast<unsigned int>(m);
  cinfo->scale_denom = 8;
  jpeg_start_decompress(cinfo);
  const double scale = m / 8.0;
  const int out_width = static_cast<int>(cinfo->output_width);
  const int out_height = static_cast<int>(cinfo->output_height);

  // The region in output pixels, widened by a margin for the resampling filter's support
  // (about the downscaling ratio, in output pixels).
  double ratio = 1;
  if (options.min_width > 0) ratio = std::max(ratio, rw * scale / options.min_width);
  if (options.min_height > 0) ratio = std::max(ratio, rh * scale / options.min_height);
  const int margin = static_cast<int>(std::ceil(ratio)) + 1;
  const int x0 = std::max(0, static_cast<int>(std::floor(rx * scale)) - margin);
  const int x1 = std::min(out_width, static_cast<int>(std::ceil((rx + rw) * scale)) + margin);
  const int y0 = std::max(0, static_cast<int>(std::floor(ry * scale)) - margin);
  const int y1 = std::min(out_height, static_cast<int>(std::ceil((ry + rh) * scale)) + margin);
  JDIMENSION crop_x = static_cast<JDIMENSION>(x0);
  JDIMENSION crop_width = static_cast<JDIMENSION>(x1 - x0);
  if (x0 > 0 || x1 < out_width) {
    // Widens to iMCU boundaries; cinfo->output_width becomes crop_width.
    jpeg_crop_scanline(cinfo, &crop_x, &crop_width);
  }
  const int components = cinfo->output_components;
  DecodedImage& result = s->result;
  result.full_width = width;
  result.full_height = height;
  result.scale = scale;
  result.offset_x = static_cast<int>(crop_x);
  result.offset_y = y0;
  Image& image = result.image;
  image.width = static_cast<int>(crop_width);
  image.height = y1 - y0;
  image.channels = options.channels;
  image.pixels.resize(static_cast<size_t>(image.width) * image.height * image.channels);
  if (cmyk) s->cmyk_row.resize(static_cast<size_t>(image.width) * 4);

  if (y0 > 0) jpeg_skip_scanlines(cinfo, static_cast<JDIMENSION>(y0));
  const bool inverted = cinfo->saw_Adobe_marker;
  for (int y = 0; y < image.height; ++y) {
    uint8_t* out = image.Pixel(0, y);
    JSAMPROW row = cmyk ? s->cmyk_row.data() : out;
    jpeg_read_scanlines(cinfo, &row, 1);
    if (cmyk) {
      if (options.channels == 3) {
        CmykToRgb(s->cmyk_row.data(), image.width, inverted, out);
      } else {
        uint8_t rgb[3];
        for (int x = 0; x < image.width; ++x) {
          CmykToRgb(s->cmyk_row.data() + 4 * x, 1, inverted, rgb);
          out[x] = Luma(rgb[0], rgb[1], rgb[2]);
        }
      }
    } else if (components != options.channels) {
      // Not expected (libjpeg converts), but never hand back a wrongly laid out image.
      std::snprintf(s->error.message, sizeof(s->error.message),
                    "libjpeg gave %d components, expected %d", components, options.channels);
      jpeg_destroy_decompress(cinfo);
      return false;
    }
  }
  // The rest is skipped but for its last row, not abandoned: skipping rows still reads
  // their entropy-coded data (without the inverse DCT and colour conversion), so a truncated
  // or corrupt tail is found, whatever the region. (Skipping to the very end would not:
  // libjpeg-turbo then stops reading.)
  if (cinfo->output_scanline < cinfo->output_height) {
    if (cinfo->output_scanline + 1 < cinfo->output_height) {
      jpeg_skip_scanlines(cinfo, cinfo->output_height - cinfo->output_scanline - 1);
    }
    s->last_row.resize(static_cast<size_t>(cinfo->output_width) * components);
    JSAMPROW row = s->last_row.data();
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_decompress(cinfo);
  jpeg_destroy_decompress(cinfo);
  return true;
}

// ---------------------------------------------------------------------------------------
// libpng

struct PngDecodeState {
  // Inputs.
  absl::string_view bytes;
  size_t position = 0;
  const DecodeOptions* options = nullptr;
  bool header_only = false;
  // Outputs.
  ImageHeader header;
  DecodedImage result;
  std::string message;
  // Working state.
  std::vector<png_bytep> rows;
  png_structp png = nullptr;
  png_infop info = nullptr;
};

void PngReadData(png_structp png, png_bytep out, size_t length) {
  auto* s = static_cast<PngDecodeState*>(png_get_io_ptr(png));
  if (s->bytes.size() - s->position < length) png_error(png, "file is truncated");
  std::memcpy(out, s->bytes.data() + s->position, length);
  s->position += length;
}

[[noreturn]] void PngDecodeError(png_structp png, png_const_charp message) {
  static_cast<PngDecodeState*>(png_get_error_ptr(png))->message = message;
  std::longjmp(png_jmpbuf(png), 1);
}

void PngWarning(png_structp, png_const_charp) {}

bool RunPngDecode(PngDecodeState* s) {
  s->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, PngDecodeError, PngWarning);
  if (s->png == nullptr) {
    s->message = "libpng could not allocate its state";
    return false;
  }
  s->info = png_create_info_struct(s->png);
  if (s->info == nullptr) {
    png_destroy_read_struct(&s->png, nullptr, nullptr);
    s->message = "libpng could not allocate its state";
    return false;
  }
  if (setjmp(png_jmpbuf(s->png))) {
    png_destroy_read_struct(&s->png, &s->info, nullptr);
    return false;
  }
  png_set_read_fn(s->png, s, PngReadData);
  png_read_info(s->png, s->info);
  const png_uint_32 width = png_get_image_width(s->png, s->info);
  const png_uint_32 height = png_get_image_height(s->png, s->info);
  const int color_type = png_get_color_type(s->png, s->info);
  const bool color = (color_type & PNG_COLOR_MASK_COLOR) != 0;
  s->header.format = ImageFormat::kPng;
  s->header.width = static_cast<int>(width);
  s->header.height = static_cast<int>(height);
  s->header.channels = color ? 3 : 1;
  if (s->header_only) {
    png_destroy_read_struct(&s->png, &s->info, nullptr);
    return true;
  }
  const DecodeOptions& options = *s->options;
  if (int64_t{width} * height > kMaxPixels) {
    png_error(s->png, absl::StrCat(width, "x", height, " is over ", kMaxPixels, " pixels").c_str());
  }
  png_set_expand(s->png);  // Palette to RGB, grey below 8 bits to 8, tRNS to alpha.
  png_set_strip_16(s->png);
  png_set_strip_alpha(s->png);
  if (options.channels == 3 && !color) png_set_gray_to_rgb(s->png);
  if (options.channels == 1 && color) {
    // Weights of red and green in 1/100000: 0.299 and 0.587, as PIL's convert("L").
    png_set_rgb_to_gray_fixed(s->png, /*error_action=*/1, 29900, 58700);
  }
  png_set_interlace_handling(s->png);
  png_read_update_info(s->png, s->info);
  if (png_get_channels(s->png, s->info) != options.channels ||
      png_get_bit_depth(s->png, s->info) != 8) {
    png_error(s->png, "libpng did not convert to 8-bit grey or RGB");
  }
  DecodedImage& result = s->result;
  result.full_width = static_cast<int>(width);
  result.full_height = static_cast<int>(height);
  Image& image = result.image;
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  image.channels = options.channels;
  image.pixels.resize(static_cast<size_t>(width) * height * options.channels);
  s->rows.resize(height);
  for (png_uint_32 y = 0; y < height; ++y) s->rows[y] = image.Pixel(0, static_cast<int>(y));
  png_read_image(s->png, s->rows.data());
  // Reads to IEND: a file cut after its image data, or with a bad CRC there, fails here.
  png_read_end(s->png, nullptr);
  png_destroy_read_struct(&s->png, &s->info, nullptr);
  return true;
}

struct PngWriteState {
  const Image* image = nullptr;
  std::string out;
  std::string message;
  std::vector<png_bytep> rows;
  png_structp png = nullptr;
  png_infop info = nullptr;
};

void PngWriteData(png_structp png, png_bytep data, size_t length) {
  static_cast<PngWriteState*>(png_get_io_ptr(png))
      ->out.append(reinterpret_cast<const char*>(data), length);
}

void PngFlush(png_structp) {}

[[noreturn]] void PngWriteError(png_structp png, png_const_charp message) {
  static_cast<PngWriteState*>(png_get_error_ptr(png))->message = message;
  std::longjmp(png_jmpbuf(png), 1);
}

bool RunPngEncode(PngWriteState* s) {
  s->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, s, PngWriteError, PngWarning);
  if (s->png == nullptr) return false;
  s->info = png_create_info_struct(s->png);
  if (s->info == nullptr) {
    png_destroy_write_struct(&s->png, nullptr);
    return false;
  }
  if (setjmp(png_jmpbuf(s->png))) {
    png_destroy_write_struct(&s->png, &s->info);
    return false;
  }
  const Image& image = *s->image;
  png_set_write_fn(s->png, s, PngWriteData, PngFlush);
  png_set_IHDR(s->png, s->info, static_cast<png_uint_32>(image.width),
               static_cast<png_uint_32>(image.height), 8,
               image.channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(s->png, s->info);
  s->rows.resize(static_cast<size_t>(image.height));
  for (int y = 0; y < image.height; ++y) {
    s->rows[y] = const_cast<png_bytep>(image.Pixel(0, y));
  }
  png_write_image(s->png, s->rows.data());
  png_write_end(s->png, nullptr);
  png_destroy_write_struct(&s->png, &s->info);
  return true;
}

struct JpegEncodeState {
  const Image* image = nullptr;
  int quality = 90;
  unsigned char* out = nullptr;  // malloc'ed by libjpeg's memory destination.
  unsigned long size = 0;        // NOLINT(runtime/int): libjpeg's type.
  JpegError error;
  jpeg_compress_struct cinfo;
};

bool RunJpegEncode(JpegEncodeState* s) {
  jpeg_compress_struct* cinfo = &s->cinfo;
  std::memset(cinfo, 0, sizeof(*cinfo));
  cinfo->err = jpeg_std_error(&s->error.manager);
  s->error.manager.error_exit = JpegErrorExit;
  if (setjmp(s->error.jump)) {
    jpeg_destroy_compress(cinfo);
    return false;
  }
  jpeg_create_compress(cinfo);
  jpeg_mem_dest(cinfo, &s->out, &s->size);
  const Image& image = *s->image;
  cinfo->image_width = static_cast<JDIMENSION>(image.width);
  cinfo->image_height = static_cast<JDIMENSION>(image.height);
  cinfo->input_components = image.channels;
  cinfo->in_color_space = image.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(cinfo);
  jpeg_set_quality(cinfo, s->quality, TRUE);
  jpeg_start_compress(cinfo, TRUE);
  while (cinfo->next_scanline < cinfo->image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(image.Pixel(0, static_cast<int>(cinfo->next_scanline)));
    jpeg_write_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_compress(cinfo);
  jpeg_destroy_compress(cinfo);
  return true;
}

absl::Status CheckEncodable(const Image& image, absl::string_view format) {
  if (image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3) ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * image.channels) {
    return absl::InvalidArgumentError(
        absl::StrCat(format,
                     " encoding needs a non-empty 1- or 3-channel image with width*height*channels "
                     "bytes, got ",
                     image.width, "x", image.height, "x", image.channels, " with ",
                     image.pixels.size(), " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

ImageFormat SniffImageFormat(absl::string_view bytes) {
  if (bytes.size() >= 3 && static_cast<uint8_t>(bytes[0]) == 0xFF &&
      static_cast<uint8_t>(bytes[1]) == 0xD8 && static_cast<uint8_t>(bytes[2]) == 0xFF) {
    return ImageFormat::kJpeg;
  }
  if (bytes.size() >= 8 &&
      png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) == 0) {
    return ImageFormat::kPng;
  }
  return ImageFormat::kUnknown;
}

absl::StatusOr<ImageHeader> ReadImageHeader(absl::string_view bytes, absl::string_view name) {
  switch (SniffImageFormat(bytes)) {
    case ImageFormat::kJpeg: {
      auto state = std::make_unique<JpegDecodeState>();
      state->bytes = bytes;
      state->header_only = true;
      const bool ok = RunJpegDecode(state.get());
      if (!ok) return ImageError(name, absl::StrCat("corrupt JPEG header: ", state->error.message));
      return state->header;
    }
    case ImageFormat::kPng: {
      auto state = std::make_unique<PngDecodeState>();
      state->bytes = bytes;
      state->header_only = true;
      if (!RunPngDecode(state.get())) {
        return ImageError(name, absl::StrCat("corrupt PNG header: ", state->message));
      }
      return state->header;
    }
    case ImageFormat::kUnknown:
      break;
  }
  return ImageError(name, "not a JPEG or PNG file");
}

absl::StatusOr<DecodedImage> DecodeImage(absl::string_view bytes, absl::string_view name,
                                         const DecodeOptions& options) {
  if (options.channels != 1 && options.channels != 3) {
    return ImageError(name,
                      absl::StrCat("cannot decode to ", options.channels, " channels (1 or 3)"));
  }
  switch (SniffImageFormat(bytes)) {
    case ImageFormat::kJpeg: {
      // On the heap: libjpeg's structs are a few KB, and decoding runs on pool threads.
      auto state = std::make_unique<JpegDecodeState>();
      state->bytes = bytes;
      state->options = &options;
      const bool ok = RunJpegDecode(state.get());
      if (!ok) {
        if (!state->problem.empty()) return ImageError(name, state->problem);
        return ImageError(name, absl::StrCat("corrupt or truncated JPEG: ", state->error.message));
      }
      return std::move(state->result);
    }
    case ImageFormat::kPng: {
      auto state = std::make_unique<PngDecodeState>();
      state->bytes = bytes;
      state->options = &options;
      if (!RunPngDecode(state.get())) {
        return ImageError(name, absl::StrCat("corrupt or truncated PNG: ", state->message));
      }
      DecodedImage& result = state->result;
      const int rw = options.region_width, rh = options.region_height;
      if (rw > 0 && rh > 0 &&
          (options.region_x < 0 || options.region_y < 0 ||
           int64_t{options.region_x} + rw > result.full_width ||
           int64_t{options.region_y} + rh > result.full_height)) {
        return ImageError(name, absl::StrCat("region ", rw, "x", rh, "+", options.region_x, "+",
                                             options.region_y, " is outside the ",
                                             result.full_width, "x", result.full_height, " image"));
      }
      return std::move(state->result);
    }
    case ImageFormat::kUnknown:
      break;
  }
  return ImageError(name, "not a JPEG or PNG file");
}

absl::StatusOr<std::string> EncodeJpeg(const Image& image, int quality) {
  if (absl::Status checked = CheckEncodable(image, "JPEG"); !checked.ok()) return checked;
  if (quality < 1 || quality > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("JPEG quality ", quality, " is outside [1, 100]"));
  }
  auto state = std::make_unique<JpegEncodeState>();
  state->image = &image;
  state->quality = quality;
  const bool ok = RunJpegEncode(state.get());
  std::string out;
  if (ok) out.assign(reinterpret_cast<const char*>(state->out), state->size);
  std::free(state->out);
  if (!ok) return absl::InternalError(absl::StrCat("libjpeg: ", state->error.message));
  return out;
}

absl::StatusOr<std::string> EncodePng(const Image& image) {
  if (absl::Status checked = CheckEncodable(image, "PNG"); !checked.ok()) return checked;
  auto state = std::make_unique<PngWriteState>();
  state->image = &image;
  if (!RunPngEncode(state.get()))
    return absl::InternalError(absl::StrCat("libpng: ", state->message));
  return std::move(state->out);
}

}  // namespace netadapt::common
