#include "common/dataset_file.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

bool HasGzipMagic(absl::string_view data) {
  return data.size() >= 2 && static_cast<uint8_t>(data[0]) == 0x1f &&
         static_cast<uint8_t>(data[1]) == 0x8b;
}

// Ends the inflate stream on every path out of Gunzip.
class InflateStream {
 public:
  InflateStream() = default;
  ~InflateStream() {
    if (initialised_) inflateEnd(&stream_);
  }
  InflateStream(const InflateStream&) = delete;
  InflateStream& operator=(const InflateStream&) = delete;

  // 16 + MAX_WBITS: expect a gzip header and trailer (checks the CRC and length).
  bool Init() { return initialised_ = inflateInit2(&stream_, 16 + MAX_WBITS) == Z_OK; }
  z_stream* get() { return &stream_; }

 private:
  z_stream stream_{};
  bool initialised_ = false;
};

}  // namespace

absl::StatusOr<std::string> Gunzip(absl::string_view data, absl::string_view path) {
  InflateStream inflater;
  if (!inflater.Init()) return absl::InternalError(absl::StrCat("zlib init failed for ", path));
  z_stream* stream = inflater.get();

  // A gzip trailer ends with the uncompressed size mod 2^32: a good guess of the capacity to
  // reserve, unless the data is truncated or corrupt and the "trailer" is arbitrary bytes. So
  // trust it only up to deflate's best ratio (1032:1) and 256 MiB, and only reserve: pages are
  // touched as the output grows, so a wrong guess costs address space, not memory or time.
  constexpr size_t kMaxReserve = size_t{256} << 20;
  size_t guess = std::min(data.size() * 4, kMaxReserve);
  if (data.size() >= 18) {
    const auto* tail = reinterpret_cast<const uint8_t*>(data.data() + data.size() - 4);
    const uint32_t isize =
        tail[0] | (tail[1] << 8) | (tail[2] << 16) | (static_cast<uint32_t>(tail[3]) << 24);
    if (isize <= data.size() * 1032) guess = std::min<size_t>(isize, kMaxReserve);
  }
  std::string out;
  out.reserve(guess);
  size_t out_used = 0;
  size_t in_pos = 0;  // Bytes of `data` handed to zlib so far.
  // zlib counts in uInt (32 bits): feed and drain large buffers in pieces.
  constexpr size_t kMaxChunk = size_t{1} << 30;
  while (true) {
    if (stream->avail_in == 0 && in_pos < data.size()) {
      const size_t chunk = std::min(data.size() - in_pos, kMaxChunk);
      stream->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + in_pos));
      stream->avail_in = static_cast<uInt>(chunk);
      in_pos += chunk;
    }
    if (out_used == out.size()) {
      // Doubling keeps zero-filling within twice the output; it reallocates only past the
      // reserved capacity.
      size_t size = std::max<size_t>(out.size() * 2, 1 << 16);
      if (out.capacity() > out.size()) size = std::min(size, out.capacity());
      out.resize(size);
    }
    const size_t avail_out = std::min(out.size() - out_used, kMaxChunk);
    stream->next_out = reinterpret_cast<Bytef*>(out.data() + out_used);
    stream->avail_out = static_cast<uInt>(avail_out);
    const int result = inflate(stream, Z_NO_FLUSH);
    out_used += avail_out - stream->avail_out;
    if (result == Z_STREAM_END) {
      const size_t consumed = in_pos - stream->avail_in;
      if (consumed == data.size()) break;
      if (!HasGzipMagic(data.substr(consumed))) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": ", data.size() - consumed, " bytes after the gzip stream"));
      }
      // Another member follows (as `cat a.gz b.gz` makes); next_in already points at it.
      if (inflateReset(stream) != Z_OK) {
        return absl::InternalError(absl::StrCat("zlib reset failed for ", path));
      }
      continue;
    }
    if (result == Z_OK) continue;
    if (result == Z_BUF_ERROR && (stream->avail_in > 0 || in_pos < data.size())) continue;
    if (result == Z_BUF_ERROR) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": truncated gzip data (ends after ",
                                                     out_used, " uncompressed bytes)"));
    }
    if (result == Z_MEM_ERROR) {
      return absl::ResourceExhaustedError(absl::StrCat("out of memory inflating ", path));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": corrupt gzip data (", stream->msg != nullptr ? stream->msg : "zlib error", ")"));
  }
  out.resize(out_used);
  return out;
}

absl::StatusOr<DatasetFile> ReadDatasetFile(const std::string& path) {
  DatasetFile file;
  file.path = path;
  std::error_code error;
  if (!std::filesystem::exists(path, error) && !absl::EndsWith(path, ".gz")) {
    const std::string gz_path = path + ".gz";
    if (!std::filesystem::exists(gz_path, error)) {
      return absl::NotFoundError(
          absl::StrCat("dataset file ", path, " (or ", gz_path, ") does not exist"));
    }
    file.path = gz_path;
  }
  NETADAPT_ASSIGN_OR_RETURN(std::string raw, ReadFile(file.path));
  if (HasGzipMagic(raw)) {
    NETADAPT_ASSIGN_OR_RETURN(file.content, Gunzip(raw, file.path));
  } else if (absl::EndsWith(file.path, ".gz")) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.path,
                     ": has a .gz name but does not start with the gzip magic "
                     "bytes 0x1f 0x8b"));
  } else {
    file.content = std::move(raw);
  }
  return file;
}

absl::Status CheckDatasetDirectory(const std::string& dir, absl::string_view what) {
  std::error_code error;
  const auto status = std::filesystem::status(dir, error);
  if (!std::filesystem::exists(status)) {
    return absl::NotFoundError(absl::StrCat(what, " directory ", dir, " does not exist"));
  }
  if (!std::filesystem::is_directory(status)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " path ", dir, " is not a directory"));
  }
  return absl::OkStatus();
}

}  // namespace netadapt::common
