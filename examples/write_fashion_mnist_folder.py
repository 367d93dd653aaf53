#!/usr/bin/env python3
"""Writes Fashion-MNIST (Debian's dataset-fashion-mnist) out as an image folder.

    write_fashion_mnist_folder.py OUT_DIR [--train N] [--test N] [--idx DIR]

OUT_DIR/train/<class>/<index>.{png,jpg} and OUT_DIR/test/<class>/..., torchvision's
ImageFolder layout, the one `imagefolder:OUT_DIR` reads (docs/USER_GUIDE.md, Datasets): the
first N images of each IDX set, even indices as PNG and odd ones as JPEG (quality 95), so both
decoders run. Class folders are "0-t-shirt" ... "9-ankle-boot": sorted by name they keep
Fashion-MNIST's label order. Encoded by python3-torchvision (libpng, libjpeg); nothing is
written when OUT_DIR/train already exists (delete it to write again).
"""
import argparse
import gzip
import os
import sys

import numpy as np
import torch
import torchvision.io

CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat",
           "sandal", "shirt", "sneaker", "bag", "ankle-boot"]


def read_idx(path):
    with gzip.open(path) if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(idx_dir, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(idx_dir, name)):
            return os.path.join(idx_dir, name)
    sys.exit(f"{stem}[.gz] not in {idx_dir}: install Debian's dataset-fashion-mnist")


def write_split(images, labels, root):
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = os.path.join(root, f"{label}-{CLASSES[label]}")
        os.makedirs(folder, exist_ok=True)
        tensor = torch.from_numpy(image.copy()).unsqueeze(0)  # [1, 28, 28] uint8
        if i % 2 == 0:
            torchvision.io.write_png(tensor, os.path.join(folder, f"{i:05d}.png"))
        else:
            with open(os.path.join(folder, f"{i:05d}.jpg"), "wb") as f:
                f.write(torchvision.io.encode_jpeg(tensor, quality=95).numpy().tobytes())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--train", type=int, default=10000, help="train images (default 10000)")
    parser.add_argument("--test", type=int, default=2000, help="test images (default 2000)")
    parser.add_argument("--idx", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    if os.path.isdir(os.path.join(args.out, "train")):
        print(f"{args.out}/train exists: kept")
        return
    for split, prefix, n in (("train", "train", args.train), ("test", "t10k", args.test)):
        images = read_idx(find(args.idx, f"{prefix}-images-idx3-ubyte"))[:n]
        labels = read_idx(find(args.idx, f"{prefix}-labels-idx1-ubyte"))[:n]
        write_split(images, labels, os.path.join(args.out, split))
        print(f"{args.out}/{split}: {len(images)} images")


if __name__ == "__main__":
    main()
