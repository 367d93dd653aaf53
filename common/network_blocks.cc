#include "common/network_blocks.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

// A channel space: the output channels of one producer (or the network input). Spaces that
// must keep the same channels are united; each class of spaces is one group.
struct Segment {
  int space = 0;
  int channels = 0;
  int features_per_channel = 1;
};
using Layout = std::vector<Segment>;

class ChannelGraph {
 public:
  ChannelGraph(const NetworkDef& network, const std::vector<TensorShape>& shapes)
      : network_(network), shapes_(shapes), inputs_(InputIndices(network)) {
    const int input_space = NewSpace(-1);
    Fix(input_space, "tied to the network input");
    const Layout network_input{{input_space, network.input.channels, 1}};
    outputs_.reserve(network.layers.size());
    input_layouts_.reserve(network.layers.size());
    for (size_t i = 0; i < network.layers.size(); ++i) {
      std::vector<const Layout*> in;
      for (int k : inputs_[i]) in.push_back(k == kNetworkInput ? &network_input : &outputs_[k]);
      input_layouts_.push_back(InputLayout(i, in));
      outputs_.push_back(Propagate(i, in));
    }
    for (const Segment& s : outputs_.back()) Fix(s.space, "tied to the network output");
  }

  std::vector<Block> Blocks() {
    // Classes that are not fixed become blocks, ordered by their first producer.
    std::map<int, int> root_to_block;  // root -> block index, filled in producer order
    std::vector<Block> blocks;
    for (int space = 0; space < static_cast<int>(producer_.size()); ++space) {
      const int layer = producer_[space];
      if (layer < 0 || !Reason(space).empty()) continue;
      auto [it, inserted] = root_to_block.emplace(Find(space), static_cast<int>(blocks.size()));
      if (inserted) blocks.emplace_back();
      Block& block = blocks[it->second];
      block.producers.push_back(layer);
      block.width = network_.layers[layer].out_channels;
    }
    // Spaces are created in layer order, so producers are ascending already; members next.
    for (size_t i = 0; i < network_.layers.size(); ++i) {
      const Layer& layer = network_.layers[i];
      std::optional<BlockMember::Kind> kind;
      if (layer.op == LayerOp::kBatchNorm2d) kind = BlockMember::Kind::kBatchNorm;
      if (layer.op == LayerOp::kConv2d && layer.IsDepthwise()) {
        kind = BlockMember::Kind::kDepthwiseConv;
      } else if ((layer.op == LayerOp::kConv2d && layer.groups == 1) ||
                 layer.op == LayerOp::kLinear) {
        kind = BlockMember::Kind::kConsumer;
      }
      if (kind) AddMembers(static_cast<int>(i), *kind, input_layouts_[i], root_to_block, blocks);
      if (layer.IsWeighted() && !layer.IsDepthwise()) {
        const Segment& out = outputs_[i].front();
        auto it = root_to_block.find(Find(out.space));
        if (it != root_to_block.end()) {
          BlockMember producer;
          producer.layer_index = static_cast<int>(i);
          producer.kind = BlockMember::Kind::kProducer;
          producer.layout = {{it->second, out.channels, 1}};
          producer.fixed = 0;
          producer.per_width = 1;
          blocks[it->second].members.push_back(std::move(producer));
        }
      }
    }
    return blocks;
  }

  // Producers whose channels are not prunable, with the reason.
  std::vector<std::pair<int, std::string>> FixedProducers() {
    std::vector<std::pair<int, std::string>> fixed;
    for (int space = 0; space < static_cast<int>(producer_.size()); ++space) {
      if (producer_[space] < 0) continue;
      std::string reason = Reason(space);
      if (!reason.empty()) fixed.emplace_back(producer_[space], std::move(reason));
    }
    return fixed;
  }

 private:
  int NewSpace(int producer_layer) {
    parent_.push_back(static_cast<int>(parent_.size()));
    producer_.push_back(producer_layer);
    reason_.emplace_back();
    return parent_.back();
  }
  int Find(int space) {
    while (parent_[space] != space) {
      parent_[space] = parent_[parent_[space]];
      space = parent_[space];
    }
    return space;
  }
  void Unite(int a, int b) {
    a = Find(a);
    b = Find(b);
    if (a == b) return;
    if (b < a) std::swap(a, b);
    parent_[b] = a;
    if (reason_[a].empty()) reason_[a] = std::move(reason_[b]);
  }
  void Fix(int space, absl::string_view reason) {
    std::string& r = reason_[Find(space)];
    if (r.empty()) r = std::string(reason);
  }
  std::string Reason(int space) { return reason_[Find(space)]; }

