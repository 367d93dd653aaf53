#include "common/torch_pickle.h"

#include <cstring>
#include <unordered_map>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

using Kind = PickleValue::Kind;

struct StorageClass {
  absl::string_view name;
  PickleDtype dtype;
};

constexpr StorageClass kStorageClasses[] = {
    {"FloatStorage", PickleDtype::kFloat32}, {"DoubleStorage", PickleDtype::kFloat64},
    {"HalfStorage", PickleDtype::kFloat16},  {"BFloat16Storage", PickleDtype::kBFloat16},
    {"LongStorage", PickleDtype::kInt64},    {"IntStorage", PickleDtype::kInt32},
    {"ShortStorage", PickleDtype::kInt16},   {"CharStorage", PickleDtype::kInt8},
    {"ByteStorage", PickleDtype::kUInt8},    {"BoolStorage", PickleDtype::kBool},
};

constexpr absl::string_view kOrderedDict = "collections.OrderedDict";
constexpr absl::string_view kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr absl::string_view kRebuildParameter = "torch._utils._rebuild_parameter";

const StorageClass* FindStorageClass(absl::string_view global) {
  if (!absl::ConsumePrefix(&global, "torch.")) return nullptr;
  for (const StorageClass& storage : kStorageClasses) {
    if (storage.name == global) return &storage;
  }
  return nullptr;
}

PickleValue Scalar(Kind kind) {
  PickleValue value;
  value.kind = kind;
  return value;
}

PickleValue Sequence(Kind kind, PickleValue::Items items) {
  PickleValue value = Scalar(kind);
  value.items = std::make_shared<PickleValue::Items>(std::move(items));
  return value;
}

PickleValue EmptyDict() {
  PickleValue value = Scalar(Kind::kDict);
  value.entries = std::make_shared<PickleValue::Entries>();
  return value;
}

