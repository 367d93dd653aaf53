"""Writes the ONNX models onnx_import_torch_test imports, exported by PyTorch itself.

Usage: make_onnx_models.py OUT_DIR

For each case of CASES, a random-init model (torchvision's resnet18, mobilenet_v2 and
mobilenet_v3_small, no download, and a small module using the forms exporters write: a
dynamic-batch x.view(x.size(0), -1), a MatMul plus bias, a ceil_mode max pool, a padded average
pool, concat, a sigmoid gate, an upsampling) with non-trivial batchnorm statistics, its
classifier scaled so that the largest |logit| is 4, exported with torch.onnx.export:
  <case>.onnx     the model
  <case>.input    a [2, 3, size, size] float32 input, raw little-endian
  <case>.logits   the eval-mode model's logits on it, [2, 10] float32, raw little-endian
The cases must match kCases in onnx_import_torch_test.cc.

How batchnorm comes out of torch 1.13's exporter (the import's docs cite this):
  - the default (training=EVAL) folds every BatchNormalization into the conv before it;
    do_constant_folding=False does not change that;
  - training=PRESERVE on a model in eval mode keeps BatchNormalization, in inference form;
  - training=TRAINING keeps it in training form (three outputs), but traces the model in train
    mode: that forward updates the model's running statistics, and the file holds the updated
    ones. The logits here are computed after the export, from what the file holds.
"""

import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

NUM_CLASSES = 10
SIZE = 64


class EveryForm(nn.Module):
    """The forms the import reads that torchvision's models do not export."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU6()
        self.pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # 64 -> 32 (floor: 31)
        self.left = nn.Conv2d(8, 8, 1)
        self.right = nn.Conv2d(8, 4, 3, padding=1, groups=4)
        self.smooth = nn.AvgPool2d(3, stride=1, padding=1)  # count_include_pad=True
        self.gate = nn.Conv2d(12, 12, 1)
        self.down = nn.Conv2d(12, 12, 4, stride=4)  # 32 -> 8
        self.up = nn.Upsample(scale_factor=2, mode="nearest")  # 8 -> 16
        self.squash = nn.AvgPool2d(4)  # 16 -> 4
        self.fc_weight = nn.Parameter(torch.randn(12 * 4 * 4, 16) * 0.05)
        self.fc_bias = nn.Parameter(torch.randn(16) * 0.1)
        self.drop = nn.Dropout(0.3)
        self.classifier = nn.Linear(16, NUM_CLASSES)

    def forward(self, x):
        x = self.pool(self.act(self.bn(self.stem(x))))
        x = torch.cat([F.relu(self.left(x)), F.hardswish(self.right(x))], dim=1)
        x = self.smooth(x)
        x = x * torch.sigmoid(self.gate(F.adaptive_avg_pool2d(x, 1)))
        x = self.squash(self.up(self.down(x)))
        x = x.view(x.size(0), -1)
        x = F.relu(torch.matmul(x, self.fc_weight) + self.fc_bias)
        return self.classifier(self.drop(x))


# case -> (model, export keyword arguments). Keep in sync with kCases.
TRAINING = torch.onnx.TrainingMode.TRAINING
PRESERVE = torch.onnx.TrainingMode.PRESERVE
DYNAMIC_BATCH = {"input_names": ["input"], "dynamic_axes": {"input": {0: "batch"}}}
DYNAMIC_ALL = {"input_names": ["input"],
               "dynamic_axes": {"input": {0: "batch", 2: "height", 3: "width"}}}
CASES = {
    "resnet18_bn": ("resnet18", {"training": PRESERVE}),
    "resnet18_bn_training": ("resnet18", {"training": TRAINING}),
    "resnet18_folded": ("resnet18", {}),
    "mobilenet_v2_bn": ("mobilenet_v2", {"training": PRESERVE, **DYNAMIC_BATCH}),
    "mobilenet_v2_folded": ("mobilenet_v2", DYNAMIC_ALL),
    # opset 13: HardSwish is written as HardSigmoid and Mul.
    "mobilenet_v3_small_folded": ("mobilenet_v3_small", {"opset_version": 13}),
    "every_form": ("every_form", {"opset_version": 13, "training": PRESERVE, **DYNAMIC_BATCH}),
}


def build(model, seed):
    torch.manual_seed(seed)
    if model == "every_form":
        net = EveryForm()
    else:
        net = getattr(torchvision.models, model)(weights=None, num_classes=NUM_CLASSES)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                # Statistics as after some training (scales below 1 on average so that
                # activations do not grow through the residual blocks).
                m.weight.uniform_(0.3, 1.0)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return net.eval()


def scale_logits(net, x, target):
    """Scales the classifier so that the largest |logit| on `x` is `target`."""
    classifier = [m for m in net.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        scale = target / net(x).abs().max().item()
        classifier.weight.mul_(scale)
        classifier.bias.mul_(scale)


def write_raw(tensor, path):
    with open(path, "wb") as f:
        f.write(tensor.detach().contiguous().numpy().astype("<f4").tobytes())


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for index, (case, (model, kwargs)) in enumerate(CASES.items()):
        net = build(model, seed=index)
        torch.manual_seed(100 + index)
        x = torch.randn(2, 3, SIZE, SIZE)
        scale_logits(net, x, target=4.0)
        torch.onnx.export(net, x[:1], os.path.join(out, case + ".onnx"), **kwargs)
        net.eval()  # TRAINING's export leaves the updated running statistics in the model
        with torch.no_grad():
            logits = net(x)
        write_raw(x, os.path.join(out, case + ".input"))
        write_raw(logits, os.path.join(out, case + ".logits"))
        print(case, "max |logit|", logits.abs().max().item())


if __name__ == "__main__":
    main()
