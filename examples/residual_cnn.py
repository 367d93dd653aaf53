"""A small residual CNN in PyTorch: the network `examples/residual_cnn.json` describes by hand.

Three stages of one basic block each (conv-bn-relu-conv-bn plus the shortcut, then relu); the
second and third halve the resolution and widen the channels, with a downsampling shortcut
(1x1 conv with stride 2 and batchnorm). For 28x28 grey images (Fashion-MNIST) by default:

    stem    conv1 3x3 1->16, bn1, relu                      28x28
    layer1  16 -> 16                                        28x28
    layer2  16 -> 32, stride 2, downsample 1x1              14x14
    layer3  32 -> 64, stride 2, downsample 1x1               7x7
    head    global average pool, fc 64 -> 10

`channels` sets every conv's output width, so the same class holds the network NetAdapt
returns: `ResidualCNN.from_state_dict(weights)` reads the widths from the weights' shapes
(the adapted network's weights, e.g. from the ONNX file `netadapt export --format onnx`
writes, whose initializers are named by this module's state_dict names).

Used by examples/train_and_export.py, scripts/own-model-demo.sh and
tests/e2e/own_model_e2e_test.cc.
"""

import torch
import torch.nn as nn

# The conv layers whose output width NetAdapt may change, in forward order.
CONVS = ["conv1",
         "layer1.0.conv1", "layer1.0.conv2",
         "layer2.0.conv1", "layer2.0.conv2", "layer2.0.downsample.0",
         "layer3.0.conv1", "layer3.0.conv2", "layer3.0.downsample.0"]


def default_channels(width=16):
    """Every conv's output width for a base width (16: the JSON example's network)."""
    return {"conv1": width,
            "layer1.0.conv1": width, "layer1.0.conv2": width,
            "layer2.0.conv1": 2 * width, "layer2.0.conv2": 2 * width,
            "layer2.0.downsample.0": 2 * width,
            "layer3.0.conv1": 4 * width, "layer3.0.conv2": 4 * width,
            "layer3.0.downsample.0": 4 * width}


class BasicBlock(nn.Module):
    """ResNet's basic block; `mid` and `out` may differ once pruned. The shortcut's output
    width must equal conv2's (the residual add ties them: NetAdapt prunes them together)."""

    def __init__(self, in_ch, mid, out, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, mid, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(mid, out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.downsample = (nn.Sequential(nn.Conv2d(in_ch, downsample, 1, stride=stride,
                                                   bias=False),
                                         nn.BatchNorm2d(downsample))
                           if downsample else None)
        self.relu2 = nn.ReLU()

    def forward(self, x):
        y = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu2(y + shortcut)


class ResidualCNN(nn.Module):
    def __init__(self, in_channels=1, num_classes=10, channels=None):
        super().__init__()
        c = dict(default_channels())
        c.update(channels or {})
        self.conv1 = nn.Conv2d(in_channels, c["conv1"], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c["conv1"])
        self.relu = nn.ReLU()
        self.layer1 = nn.Sequential(BasicBlock(c["conv1"], c["layer1.0.conv1"],
                                               c["layer1.0.conv2"], 1, 0))
        self.layer2 = nn.Sequential(BasicBlock(c["layer1.0.conv2"], c["layer2.0.conv1"],
                                               c["layer2.0.conv2"], 2,
                                               c["layer2.0.downsample.0"]))
        self.layer3 = nn.Sequential(BasicBlock(c["layer2.0.conv2"], c["layer3.0.conv1"],
                                               c["layer3.0.conv2"], 2,
                                               c["layer3.0.downsample.0"]))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c["layer3.0.conv2"], num_classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.relu(self.bn1(self.conv1(x))))))
        return self.fc(torch.flatten(self.avgpool(x), 1))

    @classmethod
    def from_state_dict(cls, state_dict):
        """The network these weights fit (widths read from the conv weights' shapes), with the
        weights loaded. Accepts NumPy arrays; batchnorm's num_batches_tracked (which ONNX files
        do not carry) may be missing."""
        weights = {k: torch.as_tensor(v) for k, v in state_dict.items()}
        channels = {name: weights[name + ".weight"].shape[0] for name in CONVS}
        model = cls(in_channels=weights["conv1.weight"].shape[1],
                    num_classes=weights["fc.weight"].shape[0], channels=channels)
        missing, unexpected = model.load_state_dict(weights, strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing or unexpected:
            raise ValueError(f"weights do not fit ResidualCNN: missing {missing}, "
                             f"unexpected {unexpected}")
        return model


def load_onnx_weights(path):
    """The state_dict-named initializers of an ONNX file (python3-onnx), e.g. the one
    `netadapt export --format onnx` writes."""
    import onnx
    from onnx import numpy_helper
    graph = onnx.load(path).graph
    tensors = {t.name: numpy_helper.to_array(t).copy() for t in graph.initializer}
    # PyTorch's exporter stores equal tensors once and names the others with Identity nodes
    # (a residual block's two last batchnorm biases get the same gradients: equal).
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in tensors:
            tensors[node.output[0]] = tensors[node.input[0]]
    suffixes = (".weight", ".bias", ".running_mean", ".running_var")
    return {name: t for name, t in tensors.items() if name.endswith(suffixes)}
