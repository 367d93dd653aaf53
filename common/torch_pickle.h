#pragma once
// A small, torch-free reader for the pickles torch.save writes (the data.pkl record of its zip
// format), enough for a state_dict: plain values, tuples, lists, dicts, collections.OrderedDict
// and tensors. It never executes anything: only the globals listed below are accepted, and each
// is interpreted by this code, not called. Anything else is InvalidArgument.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace netadapt::common {

// Element type of a torch storage, from the persistent id's storage class
// (torch.FloatStorage, torch.LongStorage, ...).
enum class PickleDtype {
  kFloat32,   // FloatStorage
  kFloat64,   // DoubleStorage
  kFloat16,   // HalfStorage
  kBFloat16,  // BFloat16Storage
  kInt64,     // LongStorage
  kInt32,     // IntStorage
  kInt16,     // ShortStorage
  kInt8,      // CharStorage
  kUInt8,     // ByteStorage
  kBool,      // BoolStorage
};

// Bytes per element.
int PickleDtypeSize(PickleDtype dtype);
// "float32", "int64", ...
absl::string_view PickleDtypeName(PickleDtype dtype);

// A tensor as torch._utils._rebuild_tensor_v2 describes it: a view (offset, sizes and strides,
// in elements) of a storage whose bytes are the zip record "data/<storage_key>".
// Not checked against the storage here: the caller has the record and checks the bounds.
struct PickleTensor {
  std::string storage_key;
  PickleDtype dtype = PickleDtype::kFloat32;
  std::string location;       // "cpu", "cuda:0", ...
  int64_t storage_numel = 0;  // elements in the storage
  int64_t storage_offset = 0;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  bool requires_grad = false;
};

// One unpickled value. Containers share their contents (as Python objects do), so copies are
// cheap and a container changed through one copy changes in all.
struct PickleValue {
  enum class Kind {
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,  // str (UTF-8) and bytes
    kTuple,
    kList,
    kDict,    // dict and collections.OrderedDict, in insertion order
    kTensor,
    kGlobal,   // an accepted global not (yet) applied, e.g. torch.FloatStorage; `text` is
               // "module.name"
    kStorage,  // a persistent id ('storage', ...) not (yet) wrapped in a tensor
  };
  using Items = std::vector<PickleValue>;
  using Entries = std::vector<std::pair<PickleValue, PickleValue>>;

  Kind kind = Kind::kNone;
  bool bool_value = false;
  int64_t int_value = 0;
  double float_value = 0;
  std::string text;                         // kString, kGlobal
  std::shared_ptr<Items> items;             // kTuple, kList
  std::shared_ptr<Entries> entries;         // kDict
  std::shared_ptr<PickleTensor> tensor;     // kTensor; kStorage (sizes/strides empty)

  bool IsString() const { return kind == Kind::kString; }
  // The entry whose key is the string `key`, or nullptr. kDict only.
  const PickleValue* Find(absl::string_view key) const;
};

// "None", "int", "str", "tuple", "dict", "tensor", ...
absl::string_view PickleKindName(PickleValue::Kind kind);

// Parses one pickle (protocols 2 to 5) as torch.save writes it. Accepted globals:
//   collections.OrderedDict            called with () or ([(k, v), ...]): a dict; its BUILD
//                                      state (state_dict()'s `_metadata`) is ignored
//   torch._utils._rebuild_tensor_v2    (storage, offset, size, stride, requires_grad,
//                                      backward_hooks[, metadata]): a tensor; backward hooks
//                                      and metadata must be empty
//   torch._utils._rebuild_parameter    (tensor, requires_grad, backward_hooks): the tensor
//   torch.<Type>Storage                only inside a persistent id
// and persistent ids ('storage', <storage class>, key, location, numel).
// InvalidArgument, naming the byte offset and the problem, for truncated or malformed input, an
// unsupported opcode or global, or a stack that does not end in exactly one value at STOP.
absl::StatusOr<PickleValue> ParseTorchPickle(absl::string_view bytes);

}  // namespace netadapt::common
