"""Reads an image folder (torchvision's ImageFolder layout) into tensors, as netadapt's
`imagefolder:DIR,channels=1,mean=M,std=S,random_resized_crop=0` evaluates it: each image
decoded (torchvision.io: libpng, libjpeg; no PIL needed), converted to grey, scaled to [0, 1],
then (x - mean) / std. Classes are the sorted folder names, as in torchvision and netadapt."""
import os

import torch
import torchvision.io

EXTENSIONS = (".png", ".jpg", ".jpeg")


def load_split(root, mean, std, limit=0):
    """([N, 1, H, W] float32, [N] int64) for root/<class>/<image> (the first `limit` images
    in name order, 0 = all; images of one size)."""
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    files = [(os.path.join(root, c, f), label) for label, c in enumerate(classes)
             for f in sorted(os.listdir(os.path.join(root, c))) if f.lower().endswith(EXTENSIONS)]
    files.sort(key=lambda entry: os.path.basename(entry[0]))  # interleave the classes
    if limit:
        files = files[:limit]
    images = torch.stack([torchvision.io.read_image(path, torchvision.io.ImageReadMode.GRAY)
                          for path, _ in files])
    labels = torch.tensor([label for _, label in files])
    return (images.float() / 255 - mean) / std, labels