// Python's dict assignment: replaces the value of an equal string or int key, else appends.
void SetItem(PickleValue::Entries& entries, PickleValue key, PickleValue value) {
  for (auto& [existing, old] : entries) {
    if (existing.kind != key.kind) continue;
    if ((key.kind == Kind::kString && existing.text == key.text) ||
        (key.kind == Kind::kInt && existing.int_value == key.int_value)) {
      old = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

// The shared contents of a tuple, list or dict (what identifies it), or nullptr.
const void* ContainerId(const PickleValue& value) {
  if (value.items != nullptr) return value.items.get();
  if (value.entries != nullptr) return value.entries.get();
  return nullptr;
}

// The values `value` holds directly (for a dict: keys and values).
void Children(const PickleValue& value, std::vector<const PickleValue*>& out) {
  out.clear();
  if (value.items != nullptr) {
    for (const PickleValue& item : *value.items) out.push_back(&item);
  } else if (value.entries != nullptr) {
    for (const auto& [key, item] : *value.entries) {
      out.push_back(&key);
      out.push_back(&item);
    }
  }
}

class Unpickler {
 public:
  explicit Unpickler(absl::string_view bytes) : bytes_(bytes) {}
  // Empties every list and dict the result does not hold: a malicious pickle can put a
  // container into itself (memo, then APPEND or SETITEM), and such cycles of shared_ptr would
  // never be freed.
  ~Unpickler() {
    for (PickleValue& container : containers_) {
      if (keep_.contains(ContainerId(container))) continue;
      if (container.items != nullptr) container.items->clear();
      if (container.entries != nullptr) container.entries->clear();
    }
  }

  absl::StatusOr<PickleValue> Run() {
    while (true) {
      if (pos_ >= bytes_.size()) return Error("truncated: the pickle ends without STOP");
      opcode_pos_ = pos_;
      const unsigned char opcode = static_cast<unsigned char>(bytes_[pos_++]);
      if (opcode == '.') {
        if (stack_.size() != 1 || !marks_.empty()) {
          return Error(absl::StrCat("STOP with ", stack_.size(), " values and ", marks_.size(),
                                    " marks on the stack (expected one value)"));
        }
        return Finish(std::move(stack_.back()));
      }
      NETADAPT_RETURN_IF_ERROR(Step(opcode));
    }
  }

 private:
  absl::Status Error(absl::string_view problem) const {
    return absl::InvalidArgumentError(
        absl::StrCat("pickle byte ", opcode_pos_, ": ", problem));
  }

  absl::StatusOr<absl::string_view> Take(uint64_t n) {
    if (n > bytes_.size() - pos_) {
      return Error(absl::StrCat("truncated: needs ", n, " bytes, ", bytes_.size() - pos_,
                                " left"));
    }
    absl::string_view out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }

  absl::StatusOr<uint64_t> TakeUnsigned(int n) {
    NETADAPT_ASSIGN_OR_RETURN(absl::string_view raw, Take(n));
    uint64_t value = 0;
    for (int i = 0; i < n; ++i) value |= uint64_t{static_cast<unsigned char>(raw[i])} << (8 * i);
    return value;
  }

  absl::StatusOr<absl::string_view> TakeLine() {
    const size_t end = bytes_.find('\n', pos_);
    if (end == absl::string_view::npos) return Error("truncated: unterminated GLOBAL name");
    absl::string_view line = bytes_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return line;
  }

  // Two's-complement little-endian integer of `n` bytes (LONG1 / LONG4).
  absl::StatusOr<PickleValue> TakeLong(uint64_t n) {
    if (n > 8) return Error(absl::StrCat("integer of ", n, " bytes does not fit in 64 bits"));
    NETADAPT_ASSIGN_OR_RETURN(absl::string_view raw, Take(n));
    uint64_t value = 0;
    for (uint64_t i = 0; i < n; ++i) {
      value |= uint64_t{static_cast<unsigned char>(raw[i])} << (8 * i);
    }
    if (n > 0 && n < 8 && (static_cast<unsigned char>(raw[n - 1]) & 0x80)) {
      value |= ~uint64_t{0} << (8 * n);  // sign-extend
    }
    PickleValue out = Scalar(Kind::kInt);
    out.int_value = static_cast<int64_t>(value);
    return out;
  }

  absl::StatusOr<PickleValue> Pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) {
      return Error("stack underflow");
    }
    PickleValue value = std::move(stack_.back());
    stack_.pop_back();
    return value;
  }

  absl::StatusOr<PickleValue*> Top() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) {
      return Error("stack underflow");
    }
    return &stack_.back();
  }

  // The values pushed since the last MARK, which is removed.
  absl::StatusOr<PickleValue::Items> PopMark() {
    if (marks_.empty()) return Error("no MARK on the stack");
    const size_t mark = marks_.back();
    marks_.pop_back();
    PickleValue::Items items(std::make_move_iterator(stack_.begin() + mark),
                             std::make_move_iterator(stack_.end()));
    stack_.resize(mark);
    return items;
  }

  absl::StatusOr<PickleValue::Items> PopN(int n) {
    PickleValue::Items items(n);
    for (int i = n - 1; i >= 0; --i) {
      NETADAPT_ASSIGN_OR_RETURN(items[i], Pop());
    }
    return items;
  }

  absl::Status Push(PickleValue value) {
    // Lists and dicts are pushed when made (and again when recalled from the memo).
    if ((value.kind == Kind::kList || value.kind == Kind::kDict) &&
        registered_.insert(ContainerId(value)).second) {
      containers_.push_back(value);
    }
    stack_.push_back(std::move(value));
    return absl::OkStatus();
  }

  // `result`, unless it contains itself (InvalidArgument: consumers would walk it forever).
  // Marks the containers it holds as kept (see ~Unpickler). Iterative: nesting can be as deep
  // as the input is long.
  absl::StatusOr<PickleValue> Finish(PickleValue result) {
    absl::flat_hash_set<const void*> on_path;
    absl::flat_hash_set<const void*> done;
    struct Frame {
      const PickleValue* value;
      std::vector<const PickleValue*> children;
      size_t next = 0;
    };
    std::vector<Frame> path;
    auto enter = [&](const PickleValue* value) {
      const void* id = ContainerId(*value);
      if (id == nullptr || done.contains(id)) return true;
      if (!on_path.insert(id).second) return false;  // back to a container being walked
      path.push_back({value, {}, 0});
      Children(*value, path.back().children);
      return true;
    };
    if (!enter(&result)) return Error("a container contains itself");
    while (!path.empty()) {
      Frame& frame = path.back();
      if (frame.next < frame.children.size()) {
        if (!enter(frame.children[frame.next++])) {
          return Error("a container contains itself");
        }
        continue;
      }
      const void* id = ContainerId(*frame.value);
      on_path.erase(id);
      done.insert(id);
      path.pop_back();
    }
    keep_ = std::move(done);
    return result;
  }

  absl::Status Memoize(uint64_t index) {
    NETADAPT_ASSIGN_OR_RETURN(PickleValue * top, Top());
    memo_[index] = *top;
    return absl::OkStatus();
  }

  absl::Status Recall(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) return Error(absl::StrCat("memo entry ", index, " was never stored"));
    return Push(it->second);
  }

  absl::Status PushString(uint64_t length) {
    NETADAPT_ASSIGN_OR_RETURN(absl::string_view text, Take(length));
    PickleValue value = Scalar(Kind::kString);
    value.text = std::string(text);
    return Push(std::move(value));
  }

  absl::Status PushInt(int64_t v) {
    PickleValue value = Scalar(Kind::kInt);
    value.int_value = v;
    return Push(std::move(value));
  }

  absl::Status PushGlobal(absl::string_view module, absl::string_view name) {
    const std::string global = absl::StrCat(module, ".", name);
    if (global != kOrderedDict && global != kRebuildTensor && global != kRebuildParameter &&
        FindStorageClass(global) == nullptr) {
      return Error(absl::StrCat(
          "unsupported global '", global,
          "': only tensors in (ordered) dicts, as torch.save(model.state_dict()) writes, can be "
          "read (not pickled modules, TorchScript or other Python objects)"));
    }
    PickleValue value = Scalar(Kind::kGlobal);
    value.text = global;
    return Push(std::move(value));
  }

  absl::Status AddItems(PickleValue::Items items) {
    if (items.size() % 2 != 0) return Error("SETITEMS with an odd number of values");
    NETADAPT_ASSIGN_OR_RETURN(PickleValue * dict, Top());
    if (dict->kind != Kind::kDict) {
      return Error(absl::StrCat("SETITEM(S) on a ", PickleKindName(dict->kind), ", not a dict"));
    }
    for (size_t i = 0; i < items.size(); i += 2) {
      SetItem(*dict->entries, std::move(items[i]), std::move(items[i + 1]));
    }
    return absl::OkStatus();
  }

  absl::Status Append(PickleValue::Items items) {
    NETADAPT_ASSIGN_OR_RETURN(PickleValue * list, Top());
    if (list->kind != Kind::kList) {
      return Error(absl::StrCat("APPEND(S) on a ", PickleKindName(list->kind), ", not a list"));
    }
    for (PickleValue& item : items) list->items->push_back(std::move(item));
    return absl::OkStatus();
  }

  // BINPERSID: torch.save's storage reference ('storage', storage class, key, location, numel).
  absl::Status PersistentLoad(const PickleValue& pid) {
    const PickleValue::Items* t = pid.kind == Kind::kTuple ? pid.items.get() : nullptr;
    if (t == nullptr || t->size() != 5 || (*t)[0].kind != Kind::kString ||
        (*t)[0].text != "storage" || (*t)[1].kind != Kind::kGlobal ||
        (*t)[2].kind != Kind::kString || (*t)[3].kind != Kind::kString ||
        (*t)[4].kind != Kind::kInt) {
      return Error(
          "persistent id is not ('storage', <storage class>, key, location, numel)");
    }
    const StorageClass* storage_class = FindStorageClass((*t)[1].text);
    if (storage_class == nullptr) {
      return Error(absl::StrCat("persistent id names '", (*t)[1].text,
                                "', not a storage class"));
    }
    if ((*t)[4].int_value < 0) return Error("storage with a negative size");
    PickleValue value = Scalar(Kind::kStorage);
    value.tensor = std::make_shared<PickleTensor>();
    value.tensor->storage_key = (*t)[2].text;
    value.tensor->dtype = storage_class->dtype;
    value.tensor->location = (*t)[3].text;
    value.tensor->storage_numel = (*t)[4].int_value;
    return Push(std::move(value));
  }

  static bool IsEmptyDict(const PickleValue& value) {
    return value.kind == Kind::kDict && value.entries->empty();
  }

  absl::StatusOr<std::vector<int64_t>> IntTuple(const PickleValue& value,
                                                absl::string_view what) {
    if (value.kind != Kind::kTuple) {
      return Error(absl::StrCat("tensor ", what, " is a ", PickleKindName(value.kind),
                                ", not a tuple"));
    }
    std::vector<int64_t> out;
    for (const PickleValue& item : *value.items) {
      if (item.kind != Kind::kInt || item.int_value < 0) {
        return Error(absl::StrCat("tensor ", what, " holds something other than sizes"));
      }
      out.push_back(item.int_value);
    }
    return out;
  }

  absl::Status Reduce(const PickleValue& callable, const PickleValue& args) {
    if (callable.kind != Kind::kGlobal) {
      return Error(absl::StrCat("REDUCE calls a ", PickleKindName(callable.kind)));
    }
    if (args.kind != Kind::kTuple) return Error("REDUCE arguments are not a tuple");
    const PickleValue::Items& a = *args.items;
    if (callable.text == kOrderedDict) {
      PickleValue dict = EmptyDict();
      if (a.empty()) return Push(std::move(dict));
      if (a.size() == 1 && (a[0].kind == Kind::kList || a[0].kind == Kind::kTuple)) {
        for (const PickleValue& pair : *a[0].items) {
          if (pair.kind != Kind::kTuple || pair.items->size() != 2) {
            return Error("OrderedDict argument is not a list of (key, value) pairs");
          }
          SetItem(*dict.entries, (*pair.items)[0], (*pair.items)[1]);
        }
        return Push(std::move(dict));
      }
      return Error("OrderedDict called with unsupported arguments");
    }
    if (callable.text == kRebuildTensor) {
      if (a.size() != 6 && a.size() != 7) {
        return Error(absl::StrCat(kRebuildTensor, " takes 6 or 7 arguments, got ", a.size()));
      }
      if (a[0].kind != Kind::kStorage) return Error("tensor without a storage");
      if (a[1].kind != Kind::kInt || a[1].int_value < 0) {
        return Error("tensor storage offset is not a non-negative int");
      }
      if (a[4].kind != Kind::kBool) return Error("tensor requires_grad is not a bool");
      if (!IsEmptyDict(a[5])) return Error("tensors with backward hooks are not supported");
      if (a.size() == 7 && a[6].kind != Kind::kNone && !IsEmptyDict(a[6])) {
        return Error("tensors with Python metadata are not supported");
      }
      auto tensor = std::make_shared<PickleTensor>(*a[0].tensor);
      tensor->storage_offset = a[1].int_value;
      NETADAPT_ASSIGN_OR_RETURN(tensor->sizes, IntTuple(a[2], "size"));
      NETADAPT_ASSIGN_OR_RETURN(tensor->strides, IntTuple(a[3], "stride"));
      if (tensor->sizes.size() != tensor->strides.size()) {
        return Error("tensor size and stride have different lengths");
      }
      tensor->requires_grad = a[4].bool_value;
      PickleValue value = Scalar(Kind::kTensor);
      value.tensor = std::move(tensor);
      return Push(std::move(value));
    }
    if (callable.text == kRebuildParameter) {
      if (a.size() != 3 || a[0].kind != Kind::kTensor || a[1].kind != Kind::kBool ||
          !IsEmptyDict(a[2])) {
        return Error(absl::StrCat(kRebuildParameter,
                                  " arguments are not (tensor, requires_grad, {})"));
      }
      PickleValue value = a[0];
      value.tensor = std::make_shared<PickleTensor>(*a[0].tensor);
      value.tensor->requires_grad = a[1].bool_value;
      return Push(std::move(value));
    }
    return Error(absl::StrCat("'", callable.text, "' cannot be called"));
  }

  absl::Status Step(unsigned char opcode) {
    switch (opcode) {
      case 0x80: {  // PROTO
        NETADAPT_ASSIGN_OR_RETURN(uint64_t version, TakeUnsigned(1));
        if (version < 2 || version > 5) {
          return Error(absl::StrCat("unsupported pickle protocol ", version));
        }
        return absl::OkStatus();
      }
      case 0x95:  // FRAME: a length hint only.
        return TakeUnsigned(8).status();
      case 'c': {  // GLOBAL
        NETADAPT_ASSIGN_OR_RETURN(absl::string_view module, TakeLine());
        NETADAPT_ASSIGN_OR_RETURN(absl::string_view name, TakeLine());
        return PushGlobal(module, name);
      }
      case 0x93: {  // STACK_GLOBAL
        NETADAPT_ASSIGN_OR_RETURN(PickleValue name, Pop());
        NETADAPT_ASSIGN_OR_RETURN(PickleValue module, Pop());
        if (!name.IsString() || !module.IsString()) return Error("STACK_GLOBAL needs two strings");
        return PushGlobal(module.text, name.text);
      }
      case 'q': {  // BINPUT
        NETADAPT_ASSIGN_OR_RETURN(uint64_t index, TakeUnsigned(1));
        return Memoize(index);
      }
      case 'r': {  // LONG_BINPUT
        NETADAPT_ASSIGN_OR_RETURN(uint64_t index, TakeUnsigned(4));
        return Memoize(index);
      }
      case 0x94:  // MEMOIZE
        return Memoize(memo_.size());
      case 'h': {  // BINGET
        NETADAPT_ASSIGN_OR_RETURN(uint64_t index, TakeUnsigned(1));
        return Recall(index);
      }
      case 'j': {  // LONG_BINGET
        NETADAPT_ASSIGN_OR_RETURN(uint64_t index, TakeUnsigned(4));
        return Recall(index);
      }
      case '}':  // EMPTY_DICT
        return Push(EmptyDict());
      case ']':  // EMPTY_LIST
        return Push(Sequence(Kind::kList, {}));
      case ')':  // EMPTY_TUPLE
        return Push(Sequence(Kind::kTuple, {}));
      case '(':  // MARK
        marks_.push_back(stack_.size());
        return absl::OkStatus();
      case 't': {  // TUPLE
        NETADAPT_ASSIGN_OR_RETURN(PickleValue::Items items, PopMark());
        return Push(Sequence(Kind::kTuple, std::move(items)));
      }
      case 0x85:    // TUPLE1
      case 0x86:    // TUPLE2
      case 0x87: {  // TUPLE3
        NETADAPT_ASSIGN_OR_RETURN(PickleValue::Items items, PopN(opcode - 0x84));
        return Push(Sequence(Kind::kTuple, std::move(items)));
      }
      case 'l': {  // LIST
        NETADAPT_ASSIGN_OR_RETURN(PickleValue::Items items, PopMark());
        return Push(Sequence(Kind::kList, std::move(items)));
      }
      case 'd': {  // DICT
        NETADAPT_ASSIGN_OR_RETURN(PickleValue::Items items, PopMark());
        NETADAPT_RETURN_IF_ERROR(Push(EmptyDict()));
        return AddItems(std::move(items));
      }
      case 'X':  // BINUNICODE
      case 'B':  // BINBYTES
      case 'T': {  // BINSTRING (Python 2 str; length read as unsigned, so never negative)
        NETADAPT_ASSIGN_OR_RETURN(uint64_t length, TakeUnsigned(4));
        return PushString(length);
      }
      case 0x8c:  // SHORT_BINUNICODE
      case 'C':   // SHORT_BINBYTES
      case 'U': {  // SHORT_BINSTRING
        NETADAPT_ASSIGN_OR_RETURN(uint64_t length, TakeUnsigned(1));
        return PushString(length);
      }
      case 0x8d:    // BINUNICODE8
      case 0x8e: {  // BINBYTES8
        NETADAPT_ASSIGN_OR_RETURN(uint64_t length, TakeUnsigned(8));
        return PushString(length);
      }
      case 'J': {  // BININT: signed 32-bit
        NETADAPT_ASSIGN_OR_RETURN(uint64_t raw, TakeUnsigned(4));
        return PushInt(static_cast<int32_t>(static_cast<uint32_t>(raw)));
      }
      case 'K': {  // BININT1
        NETADAPT_ASSIGN_OR_RETURN(uint64_t raw, TakeUnsigned(1));
        return PushInt(static_cast<int64_t>(raw));
      }
      case 'M': {  // BININT2
        NETADAPT_ASSIGN_OR_RETURN(uint64_t raw, TakeUnsigned(2));
        return PushInt(static_cast<int64_t>(raw));
      }
      case 0x8a: {  // LONG1
        NETADAPT_ASSIGN_OR_RETURN(uint64_t n, TakeUnsigned(1));
        NETADAPT_ASSIGN_OR_RETURN(PickleValue value, TakeLong(n));
        return Push(std::move(value));
      }
      case 0x8b: {  // LONG4
        NETADAPT_ASSIGN_OR_RETURN(uint64_t n, TakeUnsigned(4));
        NETADAPT_ASSIGN_OR_RETURN(PickleValue value, TakeLong(n));
        return Push(std::move(value));
      }
      case 'G': {  // BINFLOAT: big-endian IEEE 754 double
        NETADAPT_ASSIGN_OR_RETURN(absl::string_view raw, Take(8));
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<unsigned char>(raw[i]);
        PickleValue value = Scalar(Kind::kFloat);
        std::memcpy(&value.float_value, &bits, sizeof(bits));
        return Push(std::move(value));
      }
      case 0x88:  // NEWTRUE
      case 0x89: {  // NEWFALSE
        PickleValue value = Scalar(Kind::kBool);
        value.bool_value = opcode == 0x88;
        return Push(std::move(value));
      }
      case 'N':  // NONE
        return Push(Scalar(Kind::kNone));
      case 'Q': {  // BINPERSID
        NETADAPT_ASSIGN_OR_RETURN(PickleValue pid, Pop());
        return PersistentLoad(pid);
      }
      case 'R': {  // REDUCE
        NETADAPT_ASSIGN_OR_RETURN(PickleValue args, Pop());
        NETADAPT_ASSIGN_OR_RETURN(PickleValue callable, Pop());
        return Reduce(callable, args);
      }
      case 'b': {  // BUILD
        NETADAPT_ASSIGN_OR_RETURN(PickleValue state, Pop());
        NETADAPT_ASSIGN_OR_RETURN(PickleValue * target, Top());
        // An OrderedDict's state is its instance __dict__: for state_dict() the `_metadata`
        // (module versions), which a flat name -> tensor map has no use for.
        if (target->kind == Kind::kDict && (state.kind == Kind::kDict ||
                                            state.kind == Kind::kNone)) {
          return absl::OkStatus();
        }
        return Error(absl::StrCat("BUILD of a ", PickleKindName(target->kind),
                                  " is not supported"));
      }
      case 's': {  // SETITEM
        NETADAPT_ASSIGN_OR_RETURN(PickleValue::Items items, PopN(2));
        return AddItems(std::move(items));
      }
      case 'u': {  // SETITEMS
        NETADAPT_ASSIGN_OR_RETURN(PickleValue::Items items, PopMark());
        return AddItems(std::move(items));
      }
      case 'a': {  // APPEND
        NETADAPT_ASSIGN_OR_RETURN(PickleValue::Items items, PopN(1));
        return Append(std::move(items));
      }
      case 'e': {  // APPENDS
        NETADAPT_ASSIGN_OR_RETURN(PickleValue::Items items, PopMark());
        return Append(std::move(items));
      }
      default:
        return Error(absl::StrFormat("unsupported pickle opcode 0x%02x", opcode));
    }
  }

  absl::string_view bytes_;
  size_t pos_ = 0;
  size_t opcode_pos_ = 0;
  std::vector<PickleValue> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleValue> memo_;
  // Every list and dict made, and the ones the result holds (~Unpickler).
  std::vector<PickleValue> containers_;
  absl::flat_hash_set<const void*> registered_;
  absl::flat_hash_set<const void*> keep_;
};

}  // namespace

