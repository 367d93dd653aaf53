// Checkpoint files (layout in checkpoint.h). The frame is checked before anything is parsed,
// and every length in the header is bounds-checked even after the checksum matched: the digest
// proves the bytes are what some writer wrote, not that the writer was ours.
#include "common/torch/checkpoint.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/core/GradMode.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <cstring>
#include <exception>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/network_def_json.h"
#include "common/network_tensors.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/torch/internal/model_state.h"
#include "common/torch/internal/torch_device.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "checkpoint tensor data is written in host order, which must be little-endian");

namespace netadapt::engine {
namespace {

// "NACKPT" + format version 1.
constexpr char kMagic[8] = {'N', 'A', 'C', 'K', 'P', 'T', '\0', '\1'};
constexpr size_t kMagicIdSize = 6;  // the part that says "a checkpoint", before the version
constexpr size_t kDigestSize = common::kSha256Size;
// magic + header_length + (empty header) + data_length + digest.
constexpr size_t kMinSize = sizeof(kMagic) + 8 + 8 + kDigestSize;
constexpr uint8_t kDtypeFloat32 = 0;
constexpr uint8_t kDtypeInt64 = 1;

void AppendLittleEndian(std::string* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

uint64_t ReadLittleEndian(absl::string_view in, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return value;
}

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

std::string SerializeDeterministically(const common::NetworkDef& def) {
  const v1::NetworkDef proto = common::NetworkDefToProto(def);
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
  if (common::Sha256(body) != bytes.substr(body.size())) {
    return absl::DataLossError(
        absl::StrCat(source, ": checksum mismatch: the checkpoint is corrupted"));
  }
  return Frame{bytes.substr(after_header, header_length),
               bytes.substr(after_header + header_length + 8, data_length)};
}

absl::StatusOr<Model> ParseFramed(const Frame& frame, c10::Device device,
                                  absl::string_view source) {
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
  absl::StatusOr<common::NetworkDef> def = common::NetworkDefFromProto(proto);
  if (!def.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": invalid network definition: ", def.status().message()));
  }

  uint64_t count = 0;
  if (!header.ReadUint(4, &count)) return malformed("tensor count cut short");
  internal::NamedTensors tensors;
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
    const std::string key(name);
    if (tensors.count(key) != 0) return malformed(absl::StrCat("tensor ", name, " repeated"));
    try {
      at::Tensor tensor = at::empty(sizes, at::TensorOptions().dtype(
                                               dtype == kDtypeInt64 ? c10::kLong : c10::kFloat));
      if (length > 0) std::memcpy(tensor.data_ptr(), frame.data.data() + offset, length);
      tensors.emplace(key, std::move(tensor));
    } catch (const std::exception& e) {
      return absl::ResourceExhaustedError(
          absl::StrCat(source, ": cannot allocate tensor ", name, ": ", e.what()));
    }
  }
  if (!header.AtEnd()) return malformed("bytes after the tensor table");
  if (expected_offset != frame.data.size()) {
    return malformed("tensor data section holds bytes no tensor uses");
  }
  return internal::MakeModel(*def, std::move(tensors), device, source);
}

}  // namespace

absl::StatusOr<std::string> SerializeCheckpoint(const Model& model) {
  const internal::ModelState& state = model.state();
  NETADAPT_ASSIGN_OR_RETURN(std::vector<common::TensorSpec> specs,
                            common::NetworkTensors(state.def));
  std::vector<at::Tensor> cpu;
  std::string header;
  const std::string def = SerializeDeterministically(state.def);
  AppendLittleEndian(&header, def.size(), 8);
  header += def;
  AppendLittleEndian(&header, specs.size(), 4);
  uint64_t data_length = 0;
  try {
    c10::NoGradGuard no_grad;
    for (const common::TensorSpec& spec : specs) {
      auto it = state.tensors.find(spec.name);
      if (it == state.tensors.end()) {
        return absl::InternalError(absl::StrCat("model lacks tensor ", spec.name));
      }
      at::Tensor tensor = it->second.detach().to(c10::kCPU).contiguous();
      const bool is_long = tensor.scalar_type() == c10::kLong;
      if (!is_long && tensor.scalar_type() != c10::kFloat) {
        return absl::InternalError(absl::StrCat("tensor ", spec.name, " has dtype ",
                                                c10::toString(tensor.scalar_type())));
      }
      AppendLittleEndian(&header, spec.name.size(), 4);
      header += spec.name;
      header.push_back(static_cast<char>(is_long ? kDtypeInt64 : kDtypeFloat32));
      AppendLittleEndian(&header, tensor.dim(), 4);
      for (int64_t size : tensor.sizes()) AppendLittleEndian(&header, size, 8);
      const uint64_t length = tensor.numel() * tensor.element_size();
      AppendLittleEndian(&header, data_length, 8);
      AppendLittleEndian(&header, length, 8);
      data_length += length;
      cpu.push_back(std::move(tensor));
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot copy the model to the CPU: ", e.what()));
  }
  std::string out;
  out.reserve(kMinSize + header.size() + data_length);
  out.append(kMagic, sizeof(kMagic));
  AppendLittleEndian(&out, header.size(), 8);
  out += header;
  AppendLittleEndian(&out, data_length, 8);
  for (const at::Tensor& tensor : cpu) {
    out.append(static_cast<const char*>(tensor.data_ptr()), tensor.numel() * tensor.element_size());
  }
  out += common::Sha256(out);
  return out;
}

absl::StatusOr<Model> ParseCheckpoint(absl::string_view bytes, absl::string_view device,
                                      absl::string_view source) {
  NETADAPT_ASSIGN_OR_RETURN(c10::Device target, internal::ParseDevice(device));
  NETADAPT_ASSIGN_OR_RETURN(Frame frame, CheckFrame(bytes, source));
  try {
    return ParseFramed(frame, target, source);
  } catch (const std::exception& e) {
    // MakeModel's move to the device is the only part that may throw (e.g. out of memory).
    return absl::InternalError(absl::StrCat(source, ": cannot load the checkpoint: ", e.what()));
  }
}

absl::StatusOr<std::string> SaveCheckpoint(const Model& model, const std::string& path) {
  NETADAPT_ASSIGN_OR_RETURN(std::string bytes, SerializeCheckpoint(model));
  NETADAPT_RETURN_IF_ERROR(common::WriteFileAtomically(path, bytes));
  return common::Sha256Hex(bytes);
}

absl::StatusOr<Model> LoadCheckpoint(const std::string& path, absl::string_view device) {
  NETADAPT_ASSIGN_OR_RETURN(std::string bytes, common::ReadFile(path));
  return ParseCheckpoint(bytes, device, path);
}

absl::StatusOr<std::string> CheckpointDigest(absl::string_view bytes) {
  NETADAPT_RETURN_IF_ERROR(CheckFrame(bytes, "checkpoint").status());
  return common::Sha256Hex(bytes);
}

absl::StatusOr<std::string> CheckpointSha256(const std::string& path) {
  NETADAPT_ASSIGN_OR_RETURN(std::string bytes, common::ReadFile(path));
  absl::Status frame = CheckFrame(bytes, path).status();
  if (!frame.ok()) return frame;
  return common::Sha256Hex(bytes);
}

}  // namespace netadapt::engine
