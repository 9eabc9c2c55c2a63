"""Milliseconds per batch of the 42,885-parameter BaselineCNN with torch's ``nn.MaxPool1d`` vs ecg_art's
``MaxPool1d`` (the same pooling with a reshape + max where gradients are taken): an attack step (input gradient), a
training step, NSR's double backprop and inference.

Run: ``python benchmarks/bench_maxpool.py [--threads 2] [--batch 256]``.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from torch import nn

from ecg_art.models import BaselineCNN
from ecg_art.models.cnn import MaxPool1d


def with_torch_pooling(model: nn.Module) -> nn.Module:
    out = copy.deepcopy(model)
    for i, layer in enumerate(out.features):
        if isinstance(layer, MaxPool1d):
            out.features[i] = nn.MaxPool1d(layer.kernel_size)
    return out


def step(model: nn.Module, x: torch.Tensor, mode: str) -> None:
    if mode == "attack":  # one PGD step's gradient w.r.t. the input, model in eval mode
        xx = x.clone().requires_grad_(True)
        torch.autograd.grad(model.eval()(xx).logsumexp(1).sum(), xx)
    elif mode == "train":
        model.train()(x).logsumexp(1).sum().backward()
        model.zero_grad(set_to_none=True)
    elif mode == "double":  # the NSR regulariser: a loss on the input gradient, backpropagated to the weights
        xx = x.clone().requires_grad_(True)
        out = model.train()(xx)
        (g,) = torch.autograd.grad(out.logsumexp(1).sum(), xx, create_graph=True)
        (out.logsumexp(1).sum() + g.abs().sum()).backward()
        model.zero_grad(set_to_none=True)
    else:
        with torch.no_grad():
            model.eval()(x)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--reps", type=int, default=60)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ours = BaselineCNN()
    models = {"torch nn.MaxPool1d": with_torch_pooling(ours), "ecg_art MaxPool1d": ours}
    x = torch.randn(args.batch, 1, 256)
    print(f"BaselineCNN, batch {args.batch}, {args.threads} thread(s): ms per batch (median of 3 x {args.reps})")
    print(f"| mode | {' | '.join(models)} | speed-up |\n|---|---|---|---|")
    for mode in ("attack", "train", "double", "inference"):
        ms = {}
        for name, model in models.items():
            for _ in range(3):
                step(model, x, mode)
            runs = []
            for _ in range(3):
                t0 = time.perf_counter()
                for _ in range(args.reps):
                    step(model, x, mode)
                runs.append((time.perf_counter() - t0) / args.reps * 1e3)
            ms[name] = sorted(runs)[1]
        a, b = ms.values()
        print(f"| {mode} | {a:.2f} | {b:.2f} | {a / b:.2f}x |")


if __name__ == "__main__":
    main()
