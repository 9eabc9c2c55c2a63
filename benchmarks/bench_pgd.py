"""Throughput of 20-step L-inf PGD on BaselineCNN beats: hand-written torch loop vs ART (stock / ecg_art estimator)
vs torchattacks through ecg_art's adapter.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_pgd.py --threads 1`` (add ``--profile`` for a cProfile summary of
ART's PGD on each estimator).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

import numpy as np
import torch
from art.attacks.evasion import ProjectedGradientDescent
from art.estimators.classification import PyTorchClassifier

from ecg_art.attacks import get_attack
from ecg_art.estimators import make_classifier, predict_labels
from ecg_art.models import BaselineCNN


def hand_pgd(model, x, y, *, eps, step, steps, batch_size, device):
    """Plain torch PGD with ART's semantics (start at x, sign step, clip to [0, 1], project on the eps-ball)."""
    out = np.empty_like(x)
    for i in range(0, len(x), batch_size):
        x0 = torch.from_numpy(x[i:i + batch_size]).to(device)
        yb = torch.from_numpy(y[i:i + batch_size]).to(device)
        xa = x0.clone()
        for _ in range(steps):
            xa.requires_grad_(True)
            loss = torch.nn.functional.cross_entropy(model(xa), yb)
            (g,) = torch.autograd.grad(loss, xa)
            xa = (xa.detach() + step * g.sign()).clamp(0.0, 1.0)
            xa = x0 + (xa - x0).clamp(-eps, eps)
        out[i:i + batch_size] = xa.cpu().numpy()
    return out


def timed(fn):
    """``(wall seconds, process CPU seconds, result)`` of one call (CPU time is robust to a shared machine)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def profile(fn, label, top):
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    print(f"\n--- cProfile ({label}), top {top} by own time ---")
    print("\n".join(line for line in buf.getvalue().splitlines() if line.strip())[:6000])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1024, help="beats attacked")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--eps", type=float, default=0.05)
    ap.add_argument("--length", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (1 while the machine is shared)")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--profile", action="store_true", help="print cProfile summaries of the two ART paths")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = BaselineCNN(input_length=args.length).eval()
    ours = make_classifier(model, input_length=args.length, device=args.device)
    device = ours.device
    stock = PyTorchClassifier(model, loss=torch.nn.CrossEntropyLoss(), input_shape=(1, args.length), nb_classes=5,
                              clip_values=(0.0, 1.0), optimizer=torch.optim.Adam(model.parameters()),
                              device_type="gpu" if device.type == "cuda" else "cpu")
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, args.length, dtype=np.float32)
    x = (0.5 + 0.3 * np.sin(2 * np.pi * rng.uniform(1, 4, (args.n, 1, 1)) * t)
         + rng.normal(0, 0.05, (args.n, 1, args.length))).clip(0, 1).astype(np.float32)
    y = predict_labels(ours, x)
    step = args.eps / 4
    art_kw = dict(eps=args.eps, eps_step=step, max_iter=args.steps, batch_size=args.batch_size, verbose=False)

    runs = {
        "hand-written torch loop": lambda: hand_pgd(model, x, y, eps=args.eps, step=step, steps=args.steps,
                                                    batch_size=args.batch_size, device=device),
        "ART PGD, stock PyTorchClassifier": lambda: ProjectedGradientDescent(stock, **art_kw).generate(x, y=y),
        "ART PGD, ecg_art estimator (get_attack 'pgd')": lambda: get_attack(
            "pgd", ours, eps=args.eps, batch_size=args.batch_size, max_iter=args.steps, eps_step=step).generate(x, y),
        "torchattacks PGD, ecg_art adapter ('ta-pgd')": lambda: get_attack(
            "ta-pgd", ours, eps=args.eps, batch_size=args.batch_size, steps=args.steps, alpha=step,
            random_start=False).generate(x, y),
    }
    print(f"device={device} threads={args.threads} n={args.n} batch={args.batch_size} steps={args.steps} "
          f"eps={args.eps} L={args.length} torch={torch.__version__} repeats={args.repeats} (best)")
    runs["hand-written torch loop"]()  # warm-up (allocator, cuDNN autotune)
    walls, cpus, outputs = {n: float("inf") for n in runs}, {n: float("inf") for n in runs}, {}
    for _ in range(args.repeats):  # round-robin, so load from other processes hits every path alike
        for name, fn in runs.items():
            wall, cpu, outputs[name] = timed(fn)
            walls[name], cpus[name] = min(walls[name], wall), min(cpus[name], cpu)
    # On CPU the ratio uses process CPU time (single-threaded runs on a shared machine); on CUDA, wall time.
    key = walls if device.type == "cuda" else cpus
    base, ref = key["hand-written torch loop"], outputs["hand-written torch loop"]
    # Samples whose gradient is ~0 somewhere can take the other sign step under float round-off, so "same result"
    # is reported as the share of values within 1e-5 of the hand-written loop's.
    print(f"{'path':46s} {'wall s':>7s} {'cpu s':>7s} {'beats/s':>8s} {'x hand':>7s} {'same as hand':>13s}")
    for name in runs:
        same = float((np.abs(outputs[name] - ref) <= 1e-5).mean())
        print(f"{name:46s} {walls[name]:7.3f} {cpus[name]:7.3f} {args.n / key[name]:8.0f} {key[name] / base:7.2f} "
              f"{same:13.4%}")
    if args.profile:
        profile(runs["ART PGD, stock PyTorchClassifier"], "ART PGD, stock PyTorchClassifier", 15)
        profile(runs["ART PGD, ecg_art estimator (get_attack 'pgd')"], "ART PGD, ecg_art estimator", 15)


if __name__ == "__main__":
    main()
