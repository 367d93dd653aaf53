#include "common/network_def_json.h"

#include <google/protobuf/util/json_util.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

using google::protobuf::RepeatedField;

absl::Status LayerError(int index, const v1::Layer& layer, absl::string_view field,
                        absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("layers[", index, "] (", layer.name().empty() ? "<unnamed>" : layer.name(),
                   ", ", layer.op(), "): ", field, " ", problem));
}

// Reads a [h, w] pair given as one or two values; `fallback` when absent.
absl::StatusOr<Pair> ReadPair(int index, const v1::Layer& layer, absl::string_view field,
                              const RepeatedField<int32_t>& values, Pair fallback) {
  switch (values.size()) {
    case 0:
      return fallback;
    case 1:
      return Pair{values[0], values[0]};
    case 2:
      return Pair{values[0], values[1]};
    default:
      return LayerError(index, layer, field,
                        absl::StrCat("must have 1 or 2 values, got ", values.size()));
  }
}

// The proto fields that are set on `layer`, by name.
std::vector<absl::string_view> SetFields(const v1::Layer& l) {
  std::vector<absl::string_view> set;
  if (l.in_channels() != 0) set.push_back("in_channels");
  if (l.out_channels() != 0) set.push_back("out_channels");
  if (!l.kernel_size().empty()) set.push_back("kernel_size");
  if (!l.stride().empty()) set.push_back("stride");
  if (!l.padding().empty()) set.push_back("padding");
  if (l.has_groups()) set.push_back("groups");
  if (l.has_bias()) set.push_back("bias");
  if (l.num_features() != 0) set.push_back("num_features");
  if (l.has_eps()) set.push_back("eps");
  if (!l.output_size().empty()) set.push_back("output_size");
  if (l.has_p()) set.push_back("p");
  if (l.has_ceil_mode()) set.push_back("ceil_mode");
  return set;
}

std::vector<absl::string_view> AllowedFields(LayerOp op) {
  switch (op) {
    case LayerOp::kConv2d:
      return {"in_channels", "out_channels", "kernel_size", "stride", "padding", "groups", "bias"};
    case LayerOp::kLinear:
      return {"in_channels", "out_channels", "bias"};
    case LayerOp::kBatchNorm2d:
      return {"num_features", "eps"};
    case LayerOp::kMaxPool2d:
    case LayerOp::kAvgPool2d:
      return {"kernel_size", "stride", "padding", "ceil_mode"};
    case LayerOp::kAdaptiveAvgPool2d:
      return {"output_size"};
    case LayerOp::kDropout:
      return {"p"};
    case LayerOp::kRelu:
    case LayerOp::kRelu6:
    case LayerOp::kFlatten:
    case LayerOp::kAdd:
    case LayerOp::kConcat:
    case LayerOp::kMul:
    case LayerOp::kSigmoid:
    case LayerOp::kHardsigmoid:
    case LayerOp::kHardswish:
      return {};
  }
  return {};
}

absl::StatusOr<Layer> LayerFromProto(int index, const v1::Layer& proto) {
  absl::StatusOr<LayerOp> op = ParseLayerOp(proto.op());
  if (!op.ok()) return LayerError(index, proto, "op", op.status().message());
  for (absl::string_view field : SetFields(proto)) {
    bool allowed = false;
    for (absl::string_view candidate : AllowedFields(*op)) allowed |= candidate == field;
    if (!allowed) return LayerError(index, proto, field, "does not apply to this op");
  }

  Layer layer;
  layer.name = proto.name();
  layer.op = *op;
  layer.inputs.assign(proto.inputs().begin(), proto.inputs().end());
  layer.in_channels = proto.in_channels();
  layer.out_channels = proto.out_channels();
  layer.bias = proto.has_bias() ? proto.bias() : true;
  layer.groups = proto.has_groups() ? proto.groups() : 1;
  layer.num_features = proto.num_features();
  if (proto.has_eps()) layer.eps = proto.eps();
  if (proto.has_p()) layer.p = proto.p();
  layer.ceil_mode = proto.has_ceil_mode() && proto.ceil_mode();
  NETADAPT_ASSIGN_OR_RETURN(layer.kernel,
                            ReadPair(index, proto, "kernel_size", proto.kernel_size(), {0, 0}));
  // Pools stride by their kernel unless told otherwise, as PyTorch's do.
  const bool pool = layer.op == LayerOp::kMaxPool2d || layer.op == LayerOp::kAvgPool2d;
  NETADAPT_ASSIGN_OR_RETURN(
      layer.stride, ReadPair(index, proto, "stride", proto.stride(), pool ? layer.kernel : Pair{1, 1}));
  NETADAPT_ASSIGN_OR_RETURN(layer.padding,
                            ReadPair(index, proto, "padding", proto.padding(), {0, 0}));
  NETADAPT_ASSIGN_OR_RETURN(layer.output_size,
                            ReadPair(index, proto, "output_size", proto.output_size(), {0, 0}));
  return layer;
}

