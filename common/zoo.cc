#include "common/zoo.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

class Builder {
 public:
  Builder(std::string name, const ZooOptions& options, int default_size)
      : options_(options) {
    network_.name = std::move(name);
    const int size = options.input_size > 0 ? options.input_size : default_size;
    network_.input = {options.input_channels, size, size};
  }

  int Width(int base) const {
    return std::max(1, static_cast<int>(std::lround(base * options_.width_multiplier)));
  }
  double width_multiplier() const { return options_.width_multiplier; }
  int channels() const { return channels_; }
  int input_size() const { return network_.input.height; }
  // The name of the last layer added (kNetworkInputName before the first).
  std::string last() const {
    return network_.layers.empty() ? std::string(kNetworkInputName) : network_.layers.back().name;
  }

  // Makes the next layer read the output of layer `input` (`channels` wide) instead of the
  // previous layer's: the start of a side branch, such as a ResNet shortcut's downsample conv.
  void BranchFrom(std::string input, int channels) {
    branch_input_ = std::move(input);
    channels_ = channels;
  }

  void Conv(const std::string& name, int out, int k, int s, int p, int groups = 1,
            bool bias = true) {
    Add(Layer::Conv2d(name, channels_, out, {k, k}, {s, s}, {p, p}, groups, bias));
    channels_ = out;
  }
  void BatchNorm(const std::string& name) { Add(Layer::BatchNorm2d(name, channels_)); }
  // Appends `layer` (its channel count must follow from channels(): element-wise ops, pools).
  void Add(Layer layer) {
    if (!branch_input_.empty()) layer.inputs = {std::exchange(branch_input_, {})};
    network_.layers.push_back(std::move(layer));
  }
  void Linear(const std::string& name, int out) {
    Add(Layer::Linear(name, channels_, out));
    channels_ = out;
  }
  void Flatten(const std::string& name, int spatial) {
    Add(Layer::Flatten(name));
    channels_ *= spatial;
  }

  absl::StatusOr<NetworkDef> Finish() {
    NETADAPT_RETURN_IF_ERROR(Validate(network_));
    return std::move(network_);
  }

 private:
  const ZooOptions& options_;
  NetworkDef network_;
  int channels_ = options_.input_channels;
  std::string branch_input_;  // see BranchFrom
};

absl::StatusOr<NetworkDef> AlexNet(const ZooOptions& options) {
  Builder b("alexnet", options, 224);
  if (b.input_size() >= 64) {
    b.Conv("features.0", b.Width(64), 11, 4, 2);
  } else {
    b.Conv("features.0", b.Width(64), 3, 2, 1);
  }
  b.Add(Layer::Relu("features.1"));
  b.Add(Layer::MaxPool2d("features.2", {3, 3}, {2, 2}));
  b.Conv("features.3", b.Width(192), 5, 1, 2);
  b.Add(Layer::Relu("features.4"));
  b.Add(Layer::MaxPool2d("features.5", {3, 3}, {2, 2}));
  b.Conv("features.6", b.Width(384), 3, 1, 1);
  b.Add(Layer::Relu("features.7"));
  b.Conv("features.8", b.Width(256), 3, 1, 1);
  b.Add(Layer::Relu("features.9"));
  b.Conv("features.10", b.Width(256), 3, 1, 1);
  b.Add(Layer::Relu("features.11"));
  b.Add(Layer::MaxPool2d("features.12", {3, 3}, {2, 2}));
  b.Add(Layer::AdaptiveAvgPool2d("avgpool", {6, 6}));
  b.Flatten("flatten", 36);
  b.Add(Layer::Dropout("classifier.0"));
  b.Linear("classifier.1", b.Width(4096));
  b.Add(Layer::Relu("classifier.2"));
  b.Add(Layer::Dropout("classifier.3"));
  b.Linear("classifier.4", b.Width(4096));
  b.Add(Layer::Relu("classifier.5"));
  b.Linear("classifier.6", options.num_classes);
  return b.Finish();
}

