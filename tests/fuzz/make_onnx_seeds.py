#!/usr/bin/env python3
"""Writes the onnx_import_fuzzer seeds: small models as torch.onnx.export writes them (Debian's
python3-torch), each under the fuzzer's 64 KiB input limit:
    /usr/bin/python3 tests/fuzz/make_onnx_seeds.py tests/fuzz/corpus/onnx_import_fuzzer
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class Chain(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4 * 8 * 8, 3)

    def forward(self, x):
        x = self.pool(F.relu(self.bn(self.conv(x))))
        return self.fc(torch.flatten(x, 1))


class Graph(nn.Module):
    """A residual add, a concat, a hardswish, a squeeze-excite gate, a padded average pool,
    an upsampling, a dynamic-batch view and a MatMul plus bias."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.dw = nn.Conv2d(4, 4, 3, padding=1, groups=4)
        self.left = nn.Conv2d(4, 2, 1)
        self.right = nn.Conv2d(4, 2, 1)
        self.smooth = nn.AvgPool2d(3, stride=2, padding=1)
        self.se = nn.Conv2d(4, 4, 1)
        self.up = nn.Upsample(scale_factor=2)
        self.w = nn.Parameter(torch.randn(4 * 16 * 16, 3) * 0.01)
        self.b = nn.Parameter(torch.zeros(3))

    def forward(self, x):
        x = F.relu6(self.stem(x))
        x = x + self.dw(x)
        x = torch.cat([self.left(x), F.hardswish(self.right(x))], 1)
        x = self.smooth(x)
        x = x * torch.sigmoid(self.se(F.adaptive_avg_pool2d(x, 1)))
        x = self.up(x)
        return torch.matmul(x.view(x.size(0), -1), self.w) + self.b


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    x = torch.randn(1, 3, 16, 16)
    dynamic = {"input_names": ["input"],
               "dynamic_axes": {"input": {0: "batch", 2: "height", 3: "width"}}}
    seeds = {
        "chain_bn.onnx": (Chain(), {"training": torch.onnx.TrainingMode.PRESERVE}),
        "chain_folded.onnx": (Chain(), {"opset_version": 11}),
        "graph_opset13.onnx": (Graph(), {"opset_version": 13}),
        "graph_dynamic.onnx": (Graph(), dynamic),
    }
    for name, (model, kwargs) in seeds.items():
        path = os.path.join(out, name)
        torch.onnx.export(model.eval(), x, path, **kwargs)
        assert os.path.getsize(path) < 65536, name


if __name__ == "__main__":
    main()
