// state_dict import. torch.save's zip is read with LibTorch's own zip reader
// (PyTorchStreamReader), but data.pkl is parsed by common/torch_pickle: LibTorch 1.13's
// torch::pickle_load maps collections.OrderedDict, which every state_dict() is, to None and
// throws; our reader knows exactly the few globals a state_dict uses and executes nothing.
#include "common/torch/state_dict_import.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/network_tensors.h"
#include "common/status_macros.h"
#include "common/torch_pickle.h"
#include "common/torch/internal/model_state.h"
#include "common/torch/internal/torch_device.h"

namespace netadapt::engine {
namespace {

using common::PickleDtype;
using common::PickleTensor;
using common::PickleValue;

// What pickle.dump writes first in the legacy (torch < 1.6, or
// _use_new_zipfile_serialization=False) format: PROTO 2, then LONG1 of torch's magic number.
constexpr unsigned char kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                          0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

// Reads from bytes we already hold, clamping every read to them (MemoryReadAdapter does not).
class BytesReadAdapter final : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BytesReadAdapter(absl::string_view bytes) : bytes_(bytes) {}
  size_t size() const override { return bytes_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= bytes_.size()) return 0;
    n = std::min<uint64_t>(n, bytes_.size() - pos);
    std::memcpy(buf, bytes_.data() + pos, n);
    return n;
  }

 private:
  absl::string_view bytes_;
};

std::string TorchMessage(const std::exception& e) {
  if (const auto* error = dynamic_cast<const c10::Error*>(&e)) {
    return error->what_without_backtrace();
  }
  return e.what();
}

c10::ScalarType ScalarTypeOf(PickleDtype dtype) {
  switch (dtype) {
    case PickleDtype::kFloat32: return c10::kFloat;
    case PickleDtype::kFloat64: return c10::kDouble;
    case PickleDtype::kFloat16: return c10::kHalf;
    case PickleDtype::kBFloat16: return c10::kBFloat16;
    case PickleDtype::kInt64: return c10::kLong;
    case PickleDtype::kInt32: return c10::kInt;
    case PickleDtype::kInt16: return c10::kShort;
    case PickleDtype::kInt8: return c10::kChar;
    case PickleDtype::kUInt8: return c10::kByte;
    case PickleDtype::kBool: return c10::kBool;
  }
  return c10::kFloat;
}

bool IsFloating(PickleDtype dtype) {
  return dtype == PickleDtype::kFloat32 || dtype == PickleDtype::kFloat64 ||
         dtype == PickleDtype::kFloat16 || dtype == PickleDtype::kBFloat16;
}

// The dtype a tensor is converted to: float types to float32 where the network wants float32,
// integer types to int64 where it wants int64; anything else is left for MakeModel to reject.
c10::ScalarType TargetType(PickleDtype dtype, const common::TensorSpec& spec) {
  const bool want_int = spec.dtype == common::TensorDtype::kInt64;
  if (!want_int && IsFloating(dtype)) return c10::kFloat;
  if (want_int && !IsFloating(dtype) && dtype != PickleDtype::kBool) return c10::kLong;
  return ScalarTypeOf(dtype);
}

// The name -> tensor dict in the unpickled file: the top-level dict, or its "state_dict" or
// "model" entry when the top level holds more than tensors.
absl::StatusOr<const PickleValue*> FindStateDict(const PickleValue& root,
                                                 absl::string_view source) {
  if (root.kind != PickleValue::Kind::kDict) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": holds a ", common::PickleKindName(root.kind),
        ", not a state_dict (save it with torch.save(model.state_dict(), path))"));
  }
  const bool all_tensors =
      std::all_of(root.entries->begin(), root.entries->end(),
                  [](const auto& entry) { return entry.second.kind == PickleValue::Kind::kTensor; });
  if (all_tensors) return &root;
  for (absl::string_view key : {"state_dict", "model"}) {
    const PickleValue* inner = root.Find(key);
    if (inner != nullptr && inner->kind == PickleValue::Kind::kDict) return inner;
  }
  return &root;  // reported entry by entry below
}

