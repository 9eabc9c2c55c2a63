"""Probe what the inter-patient S class needs: a class-balanced linear model (logistic regression) trained on DS1 and
scored on DS2 (the paper job's inter split: DS1 train + held-out-record val -> DS2 test), on

- ``annot-local``: RR intervals from the reference annotations, pre/post RR normalised by the local mean of 10 RR;
- ``annot-record``: the same RR normalised by the recording's average RR (a statistic of the whole 30 min record);
- ``detected-12``: the fusion model's 12 features (5 rhythm from our R-peak detector over the 12 s context + 7
  morphology), the features the fusion model reads (no CNN);
- ``detected-15``: those + pre / post / local RR over the recording's mean RR from our detector on the whole record,
  the ``rhythm-record`` feature set.

It prints per-class sensitivity and macro-F1 per feature set: a linear model's reach with those features, a yardstick
for the fusion model's inter-patient row (de Chazal et al. 2004, linear discriminants: S Se 75.9 %).

Usage: python benchmarks/probe_inter_features.py [--threads 1] [--data-dir DIR] [--sets annot-local,annot-record,detected-12,detected-15]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

SETS = ("annot-local", "annot-record", "detected-12", "detected-15")


def _annotation_rr(ds, *, record_average: bool) -> np.ndarray:
    pre, post, local = ds.rr_prev, ds.rr_next, ds.rr_local
    if record_average:
        avg = {r: np.nanmean(pre[ds.record == r]) for r in np.unique(ds.record)}
        ref = np.array([avg[r] for r in ds.record], dtype=np.float64)
    else:
        ref = local
    f = np.stack([pre, post, local, pre / ref, post / ref], axis=1).astype(np.float64)
    f[~np.isfinite(f)] = np.nan
    return np.where(np.isnan(f), np.nanmedian(f, axis=0), f)  # a record's first / last beat: the median


def _detected_features(data_dir: str, threads: int, *, record: bool) -> tuple[np.ndarray, object, object]:
    import dataclasses

    import torch

    from ecg_art.features.record_rhythm import record_mean_rr
    from ecg_art.features.rhythm import RhythmBeatFeatures
    from recipes.common import prepare_data
    from recipes.fusion import PROFILES

    torch.set_num_threads(threads)
    cfg = dataclasses.replace(PROFILES["full"], split="inter", val_by_record=True, data_dir=data_dir)
    prep = prepare_data(cfg)
    ds = prep.dataset
    ext = RhythmBeatFeatures(r_index=cfg.r_offset)
    with torch.no_grad():
        f = np.concatenate([ext(torch.as_tensor(ds.x[i:i + 2048])).numpy() for i in range(0, len(ds), 2048)])
    if record:
        leads = dict(zip(ds.record.tolist(), ds.lead.tolist()))
        mean_rr = record_mean_rr(leads, data_dir, leads=leads)
        f = np.concatenate([f, f[:, :3] / np.array([mean_rr[r] for r in ds.record])[:, None]], axis=1)
    return f, ds, prep.split


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data-dir", default=os.environ.get("ECG_ART_DATA") or str(
        Path(__file__).resolve().parents[2] / "shared" / "data" / "mitdb"))
    p.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    args = p.parse_args(argv)
    sets = [s for s in args.sets.split(",") if s]
    if bad := sorted(set(sets) - set(SETS)):
        p.error(f"unknown --sets {', '.join(bad)} (choose from {', '.join(SETS)})")
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score, recall_score
    from sklearn.preprocessing import StandardScaler

    from ecg_art import data

    classes = ("N", "S", "V", "F")
    out = {}
    cache: dict[str, tuple] = {}
    for name in sets:
        t0 = time.perf_counter()
        if name.startswith("detected-"):
            f, ds, split = _detected_features(args.data_dir, args.threads, record=name == "detected-15")
        else:
            if "annot" not in cache:
                ds = data.load_beats(args.data_dir, data.BeatConfig())
                cache["annot"] = (ds, data.make_split(ds, "inter", seed=0, val_by_record=True))
            ds, split = cache["annot"]
            f = _annotation_rr(ds, record_average=name == "annot-record")
        train, test = np.concatenate([split.train, split.val]), split.test
        keep = ds.y[train] < len(classes)  # Q: too rare in MIT-BIH to learn or score
        scaler = StandardScaler().fit(f[train][keep])
        model = LogisticRegression(class_weight="balanced", max_iter=3000).fit(
            scaler.transform(f[train][keep]), ds.y[train][keep])
        pred = model.predict(scaler.transform(f[test]))
        se = recall_score(ds.y[test], pred, labels=list(range(len(classes))), average=None, zero_division=0)
        f1 = f1_score(ds.y[test], pred, labels=list(range(len(classes))), average="macro", zero_division=0)
        out[name] = {"sens": dict(zip(classes, map(float, se))), "macro_f1": float(f1),
                     "seconds": time.perf_counter() - t0, "n_test": int(len(test))}
        print(f"{name:>13}: " + " ".join(f"{c} Se {100 * s:5.1f}" for c, s in zip(classes, se))
              + f" | macro-F1 {f1:.3f} | {len(test)} DS2 beats | {out[name]['seconds']:.0f} s", flush=True)
    return out


if __name__ == "__main__":
    main()