void SetPair(RepeatedField<int32_t>* field, Pair value) {
  field->Add(value.h);
  if (value.w != value.h) field->Add(value.w);
}

}  // namespace

absl::StatusOr<NetworkDef> NetworkDefFromProto(const v1::NetworkDef& proto) {
  NetworkDef network;
  network.name = proto.name();
  network.input = {proto.input().channels(), proto.input().height(), proto.input().width()};
  for (int i = 0; i < proto.layers_size(); ++i) {
    NETADAPT_ASSIGN_OR_RETURN(Layer layer, LayerFromProto(i, proto.layers(i)));
    network.layers.push_back(std::move(layer));
  }
  NETADAPT_RETURN_IF_ERROR(Validate(network));
  return network;
}

v1::NetworkDef NetworkDefToProto(const NetworkDef& network) {
  v1::NetworkDef proto;
  proto.set_name(network.name);
  proto.mutable_input()->set_channels(network.input.channels);
  proto.mutable_input()->set_height(network.input.height);
  proto.mutable_input()->set_width(network.input.width);
  for (const Layer& l : network.layers) {
    v1::Layer* out = proto.add_layers();
    out->set_name(l.name);
    out->set_op(std::string(LayerOpName(l.op)));
    for (const std::string& input : l.inputs) out->add_inputs(input);
    switch (l.op) {
      case LayerOp::kConv2d:
        out->set_in_channels(l.in_channels);
        out->set_out_channels(l.out_channels);
        SetPair(out->mutable_kernel_size(), l.kernel);
        SetPair(out->mutable_stride(), l.stride);
        SetPair(out->mutable_padding(), l.padding);
        if (l.groups != 1) out->set_groups(l.groups);
        if (!l.bias) out->set_bias(false);
        break;
      case LayerOp::kLinear:
        out->set_in_channels(l.in_channels);
        out->set_out_channels(l.out_channels);
        if (!l.bias) out->set_bias(false);
        break;
      case LayerOp::kBatchNorm2d:
        out->set_num_features(l.num_features);
        if (l.eps != 1e-5) out->set_eps(l.eps);
        break;
      case LayerOp::kMaxPool2d:
      case LayerOp::kAvgPool2d:
        SetPair(out->mutable_kernel_size(), l.kernel);
        SetPair(out->mutable_stride(), l.stride);
        if (l.padding != Pair{0, 0}) SetPair(out->mutable_padding(), l.padding);
        if (l.ceil_mode) out->set_ceil_mode(true);
        break;
      case LayerOp::kAdaptiveAvgPool2d:
        SetPair(out->mutable_output_size(), l.output_size);
        break;
      case LayerOp::kDropout:
        out->set_p(l.p);
        break;
      case LayerOp::kRelu:
      case LayerOp::kRelu6:
      case LayerOp::kFlatten:
      case LayerOp::kAdd:
      case LayerOp::kConcat:
      case LayerOp::kMul:
      case LayerOp::kSigmoid:
      case LayerOp::kHardsigmoid:
      case LayerOp::kHardswish:
        break;
    }
  }
  return proto;
}

absl::StatusOr<NetworkDef> NetworkDefFromJson(absl::string_view json) {
  v1::NetworkDef proto;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &proto, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("network definition is not valid JSON for netadapt.v1.NetworkDef: ",
                     std::string(status.message())));
  }
  return NetworkDefFromProto(proto);
}

std::string NetworkDefToJson(const NetworkDef& network) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  // Cannot fail: the message has no Any fields and every string is valid UTF-8 we wrote.
  (void)google::protobuf::util::MessageToJsonString(NetworkDefToProto(network), &json, options);
  return json;
}

}  // namespace netadapt::common
