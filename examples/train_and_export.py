#!/usr/bin/env python3
"""Trains examples/residual_cnn.py's ResidualCNN a little on an image folder and exports it to
ONNX with batchnorm kept, ready for `netadapt import` or `netadapt submit --onnx`.

    train_and_export.py --data DIR -o model.onnx [--epochs 1] [--random-weights] [--width 16]
                        [--size 28] [--mean 0.286 --std 0.353]

DIR/train/<class>/*.png|jpg is read as netadapt reads `imagefolder:DIR,channels=1,mean=M,
std=S,random_resized_crop=0` (grey, normalised; examples/image_folder_data.py), so the job
sees what this training saw. --random-weights skips training (the weights stay random, as
initialised from --seed); --width scales the network (16: the JSON example's). Uses Debian's
python3-torch and python3-torchvision (no download).

Batchnorm: torch 1.13 folds each BatchNormalization into its conv on the default export of an
eval-mode model; training=PRESERVE keeps it (docs/USER_GUIDE.md, "Export with batchnorm kept"),
which NetAdapt's short-term fine-tunes recover from better.
"""
import argparse
import os
import sys
import time
import warnings

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from image_folder_data import load_split  # noqa: E402
from residual_cnn import ResidualCNN, default_channels  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="image folder (DIR/train is trained on)")
    parser.add_argument("-o", "--output", required=True, help="ONNX file to write")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05, help="SGD, decayed linearly to 0")
    parser.add_argument("--random-weights", action="store_true", help="do not train")
    parser.add_argument("--width", type=int, default=16, help="base width (default 16)")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--size", type=int, default=28, help="input height and width")
    parser.add_argument("--mean", type=float, default=0.286)
    parser.add_argument("--std", type=float, default=0.353)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    model = ResidualCNN(in_channels=1, num_classes=args.classes,
                        channels=default_channels(args.width))

    if not args.random_weights:
        if not args.data:
            sys.exit("--data is required unless --random-weights")
        images, labels = load_split(os.path.join(args.data, "train"), args.mean, args.std)
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9,
                                    weight_decay=5e-4, nesterov=True)
        model.train()
        start = time.time()
        steps_per_epoch = (len(images) + args.batch_size - 1) // args.batch_size
        step, total = 0, args.epochs * steps_per_epoch
        for epoch in range(args.epochs):
            order = torch.randperm(len(images))
            correct = 0
            for i in range(0, len(images), args.batch_size):
                for group in optimizer.param_groups:  # linear decay to 0
                    group["lr"] = args.lr * (1 - step / total)
                step += 1
                batch = order[i:i + args.batch_size]
                logits = model(images[batch])
                loss = F.cross_entropy(logits, labels[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                correct += (logits.argmax(1) == labels[batch]).sum().item()
            print(f"epoch {epoch + 1}: loss {loss.item():.3f}, train accuracy "
                  f"{100 * correct / len(images):.2f}% ({len(images)} images, "
                  f"{time.time() - start:.0f} s)")

    model.eval()
    # torch 1.13 warns about constant folding with PRESERVE even for an eval-mode model, where
    # it folds only constants, never the batchnorm parameters.
    warnings.filterwarnings("ignore", message="It is recommended that constant folding")
    torch.onnx.export(model, torch.zeros(1, 1, args.size, args.size), args.output,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      opset_version=13, training=torch.onnx.TrainingMode.PRESERVE)
    print(f"wrote {args.output} ({'random weights' if args.random_weights else 'trained'}, "
          f"batchnorm kept)")


if __name__ == "__main__":
    main()
