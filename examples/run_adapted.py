#!/usr/bin/env python3
"""Runs the network NetAdapt returned in PyTorch: rebuilt as examples/residual_cnn.py's
ResidualCNN from the ONNX file `netadapt export --format onnx` wrote.

    run_adapted.py MODEL.onnx --data DIR [--limit N] [--check]

Prints the model's widths, its parameter count and its accuracy on DIR/test (or DIR/val), read
as `imagefolder:DIR,channels=1,mean=0.286,std=0.353,random_resized_crop=0` evaluates it.
--check also runs the ONNX graph itself on the first 16 images with
tests/common/torch/onnx_reference.py (the ONNX checker, then a NumPy evaluator of the graph:
Debian has no ONNX runtime) and fails unless the PyTorch model's logits match within 1e-4.

The rebuild is all in two lines, since the exporter names the ONNX weights by the module's
state_dict names and the adapted widths are the weights' shapes:

    model = ResidualCNN.from_state_dict(load_onnx_weights("adapted.onnx")).eval()
    logits = model(images)
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from image_folder_data import load_split  # noqa: E402
from residual_cnn import CONVS, ResidualCNN, load_onnx_weights  # noqa: E402

REFERENCE = os.path.join(here, "..", "tests", "torch", "onnx_reference.py")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="ONNX file from netadapt export --format onnx")
    parser.add_argument("--data", required=True, help="image folder (DIR/test or DIR/val)")
    parser.add_argument("--limit", type=int, default=0, help="test images (0 = all)")
    parser.add_argument("--mean", type=float, default=0.286)
    parser.add_argument("--std", type=float, default=0.353)
    parser.add_argument("--check", action="store_true",
                        help="compare with the ONNX graph run by onnx_reference.py")
    args = parser.parse_args()

    model = ResidualCNN.from_state_dict(load_onnx_weights(args.model)).eval()
    split = "test" if os.path.isdir(os.path.join(args.data, "test")) else "val"
    images, labels = load_split(os.path.join(args.data, split), args.mean, args.std, args.limit)
    with torch.no_grad():
        logits = torch.cat([model(images[i:i + 256]) for i in range(0, len(images), 256)])
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    widths = " ".join(str(getattr(model.get_submodule(name), "out_channels")) for name in CONVS)
    params = sum(p.numel() for p in model.parameters())
    print(f"{args.model}: widths {widths}, {params} parameters, PyTorch accuracy "
          f"{100 * accuracy:.2f}% on {len(images)} {split} images")

    if args.check:
        x = images[:16].contiguous().numpy().astype(np.float32)
        with tempfile.TemporaryDirectory() as tmp:
            x.tofile(os.path.join(tmp, "input.bin"))
            subprocess.run([sys.executable, REFERENCE, args.model, os.path.join(tmp, "input.bin"),
                            ",".join(map(str, x.shape)), os.path.join(tmp, "output.bin")],
                           check=True)
            reference = np.fromfile(os.path.join(tmp, "output.bin"), np.float32)
        ours = logits[:16].numpy().reshape(-1)
        error = float(np.abs(ours - reference).max() / max(1.0, np.abs(reference).max()))
        print(f"PyTorch rebuild vs the ONNX graph (NumPy reference, 16 images): largest "
              f"difference {error:.1e} of the logits' scale")
        if error > 1e-4:
            sys.exit("the rebuilt PyTorch model does not compute what the ONNX file does")
    print(f"accuracy={accuracy:.6f}")


if __name__ == "__main__":
    main()
