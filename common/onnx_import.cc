// ONNX import (what is read and how: onnx_import.h). Parsed with the classes Debian's
// libonnx-dev generates from onnx-ml.proto (target onnx_proto), as the exporter writes them.
//
// One pass over the nodes the output depends on, in graph order (ONNX requires topological
// order). Each value is either an activation (a layer's output or the network input, with its
// per-sample shape) or a constant known at import time (initializers, Constant nodes, and the
// shape arithmetic of a dynamic-batch flatten). Ops that exporters spell as two nodes are
// fused in place when the second node is the first one's only reader: the first node's layer
// is built at once and the second turns it into the fused layer (HardSigmoid then Mul ->
// hardswish, MatMul / Gemm / Conv then Add of a constant -> the bias). Names are given at the
// end, when every layer's module scope is known.
#include "common/onnx_import.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/network_tensors.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

constexpr char kSupportedOps[] =
    "Conv, BatchNormalization, Relu, Clip (as ReLU6), Sigmoid, HardSigmoid, HardSwish, Mul, "
    "Add, Concat, MaxPool, AveragePool, GlobalAveragePool, Resize (integer nearest upsampling), "
    "Pad (zeros, before a Conv or AveragePool), Flatten, Reshape (as a flatten), Gemm, MatMul, "
    "Dropout, Identity, Constant, and Shape, Gather, Unsqueeze and Concat computing a Reshape's "
    "shape";

constexpr char kConstantArithmetic[] =
    "arithmetic on constants (a shape computed from sizes) is not supported; flatten with "
    "torch.flatten(x, 1) or x.view(x.size(0), -1)";

// The most elements a tensor of a (2 GiB at most) ONNX file can have.
constexpr int64_t kMaxElements = int64_t{1} << 31;

// The batch size in a shape computed at import time (Shape of an activation): symbolic.
constexpr int64_t kBatch = std::numeric_limits<int64_t>::min();

// A value known at import time.
struct Constant {
  bool is_float = true;
  std::vector<int64_t> dims;
  std::vector<float> floats;  // is_float
  std::vector<int64_t> ints;  // !is_float; kBatch where the batch size goes
  // Why the data could not be read (an unsupported data type, external data); reported by the
  // node that reads it, so that an unused constant of an odd type does no harm.
  std::string error;

  int64_t Elements() const {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
  }
};
using ConstPtr = std::shared_ptr<const Constant>;

// A value computed at run time: the network input or a layer's output.
struct Activation {
  int layer = kNetworkInput;
  TensorShape shape;  // per sample; [features, 1, 1] once flat
  bool flat = false;  // [batch, features] rather than [batch, C, H, W]
  // A zero Pad's output: the layer's output padded by this much on each side (`shape` is the
  // unpadded one). Only a Conv or AveragePool reads it, folding the padding into its own.
  Pair pad;
};

// A layer being built.
struct Built {
  Layer layer;
  std::vector<int> inputs;  // layer indices, kNetworkInput for the network input
  int node = 0;             // the node that names the layer (the last of a fused pair)
  std::string weight_value;  // the value name of its weight input ("" when none)
  std::string output;        // the ONNX value holding its output
  Activation result;
  std::vector<std::pair<std::string, std::vector<float>>> weights;  // field -> data
  // A conv or linear layer without bias: an Add of a constant right after becomes its bias.
  bool bias_foldable = false;
  // A hardsigmoid: the layer index of its input, for the HardSigmoid-Mul hardswish.
  std::optional<int> hardsigmoid_of;
};

std::string DimsText(const std::vector<int64_t>& dims) {
  std::vector<std::string> parts;
  for (int64_t d : dims) parts.push_back(d == kBatch ? std::string("batch") : absl::StrCat(d));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

std::string ShapeText(const Activation& a) {
  if (a.flat) return absl::StrCat("[batch, ", a.shape.channels, "]");
  return absl::StrCat("[batch, ", a.shape.channels, ", ", a.shape.height, ", ", a.shape.width,
                      "]");
}

// The shortest decimal that reads back as `f`, as a double: ONNX stores epsilon and ratios as
// float32, and 1e-5 should stay 1e-05 in the JSON rather than 9.9999997473787516e-06.
double Shortest(float f) {
  char buffer[32];
  for (int precision = 6; precision <= 9; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, f);
    if (std::strtof(buffer, nullptr) == f) return std::strtod(buffer, nullptr);
  }
  return f;
}

// Little-endian elements of `raw` (ONNX's raw_data) as T.
template <typename Stored, typename T>
void ReadRaw(const std::string& raw, int64_t n, std::vector<T>* out) {
  out->resize(n);
  for (int64_t i = 0; i < n; ++i) {
    Stored v;
    std::memcpy(&v, raw.data() + i * sizeof(Stored), sizeof(Stored));
    (*out)[i] = static_cast<T>(v);
  }
}

ConstPtr ReadTensor(const onnx::TensorProto& t) {
  auto c = std::make_shared<Constant>();
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0) {
      c->error = absl::StrCat("has a negative dimension ", d);
      return c;
    }
    c->dims.push_back(d);
    // A file holds at most 2 GiB: more elements than that are a corrupt header (and would
    // overflow the count).
    if (d > kMaxElements || (d > 0 && n > kMaxElements / d)) {
      c->error = "has more elements than an ONNX file can hold";
      return c;
    }
    n *= d;
  }
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    c->error =
        "keeps its data in an external file; save the model with its weights inside "
        "(onnx.save(model, path, save_as_external_data=False); PyTorch does below 2 GiB)";
    return c;
  }
  const std::string& raw = t.raw_data();
  auto read = [&](size_t size, auto stored, auto typed, auto* out) {
    using Stored = decltype(stored);
    if (t.has_raw_data()) {
      if (raw.size() != static_cast<size_t>(n) * size) return false;
      ReadRaw<Stored>(raw, n, out);
      return true;
    }
    if (typed.size() != n) return false;
    out->assign(typed.begin(), typed.end());
    return true;
  };
  bool ok = false;
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      ok = read(4, float{}, t.float_data(), &c->floats);
      break;
    case onnx::TensorProto::DOUBLE:
      ok = read(8, double{}, t.double_data(), &c->floats);
      break;
    case onnx::TensorProto::INT64:
      c->is_float = false;
      ok = read(8, int64_t{}, t.int64_data(), &c->ints);
      break;
    case onnx::TensorProto::INT32:
      c->is_float = false;
      ok = read(4, int32_t{}, t.int32_data(), &c->ints);
      break;
    case onnx::TensorProto::INT8:
      c->is_float = false;
      ok = read(1, int8_t{}, t.int32_data(), &c->ints);
      break;
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::BOOL:
      c->is_float = false;
      ok = read(1, uint8_t{}, t.int32_data(), &c->ints);
      break;
    default:
      c->error = absl::StrCat("has data type ", onnx::TensorProto::DataType_Name(
                                                    static_cast<onnx::TensorProto::DataType>(
                                                        t.data_type())),
                              "; weights must be float32 (or float64), shapes int64");
      return c;
  }
  if (!ok) c->error = absl::StrCat("holds too few or too many elements for its dims ",
                                   DimsText(c->dims));
  return c;
}

// Module path and op of a PyTorch (>= 1.13) node name, "/layer1/layer1.0/conv1/Conv": every
// component is a module's name without its parent's, except that numeric atoms take the
// atoms before them ("layer1.0" under "layer1", "conv.0.0" under "conv.0"), so the module is
// the parent's path plus the component's last atom when the component's other atoms end the
// parent's path.
struct Scope {
  std::string module;  // "layer1.0.conv1"; "" at the top level
  std::string op;      // "Conv", "Add_1"
};
std::optional<Scope> ParseScope(const std::string& node_name) {
  if (!absl::StartsWith(node_name, "/")) return std::nullopt;
  std::vector<std::string> parts = absl::StrSplit(node_name.substr(1), '/');
  Scope scope;
  scope.op = parts.back();
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const std::string& part = parts[i];
    if (part.empty()) continue;
    if (scope.module.empty()) {
      scope.module = part;
      continue;
    }
    const size_t dot = part.rfind('.');
    const std::string head = dot == std::string::npos ? "" : part.substr(0, dot);
    if (!head.empty() &&
        (scope.module == head || absl::EndsWith(scope.module, absl::StrCat(".", head)))) {
      absl::StrAppend(&scope.module, ".", part.substr(dot + 1));
    } else {
      absl::StrAppend(&scope.module, ".", part);
    }
  }
  return scope;
}

class Importer {
 public:
  Importer(const onnx::ModelProto& model, const OnnxImportOptions& options)
      : graph_(model.graph()), options_(options) {}

  absl::StatusOr<OnnxModel> Run();

 private:
  // The current node, for messages.
  const onnx::NodeProto& node() const { return graph_.node(node_index_); }
  absl::Status Error(absl::string_view problem) const;
  absl::Status GraphError(absl::string_view problem) const {
    return absl::InvalidArgumentError(absl::StrCat("ONNX graph: ", problem));
  }

