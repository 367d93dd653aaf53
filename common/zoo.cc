#include "common/zoo.h"

#include <algorithm>
#include <cmath>

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
  int channels() const { return channels_; }
  int input_size() const { return network_.input.height; }

  void Conv(const std::string& name, int out, int k, int s, int p, int groups = 1,
            bool bias = true) {
    network_.layers.push_back(
        Layer::Conv2d(name, channels_, out, {k, k}, {s, s}, {p, p}, groups, bias));
    channels_ = out;
  }
  void BatchNorm(const std::string& name) {
    network_.layers.push_back(Layer::BatchNorm2d(name, channels_));
  }
  void Add(Layer layer) { network_.layers.push_back(std::move(layer)); }
  void Linear(const std::string& name, int out) {
    network_.layers.push_back(Layer::Linear(name, channels_, out));
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

}  // namespace

std::vector<std::string> ZooNames() { return {"alexnet", "helloworld", "mobilenet", "vgg16"}; }

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
  return absl::InvalidArgumentError(absl::StrCat("unknown model '", name, "' (expected one of ",
                                                 absl::StrJoin(ZooNames(), ", "), ")"));
}

}  // namespace netadapt::common