int PickleDtypeSize(PickleDtype dtype) {
  switch (dtype) {
    case PickleDtype::kFloat64:
    case PickleDtype::kInt64:
      return 8;
    case PickleDtype::kFloat32:
    case PickleDtype::kInt32:
      return 4;
    case PickleDtype::kFloat16:
    case PickleDtype::kBFloat16:
    case PickleDtype::kInt16:
      return 2;
    case PickleDtype::kInt8:
    case PickleDtype::kUInt8:
    case PickleDtype::kBool:
      return 1;
  }
  return 1;
}

absl::string_view PickleDtypeName(PickleDtype dtype) {
  switch (dtype) {
    case PickleDtype::kFloat32: return "float32";
    case PickleDtype::kFloat64: return "float64";
    case PickleDtype::kFloat16: return "float16";
    case PickleDtype::kBFloat16: return "bfloat16";
    case PickleDtype::kInt64: return "int64";
    case PickleDtype::kInt32: return "int32";
    case PickleDtype::kInt16: return "int16";
    case PickleDtype::kInt8: return "int8";
    case PickleDtype::kUInt8: return "uint8";
    case PickleDtype::kBool: return "bool";
  }
  return "unknown";
}

absl::string_view PickleKindName(PickleValue::Kind kind) {
  switch (kind) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "str";
    case Kind::kTuple: return "tuple";
    case Kind::kList: return "list";
    case Kind::kDict: return "dict";
    case Kind::kTensor: return "tensor";
    case Kind::kGlobal: return "global";
    case Kind::kStorage: return "storage";
  }
  return "unknown";
}

const PickleValue* PickleValue::Find(absl::string_view key) const {
  if (kind != Kind::kDict) return nullptr;
  for (const auto& [k, v] : *entries) {
    if (k.kind == Kind::kString && k.text == key) return &v;
  }
  return nullptr;
}

absl::StatusOr<PickleValue> ParseTorchPickle(absl::string_view bytes) {
  return Unpickler(bytes).Run();
}

}  // namespace netadapt::common