class Importer {
 public:
  Importer(caffe2::serialize::PyTorchStreamReader& reader, absl::string_view source)
      : reader_(reader), source_(source) {}

  // A CPU tensor, contiguous and owning its memory, of `spec`'s dtype where convertible.
  absl::StatusOr<at::Tensor> Build(absl::string_view name, const PickleTensor& t,
                                   const common::TensorSpec& spec) {
    NETADAPT_ASSIGN_OR_RETURN(const Record* record, GetRecord(t.storage_key, name));
    const int64_t element_size = common::PickleDtypeSize(t.dtype);
    if (record->size / element_size < static_cast<uint64_t>(t.storage_numel)) {
      return Error(name, absl::StrCat("its storage data/", t.storage_key, " holds ",
                                      record->size, " bytes, not ", t.storage_numel, " ",
                                      common::PickleDtypeName(t.dtype), " elements"));
    }
    // The view must stay inside the storage: offset + sum((size - 1) * stride) < numel.
    __int128 last = t.storage_offset;
    bool empty = false;
    for (size_t d = 0; d < t.sizes.size(); ++d) {
      if (t.sizes[d] == 0) empty = true;
      last += static_cast<__int128>(t.sizes[d] > 0 ? t.sizes[d] - 1 : 0) * t.strides[d];
    }
    if (!empty && last >= t.storage_numel) {
      return Error(name, absl::StrCat("its view (offset ", t.storage_offset, ", size ",
                                      common::ShapeString(t.sizes), ", stride ",
                                      common::ShapeString(t.strides),
                                      ") reaches past its storage of ", t.storage_numel,
                                      " elements"));
    }
    const c10::ScalarType source_type = ScalarTypeOf(t.dtype);
    at::Tensor out = at::empty(t.sizes, at::TensorOptions().dtype(TargetType(t.dtype, spec)));
    if (!empty) {
      at::Tensor storage = at::from_blob(record->data.get(), {t.storage_numel},
                                         at::TensorOptions().dtype(source_type));
      out.copy_(storage.as_strided(t.sizes, t.strides, t.storage_offset));
    }
    return out;
  }

 private:
  struct Record {
    at::DataPtr data;
    uint64_t size = 0;
  };

  absl::Status Error(absl::string_view name, absl::string_view problem) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": tensor ", name, ": ", problem));
  }

  absl::StatusOr<const Record*> GetRecord(const std::string& key, absl::string_view name) {
    auto it = records_.find(key);
    if (it != records_.end()) return it->second.get();
    const std::string record_name = "data/" + key;
    if (key.empty() || key.find('/') != std::string::npos || !reader_.hasRecord(record_name)) {
      return Error(name, absl::StrCat("the archive has no record ", record_name));
    }
    auto record = std::make_unique<Record>();
    std::tie(record->data, record->size) = reader_.getRecord(record_name);
    return records_.emplace(key, std::move(record)).first->second.get();
  }

  caffe2::serialize::PyTorchStreamReader& reader_;
  std::string source_;
  std::map<std::string, std::unique_ptr<Record>> records_;
};

