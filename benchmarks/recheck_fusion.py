"""Re-check a trained rhythm-aware fusion model (or, for comparison, a beat-only CNN such as AT+NSR) with attacks
stronger than the paper table's, before anyone else does:
APGD-CE and APGD-DLR (100 steps, restarts) and targeted APGD (every other class) through BPDA, PGD-100 through the
soft surrogate, and a longer gradient-free Square search on the deployed (hard) model; every adversarial beat is
scored by the deployed model. Threat model (a): the whole 12 s context, eps in the beat unit. A checkpoint of a
``BaselineCNN`` (no ``cnn.`` keys) is attacked on its 256-sample beat windows with the same attacks (no BPDA needed).

Usage: python benchmarks/recheck_fusion.py --checkpoint results/<fusion stage-2 folder>/checkpoints-stage2/best.pt
           [--split intra|inter] [--n 500] [--eps 0.05] [--restarts 2] [--square-queries 2000] [--square-n 200]
           [--threads 1] [--data-dir DIR] [--autoattack]
The attacked beats are the first ``--n`` of the fusion stage's attacked test beats (same seed), for a beat-only CNN
too (matched by record and R sample), so a fusion model and its CNN are compared on the same beats.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True, help="ecg_art checkpoint of the fusion model")
    p.add_argument("--split", choices=("intra", "inter"), default="intra")
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--eps", type=float, default=0.05)
    p.add_argument("--restarts", type=int, default=2)
    p.add_argument("--square-queries", type=int, default=2000)
    p.add_argument("--square-n", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data-dir", default=os.environ.get("ECG_ART_DATA"))
    p.add_argument("--autoattack", action="store_true",
                   help="also the standard AutoAttack (APGD-CE, APGD-T, FAB-T, Square 5,000; BPDA for a fusion model)")
    args = p.parse_args(argv)
    import numpy as np
    import torch
    import torchattacks

    from ecg_art.attacks import get_attack
    from ecg_art.attacks.torchattacks_adapter import TorchattacksAdapter
    from ecg_art.estimators import make_classifier, predict_labels
    from ecg_art.evaluation import worst_case_correct
    from ecg_art.features import SquareAttack1D
    from ecg_art.io import load_checkpoint
    from ecg_art.models.fusion import FusionNet
    from recipes.common import prepare_data
    from recipes.fusion import PROFILES

    torch.set_num_threads(args.threads)
    state = load_checkpoint(args.checkpoint)["model"]
    fusion = any(k.startswith("cnn.") for k in state)
    cfg = dataclasses.replace(PROFILES["full"], split=args.split, val_by_record=args.split == "inter",
                              data_dir=args.data_dir, eval_n=2000)
    prep = prepare_data(cfg)
    idx = prep.eval_idx[: args.n]
    if not fusion:  # the same beats (record, R sample) as a fusion model gets, on 256-sample windows in [0, 1]
        ds, test = prep.dataset, prep.split.test[idx]
        want = set(zip(ds.record[test].tolist(), ds.sample[test].tolist()))
        cfg = dataclasses.replace(cfg, window=256, r_offset=90, beat_unit=False)
        prep = prepare_data(cfg)
        ds, test = prep.dataset, prep.split.test
        idx = np.flatnonzero([k in want for k in zip(ds.record[test].tolist(), ds.sample[test].tolist())])
        if len(idx) != len(want):
            raise SystemExit(f"matched {len(idx)} of {len(want)} beats")
    x, y = prep.x_test[idx], prep.y_test[idx]
    if fusion:
        model = FusionNet(context_length=cfg.window, r_index=cfg.r_offset, feature_set=cfg.feature_set)
    else:
        from ecg_art.models.cnn import BaselineCNN

        model = BaselineCNN()
    model.load_state_dict(state)
    model.eval()
    clip = tuple(cfg.context_clip) if fusion else (0.0, 1.0)
    clf = make_classifier(model, input_length=cfg.window, clip_values=clip, device="cpu")
    clean = predict_labels(clf, x) == y
    e = args.eps
    pre = "bpda " if fusion else ""
    runs = {
        f"{pre}apgd-ce": ("bpda", get_attack("ta-apgd", clf, eps=e, steps=100, n_restarts=args.restarts)),
        f"{pre}apgd-dlr": ("bpda", get_attack("ta-apgd-dlr", clf, eps=e, steps=100, n_restarts=args.restarts)),
        f"{pre}apgd-t (4 targets)": ("bpda", TorchattacksAdapter(
            clf, lambda m, eu: torchattacks.APGDT(m, norm="Linf", eps=eu, steps=100, n_classes=5, seed=0),
            eps=e, name="ta-apgdt")),
        f"{'soft ' if fusion else ''}pgd-100": ("soft", get_attack("pgd", clf, eps=e, max_iter=100)),
    }
    if args.autoattack:
        runs[f"{pre}standard autoattack"] = ("bpda", get_attack("autoattack", clf, eps=e))
    correct, seconds = {}, {}
    for name, (mode, attack) in runs.items():
        t0 = time.perf_counter()
        if fusion:
            model.feature_mode = mode
        try:
            x_adv = attack.generate(x, y)
        finally:
            if fusion:
                model.feature_mode = "hard"
        correct[name] = predict_labels(clf, x_adv) == y
        seconds[name] = time.perf_counter() - t0
        print(f"{name}: {100 * correct[name].mean():.2f} % ({seconds[name]:.0f} s)", flush=True)
    sub = np.arange(min(args.square_n, len(y)))
    t0 = time.perf_counter()
    sq = SquareAttack1D(clf, eps=e, max_iter=args.square_queries, p_init=0.1, seed=0).generate(x[sub], y[sub])
    sq_ok = predict_labels(clf, sq) == y[sub]
    print(f"square {args.square_queries} queries (first {len(sub)} beats): {100 * sq_ok.mean():.2f} % "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)
    worst = worst_case_correct(correct, clean=clean)
    worst_sub = worst_case_correct({**{k: v[sub] for k, v in correct.items()}, "square": sq_ok}, clean=clean[sub])
    out = {"n": len(y), "clean": float(clean.mean()), "worst_gradient": float(worst.mean()),
           "worst_all_on_square_beats": float(worst_sub.mean()), "square_n": len(sub),
           **{k: float(v.mean()) for k, v in correct.items()}, "square": float(sq_ok.mean())}
    print(f"clean {100 * out['clean']:.2f} %; worst case over the gradient attacks {100 * out['worst_gradient']:.2f} % "
          f"(n={len(y)}); with Square, on its {len(sub)} beats: {100 * out['worst_all_on_square_beats']:.2f} %")
    return out


if __name__ == "__main__":
    main()
