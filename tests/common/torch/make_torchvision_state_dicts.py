"""Writes the torchvision files zoo_torchvision_test reads.

Usage: make_torchvision_state_dicts.py OUT_DIR

For each case of CASES, torchvision's own model (torchvision.models.<model>, random init, no
download) with non-trivial batchnorm affine terms and running statistics, in eval mode, its
classifier scaled so that the logits are of order 1 (largest |logit| 4):
  <case>.pt       torch.save(model.state_dict(), path)
  <case>.input    a [2, 3, size, size] float32 input, raw little-endian
  <case>.logits   model(input), [2, 10] float32, raw little-endian
The cases must match kCases in zoo_torchvision_test.cc.
"""

import os
import sys

import torch
import torch.nn as nn
import torchvision

# case -> (torchvision model, input size, mobilenet_v2's width_mult or None); keep in sync with
# kCases in zoo_torchvision_test.cc. torchvision's ResNets have no width option: full width.
CASES = {
    "resnet18": ("resnet18", 64, None),
    "resnet50": ("resnet50", 64, None),
    "mobilenet_v2": ("mobilenet_v2", 64, 0.5),
    # 32 * 0.25 and 16 * 0.25 round to 8: features.1 gets a residual add it lacks at full width.
    "mobilenet_v2_quarter": ("mobilenet_v2", 32, 0.25),
}
NUM_CLASSES = 10


def build(model, width, seed):
    torch.manual_seed(seed)
    kwargs = {"num_classes": NUM_CLASSES}
    if width is not None:
        kwargs["width_mult"] = width
    net = getattr(torchvision.models, model)(weights=None, **kwargs)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                # Affine terms and statistics as after some training. The variances stay near
                # 1 and the scales below 1 on average so that activations do not grow through
                # 16 residual blocks: logits of order 1 make an absolute tolerance meaningful.
                m.weight.uniform_(0.3, 1.0)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(11)
    return net.eval()


def scale_logits(net, x, target):
    """Scales the classifier so that the largest |logit| on `x` is `target`.

    torchvision's classifier inits give logits of 0.05-0.3 here, where an absolute tolerance
    would say little; around 4 a 1e-5 bound is a relative one of a few 1e-6.
    """
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
    for index, (case, (model, size, width)) in enumerate(CASES.items()):
        net = build(model, width, seed=index)
        torch.manual_seed(100 + index)
        x = torch.randn(2, 3, size, size)
        scale_logits(net, x, target=4.0)
        with torch.no_grad():
            logits = net(x)
        torch.save(net.state_dict(), os.path.join(out, case + ".pt"))
        write_raw(x, os.path.join(out, case + ".input"))
        write_raw(logits, os.path.join(out, case + ".logits"))
        print(case, "max |logit|", logits.abs().max().item())


if __name__ == "__main__":
    main()