  absl::Status ReadInitializers();
  absl::Status ReadInput();
  // The nodes the output depends on, in graph order; counts each value's readers.
  absl::StatusOr<std::vector<int>> LiveNodes();
  absl::Status Convert();
  absl::StatusOr<OnnxModel> Finish();

  // Inputs of the current node.
  bool HasInput(int k) const { return k < node().input_size() && !node().input(k).empty(); }
  bool IsConstant(int k) const { return HasInput(k) && constants_.count(node().input(k)) > 0; }
  absl::StatusOr<Activation> Act(int k) const;
  // Act, also for a zero Pad's output (for the layers that fold the padding in).
  absl::StatusOr<Activation> ActOrPadded(int k) const;
  absl::StatusOr<ConstPtr> Const(int k, absl::string_view what, bool want_float) const;
  absl::StatusOr<float> Scalar(int k, absl::string_view what) const;
  absl::Status NoReaders(int output, absl::string_view what) const;

  // Attributes of the current node.
  const onnx::AttributeProto* Attr(absl::string_view name) const;
  absl::Status OnlyAttributes(std::initializer_list<absl::string_view> allowed) const;
  absl::StatusOr<int64_t> IntAttr(absl::string_view name, int64_t fallback) const;
  absl::StatusOr<float> FloatAttr(absl::string_view name, float fallback) const;
  absl::StatusOr<std::vector<int64_t>> IntsAttr(absl::string_view name,
                                                std::vector<int64_t> fallback) const;
  absl::StatusOr<std::string> StringAttr(absl::string_view name, std::string fallback) const;
  // kernel-shaped attributes: two positive values.
  absl::StatusOr<Pair> PairAttr(absl::string_view name, Pair fallback) const;
  absl::StatusOr<Pair> Pads(const Activation& x, Pair kernel, Pair stride) const;

  // Adds a layer reading `inputs`; its output is the current node's output 0.
  absl::Status AddLayer(Built built, const std::vector<Activation>& inputs);
  // The output shape of a one-input layer, checked as the NetworkDef checks it.
  absl::StatusOr<TensorShape> OutputOf(const Layer& layer, const Activation& in) const;
  void Alias(const std::string& value, const Activation& a) { activations_[value] = a; }

  absl::Status ConvertConv();
  absl::Status ConvertBatchNorm();
  absl::Status ConvertUnary(LayerOp op);
  absl::Status ConvertClip();
  absl::Status ConvertHardSigmoid();
  absl::Status ConvertMul();
  absl::Status ConvertAdd();
  absl::Status ConvertConcat();
  absl::Status ConvertPool(bool max);
  absl::Status ConvertGlobalAveragePool();
  absl::Status ConvertResize();
  absl::Status ConvertPad();
  absl::Status ConvertFlatten();
  absl::Status ConvertReshape();
  absl::Status ConvertGemm(bool matmul);
  absl::Status ConvertDropout();
  absl::Status ConvertIdentity();
  absl::Status ConvertConstant();
  absl::Status ConvertShape();
  absl::Status ConvertGather();
  absl::Status ConvertUnsqueeze();

  const onnx::GraphProto& graph_;
  const OnnxImportOptions& options_;
  int node_index_ = 0;

  std::string input_name_;
  Activation input_;
  int64_t static_batch_ = 0;  // the input's batch size when it is a number
  std::map<std::string, ConstPtr> constants_;
  std::map<std::string, Activation> activations_;
  std::map<std::string, int> readers_;
  std::vector<Built> built_;
};

absl::Status Importer::Error(absl::string_view problem) const {
  const onnx::NodeProto& n = node();
  const std::string who =
      !n.name().empty()
          ? absl::StrCat("'", n.name(), "'")
          : absl::StrCat("#", node_index_,
                         n.output_size() > 0 ? absl::StrCat(" (output '", n.output(0), "')")
                                             : std::string());
  return absl::InvalidArgumentError(
      absl::StrCat("ONNX node ", who, " (", n.op_type(), "): ", problem));
}

absl::Status Importer::ReadInitializers() {
  for (const onnx::TensorProto& t : graph_.initializer()) constants_[t.name()] = ReadTensor(t);
  return absl::OkStatus();
}