absl::StatusOr<NetworkDef> MobileNet(const ZooOptions& options) {
  Builder b("mobilenet", options, 224);
  int size = b.input_size();
  auto conv_out = [](int in, int stride) { return (in + 2 - 3) / stride + 1; };
  b.Conv("model.0.0", b.Width(32), 3, 2, 1, 1, /*bias=*/false);
  b.BatchNorm("model.0.1");
  b.Add(Layer::Relu("model.0.2"));
  size = conv_out(size, 2);
  struct Dw {
    int out;
    int stride;
  };
  const Dw blocks[] = {{64, 1},  {128, 2}, {128, 1}, {256, 2}, {256, 1},  {512, 2},  {512, 1},
                       {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1}};
  int index = 1;
  for (const Dw& dw : blocks) {
    const std::string prefix = absl::StrCat("model.", index++, ".");
    b.Conv(prefix + "0", b.channels(), 3, dw.stride, 1, b.channels(), /*bias=*/false);
    b.BatchNorm(prefix + "1");
    b.Add(Layer::Relu(prefix + "2"));
    b.Conv(prefix + "3", b.Width(dw.out), 1, 1, 0, 1, /*bias=*/false);
    b.BatchNorm(prefix + "4");
    b.Add(Layer::Relu(prefix + "5"));
    size = conv_out(size, dw.stride);
  }
  // The original pools with AvgPool2d(7): the whole 7x7 map at 224x224. Pooling the whole
  // final map keeps that meaning at every input size.
  const int pool = std::max(1, size);
  b.Add(Layer::AvgPool2d("model.14", {pool, pool}, {pool, pool}));
  b.Flatten("flatten", 1);
  b.Linear("fc", options.num_classes);
  return b.Finish();
}

absl::StatusOr<NetworkDef> HelloWorld(const ZooOptions& options) {
  Builder b("helloworld", options, 32);
  b.Conv("features.0", b.Width(16), 3, 1, 1, 1, /*bias=*/false);
  b.Add(Layer::Relu("features.1"));
  b.Conv("features.2", b.Width(32), 3, 1, 1, 1, /*bias=*/false);
  b.Add(Layer::Relu("features.3"));
  b.Conv("features.4", b.Width(64), 3, 1, 1, 1, /*bias=*/false);
  b.Add(Layer::Relu("features.5"));
  b.Conv("features.6", options.num_classes, 3, 1, 1, 1, /*bias=*/false);
  const int size = b.input_size();
  b.Add(Layer::AvgPool2d("avgpool", {size, size}, {size, size}));
  b.Flatten("flatten", 1);
  return b.Finish();
}

absl::StatusOr<NetworkDef> Vgg16(const ZooOptions& options) {
  Builder b("vgg16", options, 224);
  // torchvision's configuration "D": widths, 0 = max pool.
  const int config[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0,
                        512, 512, 512, 0, 512, 512, 512, 0};
  int index = 0;
  for (int width : config) {
    if (width == 0) {
      b.Add(Layer::MaxPool2d(absl::StrCat("features.", index++), {2, 2}, {2, 2}));
      continue;
    }
    b.Conv(absl::StrCat("features.", index++), b.Width(width), 3, 1, 1);
    b.Add(Layer::Relu(absl::StrCat("features.", index++)));
  }
  b.Add(Layer::AdaptiveAvgPool2d("avgpool", {7, 7}));
  b.Flatten("flatten", 49);
  b.Linear("classifier.0", b.Width(4096));
  b.Add(Layer::Relu("classifier.1"));
  b.Add(Layer::Dropout("classifier.2"));
  b.Linear("classifier.3", b.Width(4096));
  b.Add(Layer::Relu("classifier.4"));
  b.Add(Layer::Dropout("classifier.5"));
  b.Linear("classifier.6", options.num_classes);
  return b.Finish();
}

// torchvision's ResNet family: which residual block, and how many per stage.
struct ResNetConfig {
  const char* name;
  bool bottleneck;  // Bottleneck (1x1, 3x3, 1x1; 4x expansion) instead of BasicBlock (3x3, 3x3)
  int blocks[4];
};

