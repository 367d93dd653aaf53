// Checkpoint framing (layout in checkpoint_format.h). The frame is checked before anything is
// parsed, and every length in the header is bounds-checked even after the checksum matched:
// the digest proves the bytes are what some writer wrote, not that the writer was ours.
#include "common/checkpoint_format.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/network_def_json.h"
#include "common/sha256.h"
#include "common/little_endian.h"
#include "common/status_macros.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "checkpoint tensor data is written in host order, which must be little-endian");

namespace netadapt::common {
namespace {

// "NACKPT" + format version 1.
constexpr char kMagic[8] = {'N', 'A', 'C', 'K', 'P', 'T', '\0', '\1'};
constexpr size_t kMagicIdSize = 6;  // the part that says "a checkpoint", before the version
constexpr size_t kDigestSize = kSha256Size;
// magic + header_length + (empty header) + data_length + digest.
constexpr size_t kMinSize = sizeof(kMagic) + 8 + 8 + kDigestSize;
constexpr uint8_t kDtypeFloat32 = 0;
constexpr uint8_t kDtypeInt64 = 1;

// Sequential reads from the header; every read is bounds-checked.
class HeaderReader {
 public:
  explicit HeaderReader(absl::string_view in) : in_(in) {}

  bool Read(uint64_t n, absl::string_view* out) {
    if (n > in_.size() - pos_) return false;
    *out = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool ReadUint(int bytes, uint64_t* out) {
    absl::string_view raw;
    if (!Read(bytes, &raw)) return false;
    *out = ReadLittleEndian(raw, bytes);
    return true;
  }
  bool AtEnd() const { return pos_ == in_.size(); }

 private:
  absl::string_view in_;
  size_t pos_ = 0;
};

std::string SerializeDeterministically(const NetworkDef& def) {
  const v1::NetworkDef proto = NetworkDefToProto(def);
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    proto.SerializeToCodedStream(&coded);
  }
  return out;
}

// Where the parts of a checkpoint are, once its frame has been checked.
struct Frame {
  absl::string_view header;
  absl::string_view data;
};

absl::StatusOr<Frame> CheckFrame(absl::string_view bytes, absl::string_view source) {
  const absl::string_view id(kMagic, kMagicIdSize);
  if (bytes.size() < kMagicIdSize) {
    if (id.substr(0, bytes.size()) == bytes) {
      return absl::DataLossError(absl::StrCat(source, ": truncated: ", bytes.size(),
                                              " bytes is shorter than a checkpoint"));
    }
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a netadapt checkpoint"));
  }
  if (bytes.substr(0, kMagicIdSize) != id) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not a netadapt checkpoint (no NACKPT magic)"));
  }
  if (bytes.size() < kMinSize) {
    return absl::DataLossError(absl::StrCat(source, ": truncated: ", bytes.size(),
                                            " bytes is shorter than a checkpoint"));
  }
  if (bytes.substr(0, sizeof(kMagic)) != absl::string_view(kMagic, sizeof(kMagic))) {
    // The version is the magic's last two bytes, big-endian ("\0\1" is 1).
    auto version = [](absl::string_view magic) {
      return (static_cast<unsigned char>(magic[kMagicIdSize]) << 8) |
             static_cast<unsigned char>(magic[kMagicIdSize + 1]);
    };
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": unsupported checkpoint format version ", version(bytes),
                     " (this build reads version ", version(absl::string_view(kMagic, 8)), ")"));
  }
  // Lengths first, so that a cut file says "truncated" rather than only "checksum mismatch".
  const uint64_t header_length = ReadLittleEndian(bytes.substr(sizeof(kMagic)), 8);
  const uint64_t after_header = sizeof(kMagic) + 8;
  if (header_length > bytes.size() - kMinSize) {
    return absl::DataLossError(absl::StrCat(source, ": truncated or corrupted: the header is ",
                                            header_length, " bytes, the file only ",
                                            bytes.size()));
  }
  const uint64_t data_length = ReadLittleEndian(bytes.substr(after_header + header_length), 8);
  const uint64_t available = bytes.size() - kMinSize - header_length;
  if (data_length != available) {
    return absl::DataLossError(absl::StrCat(
        source, ": ", data_length > available ? "truncated" : "trailing bytes",
        ": the header announces ", data_length, " bytes of tensor data, the file holds ",
        available));
  }
  const absl::string_view body = bytes.substr(0, bytes.size() - kDigestSize);
  if (Sha256(body) != bytes.substr(body.size())) {
    return absl::DataLossError(
        absl::StrCat(source, ": checksum mismatch: the checkpoint is corrupted"));
  }
  return Frame{bytes.substr(after_header, header_length),
               bytes.substr(after_header + header_length + 8, data_length)};
}