absl::Status Importer::ReadInput() {
  std::vector<const onnx::ValueInfoProto*> inputs;
  for (const onnx::ValueInfoProto& info : graph_.input()) {
    // Before IR version 4, initializers are listed as inputs too.
    if (constants_.count(info.name()) == 0) inputs.push_back(&info);
  }
  if (inputs.size() != 1) {
    std::vector<std::string> names;
    for (const auto* info : inputs) names.push_back(info->name());
    return GraphError(absl::StrCat(
        inputs.size(), " inputs (", absl::StrJoin(names, ", "),
        "); netadapt imports image classifiers with one input, float [batch, C, H, W]"));
  }
  if (graph_.output_size() != 1) {
    std::vector<std::string> names;
    for (const auto& info : graph_.output()) names.push_back(info.name());
    return GraphError(absl::StrCat(graph_.output_size(), " outputs (", absl::StrJoin(names, ", "),
                                   "); netadapt imports image classifiers with one output, "
                                   "[batch, classes] logits"));
  }
  const onnx::ValueInfoProto& info = *inputs[0];
  input_name_ = info.name();
  const onnx::TypeProto& type = info.type();
  if (!type.has_tensor_type() || type.tensor_type().elem_type() != onnx::TensorProto::FLOAT) {
    return GraphError(absl::StrCat("input '", input_name_,
                                   "' is not a float32 tensor; netadapt imports image "
                                   "classifiers with a float [batch, C, H, W] input"));
  }
  const onnx::TensorShapeProto& shape = type.tensor_type().shape();
  if (shape.dim_size() != 4) {
    return GraphError(absl::StrCat("input '", input_name_, "' has ", shape.dim_size(),
                                   " dimensions; netadapt imports image classifiers with a "
                                   "[batch, C, H, W] input"));
  }
  auto fixed = [&](int d) -> int64_t {
    return shape.dim(d).has_dim_value() ? shape.dim(d).dim_value() : 0;
  };
  auto symbol = [&](int d) {
    return shape.dim(d).has_dim_param() ? absl::StrCat("'", shape.dim(d).dim_param(), "'")
                                        : std::string("unknown");
  };
  static_batch_ = fixed(0);
  if (fixed(1) <= 0) {
    return GraphError(absl::StrCat("input '", input_name_, "' has ", symbol(1),
                                   " channels; the channel count must be a number"));
  }
  const char* axis_names[] = {"", "", "height", "width"};
  const int wanted[] = {0, 0, options_.input_height, options_.input_width};
  int size[4] = {0, static_cast<int>(fixed(1)), 0, 0};
  for (int d = 2; d < 4; ++d) {
    if (fixed(d) > 0) {
      if (wanted[d] > 0 && wanted[d] != fixed(d)) {
        return GraphError(absl::StrCat(
            "input '", input_name_, "' has a fixed ", axis_names[d], " of ", fixed(d),
            ", not the ", wanted[d], " asked for; export the model with that input size, or "
            "with dynamic height and width (dynamic_axes)"));
      }
      size[d] = static_cast<int>(fixed(d));
    } else if (wanted[d] > 0) {
      size[d] = wanted[d];
    } else {
      return GraphError(absl::StrCat("input '", input_name_, "' has a symbolic ", axis_names[d],
                                     " (", symbol(d),
                                     "); give the input size to import it at "
                                     "(netadapt import --input-size N)"));
    }
  }
  input_.layer = kNetworkInput;
  input_.shape = {size[1], size[2], size[3]};
  activations_[input_name_] = input_;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int>> Importer::LiveNodes() {
  std::map<std::string, int> producer;
  for (int i = 0; i < graph_.node_size(); ++i) {
    for (const std::string& out : graph_.node(i).output()) {
      if (!out.empty()) producer.emplace(out, i);
    }
  }
  std::vector<bool> live(graph_.node_size(), false);
  std::vector<std::string> stack = {graph_.output(0).name()};
  std::set<std::string> seen;
  while (!stack.empty()) {
    const std::string value = stack.back();
    stack.pop_back();
    if (!seen.insert(value).second) continue;
    auto it = producer.find(value);
    if (it == producer.end() || live[it->second]) continue;
    live[it->second] = true;
    for (const std::string& in : graph_.node(it->second).input()) {
      if (!in.empty()) stack.push_back(in);
    }
  }
  std::vector<int> nodes;
  for (int i = 0; i < graph_.node_size(); ++i) {
    if (!live[i]) continue;
    nodes.push_back(i);
    for (const std::string& in : graph_.node(i).input()) {
      if (!in.empty()) ++readers_[in];
    }
  }
  ++readers_[graph_.output(0).name()];
  return nodes;
}

absl::StatusOr<Activation> Importer::Act(int k) const {
  NETADAPT_ASSIGN_OR_RETURN(Activation a, ActOrPadded(k));
  if (a.pad != Pair{0, 0}) {
    return Error(absl::StrCat("input ", k, " ('", node().input(k),
                              "') is a Pad's output; a Pad is imported only as the padding of "
                              "the Conv or AveragePool that reads it"));
  }
  return a;
}

absl::StatusOr<Activation> Importer::ActOrPadded(int k) const {
  if (!HasInput(k)) return Error(absl::StrCat("input ", k, " is missing"));
  const std::string& name = node().input(k);
  if (auto it = activations_.find(name); it != activations_.end()) return it->second;
  if (constants_.count(name) > 0) {
    return Error(absl::StrCat("input ", k, " ('", name,
                              "') is a constant; this op is imported on activations only"));
  }
  return Error(absl::StrCat("input ", k, " ('", name,
                            "') is not produced by an earlier node (the graph must be in "
                            "topological order)"));
}

absl::StatusOr<ConstPtr> Importer::Const(int k, absl::string_view what, bool want_float) const {
  if (!HasInput(k)) return Error(absl::StrCat(what, " (input ", k, ") is missing"));
  const std::string& name = node().input(k);
  auto it = constants_.find(name);
  if (it == constants_.end()) {
    if (activations_.count(name) > 0) {
      return Error(absl::StrCat(what, " (input ", k, ", '", name,
                                "') is computed at run time; it must be an initializer or a "
                                "Constant node"));
    }
    return Error(absl::StrCat(what, " (input ", k, ", '", name,
                              "') is not produced by an earlier node (the graph must be in "
                              "topological order)"));
  }
  const Constant& c = *it->second;
  if (!c.error.empty()) return Error(absl::StrCat(what, " ('", name, "') ", c.error));
  if (c.is_float != want_float) {
    return Error(absl::StrCat(what, " ('", name, "') must be ",
                              want_float ? "float32" : "an integer tensor"));
  }
  return it->second;
}

absl::StatusOr<float> Importer::Scalar(int k, absl::string_view what) const {
  NETADAPT_ASSIGN_OR_RETURN(ConstPtr c, Const(k, what, /*want_float=*/true));
  if (c->Elements() != 1) {
    return Error(absl::StrCat(what, " must be a scalar, got ", DimsText(c->dims)));
  }
  return c->floats[0];
}

absl::Status Importer::NoReaders(int output, absl::string_view what) const {
  if (output < node().output_size() && !node().output(output).empty() &&
      readers_.count(node().output(output)) > 0) {
    return Error(absl::StrCat("output ", output, " (", what,
                              ") is read by the graph; only output 0 is imported"));
  }
  return absl::OkStatus();
}

const onnx::AttributeProto* Importer::Attr(absl::string_view name) const {
  for (const onnx::AttributeProto& a : node().attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

absl::Status Importer::OnlyAttributes(std::initializer_list<absl::string_view> allowed) const {
  for (const onnx::AttributeProto& a : node().attribute()) {
    if (std::find(allowed.begin(), allowed.end(), a.name()) == allowed.end()) {
      return Error(absl::StrCat("attribute '", a.name(), "' is not supported",
                                allowed.size() == 0
                                    ? std::string(" (the op takes none here)")
                                    : absl::StrCat(" (supported: ", absl::StrJoin(allowed, ", "),
                                                   ")")));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Importer::IntAttr(absl::string_view name, int64_t fallback) const {
  const onnx::AttributeProto* a = Attr(name);
  if (a == nullptr) return fallback;
  if (a->type() != onnx::AttributeProto::INT) {
    return Error(absl::StrCat("attribute '", name, "' must be an int"));
  }
  return a->i();
}

absl::StatusOr<float> Importer::FloatAttr(absl::string_view name, float fallback) const {
  const onnx::AttributeProto* a = Attr(name);
  if (a == nullptr) return fallback;
  if (a->type() != onnx::AttributeProto::FLOAT) {
    return Error(absl::StrCat("attribute '", name, "' must be a float"));
  }
  return a->f();
}

absl::StatusOr<std::vector<int64_t>> Importer::IntsAttr(absl::string_view name,
                                                        std::vector<int64_t> fallback) const {
  const onnx::AttributeProto* a = Attr(name);
  if (a == nullptr) return fallback;
  if (a->type() != onnx::AttributeProto::INTS) {
    return Error(absl::StrCat("attribute '", name, "' must be a list of ints"));
  }
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

absl::StatusOr<std::string> Importer::StringAttr(absl::string_view name,
                                                 std::string fallback) const {
  const onnx::AttributeProto* a = Attr(name);
  if (a == nullptr) return fallback;
  if (a->type() != onnx::AttributeProto::STRING) {
    return Error(absl::StrCat("attribute '", name, "' must be a string"));
  }
  return a->s();
}

absl::StatusOr<Pair> Importer::PairAttr(absl::string_view name, Pair fallback) const {
  NETADAPT_ASSIGN_OR_RETURN(std::vector<int64_t> v, IntsAttr(name, {fallback.h, fallback.w}));
  if (v.size() != 2 || v[0] <= 0 || v[1] <= 0 || v[0] > INT32_MAX || v[1] > INT32_MAX) {
    return Error(absl::StrCat(name, " ", DimsText(v),
                              " is not supported: 2-D ops take two positive values"));
  }
  return Pair{static_cast<int>(v[0]), static_cast<int>(v[1])};
}

absl::StatusOr<Pair> Importer::Pads(const Activation& x, Pair kernel, Pair stride) const {
  NETADAPT_ASSIGN_OR_RETURN(std::string auto_pad, StringAttr("auto_pad", "NOTSET"));
  if (auto_pad == "NOTSET") {
    NETADAPT_ASSIGN_OR_RETURN(std::vector<int64_t> p, IntsAttr("pads", {0, 0, 0, 0}));
    if (p.size() != 4 || p[0] < 0 || p[1] < 0 || p[0] > INT32_MAX || p[1] > INT32_MAX) {
      return Error(absl::StrCat("pads ", DimsText(p), " are not 4 non-negative values"));
    }
    if (p[0] != p[2] || p[1] != p[3]) {
      return Error(absl::StrCat("pads ", DimsText(p),
                                " are asymmetric; netadapt's layers pad both sides alike (as "
                                "PyTorch's padding does)"));
    }
    return Pair{static_cast<int>(p[0]), static_cast<int>(p[1])};
  }
  if (Attr("pads") != nullptr) return Error("has both auto_pad and pads");
  if (auto_pad == "VALID") return Pair{0, 0};
  if (x.pad != Pair{0, 0}) {
    return Error(absl::StrCat("auto_pad ", auto_pad, " after a Pad is not supported"));
  }
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    // ONNX pads so that the output is ceil(input / stride); symmetric when the total is even.
    int pads[2];
    const int in[2] = {x.shape.height, x.shape.width};
    const int k[2] = {kernel.h, kernel.w};
    const int s[2] = {stride.h, stride.w};
    for (int d = 0; d < 2; ++d) {
      const int out = (in[d] + s[d] - 1) / s[d];
      const int total = std::max(0, (out - 1) * s[d] + k[d] - in[d]);
      if (total % 2 != 0) {
        return Error(absl::StrCat("auto_pad ", auto_pad, " pads this ", in[d],
                                  "-wide input unevenly (", total,
                                  " in all); netadapt's layers pad both sides alike"));
      }
      pads[d] = total / 2;
    }
    return Pair{pads[0], pads[1]};
  }
  return Error(absl::StrCat("auto_pad '", auto_pad, "' is not supported"));
}

absl::StatusOr<TensorShape> Importer::OutputOf(const Layer& layer, const Activation& in) const {
  // The NetworkDef's own checks on a network of this one layer (after a flatten for a flat
  // input), so that the import refuses exactly what the NetworkDef would.
  NetworkDef one;
  one.input = in.shape;
  if (in.flat) one.layers.push_back(Layer::Flatten("flat"));
  Layer copy = layer;
  copy.name = "layer";
  copy.inputs.clear();
  one.layers.push_back(copy);
  absl::StatusOr<std::vector<TensorShape>> shapes = InferShapes(one);
  if (!shapes.ok()) {
    absl::string_view message = shapes.status().message();
    if (const size_t at = message.find("): "); at != absl::string_view::npos) {
      message.remove_prefix(at + 3);
    }
    return Error(message);
  }
  return shapes->back();
}

absl::Status Importer::AddLayer(Built built, const std::vector<Activation>& inputs) {
  for (const Activation& in : inputs) built.inputs.push_back(in.layer);
  built.node = node_index_;
  built.output = node().output(0);
  if (ArityOf(built.layer.op).max == 1) {
    NETADAPT_ASSIGN_OR_RETURN(built.result.shape, OutputOf(built.layer, inputs[0]));
    built.result.flat = inputs[0].flat || built.layer.op == LayerOp::kFlatten;
  }  // else: the caller set result (add, concat, mul)
  built.result.layer = static_cast<int>(built_.size());
  Alias(built.output, built.result);
  built_.push_back(std::move(built));
  return absl::OkStatus();
}

absl::Status Importer::ConvertConv() {
  NETADAPT_RETURN_IF_ERROR(
      OnlyAttributes({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}));
  NETADAPT_ASSIGN_OR_RETURN(Activation x, ActOrPadded(0));
  if (x.flat) return Error("needs a [batch, C, H, W] input, not the flat " + ShapeText(x));
  NETADAPT_ASSIGN_OR_RETURN(ConstPtr w, Const(1, "the weight", true));
  if (w->dims.size() != 4) {
    return Error(absl::StrCat("the weight is ", DimsText(w->dims),
                              "; only 2-D convolutions ([out, in / groups, kh, kw]) are "
                              "supported"));
  }
  ConstPtr b;
  if (HasInput(2)) {
    NETADAPT_ASSIGN_OR_RETURN(b, Const(2, "the bias", true));
    if (b->dims != std::vector<int64_t>{w->dims[0]}) {
      return Error(absl::StrCat("the bias is ", DimsText(b->dims), ", not [", w->dims[0], "]"));
    }
  }
  NETADAPT_ASSIGN_OR_RETURN(int64_t groups, IntAttr("group", 1));
  const Pair kernel{static_cast<int>(w->dims[2]), static_cast<int>(w->dims[3])};
  NETADAPT_ASSIGN_OR_RETURN(Pair declared, PairAttr("kernel_shape", kernel));
  if (declared != kernel) {
    return Error(absl::StrCat("kernel_shape [", declared.h, ", ", declared.w,
                              "] is not the weight's ", DimsText(w->dims)));
  }
  NETADAPT_ASSIGN_OR_RETURN(Pair stride, PairAttr("strides", {1, 1}));
  NETADAPT_ASSIGN_OR_RETURN(Pair dilation, PairAttr("dilations", {1, 1}));
  if (dilation != Pair{1, 1}) {
    return Error(absl::StrCat("dilations [", dilation.h, ", ", dilation.w,
                              "] are not supported: netadapt's conv2d has dilation 1"));
  }
  NETADAPT_ASSIGN_OR_RETURN(Pair padding, Pads(x, kernel, stride));
  padding = {padding.h + x.pad.h, padding.w + x.pad.w};  // a zero Pad before
  if (groups <= 0 || groups > x.shape.channels || w->dims[1] * groups != x.shape.channels) {
    return Error(absl::StrCat("the weight ", DimsText(w->dims), " with group ", groups,
                              " does not take the input's ", x.shape.channels, " channels"));
  }
  Built built;
  built.layer = Layer::Conv2d("", x.shape.channels, static_cast<int>(w->dims[0]), kernel, stride,
                              padding, static_cast<int>(groups), b != nullptr);
  built.weight_value = node().input(1);
  built.weights.emplace_back("weight", w->floats);
  if (b != nullptr) built.weights.emplace_back("bias", b->floats);
  built.bias_foldable = b == nullptr;
  return AddLayer(std::move(built), {x});
}

absl::Status Importer::ConvertBatchNorm() {
  NETADAPT_RETURN_IF_ERROR(OnlyAttributes(
      {"epsilon", "momentum", "spatial", "training_mode", "is_test", "consumed_inputs"}));
  NETADAPT_ASSIGN_OR_RETURN(Activation x, Act(0));
  if (x.flat) {
    return Error(absl::StrCat("normalizes the flat ", ShapeText(x),
                              " (BatchNorm1d); netadapt's batchnorm2d takes [batch, C, H, W]"));
  }
  NETADAPT_ASSIGN_OR_RETURN(int64_t spatial, IntAttr("spatial", 1));
  if (spatial != 1) return Error("spatial 0 (per-element statistics) is not supported");
  for (int k = 1; k < node().output_size(); ++k) {
    NETADAPT_RETURN_IF_ERROR(NoReaders(k, "training mode's updated statistics"));
  }
  Built built;
  const char* fields[] = {"weight", "bias", "running_mean", "running_var"};
  const char* what[] = {"the scale", "the bias", "the mean", "the variance"};
  for (int k = 1; k <= 4; ++k) {
    NETADAPT_ASSIGN_OR_RETURN(ConstPtr c, Const(k, what[k - 1], true));
    if (c->Elements() != x.shape.channels || c->dims.size() != 1) {
      return Error(absl::StrCat(what[k - 1], " is ", DimsText(c->dims), ", not [",
                                x.shape.channels, "] for the input's channels"));
    }
    built.weights.emplace_back(fields[k - 1], c->floats);
  }
  NETADAPT_ASSIGN_OR_RETURN(float eps, FloatAttr("epsilon", 1e-5f));
  built.layer = Layer::BatchNorm2d("", x.shape.channels);
  built.layer.eps = Shortest(eps);
  built.weight_value = node().input(1);
  return AddLayer(std::move(built), {x});
}

absl::Status Importer::ConvertUnary(LayerOp op) {
  NETADAPT_RETURN_IF_ERROR(OnlyAttributes({}));
  NETADAPT_ASSIGN_OR_RETURN(Activation x, Act(0));
  Built built;
  built.layer = Layer::Op("", op);
  return AddLayer(std::move(built), {x});
}

absl::Status Importer::ConvertClip() {
  NETADAPT_RETURN_IF_ERROR(OnlyAttributes({"min", "max"}));
  NETADAPT_ASSIGN_OR_RETURN(Activation x, Act(0));
  // Before opset 11 the bounds are attributes (absent: the float range), since inputs.
  // Absent bounds are the float range.
  float lo = std::numeric_limits<float>::lowest();
  float hi = std::numeric_limits<float>::max();
  NETADAPT_ASSIGN_OR_RETURN(lo, FloatAttr("min", lo));
  NETADAPT_ASSIGN_OR_RETURN(hi, FloatAttr("max", hi));
  if (HasInput(1)) {
    NETADAPT_ASSIGN_OR_RETURN(lo, Scalar(1, "min"));
  }
  if (HasInput(2)) {
    NETADAPT_ASSIGN_OR_RETURN(hi, Scalar(2, "max"));
  }
  const bool no_max = hi >= std::numeric_limits<float>::max();
  Built built;
  if (lo == 0.0f && hi == 6.0f) {
    built.layer = Layer::Relu6("");
  } else if (lo == 0.0f && no_max) {
    built.layer = Layer::Relu("");
  } else {
    auto text = [](float v, bool none) { return none ? std::string("none") : absl::StrCat(v); };
    return Error(absl::StrCat("min ", text(lo, lo <= std::numeric_limits<float>::lowest()),
                              " and max ", text(hi, no_max),
                              " are not supported: Clip is imported as ReLU6 (min 0, max 6) or "
                              "ReLU (min 0, no max)"));
  }
  return AddLayer(std::move(built), {x});
}

absl::Status Importer::ConvertHardSigmoid() {
  NETADAPT_RETURN_IF_ERROR(OnlyAttributes({"alpha", "beta"}));
  NETADAPT_ASSIGN_OR_RETURN(Activation x, Act(0));
  NETADAPT_ASSIGN_OR_RETURN(float alpha, FloatAttr("alpha", 0.2f));
  NETADAPT_ASSIGN_OR_RETURN(float beta, FloatAttr("beta", 0.5f));
  if (!(std::abs(alpha - 1.0 / 6.0) <= 1e-6 && std::abs(beta - 0.5) <= 1e-6)) {
    return Error(absl::StrCat("alpha ", alpha, " and beta ", beta,
                              " are not supported: only PyTorch's hardsigmoid, alpha 1/6 and "
                              "beta 0.5 (ONNX's default alpha is 0.2)"));
  }
  Built built;
  built.layer = Layer::Op("", LayerOp::kHardsigmoid);
  built.hardsigmoid_of = x.layer;
  return AddLayer(std::move(built), {x});
}

absl::Status Importer::ConvertMul() {
  NETADAPT_RETURN_IF_ERROR(OnlyAttributes({}));
  if (IsConstant(0) && IsConstant(1)) return Error(kConstantArithmetic);
  if (IsConstant(0) || IsConstant(1)) {
    return Error(
        "a product with a constant is not supported (Mul is imported as the product of two "
        "activations: an element-wise product or a [C, 1, 1] channel gate)");
  }
  NETADAPT_ASSIGN_OR_RETURN(Activation a, Act(0));
  NETADAPT_ASSIGN_OR_RETURN(Activation b, Act(1));
  // HardSigmoid(x) * x, the HardSigmoid read by this Mul only: opset 13's hardswish.
  for (auto [x, gate, k] : {std::tuple{a, b, 1}, std::tuple{b, a, 0}}) {
    if (gate.layer < 0) continue;
    Built& g = built_[gate.layer];
    if (g.hardsigmoid_of && *g.hardsigmoid_of == x.layer && g.output == node().input(k) &&
        readers_[g.output] == 1) {
      g.layer.op = LayerOp::kHardswish;
      g.hardsigmoid_of.reset();
      g.node = node_index_;
      g.output = node().output(0);
      Alias(g.output, g.result);
      return absl::OkStatus();
    }
  }
  const bool gate_a = !a.flat && a.shape.height == 1 && a.shape.width == 1;
  const bool gate_b = !b.flat && b.shape.height == 1 && b.shape.width == 1;
  if (a.flat != b.flat || a.shape.channels != b.shape.channels ||
      !(a.shape == b.shape || gate_a || gate_b)) {
    return Error(absl::StrCat("multiplies ", ShapeText(a), " by ", ShapeText(b),
                              "; supported are tensors of one shape and a [batch, C, 1, 1] "
                              "channel gate of the other's channels"));
  }
  Built built;
  built.layer = Layer::Op("", LayerOp::kMul);
  built.result = gate_a ? b : a;
  return AddLayer(std::move(built), {a, b});
}

absl::Status Importer::ConvertAdd() {
  NETADAPT_RETURN_IF_ERROR(OnlyAttributes({}));
  if (IsConstant(0) && IsConstant(1)) return Error(kConstantArithmetic);
  if (IsConstant(0) || IsConstant(1)) {
    const int k = IsConstant(0) ? 1 : 0;  // the activation
    auto refuse = [&] {
      return Error(
          "an Add of a constant is supported only as the bias of the MatMul, Gemm or Conv "
          "before it, when that layer has no bias and the Add is its only reader");
    };
    NETADAPT_ASSIGN_OR_RETURN(Activation x, Act(k));
    if (x.layer < 0) return refuse();
    Built& producer = built_[x.layer];
    if (!producer.bias_foldable || producer.output != node().input(k) ||
        readers_[producer.output] != 1) {
      return refuse();
    }
    NETADAPT_ASSIGN_OR_RETURN(ConstPtr bias, Const(1 - k, "the bias", true));
    const int64_t out = producer.layer.out_channels;
    const bool linear = producer.layer.op == LayerOp::kLinear;
    const std::vector<std::vector<int64_t>> shapes =
        linear ? std::vector<std::vector<int64_t>>{{out}, {1, out}}
               : std::vector<std::vector<int64_t>>{{out, 1, 1}, {1, out, 1, 1}};
    if (std::find(shapes.begin(), shapes.end(), bias->dims) == shapes.end()) {
      return Error(absl::StrCat("the bias ", DimsText(bias->dims), " is not ",
                                DimsText(shapes[0]), " or ", DimsText(shapes[1]),
                                " for the layer's ", out, " outputs"));
    }
    producer.layer.bias = true;
    producer.bias_foldable = false;
    producer.weights.emplace_back("bias", bias->floats);
    producer.output = node().output(0);
    Alias(producer.output, producer.result);
    return absl::OkStatus();
  }
  NETADAPT_ASSIGN_OR_RETURN(Activation a, Act(0));
  NETADAPT_ASSIGN_OR_RETURN(Activation b, Act(1));
  if (a.flat != b.flat || !(a.shape == b.shape)) {
    return Error(absl::StrCat("adds ", ShapeText(a), " and ", ShapeText(b),
                              "; supported is a sum of two tensors of one shape"));
  }
  Built built;
  built.layer = Layer::Op("", LayerOp::kAdd);
  built.result = a;
  return AddLayer(std::move(built), {a, b});
}

absl::Status Importer::ConvertConcat() {
  NETADAPT_RETURN_IF_ERROR(OnlyAttributes({"axis"}));
  if (Attr("axis") == nullptr) return Error("has no axis");
  NETADAPT_ASSIGN_OR_RETURN(int64_t axis, IntAttr("axis", 0));
  int constants = 0;
  for (int k = 0; k < node().input_size(); ++k) constants += IsConstant(k) ? 1 : 0;
  if (node().input_size() == 0) return Error("has no inputs");
  if (constants == node().input_size()) {
    // A shape being assembled for a Reshape: 1-D integer tensors joined end to end.
    auto c = std::make_shared<Constant>();
    c->is_float = false;
    for (int k = 0; k < node().input_size(); ++k) {
      NETADAPT_ASSIGN_OR_RETURN(ConstPtr part, Const(k, absl::StrCat("input ", k), false));
      if (part->dims.size() != 1 || (axis != 0 && axis != -1)) {
        return Error("a Concat of constants is supported for 1-D shapes only");
      }
      c->ints.insert(c->ints.end(), part->ints.begin(), part->ints.end());
    }
    c->dims = {static_cast<int64_t>(c->ints.size())};
    constants_[node().output(0)] = c;
    return absl::OkStatus();
  }
  if (constants > 0) {
    return Error("joins activations and constants; only activations (or only shapes) are "
                 "joined");
  }
  std::vector<Activation> inputs;
  for (int k = 0; k < node().input_size(); ++k) {
    NETADAPT_ASSIGN_OR_RETURN(inputs.emplace_back(), Act(k));
  }
  const Activation& first = inputs[0];
  const int rank = first.flat ? 2 : 4;
  if (axis < 0) axis += rank;
  if (axis != 1) {
    return Error(absl::StrCat("axis ", axis,
                              " is not supported: tensors are joined along the channels "
                              "(axis 1)"));
  }
  if (inputs.size() == 1) {
    Alias(node().output(0), first);
    return absl::OkStatus();
  }
  Built built;
  built.layer = Layer::Op("", LayerOp::kConcat);
  built.result = first;
  for (size_t k = 1; k < inputs.size(); ++k) {
    const Activation& in = inputs[k];
    if (in.flat != first.flat || in.shape.height != first.shape.height ||
        in.shape.width != first.shape.width) {
      return Error(absl::StrCat("joins ", ShapeText(first), " and ", ShapeText(in),
                                ", whose other dimensions differ"));
    }
    built.result.shape.channels += in.shape.channels;
  }
  return AddLayer(std::move(built), inputs);
}

absl::Status Importer::ConvertPool(bool max) {
  if (max) {
    NETADAPT_RETURN_IF_ERROR(OnlyAttributes({"auto_pad", "ceil_mode", "dilations",
                                             "kernel_shape", "pads", "storage_order",
                                             "strides"}));
    NETADAPT_RETURN_IF_ERROR(NoReaders(1, "the indices"));
  } else {
    NETADAPT_RETURN_IF_ERROR(OnlyAttributes(
        {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"}));
  }
  // PyTorch writes AvgPool2d as a zero Pad and an unpadded AveragePool.
  NETADAPT_ASSIGN_OR_RETURN(Activation x, max ? Act(0) : ActOrPadded(0));
  if (x.flat) return Error("needs a [batch, C, H, W] input, not the flat " + ShapeText(x));
  if (Attr("kernel_shape") == nullptr) return Error("has no kernel_shape");
  NETADAPT_ASSIGN_OR_RETURN(Pair kernel, PairAttr("kernel_shape", {1, 1}));
  NETADAPT_ASSIGN_OR_RETURN(Pair stride, PairAttr("strides", {1, 1}));
  NETADAPT_ASSIGN_OR_RETURN(Pair dilation, PairAttr("dilations", {1, 1}));
  if (dilation != Pair{1, 1}) {
    return Error(absl::StrCat("dilations [", dilation.h, ", ", dilation.w,
                              "] are not supported: netadapt's pools have dilation 1"));
  }
  NETADAPT_ASSIGN_OR_RETURN(Pair padding, Pads(x, kernel, stride));
  NETADAPT_ASSIGN_OR_RETURN(int64_t ceil_mode, IntAttr("ceil_mode", 0));
  NETADAPT_ASSIGN_OR_RETURN(int64_t count_include_pad, IntAttr("count_include_pad", 0));
  if (!max && count_include_pad == 0 && (padding.h > 0 || padding.w > 0)) {
    return Error(
        "count_include_pad 0 with padding is not supported: netadapt's avgpool2d divides by "
        "the whole window, padding included (PyTorch's default, exported as "
        "count_include_pad 1)");
  }
  padding = {padding.h + x.pad.h, padding.w + x.pad.w};  // a zero Pad's zeros count
  // ONNX's ceil_mode keeps a last window that starts in the right padding; PyTorch's (and so
  // the NetworkDef's) drops it. Imported only where both give one size.
  bool ceil = false;
  if (ceil_mode != 0) {
    const int in[2] = {x.shape.height, x.shape.width};
    const int k[2] = {kernel.h, kernel.w};
    const int s[2] = {stride.h, stride.w};
    const int p[2] = {padding.h, padding.w};
    for (int d = 0; d < 2; ++d) {
      const int span = in[d] + 2 * p[d] - k[d];
      if (span < 0) continue;  // OutputOf refuses the size
      const int floor_size = span / s[d] + 1;
      const int onnx_size = (span + s[d] - 1) / s[d] + 1;
      const int torch_size = (onnx_size - 1) * s[d] >= in[d] + p[d] ? onnx_size - 1 : onnx_size;
      if (onnx_size != torch_size) {
        return Error(absl::StrCat(
            "ceil_mode 1 gives ", onnx_size, " windows where PyTorch's gives ", torch_size,
            " (a last window starting in the padding); use ceil_mode 0 or another input size"));
      }
      ceil |= onnx_size != floor_size;
    }
    if (ceil && !max) {
      return Error(
          "ceil_mode adds a partial last window, whose divisor ONNX runtimes and PyTorch do not "
          "agree on; use ceil_mode 0 or an input size the windows tile");
    }
  }
  Built built;
  built.layer = max ? Layer::MaxPool2d("", kernel, stride, padding)
                    : Layer::AvgPool2d("", kernel, stride, padding);
  built.layer.ceil_mode = ceil;
  return AddLayer(std::move(built), {x});
}

absl::Status Importer::ConvertGlobalAveragePool() {
  NETADAPT_RETURN_IF_ERROR(OnlyAttributes({}));
  NETADAPT_ASSIGN_OR_RETURN(Activation x, Act(0));
  if (x.flat) return Error("needs a [batch, C, H, W] input, not the flat " + ShapeText(x));
  Built built;
  built.layer = Layer::AdaptiveAvgPool2d("", {1, 1});
  return AddLayer(std::move(built), {x});
}

absl::Status Importer::ConvertResize() {
  NETADAPT_RETURN_IF_ERROR(OnlyAttributes(
      {"mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a",
       "exclude_outside", "extrapolation_value"}));
  NETADAPT_ASSIGN_OR_RETURN(Activation x, Act(0));
  if (x.flat) return Error("needs a [batch, C, H, W] input, not the flat " + ShapeText(x));
  NETADAPT_ASSIGN_OR_RETURN(std::string mode, StringAttr("mode", "nearest"));
  NETADAPT_ASSIGN_OR_RETURN(std::string transform,
                            StringAttr("coordinate_transformation_mode", "half_pixel"));
  NETADAPT_ASSIGN_OR_RETURN(std::string rounding, StringAttr("nearest_mode", "round_prefer_floor"));
  if (mode != "nearest" || transform != "asymmetric" || rounding != "floor") {
    return Error(absl::StrCat(
        "mode '", mode, "', coordinate_transformation_mode '", transform, "' and nearest_mode '",
        rounding,
        "' are not supported: only an integer nearest upsampling (nearest, asymmetric, floor: "
        "PyTorch's nn.Upsample(scale_factor=k)), imported as adaptive_avgpool2d"));
  }
  // Opset 11+: X, roi, scales, sizes; opset 10: X, scales.
  const int scales_at = node().input_size() == 2 ? 1 : 2;
  int factor[2] = {0, 0};
  if (HasInput(scales_at)) {
    NETADAPT_ASSIGN_OR_RETURN(ConstPtr scales, Const(scales_at, "the scales", true));
    if (scales->floats.size() == 4) {
      for (int d = 0; d < 2; ++d) {
        const float f = scales->floats[2 + d];
        if (f >= 1 && f == std::floor(f) && f < 4096) factor[d] = static_cast<int>(f);
      }
      if (scales->floats[0] != 1 || scales->floats[1] != 1) factor[0] = 0;
    }
  } else if (HasInput(3)) {
    NETADAPT_ASSIGN_OR_RETURN(ConstPtr sizes, Const(3, "the sizes", false));
    if (sizes->ints.size() == 4 && sizes->ints[1] == x.shape.channels) {
      const int64_t in[2] = {x.shape.height, x.shape.width};
      for (int d = 0; d < 2; ++d) {
        const int64_t size = sizes->ints[2 + d];
        if (size > 0 && size % in[d] == 0 && size / in[d] < 4096) {
          factor[d] = static_cast<int>(size / in[d]);
        }
      }
    }
  }
  if (factor[0] <= 0 || factor[1] <= 0) {
    return Error("only integer upsampling of height and width (scales [1, 1, kh, kw]) is "
                 "supported");
  }
  // After an AveragePool that tiles its input, read by this Resize only, as our exporter
  // writes a non-global adaptive pool: one adaptive pool (each axis pools or upsamples).
  if (x.layer >= 0) {
    Built& pool = built_[x.layer];
    const Layer& l = pool.layer;
    const TensorShape in = pool.inputs[0] == kNetworkInput ? input_.shape
                                                           : built_[pool.inputs[0]].result.shape;
    if (l.op == LayerOp::kAvgPool2d && l.kernel == l.stride && l.padding == Pair{0, 0} &&
        in.height % l.kernel.h == 0 && in.width % l.kernel.w == 0 &&
        (l.kernel.h == 1 || factor[0] == 1) && (l.kernel.w == 1 || factor[1] == 1) &&
        pool.output == node().input(0) && readers_[pool.output] == 1) {
      pool.layer = Layer::AdaptiveAvgPool2d("", {x.shape.height * factor[0],
                                                 x.shape.width * factor[1]});
      pool.result.shape.height *= factor[0];
      pool.result.shape.width *= factor[1];
      pool.node = node_index_;
      pool.output = node().output(0);
      Alias(pool.output, pool.result);
      return absl::OkStatus();
    }
  }
  Built built;
  built.layer =
      Layer::AdaptiveAvgPool2d("", {x.shape.height * factor[0], x.shape.width * factor[1]});
  return AddLayer(std::move(built), {x});
}

absl::Status Importer::ConvertPad() {
  NETADAPT_RETURN_IF_ERROR(OnlyAttributes({"mode", "pads", "value"}));
  NETADAPT_ASSIGN_OR_RETURN(Activation x, Act(0));
  NETADAPT_ASSIGN_OR_RETURN(std::string mode, StringAttr("mode", "constant"));
  std::vector<int64_t> pads;
  if (HasInput(1)) {  // opset 11: an input
    NETADAPT_ASSIGN_OR_RETURN(ConstPtr c, Const(1, "the pads", false));
    pads = c->ints;
  } else {
    NETADAPT_ASSIGN_OR_RETURN(pads, IntsAttr("pads", {}));
  }
  NETADAPT_ASSIGN_OR_RETURN(float value, FloatAttr("value", 0.0f));
  if (HasInput(2)) {
    NETADAPT_ASSIGN_OR_RETURN(value, Scalar(2, "the constant value"));
  }
  if (HasInput(3)) return Error("axes (input 3) are not supported");
  if (mode != "constant" || value != 0.0f) {
    return Error(absl::StrCat("mode '", mode, "' with value ", value,
                              " is not supported: only zero padding (mode constant, value 0), "
                              "folded into the Conv or AveragePool that reads it"));
  }
  // [n_begin, c_begin, h_begin, w_begin, n_end, c_end, h_end, w_end].
  if (x.flat || pads.size() != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 ||
      pads[5] != 0 || pads[2] != pads[6] || pads[3] != pads[7] || pads[2] < 0 || pads[3] < 0 ||
      pads[2] > INT32_MAX || pads[3] > INT32_MAX) {
    return Error(absl::StrCat("pads ", DimsText(pads),
                              " are not supported: only the same padding on both sides of the "
                              "height and width of a [batch, C, H, W] tensor"));
  }
  x.pad = {static_cast<int>(pads[2]), static_cast<int>(pads[3])};
  Alias(node().output(0), x);
  return absl::OkStatus();
}

absl::Status Importer::ConvertFlatten() {
  NETADAPT_RETURN_IF_ERROR(OnlyAttributes({"axis"}));
  NETADAPT_ASSIGN_OR_RETURN(Activation x, Act(0));
  NETADAPT_ASSIGN_OR_RETURN(int64_t axis, IntAttr("axis", 1));
  const int rank = x.flat ? 2 : 4;
  if (axis < 0) axis += rank;
  if (axis != 1) {
    return Error(absl::StrCat("axis ", axis,
                              " is not supported: only a flatten of everything but the batch "
                              "(axis 1)"));
  }
  if (x.flat) {  // [batch, features] already
    Alias(node().output(0), x);
    return absl::OkStatus();
  }
  Built built;
  built.layer = Layer::Flatten("");
  return AddLayer(std::move(built), {x});
}

absl::Status Importer::ConvertReshape() {
  NETADAPT_RETURN_IF_ERROR(OnlyAttributes({"allowzero", "shape"}));
  NETADAPT_ASSIGN_OR_RETURN(Activation x, Act(0));
  std::vector<int64_t> target;
  if (HasInput(1)) {
    NETADAPT_ASSIGN_OR_RETURN(ConstPtr shape, Const(1, "the shape", false));
    target = shape->ints;
  } else {  // before opset 5
    NETADAPT_ASSIGN_OR_RETURN(target, IntsAttr("shape", {}));
  }
  NETADAPT_ASSIGN_OR_RETURN(int64_t allowzero, IntAttr("allowzero", 0));
  const int64_t features = x.shape.Elements();
  auto is_batch = [&](int64_t d) {
    return d == kBatch || (d == 0 && allowzero == 0) ||
           (static_batch_ > 0 && d == static_batch_);
  };
  bool flatten = false;
  if (target.size() == 2) {
    const int64_t d0 = target[0];
    const int64_t d1 = target[1];
    flatten = (is_batch(d0) && (d1 == -1 || d1 == features)) || (d0 == -1 && d1 == features);
  }
  const bool unchanged =
      !x.flat && target.size() == 4 && is_batch(target[0]) &&
      target[1] == x.shape.channels && target[2] == x.shape.height && target[3] == x.shape.width;
  if (!flatten && !unchanged) {
    return Error(absl::StrCat("reshapes ", ShapeText(x), " to ", DimsText(target),
                              "; a Reshape is supported as a flatten only: [batch, -1] or "
                              "[batch, ", features, "]"));
  }
  if (x.flat || unchanged) {
    Alias(node().output(0), x);
    return absl::OkStatus();
  }
  Built built;
  built.layer = Layer::Flatten("");
  return AddLayer(std::move(built), {x});
}

absl::Status Importer::ConvertGemm(bool matmul) {
  NETADAPT_RETURN_IF_ERROR(
      matmul ? OnlyAttributes({}) : OnlyAttributes({"alpha", "beta", "transA", "transB"}));
  NETADAPT_ASSIGN_OR_RETURN(Activation x, Act(0));
  if (!x.flat) {
    return Error(absl::StrCat("takes ", ShapeText(x),
                              ", not [batch, features]; flatten it first (Flatten or a "
                              "Reshape to [batch, -1])"));
  }
  NETADAPT_ASSIGN_OR_RETURN(ConstPtr b, Const(1, "the weight", true));
  if (b->dims.size() != 2) {
    return Error(absl::StrCat("the weight is ", DimsText(b->dims), ", not a matrix"));
  }
  NETADAPT_ASSIGN_OR_RETURN(int64_t trans_a, IntAttr("transA", 0));
  NETADAPT_ASSIGN_OR_RETURN(int64_t trans_b, IntAttr("transB", 0));
  NETADAPT_ASSIGN_OR_RETURN(float alpha, FloatAttr("alpha", 1.0f));
  NETADAPT_ASSIGN_OR_RETURN(float beta, FloatAttr("beta", 1.0f));
  if (trans_a != 0) return Error("transA 1 is not supported: the input is [batch, features]");
  // The linear layer's weight is [out, in]: B itself when transB is 1, else B transposed.
  const int64_t in = trans_b != 0 ? b->dims[1] : b->dims[0];
  const int64_t out = trans_b != 0 ? b->dims[0] : b->dims[1];
  if (in != x.shape.channels) {
    return Error(absl::StrCat("the weight ", DimsText(b->dims), (trans_b != 0 ? " (transB 1)" : ""),
                              " takes ", in, " features but the input has ",
                              x.shape.channels));
  }
  std::vector<float> weight(b->floats.size());
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) {
      weight[o * in + i] = alpha * (trans_b != 0 ? b->floats[o * in + i] : b->floats[i * out + o]);
    }
  }
  Built built;
  built.weights.emplace_back("weight", std::move(weight));
  ConstPtr c;
  if (!matmul && HasInput(2)) {
    NETADAPT_ASSIGN_OR_RETURN(c, Const(2, "the bias", true));
    if (c->dims != std::vector<int64_t>{out} && c->dims != std::vector<int64_t>{1, out}) {
      return Error(absl::StrCat("the bias is ", DimsText(c->dims), ", not [", out, "]"));
    }
    std::vector<float> bias = c->floats;
    for (float& v : bias) v *= beta;
    built.weights.emplace_back("bias", std::move(bias));
  }
  built.layer = Layer::Linear("", static_cast<int>(in), static_cast<int>(out), c != nullptr);
  built.weight_value = node().input(1);
  built.bias_foldable = c == nullptr;
  return AddLayer(std::move(built), {x});
}

absl::Status Importer::ConvertDropout() {
  NETADAPT_RETURN_IF_ERROR(OnlyAttributes({"ratio", "seed", "is_test"}));
  NETADAPT_RETURN_IF_ERROR(NoReaders(1, "the mask"));
  NETADAPT_ASSIGN_OR_RETURN(Activation x, Act(0));
  NETADAPT_ASSIGN_OR_RETURN(float ratio, FloatAttr("ratio", 0.5f));
  if (HasInput(1)) {  // opset 12: an input
    NETADAPT_ASSIGN_OR_RETURN(ratio, Scalar(1, "the ratio"));
  }
  // Input 2, training_mode, is what a training-mode export sets: imported as a dropout layer,
  // which is active when netadapt trains and not when it evaluates.
  Built built;
  built.layer = Layer::Dropout("", Shortest(ratio));
  return AddLayer(std::move(built), {x});
}

absl::Status Importer::ConvertIdentity() {
  NETADAPT_RETURN_IF_ERROR(OnlyAttributes({}));
  if (IsConstant(0)) {
    constants_[node().output(0)] = constants_.at(node().input(0));
    return absl::OkStatus();
  }
  NETADAPT_ASSIGN_OR_RETURN(Activation x, Act(0));
  Alias(node().output(0), x);
  return absl::OkStatus();
}

absl::Status Importer::ConvertConstant() {
  if (node().attribute_size() != 1) return Error("must have exactly one value attribute");
  const onnx::AttributeProto& a = node().attribute(0);
  ConstPtr c;
  if (a.name() == "value" && a.type() == onnx::AttributeProto::TENSOR) {
    c = ReadTensor(a.t());
  } else {
    auto v = std::make_shared<Constant>();
    if (a.name() == "value_float" && a.type() == onnx::AttributeProto::FLOAT) {
      v->floats = {a.f()};
    } else if (a.name() == "value_floats" && a.type() == onnx::AttributeProto::FLOATS) {
      v->floats.assign(a.floats().begin(), a.floats().end());
      v->dims = {a.floats_size()};
    } else if (a.name() == "value_int" && a.type() == onnx::AttributeProto::INT) {
      v->is_float = false;
      v->ints = {a.i()};
    } else if (a.name() == "value_ints" && a.type() == onnx::AttributeProto::INTS) {
      v->is_float = false;
      v->ints.assign(a.ints().begin(), a.ints().end());
      v->dims = {a.ints_size()};
    } else {
      return Error(absl::StrCat("attribute '", a.name(),
                                "' is not supported (a tensor, float(s) or int(s) value)"));
    }
    c = std::move(v);
  }
  constants_[node().output(0)] = std::move(c);
  return absl::OkStatus();
}

absl::Status Importer::ConvertShape() {
  NETADAPT_RETURN_IF_ERROR(OnlyAttributes({"start", "end"}));
  NETADAPT_ASSIGN_OR_RETURN(Activation x, Act(0));
  std::vector<int64_t> dims = {kBatch, x.shape.channels};
  if (!x.flat) {
    dims.push_back(x.shape.height);
    dims.push_back(x.shape.width);
  }
  const int64_t rank = static_cast<int64_t>(dims.size());
  NETADAPT_ASSIGN_OR_RETURN(int64_t start, IntAttr("start", 0));
  NETADAPT_ASSIGN_OR_RETURN(int64_t end, IntAttr("end", rank));
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  auto c = std::make_shared<Constant>();
  c->is_float = false;
  c->ints.assign(dims.begin() + start, dims.begin() + end);
  c->dims = {end - start};
  constants_[node().output(0)] = std::move(c);
  return absl::OkStatus();
}

absl::Status Importer::ConvertGather() {
  NETADAPT_RETURN_IF_ERROR(OnlyAttributes({"axis"}));
  if (!IsConstant(0)) {
    return Error("Gather is supported on shapes only (computing a Reshape's shape)");
  }
  NETADAPT_ASSIGN_OR_RETURN(ConstPtr data, Const(0, "the data", false));
  NETADAPT_ASSIGN_OR_RETURN(ConstPtr indices, Const(1, "the indices", false));
  NETADAPT_ASSIGN_OR_RETURN(int64_t axis, IntAttr("axis", 0));
  if (data->dims.size() != 1 || (axis != 0 && axis != -1) || indices->dims.size() > 1) {
    return Error("Gather is supported on 1-D shapes with scalar or 1-D indices only");
  }
  auto c = std::make_shared<Constant>();
  c->is_float = false;
  c->dims = indices->dims;
  const int64_t n = static_cast<int64_t>(data->ints.size());
  for (int64_t i : indices->ints) {
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Error(absl::StrCat("index ", i, " is out of range"));
    c->ints.push_back(data->ints[i]);
  }
  constants_[node().output(0)] = std::move(c);
  return absl::OkStatus();
}

absl::Status Importer::ConvertUnsqueeze() {
  NETADAPT_RETURN_IF_ERROR(OnlyAttributes({"axes"}));
  if (!IsConstant(0)) {
    return Error("Unsqueeze is supported on shapes only (computing a Reshape's shape)");
  }
  const Constant& data = *constants_.at(node().input(0));
  std::vector<int64_t> axes;
  if (HasInput(1)) {  // opset 13: an input
    NETADAPT_ASSIGN_OR_RETURN(ConstPtr c, Const(1, "the axes", false));
    axes = c->ints;
  } else {
    NETADAPT_ASSIGN_OR_RETURN(axes, IntsAttr("axes", {}));
  }
  const int64_t rank = static_cast<int64_t>(data.dims.size() + axes.size());
  for (int64_t& axis : axes) {
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) return Error(absl::StrCat("axis ", axis, " is out of range"));
  }
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) {
    return Error("axes name one axis twice");
  }
  auto c = std::make_shared<Constant>(data);
  c->dims.clear();
  size_t next = 0;
  for (int64_t d = 0; d < rank; ++d) {
    if (std::binary_search(axes.begin(), axes.end(), d)) {
      c->dims.push_back(1);
    } else {
      c->dims.push_back(data.dims[next++]);
    }
  }
  constants_[node().output(0)] = std::move(c);
  return absl::OkStatus();
}

absl::Status Importer::Convert() {
  const onnx::NodeProto& n = node();
  if (!n.domain().empty() && n.domain() != "ai.onnx") {
    return Error(absl::StrCat("ops of domain '", n.domain(), "' are not supported; supported: ",
                              kSupportedOps));
  }
  if (n.output_size() == 0 || n.output(0).empty()) return Error("has no output");
  const std::string& op = n.op_type();
  if (op == "Conv") return ConvertConv();
  if (op == "BatchNormalization") return ConvertBatchNorm();
  if (op == "Relu") return ConvertUnary(LayerOp::kRelu);
  if (op == "Sigmoid") return ConvertUnary(LayerOp::kSigmoid);
  if (op == "HardSwish") return ConvertUnary(LayerOp::kHardswish);
  if (op == "HardSigmoid") return ConvertHardSigmoid();
  if (op == "Clip") return ConvertClip();
  if (op == "Mul") return ConvertMul();
  if (op == "Add") return ConvertAdd();
  if (op == "Concat") return ConvertConcat();
  if (op == "MaxPool") return ConvertPool(/*max=*/true);
  if (op == "AveragePool") return ConvertPool(/*max=*/false);
  if (op == "GlobalAveragePool") return ConvertGlobalAveragePool();
  if (op == "Resize") return ConvertResize();
  if (op == "Pad") return ConvertPad();
  if (op == "Flatten") return ConvertFlatten();
  if (op == "Reshape") return ConvertReshape();
  if (op == "Gemm") return ConvertGemm(/*matmul=*/false);
  if (op == "MatMul") return ConvertGemm(/*matmul=*/true);
  if (op == "Dropout") return ConvertDropout();
  if (op == "Identity") return ConvertIdentity();
  if (op == "Constant") return ConvertConstant();
  if (op == "Shape") return ConvertShape();
  if (op == "Gather") return ConvertGather();
  if (op == "Unsqueeze") return ConvertUnsqueeze();
  std::string hint;
  if (op == "Softmax" || op == "LogSoftmax") {
    hint = " (export the logits: leave the softmax out of the model; the loss applies it)";
  }
  return Error(absl::StrCat("unsupported op", hint, "; supported: ", kSupportedOps));
}

absl::StatusOr<OnnxModel> Importer::Finish() {
  const std::string& output = graph_.output(0).name();
  auto it = activations_.find(output);
  if (it == activations_.end()) {
    return GraphError(absl::StrCat("the output '", output,
                                   "' is not computed from the input (a constant, or no node "
                                   "produces it)"));
  }
  const Activation& result = it->second;
  if (result.pad != Pair{0, 0}) return GraphError("the output is a Pad's");
  if (result.layer == kNetworkInput || built_.empty()) {
    return GraphError("the output is the input: the graph has no layers");
  }
  if (!result.flat) {
    return GraphError(absl::StrCat("the output '", output, "' is ", ShapeText(result),
                                   "; netadapt adapts classifiers whose output is [batch, "
                                   "classes] logits (flatten them in the model)"));
  }
  if (result.layer != static_cast<int>(built_.size()) - 1) {
    return absl::InternalError("ONNX import: the output is not the last layer");
  }

  // Names (see onnx_import.h): weight initializers first, then node scopes, then node names.
  const size_t n = built_.size();
  std::vector<std::string> candidates(n);
  std::vector<bool> from_weight(n, false);
  std::vector<std::optional<Scope>> scopes(n);
  std::map<std::string, int> per_module;
  for (size_t i = 0; i < n; ++i) {
    scopes[i] = ParseScope(graph_.node(built_[i].node).name());
    if (scopes[i]) ++per_module[scopes[i]->module];
  }
  for (size_t i = 0; i < n; ++i) {
    const Built& b = built_[i];
    const onnx::NodeProto& named_by = graph_.node(b.node);
    const std::string& w = b.weight_value;
    if (absl::EndsWith(w, ".weight") && w.size() > 7 && !absl::StartsWith(w, "onnx::")) {
      candidates[i] = w.substr(0, w.size() - 7);
      from_weight[i] = true;
    } else if (scopes[i]) {
      const Scope& s = *scopes[i];
      const std::string op = absl::AsciiStrToLower(s.op);
      if (s.module.empty()) {
        candidates[i] = op;
      } else {
        candidates[i] = per_module[s.module] == 1 ? s.module : absl::StrCat(s.module, ".", op);
      }
    } else if (!named_by.name().empty()) {
      candidates[i] = named_by.name();
    } else {
      candidates[i] = absl::StrCat(absl::AsciiStrToLower(named_by.op_type()), "_", i);
    }
  }
  std::vector<std::string> names(n);
  std::set<std::string> taken = {std::string(kNetworkInputName)};
  for (bool weighted_pass : {true, false}) {
    for (size_t i = 0; i < n; ++i) {
      if (from_weight[i] != weighted_pass) continue;
      std::string name = candidates[i];
      for (int k = 1; taken.count(name) > 0; ++k) name = absl::StrCat(candidates[i], "_", k);
      taken.insert(name);
      names[i] = name;
    }
  }

  OnnxModel model;
  NetworkDef& def = model.def;
  def.name = !options_.name.empty() ? options_.name
             : !graph_.name().empty() ? graph_.name()
                                      : "onnx";
  def.input = input_.shape;
  for (size_t i = 0; i < n; ++i) {
    Layer layer = built_[i].layer;
    layer.name = names[i];
    const std::vector<int>& inputs = built_[i].inputs;
    const bool sequential = inputs.size() == 1 && ArityOf(layer.op).max == 1 &&
                            inputs[0] == static_cast<int>(i) - 1;
    if (!sequential) {
      for (int k : inputs) {
        layer.inputs.push_back(k == kNetworkInput ? std::string(kNetworkInputName) : names[k]);
      }
    }
    def.layers.push_back(std::move(layer));
  }
  absl::StatusOr<std::vector<TensorShape>> shapes = InferShapes(def);
  if (!shapes.ok()) {
    // Each node was checked as it was read: this is an importer bug, but say where.
    return absl::InternalError(
        absl::StrCat("ONNX import built an invalid network: ", shapes.status().message()));
  }
  for (size_t i = 0; i < n; ++i) {
    if (!((*shapes)[i] == built_[i].result.shape)) {
      return absl::InternalError(absl::StrCat("ONNX import: layer ", names[i],
                                              " has another shape than the graph's"));
    }
  }

  // The tensors, in NetworkTensors order, packed into one buffer.
  NETADAPT_ASSIGN_OR_RETURN(std::vector<TensorSpec> specs, NetworkTensors(def));
  std::vector<const std::vector<float>*> data(specs.size(), nullptr);
  size_t bytes = 0;
  for (size_t t = 0; t < specs.size(); ++t) {
    const TensorSpec& spec = specs[t];
    int64_t elements = 1;
    for (int64_t d : spec.shape) elements *= d;
    bytes += elements * ElementSize(spec.dtype);
    if (spec.dtype != TensorDtype::kFloat32) continue;  // num_batches_tracked: 0
    for (const auto& [field, values] : built_[spec.layer_index].weights) {
      if (field == spec.field) data[t] = &values;
    }
    if (data[t] == nullptr || static_cast<int64_t>(data[t]->size()) != elements) {
      return absl::InternalError(absl::StrCat("ONNX import: no data for ", spec.name));
    }
  }
  auto storage = std::make_shared<std::string>(bytes, '\0');
  size_t offset = 0;
  for (size_t t = 0; t < specs.size(); ++t) {
    const TensorSpec& spec = specs[t];
    CheckpointTensor& tensor = model.tensors.emplace_back();
    tensor.name = spec.name;
    tensor.dtype = spec.dtype;
    tensor.shape = spec.shape;
    int64_t elements = 1;
    for (int64_t d : spec.shape) elements *= d;
    const size_t size = elements * ElementSize(spec.dtype);
    if (data[t] != nullptr) std::memcpy(storage->data() + offset, data[t]->data(), size);
    tensor.data = absl::string_view(storage->data() + offset, size);
    offset += size;
  }
  model.storage = std::move(storage);
  return model;
}

absl::StatusOr<OnnxModel> Importer::Run() {
  NETADAPT_RETURN_IF_ERROR(ReadInitializers());
  NETADAPT_RETURN_IF_ERROR(ReadInput());
  NETADAPT_ASSIGN_OR_RETURN(std::vector<int> nodes, LiveNodes());
  for (int index : nodes) {
    node_index_ = index;
    NETADAPT_RETURN_IF_ERROR(Convert());
  }
  return Finish();
}

}  // namespace

absl::string_view OnnxSupportedOps() { return kSupportedOps; }

absl::StatusOr<OnnxModel> ImportOnnx(absl::string_view bytes, const OnnxImportOptions& options) {
  onnx::ModelProto model;
  if (bytes.size() > static_cast<size_t>(INT32_MAX) ||
      !model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(
        "not an ONNX model: the bytes do not parse as an onnx.ModelProto");
  }
  if (!model.has_graph()) {
    return absl::InvalidArgumentError("not an ONNX model: it has no graph");
  }
  if (options.input_height < 0 || options.input_width < 0) {
    return absl::InvalidArgumentError("the input size must be positive");
  }
  return Importer(model, options).Run();
}

}  // namespace netadapt::common