// One torchvision BasicBlock or Bottleneck named `prefix` ("layer2.0."), reading the previous
// layer: the body's convs, the shortcut (through downsample.{0,1} when `downsample`), their
// add and the final ReLU. torchvision applies one `relu` module several times; here each use
// is a layer of its own (relu1, relu2[, relu3]) because layer names are unique. `planes` is
// the body's hidden width, `out` the block's output width.
void ResidualBlock(Builder& b, const std::string& prefix, bool bottleneck, int planes, int out,
                   int stride, bool downsample) {
  const std::string input = b.last();
  const int in = b.channels();
  int relu = 1;
  auto next_relu = [&] { return absl::StrCat(prefix, "relu", relu++); };
  if (bottleneck) {
    // ResNet v1.5: the stride sits in the 3x3 conv2, not in conv1.
    b.Conv(prefix + "conv1", planes, 1, 1, 0, 1, /*bias=*/false);
    b.BatchNorm(prefix + "bn1");
    b.Add(Layer::Relu(next_relu()));
    b.Conv(prefix + "conv2", planes, 3, stride, 1, 1, /*bias=*/false);
    b.BatchNorm(prefix + "bn2");
    b.Add(Layer::Relu(next_relu()));
    b.Conv(prefix + "conv3", out, 1, 1, 0, 1, /*bias=*/false);
    b.BatchNorm(prefix + "bn3");
  } else {
    b.Conv(prefix + "conv1", planes, 3, stride, 1, 1, /*bias=*/false);
    b.BatchNorm(prefix + "bn1");
    b.Add(Layer::Relu(next_relu()));
    b.Conv(prefix + "conv2", out, 3, 1, 1, 1, /*bias=*/false);
    b.BatchNorm(prefix + "bn2");
  }
  const std::string body = b.last();
  std::string shortcut = input;
  if (downsample) {
    b.BranchFrom(input, in);
    b.Conv(prefix + "downsample.0", out, 1, stride, 0, 1, /*bias=*/false);
    b.BatchNorm(prefix + "downsample.1");
    shortcut = b.last();
  }
  b.Add(Layer::Op(prefix + "add", LayerOp::kAdd, {body, shortcut}));
  b.Add(Layer::Relu(next_relu()));
}

absl::StatusOr<NetworkDef> ResNet(const ResNetConfig& config, const ZooOptions& options) {
  Builder b(config.name, options, 224);
  b.Conv("conv1", b.Width(64), 7, 2, 3, 1, /*bias=*/false);
  b.BatchNorm("bn1");
  b.Add(Layer::Relu("relu"));
  b.Add(Layer::MaxPool2d("maxpool", {3, 3}, {2, 2}, {1, 1}));
  const int expansion = config.bottleneck ? 4 : 1;
  // torchvision's inplanes, at full width: whether a block has a downsample shortcut is decided
  // on these, so the layer names never depend on the width multiplier (a tiny multiplier could
  // make the scaled widths coincide where torchvision's differ).
  int base_in = 64;
  for (int stage = 0; stage < 4; ++stage) {
    const int base_planes = 64 << stage;
    // Every block of a stage outputs the same width: the adds tie them together.
    const int planes = b.Width(base_planes);
    const int out = b.Width(base_planes * expansion);
    for (int block = 0; block < config.blocks[stage]; ++block) {
      const int stride = stage > 0 && block == 0 ? 2 : 1;
      const bool downsample = block == 0 && (stride != 1 || base_in != base_planes * expansion);
      ResidualBlock(b, absl::StrCat("layer", stage + 1, ".", block, "."), config.bottleneck,
                    planes, out, stride, downsample);
      base_in = base_planes * expansion;
    }
  }
  b.Add(Layer::AdaptiveAvgPool2d("avgpool", {1, 1}));
  b.Flatten("flatten", 1);
  b.Linear("fc", options.num_classes);
  return b.Finish();
}