  void FixAll(const Layout& layout, absl::string_view reason) {
    for (const Segment& s : layout) Fix(s.space, reason);
  }

  // Ties two layouts channel for channel; when their splits differ, nothing in them is
  // prunable (slicing would have to split a group across blocks).
  void Tie(const Layout& a, const Layout& b, const Layer& where) {
    bool aligned = a.size() == b.size();
    for (size_t k = 0; aligned && k < a.size(); ++k) {
      aligned = a[k].channels == b[k].channels &&
                a[k].features_per_channel == b[k].features_per_channel;
    }
    if (aligned) {
      for (size_t k = 0; k < a.size(); ++k) Unite(a[k].space, b[k].space);
      return;
    }
    const std::string reason =
        absl::StrCat("tied by ", LayerOpName(where.op), " ", where.name,
                     " to inputs whose concatenated parts differ");
    FixAll(a, reason);
    FixAll(b, reason);
  }

  Layout InputLayout(size_t i, const std::vector<const Layout*>& in) const {
    if (network_.layers[i].op != LayerOp::kConcat) return *in.front();
    Layout joined;
    for (const Layout* part : in) joined.insert(joined.end(), part->begin(), part->end());
    return joined;
  }

  Layout Propagate(size_t i, const std::vector<const Layout*>& in) {
    const Layer& layer = network_.layers[i];
    if (IsChannelWise(layer.op)) return *in.front();
    switch (layer.op) {
      case LayerOp::kConv2d:
        if (layer.IsDepthwise()) return *in.front();
        if (layer.groups != 1) {
          FixAll(*in.front(), absl::StrCat("consumed by the grouped conv ", layer.name));
          const int space = NewSpace(static_cast<int>(i));
          Fix(space, "a grouped (not depthwise) conv");
          return {{space, layer.out_channels, 1}};
        }
        return {{NewSpace(static_cast<int>(i)), layer.out_channels, 1}};
      case LayerOp::kLinear:
        return {{NewSpace(static_cast<int>(i)), layer.out_channels, 1}};
      case LayerOp::kFlatten: {
        const TensorShape& before = InputShape(network_, shapes_, inputs_[i]);
        Layout out = *in.front();
        for (Segment& s : out) s.features_per_channel *= before.height * before.width;
        return out;
      }
      case LayerOp::kConcat:
        return InputLayout(i, in);
      case LayerOp::kAdd:
        for (size_t k = 1; k < in.size(); ++k) Tie(*in[0], *in[k], layer);
        return *in.front();
      case LayerOp::kMul: {
        Tie(*in[0], *in[1], layer);
        // The output has the gated tensor's layout (the gate is [C, 1, 1]).
        const TensorShape& first = InputShape(network_, shapes_, inputs_[i], 0);
        const bool first_is_gate = first.height == 1 && first.width == 1 &&
                                   !(first == InputShape(network_, shapes_, inputs_[i], 1));
        return first_is_gate ? *in[1] : *in[0];
      }
      default:
        break;  // channel-wise ops returned above
    }
    return *in.front();
  }

  void AddMembers(int layer, BlockMember::Kind kind, const Layout& layout,
                  const std::map<int, int>& root_to_block, std::vector<Block>& blocks) {
    ChannelLayout resolved;
    resolved.reserve(layout.size());
    for (const Segment& s : layout) {
      auto it = root_to_block.find(Find(s.space));
      resolved.push_back(
          {it == root_to_block.end() ? -1 : it->second, s.channels, s.features_per_channel});
    }
    std::vector<int> seen;
    for (const ChannelSegment& s : resolved) {
      if (s.block < 0 || std::find(seen.begin(), seen.end(), s.block) != seen.end()) continue;
      seen.push_back(s.block);
      BlockMember member;
      member.layer_index = layer;
      member.kind = kind;
      member.layout = resolved;
      member.fixed = 0;
      member.per_width = 0;
      for (const ChannelSegment& t : resolved) {
        if (t.block == s.block) {
          member.per_width += t.features_per_channel;
        } else {
          member.fixed += t.channels * t.features_per_channel;
        }
      }
      blocks[s.block].members.push_back(std::move(member));
    }
  }

  const NetworkDef& network_;
  const std::vector<TensorShape>& shapes_;
  const std::vector<std::vector<int>> inputs_;
  std::vector<Layout> outputs_;        // per layer
  std::vector<Layout> input_layouts_;  // per layer (a concat's inputs joined)
  std::vector<int> parent_;            // union-find over spaces
  std::vector<int> producer_;          // per space: the layer that creates it, -1 for the input
  std::vector<std::string> reason_;    // per root: why the class is not prunable ("" if it is)
};

