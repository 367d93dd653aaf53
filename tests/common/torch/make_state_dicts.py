"""Writes the PyTorch files state_dict_import_test reads.

Usage: make_state_dicts.py OUT_DIR

For each zoo model, defined below as a PyTorch module whose state_dict() names match our
NetworkDef layer names (docs/STATE_DICT.md), with deterministic weights and non-trivial
batchnorm statistics:
  <model>.pt       torch.save(model.state_dict(), path)
  <model>.input    a [2, C, H, W] float32 input, raw little-endian
  <model>.logits   model.eval()(input), [2, classes] float32, raw little-endian
plus variants of helloworld and mobilenet for the format and error tests (see main()).
The sizes must match kModels in state_dict_import_test.cc.
"""

import collections
import math
import os
import sys

import torch
import torch.nn as nn


def width(base, multiplier):
    # common/zoo.cc: std::lround (halves away from zero), at least 1.
    return max(1, int(math.floor(base * multiplier + 0.5)))


class HelloWorld(nn.Module):
    def __init__(self, input_size=32, num_classes=10, w=1.0):
        super().__init__()
        c = [width(16, w), width(32, w), width(64, w)]
        self.features = nn.Sequential(
            nn.Conv2d(3, c[0], 3, padding=1, bias=False), nn.ReLU(inplace=True),
            nn.Conv2d(c[0], c[1], 3, padding=1, bias=False), nn.ReLU(inplace=True),
            nn.Conv2d(c[1], c[2], 3, padding=1, bias=False), nn.ReLU(inplace=True),
            nn.Conv2d(c[2], num_classes, 3, padding=1, bias=False))
        self.avgpool = nn.AvgPool2d(input_size)
        self.flatten = nn.Flatten()

    def forward(self, x):
        return self.flatten(self.avgpool(self.features(x)))


class AlexNet(nn.Module):
    def __init__(self, input_size=224, num_classes=10, w=1.0):
        super().__init__()
        c = [width(b, w) for b in (64, 192, 384, 256, 256)]
        first = (nn.Conv2d(3, c[0], 11, stride=4, padding=2) if input_size >= 64 else
                 nn.Conv2d(3, c[0], 3, stride=2, padding=1))
        self.features = nn.Sequential(
            first, nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(c[0], c[1], 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(c[1], c[2], 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c[2], c[3], 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c[3], c[4], 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
        self.avgpool = nn.AdaptiveAvgPool2d(6)
        self.flatten = nn.Flatten()
        hidden = width(4096, w)
        self.classifier = nn.Sequential(
            nn.Dropout(), nn.Linear(c[4] * 36, hidden), nn.ReLU(inplace=True),
            nn.Dropout(), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(self.flatten(self.avgpool(self.features(x))))


class MobileNet(nn.Module):
    def __init__(self, input_size=224, num_classes=10, w=1.0):
        super().__init__()

        def conv_bn(inp, oup, stride):
            return nn.Sequential(nn.Conv2d(inp, oup, 3, stride, 1, bias=False),
                                 nn.BatchNorm2d(oup), nn.ReLU(inplace=True))

        def conv_dw(inp, oup, stride):
            return nn.Sequential(
                nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False),
                nn.BatchNorm2d(inp), nn.ReLU(inplace=True),
                nn.Conv2d(inp, oup, 1, 1, 0, bias=False),
                nn.BatchNorm2d(oup), nn.ReLU(inplace=True))

        blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1),
                  (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]
        channels = width(32, w)
        size = (input_size - 1) // 2 + 1
        layers = [conv_bn(3, channels, 2)]
        for out, stride in blocks:
            layers.append(conv_dw(channels, width(out, w), stride))
            channels = width(out, w)
            size = (size - 1) // stride + 1
        pool = max(1, size)
        layers.append(nn.AvgPool2d(pool))
        self.model = nn.Sequential(*layers)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        return self.fc(self.flatten(self.model(x)))


class Vgg16(nn.Module):
    def __init__(self, input_size=224, num_classes=10, w=1.0):
        super().__init__()
        layers, channels = [], 3
        for v in [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0]:
            if v == 0:
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, width(v, w), 3, padding=1), nn.ReLU(inplace=True)]
                channels = width(v, w)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(7)
        self.flatten = nn.Flatten()
        hidden = width(4096, w)
        self.classifier = nn.Sequential(
            nn.Linear(channels * 49, hidden), nn.ReLU(inplace=True), nn.Dropout(),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(),
            nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(self.flatten(self.avgpool(self.features(x))))


# name -> (class, input_size, width multiplier); keep in sync with state_dict_import_test.cc.
MODELS = {
    "helloworld": (HelloWorld, 16, 0.5),
    "alexnet": (AlexNet, 32, 0.0625),
    "mobilenet": (MobileNet, 32, 0.125),
    "vgg16": (Vgg16, 32, 0.0625),
}


def build(name, seed, w=None):
    cls, size, default_w = MODELS[name]
    torch.manual_seed(seed)
    model = cls(input_size=size, num_classes=10, w=default_w if w is None else w)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):  # statistics as after some training
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(7)
    return model.eval(), size