absl::StatusOr<internal::NamedTensors> ReadTensors(absl::string_view bytes,
                                                   const std::vector<common::TensorSpec>& specs,
                                                   absl::string_view source) {
  auto reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(
      std::make_shared<BytesReadAdapter>(bytes));
  if (reader->hasRecord("constants.pkl") || reader->hasRecord("code/__torch__.py")) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": a TorchScript archive (torch.jit.save), not a state_dict; save "
                "model.state_dict() with torch.save"));
  }
  if (!reader->hasRecord("data.pkl")) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the zip has no data.pkl: not a torch.save file"));
  }
  if (reader->hasRecord("byteorder")) {
    auto [data, size] = reader->getRecord("byteorder");
    const absl::string_view order(static_cast<const char*>(data.get()), size);
    if (order != "little") {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": tensors are stored ", order, "-endian; only little-endian is supported"));
    }
  }
  auto [pickle_data, pickle_size] = reader->getRecord("data.pkl");
  absl::StatusOr<PickleValue> root = common::ParseTorchPickle(
      absl::string_view(static_cast<const char*>(pickle_data.get()), pickle_size));
  if (!root.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": data.pkl: ", root.status().message()));
  }
  NETADAPT_ASSIGN_OR_RETURN(const PickleValue* state_dict, FindStateDict(*root, source));

  std::map<std::string, const common::TensorSpec*> by_name;
  for (const common::TensorSpec& spec : specs) by_name[spec.name] = &spec;
  Importer importer(*reader, source);
  internal::NamedTensors tensors;
  for (const auto& [key, value] : *state_dict->entries) {
    if (key.kind != PickleValue::Kind::kString) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": a state_dict key is a ", common::PickleKindName(key.kind), ", not a str"));
    }
    if (value.kind != PickleValue::Kind::kTensor) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": entry '", key.text, "' is a ",
                       common::PickleKindName(value.kind), ", not a tensor"));
    }
    auto spec = by_name.find(key.text);
    if (spec == by_name.end()) {
      // Not read: MakeModel names every unexpected tensor in one message.
      tensors[key.text] = at::Tensor();
      continue;
    }
    // Checked before the data is touched, with MakeModel's message.
    if (value.tensor->sizes != spec->second->shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": tensor ", key.text, " has shape ", common::ShapeString(value.tensor->sizes),
          " but the network definition needs ", common::ShapeString(spec->second->shape)));
    }
    NETADAPT_ASSIGN_OR_RETURN(tensors[key.text],
                              importer.Build(key.text, *value.tensor, *spec->second));
  }
  // The one tensor allowed to be absent: PyTorch < 0.4.1 had no num_batches_tracked, and
  // load_state_dict() tolerates its absence too.
  for (const common::TensorSpec& spec : specs) {
    if (spec.field == "num_batches_tracked" && tensors.count(spec.name) == 0) {
      tensors[spec.name] = at::zeros(spec.shape, at::TensorOptions().dtype(c10::kLong));
    }
  }
  return tensors;
}

absl::Status CheckFormat(absl::string_view bytes, absl::string_view source) {
  if (bytes.size() >= sizeof(kLegacyMagic) &&
      std::memcmp(bytes.data(), kLegacyMagic, sizeof(kLegacyMagic)) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": legacy torch.save format (torch < 1.6 or "
                "_use_new_zipfile_serialization=False); re-save it with torch >= 1.6's default: "
                "torch.save(model.state_dict(), path)"));
  }
  if (bytes.size() < 4 || bytes.substr(0, 4) != absl::string_view("PK\x03\x04", 4)) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": not a torch.save zip archive; save the weights with "
                "torch.save(model.state_dict(), path) using torch >= 1.6's default format"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Model> ImportStateDict(const common::NetworkDef& def, const std::string& path,
                                      absl::string_view device) {
  NETADAPT_ASSIGN_OR_RETURN(c10::Device target, internal::ParseDevice(device));
  NETADAPT_ASSIGN_OR_RETURN(std::vector<common::TensorSpec> specs, common::NetworkTensors(def));
  NETADAPT_ASSIGN_OR_RETURN(std::string bytes, common::ReadFile(path));
  const std::string source = absl::StrCat("state_dict ", path);
  NETADAPT_RETURN_IF_ERROR(CheckFormat(bytes, source));
  internal::NamedTensors tensors;
  try {
    c10::NoGradGuard no_grad;
    NETADAPT_ASSIGN_OR_RETURN(tensors, ReadTensors(bytes, specs, source));
  } catch (const std::exception& e) {
    // PyTorchStreamReader throws on a damaged zip: a cut file, a bad central directory, a
    // record whose CRC does not match.
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": not a readable torch.save zip archive (truncated or corrupted?): ",
        TorchMessage(e)));
  }
  try {
    return internal::MakeModel(def, std::move(tensors), target, source);
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat(source, ": cannot move the weights to ", device, ": ", TorchMessage(e)));
  }
}

}  // namespace netadapt::engine