absl::StatusOr<CheckpointContents> DecodeFramed(const Frame& frame, absl::string_view source) {
  auto malformed = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat(source, ": malformed checkpoint header: ", what));
  };
  HeaderReader header(frame.header);
  uint64_t def_length = 0;
  absl::string_view def_bytes;
  if (!header.ReadUint(8, &def_length) || !header.Read(def_length, &def_bytes)) {
    return malformed("network definition cut short");
  }
  v1::NetworkDef proto;
  if (!proto.ParseFromArray(def_bytes.data(), static_cast<int>(def_bytes.size()))) {
    return malformed("the network definition is not a netadapt.v1.NetworkDef");
  }
  absl::StatusOr<NetworkDef> def = NetworkDefFromProto(proto);
  if (!def.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": invalid network definition: ", def.status().message()));
  }

  CheckpointContents contents;
  contents.def = *std::move(def);
  uint64_t count = 0;
  if (!header.ReadUint(4, &count)) return malformed("tensor count cut short");
  std::set<absl::string_view> seen;
  uint64_t expected_offset = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t name_length = 0, dtype = 0, rank = 0, offset = 0, length = 0;
    absl::string_view name;
    if (!header.ReadUint(4, &name_length) || !header.Read(name_length, &name) ||
        !header.ReadUint(1, &dtype) || !header.ReadUint(4, &rank)) {
      return malformed(absl::StrCat("tensor entry ", i, " cut short"));
    }
    if (dtype != kDtypeFloat32 && dtype != kDtypeInt64) {
      return malformed(absl::StrCat("tensor ", name, " has unknown dtype code ", dtype));
    }
    if (rank > 8) return malformed(absl::StrCat("tensor ", name, " has rank ", rank));
    std::vector<int64_t> sizes;
    // Elements, bounded by the data section so the product cannot overflow.
    uint64_t numel = 1;
    for (uint64_t d = 0; d < rank; ++d) {
      uint64_t size = 0;
      if (!header.ReadUint(8, &size)) return malformed(absl::StrCat("tensor ", name, " cut short"));
      if (size > (uint64_t{1} << 48) || (size != 0 && numel > frame.data.size() / size)) {
        return malformed(absl::StrCat("tensor ", name, " is larger than the data section"));
      }
      numel *= size;
      sizes.push_back(static_cast<int64_t>(size));
    }
    if (!header.ReadUint(8, &offset) || !header.ReadUint(8, &length)) {
      return malformed(absl::StrCat("tensor ", name, " cut short"));
    }
    const uint64_t element_size = dtype == kDtypeInt64 ? 8 : 4;
    if (offset != expected_offset || length != numel * element_size ||
        length > frame.data.size() - offset) {
      return malformed(absl::StrCat("tensor ", name, " data at [", offset, ", +", length,
                                    ") does not follow the previous tensor or fit its shape"));
    }
    expected_offset += length;
    if (!seen.insert(name).second) return malformed(absl::StrCat("tensor ", name, " repeated"));
    CheckpointTensor& tensor = contents.tensors.emplace_back();
    tensor.name = std::string(name);
    tensor.dtype = dtype == kDtypeInt64 ? TensorDtype::kInt64 : TensorDtype::kFloat32;
    tensor.shape = std::move(sizes);
    tensor.data = frame.data.substr(offset, length);
  }
  if (!header.AtEnd()) return malformed("bytes after the tensor table");
  if (expected_offset != frame.data.size()) {
    return malformed("tensor data section holds bytes no tensor uses");
  }
  return contents;
}

int64_t Elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t size : shape) n *= size;
  return n;
}