// torchvision's _make_divisible (from TensorFlow's slim MobileNet): `v` rounded to the nearest
// multiple of `divisor`, at least `divisor`, and never more than 10% below `v`.
int MakeDivisible(double v, int divisor) {
  int rounded = std::max(divisor, static_cast<int>(v + divisor / 2.0) / divisor * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

// One torchvision InvertedResidual named `prefix` ("features.3."), reading the previous layer:
// an optional 1x1 expansion (conv.0), the depthwise 3x3 (conv.0 or conv.1), the linear 1x1
// projection and its batchnorm, and a residual add when the shape is kept.
void InvertedResidual(Builder& b, const std::string& prefix, int out, int stride,
                      int expand_ratio) {
  const std::string input = b.last();
  const int in = b.channels();
  const int hidden = in * expand_ratio;
  int index = 0;
  auto next = [&] { return absl::StrCat(prefix, "conv.", index++); };
  if (expand_ratio != 1) {
    const std::string expand = next();
    b.Conv(expand + ".0", hidden, 1, 1, 0, 1, /*bias=*/false);
    b.BatchNorm(expand + ".1");
    b.Add(Layer::Relu6(expand + ".2"));
  }
  const std::string depthwise = next();
  b.Conv(depthwise + ".0", hidden, 3, stride, 1, /*groups=*/hidden, /*bias=*/false);
  b.BatchNorm(depthwise + ".1");
  b.Add(Layer::Relu6(depthwise + ".2"));
  b.Conv(next(), out, 1, 1, 0, 1, /*bias=*/false);
  b.BatchNorm(next());
  // torchvision decides on the actual widths (use_res_connect), so a multiplier that rounds
  // two widths to the same multiple of 8 adds a shortcut where full width has none.
  if (stride == 1 && in == out) {
    b.Add(Layer::Op(prefix + "add", LayerOp::kAdd, {b.last(), input}));
  }
}

absl::StatusOr<NetworkDef> MobileNetV2(const ZooOptions& options) {
  Builder b("mobilenet_v2", options, 224);
  // torchvision's round_nearest: every width is a multiple of it.
  constexpr int kRound = 8;
  const double w = b.width_multiplier();
  b.Conv("features.0.0", MakeDivisible(32 * w, kRound), 3, 2, 1, 1, /*bias=*/false);
  b.BatchNorm("features.0.1");
  b.Add(Layer::Relu6("features.0.2"));
  struct Stage {
    int expand_ratio;
    int channels;
    int blocks;
    int stride;
  };
  const Stage stages[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                          {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int index = 1;
  for (const Stage& stage : stages) {
    const int out = MakeDivisible(stage.channels * w, kRound);
    for (int i = 0; i < stage.blocks; ++i) {
      InvertedResidual(b, absl::StrCat("features.", index++, "."), out,
                       i == 0 ? stage.stride : 1, stage.expand_ratio);
    }
  }
  // As torchvision: the last conv only ever grows with the multiplier.
  const std::string last = absl::StrCat("features.", index, ".");
  b.Conv(last + "0", MakeDivisible(1280 * std::max(1.0, w), kRound), 1, 1, 0, 1,
         /*bias=*/false);
  b.BatchNorm(last + "1");
  b.Add(Layer::Relu6(last + "2"));
  // torchvision pools and flattens functionally; these are their module-less stand-ins.
  b.Add(Layer::AdaptiveAvgPool2d("avgpool", {1, 1}));
  b.Flatten("flatten", 1);
  b.Add(Layer::Dropout("classifier.0", 0.2));
  b.Linear("classifier.1", options.num_classes);
  return b.Finish();
}

constexpr ResNetConfig kResNet18{"resnet18", false, {2, 2, 2, 2}};
constexpr ResNetConfig kResNet34{"resnet34", false, {3, 4, 6, 3}};
constexpr ResNetConfig kResNet50{"resnet50", true, {3, 4, 6, 3}};

}  // namespace

std::vector<std::string> ZooNames() {
  return {"alexnet",  "helloworld", "mobilenet", "mobilenet_v2",
          "resnet18", "resnet34",   "resnet50",  "vgg16"};
}

absl::StatusOr<NetworkDef> ZooNetwork(absl::string_view name, const ZooOptions& options) {
  if (options.input_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("input_size must not be negative, got ", options.input_size));
  }
  if (options.input_channels <= 0 || options.num_classes <= 0) {
    return absl::InvalidArgumentError("input_channels and num_classes must be positive");
  }
  if (!(options.width_multiplier > 0) || !std::isfinite(options.width_multiplier)) {
    return absl::InvalidArgumentError("width_multiplier must be a positive number");
  }
  if (name == "alexnet") return AlexNet(options);
  if (name == "mobilenet") return MobileNet(options);
  if (name == "helloworld") return HelloWorld(options);
  if (name == "vgg16") return Vgg16(options);
  if (name == "mobilenet_v2") return MobileNetV2(options);
  if (name == "resnet18") return ResNet(kResNet18, options);
  if (name == "resnet34") return ResNet(kResNet34, options);
  if (name == "resnet50") return ResNet(kResNet50, options);
  return absl::InvalidArgumentError(absl::StrCat("unknown model '", name, "' (expected one of ",
                                                 absl::StrJoin(ZooNames(), ", "), ")"));
}

}  // namespace netadapt::common