def write_raw(tensor, path):
    with open(path, "wb") as f:
        f.write(tensor.detach().contiguous().numpy().astype("<f4").tobytes())


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    join = lambda name: os.path.join(out, name)
    for index, name in enumerate(MODELS):
        model, size = build(name, seed=index)
        torch.manual_seed(100 + index)
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():
            logits = model(x)
        torch.save(model.state_dict(), join(name + ".pt"))
        write_raw(x, join(name + ".input"))
        write_raw(logits, join(name + ".logits"))

    hello, _ = build("helloworld", seed=0)
    sd = hello.state_dict()
    # A plain dict, and a training checkpoint with the state_dict beside other things.
    torch.save(dict(sd), join("helloworld_dict.pt"))
    # Copies: optimizer.step() below changes the parameters the state_dict's tensors alias.
    sd = collections.OrderedDict((k, v.clone()) for k, v in sd.items())
    optimizer = torch.optim.SGD(hello.parameters(), lr=0.1, momentum=0.9)
    hello(torch.randn(1, 3, 16, 16)).sum().backward()
    optimizer.step()
    torch.save({"epoch": 3, "best_acc": 0.5, "arch": "helloworld", "state_dict": sd,
                "optimizer": optimizer.state_dict()}, join("helloworld_checkpoint.pt"))
    # Views: two weights sharing one storage at non-zero offsets, one non-contiguous weight.
    hello, _ = build("helloworld", seed=0)
    sd = {k: v.clone() for k, v in hello.state_dict().items()}
    w0, w2 = sd["features.0.weight"], sd["features.2.weight"]
    flat = torch.cat([torch.zeros(5), w0.flatten(), w2.flatten(), torch.zeros(3)])
    sd["features.0.weight"] = flat[5:5 + w0.numel()].view_as(w0)
    sd["features.2.weight"] = flat[5 + w0.numel():5 + w0.numel() + w2.numel()].view_as(w2)
    w6 = sd["features.6.weight"]
    sd["features.6.weight"] = w6.permute(2, 3, 0, 1).contiguous().permute(2, 3, 0, 1)
    assert not sd["features.6.weight"].is_contiguous()
    torch.save(sd, join("helloworld_views.pt"))
    # Errors: another width, a missing and an unexpected tensor, legacy format, a whole module.
    wide, _ = build("helloworld", seed=0, w=1.0)
    torch.save(wide.state_dict(), join("helloworld_wide.pt"))
    sd = hello.state_dict()
    del sd["features.4.weight"]
    torch.save(sd, join("helloworld_missing.pt"))
    sd = hello.state_dict()
    sd["features.7.weight"] = torch.zeros(3)
    torch.save(sd, join("helloworld_unexpected.pt"))
    torch.save(hello.state_dict(), join("helloworld_legacy.pt"),
               _use_new_zipfile_serialization=False)
    torch.save(hello, join("helloworld_module.pt"))
    sd = hello.state_dict()
    sd["features.0.weight"] = sd["features.0.weight"].to(torch.int32)
    torch.save(sd, join("helloworld_int_weight.pt"))

    mobile, _ = build("mobilenet", seed=2)
    # float64 weights (exact copies of the float32 ones) and no num_batches_tracked.
    torch.save(mobile.double().state_dict(), join("mobilenet_float64.pt"))
    mobile, _ = build("mobilenet", seed=2)
    sd = {k: v for k, v in mobile.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(sd, join("mobilenet_no_num_batches_tracked.pt"))


if __name__ == "__main__":
    main()