std::vector<std::string> Components(const std::string& name) {
  return absl::StrSplit(name, '.');
}

// The deepest module prefix shared by every producer; failing that, by most of them.
std::string GroupLabel(const NetworkDef& network, const Block& block) {
  const int n = static_cast<int>(block.producers.size());
  if (n == 1) return network.layers[block.producers[0]].name;
  std::vector<std::vector<std::string>> names;
  for (int p : block.producers) names.push_back(Components(network.layers[p].name));
  for (int threshold : {n, n / 2 + 1}) {
    std::string best;
    for (size_t depth = 1;; ++depth) {
      std::map<std::string, int> counts;
      for (const auto& parts : names) {
        // A prefix is a module that holds the producer, never the producer itself.
        if (parts.size() <= depth) continue;
        ++counts[absl::StrJoin(parts.begin(), parts.begin() + depth, ".")];
      }
      std::string found;
      for (const auto& [prefix, count] : counts) {
        if (count >= threshold) found = prefix;
      }
      if (found.empty()) break;
      best = found;
    }
    if (!best.empty()) return best;
  }
  return network.layers[block.producers[0]].name;
}

}  // namespace

std::string Block::Description(const NetworkDef& network) const {
  if (producers.size() == 1) return name;
  std::vector<std::string> names;
  for (size_t k = 0; k < producers.size() && k < 5; ++k) {
    names.push_back(network.layers[producers[k]].name);
  }
  if (producers.size() > 5) names.push_back("...");
  return absl::StrCat(name, " (", producers.size(), " layers: ", absl::StrJoin(names, ", "),
                      ")");
}

absl::StatusOr<std::vector<Block>> FindBlocks(const NetworkDef& network) {
  NETADAPT_ASSIGN_OR_RETURN(std::vector<TensorShape> shapes, InferShapes(network));
  return FindBlocks(network, shapes);
}

std::vector<Block> FindBlocks(const NetworkDef& network, const std::vector<TensorShape>& shapes) {
  std::vector<Block> blocks = ChannelGraph(network, shapes).Blocks();
  for (Block& block : blocks) block.name = GroupLabel(network, block);
  // A label two groups share says nothing: those fall back to their first producer's name.
  std::map<std::string, int> uses;
  for (const Block& block : blocks) ++uses[block.name];
  for (Block& block : blocks) {
    if (uses[block.name] > 1) block.name = network.layers[block.producers[0]].name;
  }
  return blocks;
}

NetworkDef WithBlockWidth(const NetworkDef& network, const Block& block, int width) {
  NETADAPT_CHECK(width > 0);
  NetworkDef result = network;
  for (const BlockMember& member : block.members) {
    Layer& layer = result.layers[member.layer_index];
    const int resized = member.Resized(width);
    switch (member.kind) {
      case BlockMember::Kind::kProducer:
        layer.out_channels = width;
        break;
      case BlockMember::Kind::kBatchNorm:
        layer.num_features = resized;
        break;
      case BlockMember::Kind::kDepthwiseConv:
        layer.in_channels = resized;
        layer.out_channels = resized;
        layer.groups = resized;
        break;
      case BlockMember::Kind::kConsumer:
        layer.in_channels = resized;
        break;
    }
  }
  return result;
}

absl::StatusOr<std::string> ExplainBlocks(const NetworkDef& network) {
  NETADAPT_ASSIGN_OR_RETURN(std::vector<TensorShape> shapes, InferShapes(network));
  const std::vector<Block> blocks = FindBlocks(network, shapes);
  std::string text;
  for (size_t b = 0; b < blocks.size(); ++b) {
    const Block& block = blocks[b];
    std::vector<std::string> touched;
    for (const BlockMember& m : block.members) {
      if (m.kind == BlockMember::Kind::kProducer) continue;
      touched.push_back(network.layers[m.layer_index].name);
    }
    absl::StrAppend(&text, "block ", b, ": ", block.Description(network), ", width ",
                    block.width, "; also resizes ", touched.size(), " layer",
                    touched.size() == 1 ? "" : "s", touched.empty() ? "" : ": ",
                    absl::StrJoin(touched, ", "), "\n");
  }
  for (const auto& [layer, reason] : ChannelGraph(network, shapes).FixedProducers()) {
    absl::StrAppend(&text, "not prunable: ", network.layers[layer].name, " (", reason, ")\n");
  }
  return text;
}

}  // namespace netadapt::common
