"""Cost of the standard AutoAttack (attack "autoattack") on a beat-only checkpoint: CPU seconds per component (APGD-CE,
APGD-T, FAB-T, Square) and the beats each one still had to attack, on the attacked test beats of a recipe's profile.

Usage: python benchmarks/bench_autoattack.py --checkpoint results/<at run>/checkpoints-train/best.pt
           [--recipe at] [--profile quick] [--eps 0.05] [--n 500] [--threads 1]
(ECG_ART_DATA names the MIT-BIH folder.) The beats are the recipe's own attacked test beats (its ``eval_n`` and
seed), so the figures are what the paper job pays for that model.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections import defaultdict


def _timed(attack, cpu: dict, beats: dict) -> None:
    """Wrap ``attack.forward`` to add its CPU seconds and input beats to ``cpu`` / ``beats``."""
    forward, name = attack.forward, type(attack).__name__

    def run(images, labels):
        t0 = time.process_time()
        out = forward(images, labels)
        cpu[name] += time.process_time() - t0
        beats[name] += len(images)
        return out

    attack.forward = run


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--recipe", default="at", help="the recipe whose profile picks the attacked beats")
    p.add_argument("--profile", default="quick")
    p.add_argument("--eps", type=float, default=0.05)
    p.add_argument("--n", type=int, default=None, help="the first n attacked beats (default: all of them)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    import torch

    from ecg_art.attacks import get_attack
    from ecg_art.cli import RECIPES
    from ecg_art.estimators import predict_labels
    from ecg_art.io import load_checkpoint
    from recipes.common import build_classifier, prepare_data

    torch.set_num_threads(args.threads)
    cfg = dataclasses.replace(RECIPES.get(args.recipe).PROFILES[args.profile], device="cpu")
    prep = prepare_data(cfg)
    clf = build_classifier(cfg, prep.y_train)
    clf.model.load_state_dict(load_checkpoint(args.checkpoint)["model"])
    clf.model.eval()
    x, y = prep.x_test[prep.eval_idx][: args.n], prep.y_test[prep.eval_idx][: args.n]
    runner = get_attack("autoattack", clf, eps=args.eps)
    cpu: dict[str, float] = defaultdict(float)
    beats: dict[str, int] = defaultdict(int)
    for attack in runner.attack.attack.attacks:
        _timed(attack, cpu, beats)
    t0, c0 = time.perf_counter(), time.process_time()
    x_adv = runner.generate(x, y)
    wall, total = time.perf_counter() - t0, time.process_time() - c0
    clean, robust = (predict_labels(clf, x) == y).mean(), (predict_labels(clf, x_adv) == y).mean()
    print(f"{args.recipe} ({args.profile}), {len(y)} beats, eps {args.eps:g}, {args.threads} thread(s): clean "
          f"{100 * clean:.2f} %, standard AutoAttack {100 * robust:.2f} %; {total:.1f} s CPU, {wall:.1f} s wall")
    for name in cpu:
        print(f"  {name}: {cpu[name]:.1f} s CPU on {beats[name]} beats")


if __name__ == "__main__":
    main()