absl::string_view DtypeName(TensorDtype dtype) {
  return dtype == TensorDtype::kInt64 ? "int64" : "float32";
}

}  // namespace

const CheckpointTensor* CheckpointContents::Find(absl::string_view name) const {
  for (const CheckpointTensor& tensor : tensors) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

int ElementSize(TensorDtype dtype) { return dtype == TensorDtype::kInt64 ? 8 : 4; }

absl::StatusOr<std::string> EncodeCheckpoint(const NetworkDef& def,
                                             const std::vector<CheckpointTensor>& tensors) {
  std::string header;
  const std::string def_bytes = SerializeDeterministically(def);
  AppendLittleEndian(&header, def_bytes.size(), 8);
  header += def_bytes;
  AppendLittleEndian(&header, tensors.size(), 4);
  uint64_t data_length = 0;
  for (const CheckpointTensor& tensor : tensors) {
    const uint64_t length = static_cast<uint64_t>(Elements(tensor.shape)) *
                            static_cast<uint64_t>(ElementSize(tensor.dtype));
    if (tensor.data.size() != length) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor ", tensor.name, " of shape ", ShapeString(tensor.shape), " holds ",
          tensor.data.size(), " bytes, not ", length));
    }
    AppendLittleEndian(&header, tensor.name.size(), 4);
    header += tensor.name;
    header.push_back(static_cast<char>(tensor.dtype == TensorDtype::kInt64 ? kDtypeInt64
                                                                          : kDtypeFloat32));
    AppendLittleEndian(&header, tensor.shape.size(), 4);
    for (int64_t size : tensor.shape) AppendLittleEndian(&header, size, 8);
    AppendLittleEndian(&header, data_length, 8);
    AppendLittleEndian(&header, length, 8);
    data_length += length;
  }
  std::string out;
  out.reserve(kMinSize + header.size() + data_length);
  out.append(kMagic, sizeof(kMagic));
  AppendLittleEndian(&out, header.size(), 8);
  out += header;
  AppendLittleEndian(&out, data_length, 8);
  for (const CheckpointTensor& tensor : tensors) out.append(tensor.data.data(), tensor.data.size());
  out += Sha256(out);
  return out;
}

absl::Status CheckCheckpointFrame(absl::string_view bytes, absl::string_view source) {
  return CheckFrame(bytes, source).status();
}

absl::StatusOr<CheckpointContents> DecodeCheckpoint(absl::string_view bytes,
                                                    absl::string_view source) {
  NETADAPT_ASSIGN_OR_RETURN(Frame frame, CheckFrame(bytes, source));
  return DecodeFramed(frame, source);
}

absl::Status CheckTensorsMatch(const NetworkDef& def,
                               const std::vector<CheckpointTensor>& tensors,
                               absl::string_view source) {
  NETADAPT_ASSIGN_OR_RETURN(std::vector<TensorSpec> specs, NetworkTensors(def));
  std::vector<std::string> missing;
  std::set<absl::string_view> expected;
  for (const TensorSpec& spec : specs) {
    expected.insert(spec.name);
    const CheckpointTensor* tensor = nullptr;
    for (const CheckpointTensor& t : tensors) {
      if (t.name == spec.name) tensor = &t;
    }
    if (tensor == nullptr) {
      missing.push_back(spec.name);
      continue;
    }
    if (tensor->shape != spec.shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": tensor ", spec.name, " has shape ", ShapeString(tensor->shape),
          " but the network definition needs ", ShapeString(spec.shape)));
    }
    if (tensor->dtype != spec.dtype) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": tensor ", spec.name, " has dtype ", DtypeName(tensor->dtype),
          " but the network definition needs ", DtypeName(spec.dtype)));
    }
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": missing tensors ", absl::StrJoin(missing, ", ")));
  }
  std::vector<absl::string_view> unexpected;
  for (const CheckpointTensor& tensor : tensors) {
    if (expected.count(tensor.name) == 0) unexpected.push_back(tensor.name);
  }
  if (!unexpected.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": tensors not in the network definition: ", absl::StrJoin(unexpected, ", ")));
  }
  return absl::OkStatus();
}

}  // namespace netadapt::common
