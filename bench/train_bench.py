"""The Python PyTorch half of train_bench: the same workload as bench/train_bench.cc.

Usage: train_bench.py --models alexnet,mobilenet,helloworld --batch 64 --steps 30
                      --eval_batches 10 --threads N
Prints one JSON object: {"torch_version": ..., "rows": [{"model", "train_examples_per_second",
"eval_examples_per_second"}, ...]}.

Workload per model, as the C++ side does it: a 3x32x32, 10-class uint8 dataset held in memory;
each step takes a batch of indices in a shuffled order, converts the images to float, normalises
them, runs forward, cross-entropy, backward and an SGD step (momentum 0.9, weight decay 1e-4).
Evaluation: the same batches under torch.no_grad() in eval mode, summed loss and correct count. A few warm-up steps first.
The zoo models are the PyTorch definitions the state_dict import test checks against ours.
"""

import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch"))
from make_state_dicts import AlexNet, HelloWorld, MobileNet  # noqa: E402

CLASSES = {"alexnet": AlexNet, "mobilenet": MobileNet, "helloworld": HelloWorld}
WARMUP_STEPS = 3


def run(name, batch, steps, eval_batches):
    torch.manual_seed(0)
    model = CLASSES[name](input_size=32, num_classes=10, w=1.0)
    n = batch * max(steps, eval_batches) + batch * WARMUP_STEPS
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8)
    labels = torch.randint(0, 10, (n,), dtype=torch.int64)
    order = torch.randperm(n)
    mean = torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1)
    std = torch.tensor([0.25, 0.25, 0.25]).view(1, 3, 1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()

    def batch_at(i):
        index = order[i * batch:(i + 1) * batch]
        return (images[index].float() / 255 - mean) / std, labels[index]

    model.train()
    start = None
    for i in range(WARMUP_STEPS + steps):
        if i == WARMUP_STEPS:
            start = time.perf_counter()
        x, y = batch_at(i)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        loss.item()
    train = steps * batch / (time.perf_counter() - start)

    model.eval()
    with torch.no_grad():
        for i in range(WARMUP_STEPS):
            model(batch_at(i)[0]).argmax(1)
        start = time.perf_counter()
        for i in range(eval_batches):
            x, y = batch_at(i)
            logits = model(x)
            # What Evaluate reports: summed loss and correct count.
            nn.functional.cross_entropy(logits, y, reduction="sum").item()
            (logits.argmax(1) == y).sum().item()
        evaluate = eval_batches * batch / (time.perf_counter() - start)
    return {"model": name, "train_examples_per_second": train,
            "eval_examples_per_second": evaluate}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="alexnet,mobilenet,helloworld")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--eval_batches", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    rows = [run(name, args.batch, args.steps, args.eval_batches)
            for name in args.models.split(",")]
    print(json.dumps({"torch_version": torch.__version__, "threads": torch.get_num_threads(),
                      "rows": rows}))


if __name__ == "__main__":
    main()
