#include "common/lut_fit_cache.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/little_endian.h"
#include "common/sha256.h"

namespace netadapt::common {
namespace {

constexpr char kMagic[8] = {'N', 'A', 'R', 'B', 'F', '\0', '\0', '\1'};
constexpr size_t kKeySize = kSha256Size;
constexpr size_t kHeaderSize = sizeof(kMagic) + kKeySize + 8;

uint64_t Bits(double value) {
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

double FromBits(uint64_t bits) {
  double value = 0;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// The raw key of a fit of `points` (RbfCubicPoints form).
std::string Key(const std::vector<ChannelPoint>& points) {
  std::string data = "netadapt rbf-cubic fit v1: phi=r^3 smooth=0 no-polynomial\n";
  AppendLittleEndian(&data, points.size(), 8);
  for (const ChannelPoint& p : points) {
    AppendLittleEndian(&data, static_cast<uint32_t>(p.in_channels), 4);
    AppendLittleEndian(&data, static_cast<uint32_t>(p.out_channels), 4);
    AppendLittleEndian(&data, Bits(p.latency_ms), 8);
  }
  return Sha256(data);
}

std::string FileName(const std::string& key) {
  return absl::StrCat("rbf-cubic-", BytesToHex(key), ".fit");
}

}  // namespace

LutFitCache::LutFitCache(std::string directory) : directory_(std::move(directory)) {}

std::string LutFitCache::PathFor(const std::vector<ChannelPoint>& points) const {
  return absl::StrCat(directory_, "/", FileName(Key(RbfCubicPoints(points))));
}

absl::StatusOr<RbfCubicFit> LutFitCache::Load(const std::vector<ChannelPoint>& points) const {
  RbfCubicFit fit;
  fit.points = RbfCubicPoints(points, &fit.merged_duplicates);
  const std::string key = Key(fit.points);
  const std::string path = absl::StrCat(directory_, "/", FileName(key));
  absl::StatusOr<std::string> read = ReadFile(path);
  if (!read.ok()) return read.status();
  const std::string& bytes = *read;
  auto damaged = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("rbf-cubic fit ", path, ": ", why));
  };
  if (bytes.size() < kHeaderSize + 4) return damaged("truncated");
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return damaged("not a version-1 fit file (magic)");
  }
  const size_t body = bytes.size() - 4;
  if (Crc32c(absl::string_view(bytes.data(), body)) !=
      ReadLittleEndian(absl::string_view(bytes).substr(body), 4)) {
    return damaged("CRC mismatch");
  }
  if (bytes.compare(sizeof(kMagic), kKeySize, key) != 0) {
    return damaged("fitted to other points");
  }
  const absl::string_view view(bytes);
  const uint64_t n = ReadLittleEndian(view.substr(sizeof(kMagic) + kKeySize), 8);
  if (n != fit.points.size() || body != kHeaderSize + 8 * n) {
    return damaged(absl::StrCat(n, " weights for ", fit.points.size(), " points"));
  }
  fit.weights.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    fit.weights[i] = FromBits(ReadLittleEndian(view.substr(kHeaderSize + 8 * i), 8));
    if (!std::isfinite(fit.weights[i])) return damaged("non-finite weight");
  }
  return fit;
}

absl::Status LutFitCache::Store(const RbfCubicFit& fit) const {
  if (fit.weights.empty()) return absl::OkStatus();  // a constant: nothing to solve again
  if (fit.weights.size() != fit.points.size()) {
    return absl::InvalidArgumentError(absl::StrCat("rbf-cubic fit: ", fit.weights.size(),
                                                   " weights for ", fit.points.size(), " points"));
  }
  const std::string key = Key(fit.points);
  std::string bytes(kMagic, sizeof(kMagic));
  bytes += key;
  AppendLittleEndian(&bytes, fit.weights.size(), 8);
  for (double w : fit.weights) AppendLittleEndian(&bytes, Bits(w), 8);
  AppendLittleEndian(&bytes, Crc32c(bytes), 4);

  std::error_code error;
  std::filesystem::create_directories(directory_, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", directory_, ": ", error.message()));
  }
  // WriteFileAtomically's temporary file is <path>.tmp, one for all writers: two jobs fitting the
  // same family at once would write it together. A name of this writer's own, renamed.
  static std::atomic<uint64_t> writes{0};
  const std::string path = absl::StrCat(directory_, "/", FileName(key));
  const std::string mine = absl::StrCat(path, ".", ::getpid(), ".", writes++);
  if (absl::Status written = WriteFileAtomically(mine, bytes); !written.ok()) return written;
  if (std::filesystem::rename(mine, path, error); error) {
    const std::string why = error.message();
    std::filesystem::remove(mine, error);
    return absl::UnavailableError(absl::StrCat("cannot rename onto ", path, ": ", why));
  }
  return absl::OkStatus();
}

}  // namespace netadapt::common
