"""Re-score a trained paper-job model with today's table attacks (the standard AutoAttack included) on the table's own
attacked test beats, without retraining: the row's attack columns, its worst case, APGD-CE+DLR and ACC_robust as
``ecg-art run paper`` computes them now, for a model trained before an attack joined the table (e.g. the zoo's
full-profile checkpoints, whose worst case predates the standard AutoAttack).

Usage: python benchmarks/rescore_row.py zoo:at-nsr-intra [--profile full] [--threads 2] [--attacks fgsm,pgd,...]
           [--out FILE] [--write-card]
       python benchmarks/rescore_row.py results/<stage run>/checkpoints-train/best.pt --stage at-nsr --split intra
(ECG_ART_DATA names the MIT-BIH folder.) The beats are the paper job's for that stage, profile and split (its
``eval_n`` and seed); fusion models are attacked as deployed (hard features), as in the table. Prints the row and
each attack's accuracy and seconds; ``--out`` writes them as JSON, ``--write-card`` into a zoo model's card (its
``rescored`` block, which ``ecg-art list zoo`` reports).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path


def _resolve(model: str, stage: str | None, split: str | None) -> tuple[Path, str, str]:
    """``(checkpoint, stage, split)`` of a ``zoo:NAME`` (its card) or a checkpoint path (``--stage`` / ``--split``)."""
    if model.startswith("zoo:"):
        from ecg_art.zoo.store import ZOO_DIR, load_card

        card = load_card(model)
        return ZOO_DIR / card.checkpoint, stage or card.name.rsplit("-", 1)[0], split or card.split["scheme"]
    if stage is None:
        raise SystemExit("--stage is required with a checkpoint path (baseline, at, nsr, at-nsr, fusion, ...)")
    return Path(model), stage, split or "intra"


def _command(argv: list[str]) -> str:
    """The command line that reproduces the scores: without where they were written (``--out``, ``--write-card``)."""
    kept, skip = [], False
    for a in argv:
        if skip or a == "--write-card" or a.startswith("--out="):
            skip = False
            continue
        if a == "--out":
            skip = True
            continue
        kept.append(a)
    return " ".join(["python benchmarks/rescore_row.py", *kept])


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="zoo:NAME or a checkpoint path")
    p.add_argument("--stage", default=None, help="the paper-job stage that trained it (zoo: from its name)")
    p.add_argument("--split", choices=("intra", "inter"), default=None)
    p.add_argument("--profile", default="full")
    p.add_argument("--attacks", default=None, help="comma-separated (default: the paper table's)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data-dir", default=os.environ.get("ECG_ART_DATA"))
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--write-card", action="store_true",
                   help="zoo models: record the result in the card as its `rescored` block (ecg-art list zoo shows it)")
    args = p.parse_args(argv)
    import numpy as np
    import torch

    from ecg_art.attacks import evaluate_attacks
    from ecg_art.cli import RECIPES
    from ecg_art.estimators import predict_labels
    from ecg_art.io import load_checkpoint
    from recipes import fusion, paper
    from recipes.common import attack_kwargs, build_classifier, derived_metrics, prepare_data

    checkpoint, stage, split = _resolve(args.model, args.stage, args.split)
    torch.set_num_threads(args.threads)
    job = dataclasses.replace(paper.PROFILES[args.profile], split=split, data_dir=args.data_dir)
    cfg = paper._stage_config(job, RECIPES.get(stage), stage, None)
    if args.attacks:
        cfg = dataclasses.replace(cfg, attacks=tuple(a.strip() for a in args.attacks.split(",") if a.strip()))
    is_fusion = isinstance(cfg, fusion.Config)
    if is_fusion and cfg.feature_set == "rhythm-record":
        raise SystemExit("rhythm-record fusion models are not supported here")
    prep = prepare_data(cfg)
    model = None
    if is_fusion:
        from ecg_art.models.fusion import FusionNet

        model = FusionNet(context_length=cfg.window, r_index=cfg.r_offset, feature_set=cfg.feature_set)
        clf = build_classifier(cfg, prep.y_train, model=model, clip_values=fusion._clip_values(cfg),
                               input_length=model.context_length)
    else:
        clf = build_classifier(cfg, prep.y_train)
    clf.model.load_state_dict(load_checkpoint(checkpoint)["model"])
    clf.model.eval()
    x, y = prep.x_test[prep.eval_idx], prep.y_test[prep.eval_idx]
    clean_ok = predict_labels(clf, x) == y
    t0 = time.perf_counter()
    if is_fusion:  # hard features, as the table attacks the deployed model
        rows, adv_by_key, _ = fusion.attack_suite(cfg, clf, x, y, attacks=cfg.attacks, eps=cfg.eps)
        adv = {(r["attack"], r["eps"]): adv_by_key[k] for k, r in rows.items()}
        per_attack = {k: (r["adv_accuracy"], r["seconds"]) for k, r in rows.items()}
    else:
        results, adv = evaluate_attacks(clf, x, y, attacks=cfg.attacks, eps=cfg.eps,
                                        batch_size=cfg.attack_batch_size,
                                        attack_kwargs=attack_kwargs(cfg, cfg.attacks), return_adv=True, verbose=True)
        per_attack = {f"{r.attack}@{r.eps:g}": (r.adv_accuracy, r.seconds) for r in results}
    derived = derived_metrics(clf, adv, y, float(clean_ok.mean()), tuple(cfg.eps), clean_correct=clean_ok)
    out = {"model": args.model, "checkpoint": checkpoint.name, "stage": stage, "profile": args.profile,
           "split": split, "n": int(len(y)), "clean_eval": float(clean_ok.mean()),
           "attacks": {k: {"accuracy": a, "seconds": round(s, 1)} for k, (a, s) in per_attack.items()},
           "derived": derived, "seconds": round(time.perf_counter() - t0, 1), "threads": args.threads,
           "date": time.strftime("%Y-%m-%d"), "command": _command(argv if argv is not None else sys.argv[1:])}
    print(f"{args.model} ({stage}, {args.profile}, {split}; {len(y)} attacked test beats, clean "
          f"{100 * out['clean_eval']:.2f} % of them; {out['seconds']:.0f} s with {args.threads} thread(s))")
    for k, v in out["attacks"].items():
        print(f"  {k}: {100 * v['accuracy']:.2f} % ({v['seconds']:.0f} s)")
    for k, v in derived.items():
        print(f"  {k}: {100 * v:.2f} %")
    if args.out:
        args.out.write_text(json.dumps(out, indent=2, default=float))
    if args.write_card:
        if not args.model.startswith("zoo:"):
            raise SystemExit("--write-card needs a zoo model (zoo:NAME)")
        from ecg_art.zoo import record_rescore

        print(f"recorded in {record_rescore(args.model, out)}")
    return out


if __name__ == "__main__":
    main()
